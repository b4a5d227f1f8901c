// Environments, the users list and the outbox, and what every view uses: tables and calls.
import { api, describeError, enc, relativeHref } from './api.js';
import { busy, clearAlerts, field, h, keepTableRoles, showAlert, uid } from './dom.js';
import { bodyFrom, pathField, showErrors } from './forms.js';

export const USERS_PAGE_SIZE = 10;

export const formatTime = (iso) => {
  if (typeof iso !== 'string') return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
};

/** A table with a caption, column headers and one row per item; cells are text or nodes. */
export function table(caption, headers, rows, attrs = {}) {
  return keepTableRoles(h('table', { class: 'stack', ...attrs },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.length === 0
      ? h('tr', {}, h('td', { colspan: headers.length, class: 'empty' }, 'None'))
      : rows.map((cells) => h('tr', {}, cells.map((c, i) => h('td', { 'data-label': headers[i] }, c)))))));
}

/** Flattens a JSON resource into [path, value] pairs for display (links left out). */
export function flatten(value, prefix = '', out = []) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '_links') continue;
      flatten(v, prefix ? `${prefix}.${k}` : k, out);
    }
  } else if (Array.isArray(value)) {
    out.push([prefix, value.length === 0 ? '[]' : value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')]);
  } else {
    out.push([prefix, value === undefined ? '' : String(value)]);
  }
  return out;
}

export function settingsTable(caption, resource) {
  return table(caption, ['Setting', 'Value'], flatten(resource).map(([k, v]) => [k, h('code', {}, v)]));
}

/**
 * One call behind a control: `status` shown while it runs, `box` marked busy and `buttons`
 * disabled meanwhile. A failure says so in the status line and shows PingOne's code and
 * message at `alertAt` — each detail under its field when `fields` (forms.js) names it.
 * Resolves to `{ value }`, or to `undefined` after a failure or when the view was left
 * meanwhile — either way there is nothing more to draw.
 */
export async function attempt(ctx, { status, box, buttons = [], alertAt, fields }, task) {
  if (status) ctx.setStatus(status);
  try {
    const value = await busy(box, buttons, task);
    if (!ctx.current()) return undefined;
    if (status) ctx.clearStatus(status);
    return { value };
  } catch (e) {
    if (ctx.current()) {
      ctx.setStatus(`Failed: ${status ? status.replace(/…$/, '').replace(/^./, (c) => c.toLowerCase()) : 'the request'}. See the message on the page.`, 'error');
      if (fields) showErrors(alertAt, fields, e);
      else showAlert(alertAt, describeError(e));
    }
    return undefined;
  }
}

export async function load(ctx, text, task) {
  ctx.setStatus(text);
  const result = await busy(ctx.root, [], task);
  if (ctx.current()) ctx.clearStatus(text);
  return result;
}

// ---- environments --------------------------------------------------------------------------

/** Every environment the token may see, following `_links.next`. */
export async function allEnvironments() {
  const all = [];
  let path = '/v1/environments?limit=1000';
  while (path) {
    const page = await api('GET', path);
    all.push(...(page?._embedded?.environments ?? []));
    path = relativeHref(page?._links?.next);
  }
  return all;
}

const REGIONS = ['NA', 'EU', 'CA', 'AP', 'AU', 'SG'];

export async function renderEnvironments(ctx) {
  const results = h('div', { class: 'results' });
  const name = pathField('Name', 'name', '', { attrs: { maxlength: 256 } });
  const region = pathField('Region', 'region', 'NA', { kind: 'select', options: REGIONS.map((r) => [r, r]) });
  const type = pathField('Type', 'type', 'SANDBOX', { kind: 'select', options: [['SANDBOX', 'SANDBOX'], ['PRODUCTION', 'PRODUCTION']] });
  const fields = [name, region, type];
  const createButton = h('button', { type: 'submit' }, 'Create environment');
  const titleId = uid('h');
  const form = h('form', { class: 'card', 'aria-labelledby': titleId, novalidate: true },
    h('h3', { id: titleId }, 'Create an environment'), fields.map((f) => f.row), h('div', { class: 'actions' }, createButton));
  ctx.root.append(h('section', { 'aria-labelledby': 'view-title' }, h('h2', { id: 'view-title' }, 'Environments'), results, form));

  const draw = (all) => results.replaceChildren(table('Environments', ['Name', 'ID', 'Region', 'Type', 'Status', 'Created'],
    all.map((e) => [e.name ?? '', h('code', {}, e.id), e.region ?? '', e.type ?? '', e.status ?? '', formatTime(e.createdAt)])));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const got = await attempt(ctx, { status: 'Creating the environment…', box: form, buttons: [createButton], alertAt: form, fields },
      async () => {
        const created = await api('POST', '/v1/environments', { body: bodyFrom({}, fields) });
        return { created, all: await ctx.environmentsChanged() };
      });
    if (!got) return;
    name.input.value = '';
    draw(got.value.all);
    ctx.success(`Created environment ${got.value.created.name}: pick it under Environment at the top to work in it.`);
  });

  const all = await load(ctx, 'Loading environments…', allEnvironments);
  if (ctx.current()) draw(all);
}

// ---- users ---------------------------------------------------------------------------------

