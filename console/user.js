// One user's view: who they are, editing and deleting them, and their devices (devices.js).
import { api, enc } from './api.js';
import { clearAlerts, h, uid } from './dom.js';
import { renderDevices } from './devices.js';
import { bodyFrom, getAt, pathField } from './forms.js';
import { attempt } from './views.js';

/** The edit form: label, path (PATCH body member). */
const EDIT_FIELDS = [
  ['Username', 'username', { maxlength: 128 }],
  ['Email', 'email', { type: 'email', maxlength: 256 }],
  ['Given name', 'name.given', { maxlength: 256 }],
  ['Family name', 'name.family', { maxlength: 256 }],
];

export async function renderUser(ctx, first) {
  let user = first;
  const path = `/v1/environments/${enc(ctx.envId)}/users/${enc(user.id)}`;

  const title = h('h2', { id: 'view-title' }, user.username);
  const summary = h('p', { class: 'hint' });
  const drawSummary = () => summary.replaceChildren(user.email ? `${user.email} · ` : '', 'ID ', h('code', {}, user.id));
  drawSummary();
  const tools = h('div', { class: 'actions user-tools' });
  const panel = h('div', {});

  const editButton = h('button', { type: 'button', class: 'secondary', onclick: () => openEdit() }, 'Edit user');
  const deleteButton = h('button', { type: 'button', class: 'secondary', onclick: () => confirmDelete() }, 'Delete user');
  const closed = () => {
    panel.replaceChildren();
    tools.replaceChildren(editButton, deleteButton);
  };

  const openEdit = () => {
    clearAlerts();
    const fields = EDIT_FIELDS.map(([label, p, attrs]) => pathField(label, p, getAt(user, p), { attrs }));
    fields.push(pathField('Enabled', 'enabled', user.enabled !== false, { kind: 'checkbox' }));
    const save = h('button', { type: 'submit' }, 'Save user');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { closed(); editButton.focus(); } }, 'Cancel');
    const titleId = uid('h');
    const form = h('form', { class: 'card', 'aria-labelledby': titleId, novalidate: true },
      h('h3', { id: titleId }, 'Edit user'),
      h('p', { class: 'hint' }, 'Saved with PATCH: a box left empty keeps its current value.'),
      fields.map((f) => f.row), h('div', { class: 'actions' }, save, cancel));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearAlerts();
      const got = await attempt(ctx, { status: 'Saving the user…', box: form, buttons: [save, cancel], alertAt: form, fields },
        () => api('PATCH', path, { body: bodyFrom({}, fields) }));
      if (!got) return;
      user = got.value;
      title.textContent = user.username;
      drawSummary();
      closed();
      ctx.success(`Saved user ${user.username}.`);
      editButton.focus();
    });
    tools.replaceChildren();
    panel.replaceChildren(form);
    fields[0].input.focus();
  };

  const confirmDelete = () => {
    clearAlerts();
    const confirm = h('button', { type: 'button', class: 'danger' }, 'Confirm delete user');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { closed(); deleteButton.focus(); } }, 'Cancel');
    const box = h('div', { class: 'card danger-zone', role: 'group', 'aria-label': 'Delete user' },
      h('p', { class: 'confirm' }, `Delete ${user.username} and all of their devices? This cannot be undone.`),
      h('div', { class: 'buttons' }, confirm, cancel));
    confirm.addEventListener('click', async () => {
      const got = await attempt(ctx, { status: 'Deleting the user…', box, buttons: [confirm, cancel], alertAt: box }, () => api('DELETE', path));
      if (got) ctx.showUsers(`Deleted user ${user.username}.`);
    });
    tools.replaceChildren();
    panel.replaceChildren(box);
    confirm.focus();
  };
  closed();

  const section = h('section', { 'aria-labelledby': 'view-title', class: 'user' },
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => ctx.showUsers() }, 'Back to list')),
    title, summary, tools, panel);
  ctx.root.append(section);
  await renderDevices(ctx, () => user, section);
}
