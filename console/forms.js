// Forms whose controls are named by the JSON path they edit (`pairing.maxAllowedDevices`), so
// that the server's validation errors land next to the field their `details[].target` names.
import { ApiError, describeError } from './api.js';
import { h, showAlert, showFieldError, uid } from './dom.js';

/** `mobile.applications[0].push.enabled` → ['mobile', 'applications', '0', 'push', 'enabled']: paths read like PingOne's targets. */
const keysOf = (path) => path.replace(/\[(\d+)\]/g, '.$1').split('.');

export const getAt = (obj, path) => keysOf(path).reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);

/** Sets `value` at `path` in `obj`, making the objects on the way; `undefined` leaves `obj` as it is. */
export function setAt(obj, path, value) {
  if (value === undefined) return obj;
  const keys = keysOf(path);
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k];
  }
  o[keys[keys.length - 1]] = value;
  return obj;
}

/**
 * One control bound to `path`, showing `value`. `kind` is text, number, checkbox or select
 * (`options`: [value, label] pairs); `hideLabel` keeps the label for assistive technology only
 * (controls in a table row, whose column header says it visually).
 * Returns { path, row, input, read() }: read() is undefined for an empty text or number box.
 */
export function pathField(label, path, value, { kind = 'text', options = [], hideLabel = false, attrs = {} } = {}) {
  const id = uid('f');
  const labelEl = h('label', { for: id, class: hideLabel ? 'visually-hidden' : null }, label);
  let input;
  if (kind === 'select') {
    input = h('select', { id, name: path }, options.map(([v, text]) => h('option', { value: v }, text)));
    if (value !== undefined) input.value = String(value);
  } else if (kind === 'checkbox') {
    input = h('input', { id, name: path, type: 'checkbox', checked: value === true });
  } else {
    input = h('input', { id, name: path, type: kind === 'number' ? 'number' : 'text', autocomplete: 'off', value: value ?? '', ...(kind === 'number' ? { inputmode: 'numeric', step: 1 } : {}), ...attrs });
  }
  const row = kind === 'checkbox'
    ? h('div', { class: 'field check' }, input, labelEl)
    : h('div', { class: 'field' }, labelEl, input);
  const read = () => {
    if (kind === 'checkbox') return input.checked;
    if (kind === 'select') return input.value;
    const text = input.value.trim();
    if (text === '') return undefined;
    // A number box holds digits only when valid; anything else is sent as typed, for the server to judge.
    return kind === 'number' && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  };
  return { path, row, input, read };
}

/** `base` with every field's value written at its path (a deep copy: `base` is left alone). */
export function bodyFrom(base, fields) {
  const body = structuredClone(base);
  for (const f of fields) setAt(body, f.path, f.read());
  return body;
}

/**
 * Shows a failed save: each detail whose `target` is one of `fields` under that field (marked
 * aria-invalid), and `CODE: message` with the details no field took in an alert at `alertAt`.
 * The first invalid field gets the focus.
 */
export function showErrors(alertAt, fields, error) {
  const byPath = new Map(fields.map((f) => [f.path, f]));
  const [first, ...others] = describeError(error);
  const details = error instanceof ApiError ? error.details : [];
  const placed = new Map();
  const unplaced = [];
  details.forEach((d, i) => {
    const f = typeof d.target === 'string' ? byPath.get(d.target) : undefined;
    if (f && !placed.has(f)) placed.set(f, d.message ?? d.code ?? 'invalid');
    else unplaced.push(others[i]);
  });
  // showAlert clears earlier errors, field errors included: it goes first.
  showAlert(alertAt, [first, ...unplaced, ...(placed.size ? [`See the field${placed.size === 1 ? '' : 's'} marked in the form.`] : [])]);
  for (const [f, message] of placed) showFieldError(f.row, f.input, message);
  placed.keys().next().value?.input.focus();
}
