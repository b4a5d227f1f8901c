// Building DOM without HTML strings: every value becomes a text node, never markup.

/**
 * h('button', { type: 'button', onclick: fn }, 'Save') → <button type="button">Save</button>
 * Attributes: `on*` functions become listeners, `false`/null/undefined are left out, `true`
 * sets an empty attribute; everything else goes through setAttribute. Children: strings and
 * numbers become text nodes, null/undefined/false are skipped, arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'value' && (tag === 'input' || tag === 'select' || tag === 'textarea')) {
      el.value = String(value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Writes each table part's role as an attribute: a narrow screen lays `table.stack` rows out as
 * blocks (console.css), and a table part whose CSS display is changed loses its implicit role in
 * Chromium — the explicit ones keep the table a table for assistive technology.
 */
export function keepTableRoles(table) {
  table.setAttribute('role', 'table');
  for (const el of table.querySelectorAll('thead, tbody')) el.setAttribute('role', 'rowgroup');
  for (const el of table.querySelectorAll('tr')) el.setAttribute('role', 'row');
  for (const el of table.querySelectorAll('th')) el.setAttribute('role', el.getAttribute('scope') === 'row' ? 'rowheader' : 'columnheader');
  for (const el of table.querySelectorAll('td')) el.setAttribute('role', 'cell');
  return table;
}

let counter = 0;
/** A unique id for label/for pairs. */
export const uid = (prefix) => `${prefix}-${++counter}`;

/** <label for>…</label><input id> pair, wrapped in a div. Returns { row, input }. */
export function field(label, inputAttrs = {}) {
  const id = uid('f');
  const input = h('input', { id, type: 'text', autocomplete: 'off', ...inputAttrs });
  const row = h('div', { class: 'field' }, h('label', { for: id }, label), input);
  return { row, input };
}

/** Removes every alert and field error on the page: errors are shown for the latest action only, next to what failed. */
export function clearAlerts() {
  for (const el of document.querySelectorAll('.alert, .field-error')) el.remove();
  for (const el of document.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-describedby');
  }
}

/** Marks `input` invalid and writes `message` under it, inside `row` (the control's field). */
export function showFieldError(row, input, message) {
  const id = uid('err');
  row.append(h('p', { class: 'field-error', id }, message));
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', id);
}

/**
 * Shows an error at the end of `container`: the first line (`CODE: message`) is the
 * role="alert" element itself; further lines (PingOne's details, hints) follow it.
 */
export function showAlert(container, text) {
  clearAlerts();
  const lines = Array.isArray(text) ? text : [text];
  const box = h('div', { class: 'alert' },
    h('p', { role: 'alert' }, lines[0]),
    lines.length > 1 ? h('ul', { class: 'details' }, lines.slice(1).map((line) => h('li', {}, line))) : null);
  container.append(box);
  return box;
}

/** Runs `task` with `el` marked busy and `buttons` disabled, then restores them. */
export async function busy(el, buttons, task) {
  el.setAttribute('aria-busy', 'true');
  const disabled = buttons.map((b) => [b, b.disabled]);
  for (const b of buttons) b.disabled = true;
  try {
    return await task();
  } finally {
    el.removeAttribute('aria-busy');
    for (const [b, was] of disabled) if (b.isConnected) b.disabled = was;
  }
}