/** `username sw "x" or email sw "x"`, with `\` and `"` escaped inside the quotes. */
export function userFilter(text) {
  const quoted = `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  return `username sw ${quoted} or email sw ${quoted}`;
}

/** Kept across visits of the Users view (per environment), like a browser tab would. */
const usersState = { envId: '', search: '', path: '' };

function firstPage(envId, search) {
  const query = new URLSearchParams({ limit: String(USERS_PAGE_SIZE) });
  if (search) query.set('filter', userFilter(search));
  return `/v1/environments/${enc(envId)}/users?${query}`;
}

export async function renderUsers(ctx) {
  if (usersState.envId !== ctx.envId) Object.assign(usersState, { envId: ctx.envId, search: '', path: '' });

  const search = field('Search users', { type: 'search', name: 'search', value: usersState.search, placeholder: 'username or email starts with…' });
  const searchButton = h('button', { type: 'submit' }, 'Search');
  const searchForm = h('form', { role: 'search', class: 'inline-form' }, search.row, searchButton);

  const results = h('div', { class: 'results' });
  const prev = h('button', { type: 'button', disabled: true }, 'Previous page');
  const next = h('button', { type: 'button', disabled: true }, 'Next page');
  const pageInfo = h('span', { class: 'page-info' });
  const pager = h('div', { class: 'pager' }, prev, next, pageInfo);

  const username = pathField('Username', 'username', '', { attrs: { required: true, maxlength: 128 } });
  const email = pathField('Email', 'email', '', { attrs: { type: 'email', maxlength: 256 } });
  const createButton = h('button', { type: 'submit' }, 'Create user');
  const createTitle = uid('h');
  const createForm = h('form', { class: 'card', 'aria-labelledby': createTitle, novalidate: true },
    h('h3', { id: createTitle }, 'Create a user'), username.row, email.row, h('div', { class: 'actions' }, createButton));

  ctx.root.append(h('section', { 'aria-labelledby': 'view-title' },
    h('h2', { id: 'view-title' }, 'Users'), searchForm, results, pager, createForm));

  let links = {};
  let latest = 0;
  const show = async (path) => {
    const mine = ++latest;
    clearAlerts();
    const got = await attempt(ctx, { status: 'Loading users…', box: results, buttons: [searchButton, prev, next], alertAt: searchForm }, () => api('GET', path));
    // Only the newest request draws: a slow first page never overwrites a search's answer.
    if (!got || mine !== latest) return;
    const page = got.value;
    usersState.path = path;
    links = page?._links ?? {};
    const users = page?._embedded?.users ?? [];
    results.replaceChildren(table('Users', ['Username', 'Email', 'ID', 'Created'],
      users.map((u) => [
        h('button', { type: 'button', class: 'link', onclick: () => ctx.openUser(u) }, u.username),
        u.email ?? '', h('code', {}, u.id), formatTime(u.createdAt),
      ])));
    prev.disabled = !links.prev;
    next.disabled = !links.next;
    pageInfo.textContent = typeof page?.count === 'number' ? `${page.count} user${page.count === 1 ? '' : 's'} in all` : '';
  };

  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    usersState.search = search.input.value.trim();
    void show(firstPage(ctx.envId, usersState.search));
  });
  prev.addEventListener('click', () => { const p = relativeHref(links.prev); if (p) void show(p); });
  next.addEventListener('click', () => { const p = relativeHref(links.next); if (p) void show(p); });

  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const body = bodyFrom({}, [username, email]);
    if (!body.username) {
      showAlert(createForm, 'A username is required.');
      return;
    }
    const got = await attempt(ctx, { status: 'Creating the user…', box: createForm, buttons: [createButton], alertAt: createForm, fields: [username, email] },
      () => api('POST', `/v1/environments/${enc(ctx.envId)}/users`, { body }));
    if (!got) return;
    const created = got.value;
    username.input.value = '';
    email.input.value = '';
    await show(usersState.path || firstPage(ctx.envId, usersState.search));
    if (ctx.current()) ctx.success(`Created user ${created.username}.`);
  });

  await show(usersState.path || firstPage(ctx.envId, usersState.search));
}

// ---- outbox --------------------------------------------------------------------------------

export async function renderOutbox(ctx) {
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const results = h('div', { class: 'results' });
  const section = h('section', { 'aria-labelledby': 'view-title' },
    h('h2', { id: 'view-title' }, 'Outbox'),
    h('p', { class: 'hint' }, 'Codes the server "sent" while no SMTP relay or webhook is configured, newest first.'),
    h('div', { class: 'actions' }, refresh), results);
  ctx.root.append(section);

  const show = async () => {
    clearAlerts();
    const got = await attempt(ctx, { status: 'Loading the outbox…', box: results, buttons: [refresh], alertAt: section },
      () => api('GET', `/v1/environments/${enc(ctx.envId)}/outbox?limit=100`));
    if (!got) return;
    const messages = got.value?._embedded?.messages ?? [];
    results.replaceChildren(table('Outbox', ['Recipient', 'Channel', 'Message', 'Time'],
      messages.map((m) => [m.recipient, m.channel, h('span', { class: 'message' }, m.subject ? h('strong', {}, m.subject, ' — ') : null, m.body), formatTime(m.createdAt)])));
    ctx.success(`Outbox loaded: ${messages.length} message${messages.length === 1 ? '' : 's'}.`);
  };
  refresh.addEventListener('click', () => void show());
  await show();
}
