// The user view: the user's devices in list order, their actions, creating devices, TOTP QR
// codes and pairing a PingID Desktop device through the local agent.
import qrcode from './vendor/qrcode.mjs';
import { ApiError, agentRegister, api, describeError, enc } from './api.js';
import { busy, clearAlerts, field, h, showAlert, uid } from './dom.js';
import { attempt, formatTime } from './views.js';

const CT = {
  activate: 'application/vnd.pingidentity.device.activate+json',
  block: 'application/vnd.pingidentity.device.block+json',
  unblock: 'application/vnd.pingidentity.device.unblock+json',
  unlock: 'application/vnd.pingidentity.device.unlock+json',
  sendActivationCode: 'application/vnd.pingidentity.device.sendActivationCode+json',
  reorder: 'application/vnd.pingidentity.devices.reorder+json',
};

const OTP_TYPES = new Set(['EMAIL', 'SMS', 'VOICE', 'WHATSAPP', 'TOTP']);
const SENT_CODE_TYPES = new Set(['EMAIL', 'SMS', 'VOICE', 'WHATSAPP']);
const CREATE_TYPES = ['EMAIL', 'SMS', 'TOTP', 'PINGID_DESKTOP_GEN2'];
const DESKTOP = 'PINGID_DESKTOP_GEN2';

/** Desktop creation options by device ID, in memory only, until the device is paired. */
const creationOptions = new Map();
let agentUrl = 'http://127.0.0.1:9410';

export function forgetPairings() {
  creationOptions.clear();
}

const lockText = (d) => (d.lock?.status === 'LOCKED'
  ? `LOCKED${d.lock.expiresAt ? ` until ${formatTime(d.lock.expiresAt)}` : ''}`
  : d.lock?.status ?? '');

/**
 * A data: URL of the QR code of `text` (a GIF drawn by qrcode-generator), or undefined when it
 * cannot be drawn: qrcode-generator throws for more data than its largest version holds (a
 * long issuer or account name), and the secret must still be shown, as text.
 */
function qrDataUrl(text) {
  try {
    const qr = qrcode(0, 'M');
    qr.addData(text);
    qr.make();
    return qr.createDataURL(4, 4);
  } catch {
    return undefined;
  }
}

/** The shown-once TOTP card: the QR code when it can be drawn, and always the URI and secret as text (never as HTML). */
function totpCard(device) {
  const titleId = uid('h');
  const qr = qrDataUrl(device.keyUri);
  return h('section', { class: 'card totp', 'aria-labelledby': titleId },
    h('h3', { id: titleId }, 'TOTP secret (shown once)'),
    qr ? h('img', { src: qr, alt: 'TOTP QR code', class: 'qr' })
      : h('p', { class: 'hint', role: 'note' }, 'The QR code cannot be drawn for this key URI; enter the secret in the authenticator app by hand.'),
    h('p', {}, 'Key URI: ', h('code', { class: 'key-uri' }, device.keyUri)),
    typeof device.secret === 'string' ? h('p', {}, 'Secret: ', h('code', { class: 'totp-secret' }, device.secret)) : null);
}

export async function renderUser(ctx, user) {
  const base = `/v1/environments/${enc(ctx.envId)}/users/${enc(user.id)}`;
  const devicesPath = `${base}/devices`;

  // ---- layout ----
  const agent = field('Agent URL', { name: 'agentUrl', type: 'url', value: agentUrl, spellcheck: 'false' });
  agent.input.addEventListener('input', () => { agentUrl = agent.input.value.trim(); });
  const devicesBox = h('div', { class: 'results' });
  const pairingBox = h('section', { class: 'card', 'aria-labelledby': 'pairing-title', hidden: true },
    h('h3', { id: 'pairing-title' }, 'Desktop pairing'));
  const progress = h('ol', { 'aria-label': 'Pairing progress', class: 'progress' });
  pairingBox.append(progress);

  const type = uid('type');
  const typeSelect = h('select', { id: type, name: 'type' }, CREATE_TYPES.map((t) => h('option', { value: t }, t)));
  const email = field('Email', { name: 'email', type: 'email', value: user.email ?? '' });
  const phone = field('Phone', { name: 'phone', type: 'tel', placeholder: '+15125201234' });
  const nickname = field('Nickname', { name: 'nickname', maxlength: 256 });
  nickname.input.placeholder = 'optional';
  const requireId = uid('req');
  const requireActivation = h('input', { id: requireId, type: 'checkbox', name: 'activation', checked: true });
  const requireRow = h('div', { class: 'field check' }, requireActivation, h('label', { for: requireId }, 'Require activation'));
  const createButton = h('button', { type: 'submit' }, 'Create device');
  const createTitle = uid('h');
  const createForm = h('form', { class: 'card', 'aria-labelledby': createTitle, novalidate: true },
    h('h3', { id: createTitle }, 'Create a device'),
    h('div', { class: 'field' }, h('label', { for: type }, 'Device type'), typeSelect),
    email.row, phone.row, nickname.row, requireRow, h('div', { class: 'actions' }, createButton));
  const created = h('div', { class: 'created' });

  const syncCreateFields = () => {
    const t = typeSelect.value;
    email.row.hidden = t !== 'EMAIL';
    phone.row.hidden = t !== 'SMS';
    // A desktop device is always created waiting for its pairing.
    if (t === DESKTOP) requireActivation.checked = true;
    requireActivation.disabled = t === DESKTOP;
  };
  typeSelect.addEventListener('change', syncCreateFields);
  syncCreateFields();

  ctx.root.append(h('section', { 'aria-labelledby': 'view-title', class: 'user' },
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => ctx.showUsers() }, 'Back to list')),
    h('h2', { id: 'view-title' }, user.username),
    h('p', { class: 'hint' }, user.email ? `${user.email} · ` : '', 'ID ', h('code', {}, user.id)),
    agent.row,
    devicesBox,
    pairingBox,
    createForm,
    created));

  // While a row's inline "Nickname" box is open, the create form (which has its own "Nickname")
  // steps aside, so the page never holds two controls of that name.
  const createSlot = h('p', { class: 'hint', hidden: true }, 'Finish renaming to create a device.');
  const suspendCreate = () => { if (createForm.isConnected) { createForm.replaceWith(createSlot); createSlot.hidden = false; } };
  const resumeCreate = () => { if (createSlot.isConnected) { createSlot.replaceWith(createForm); createSlot.hidden = true; } };

  // ---- devices ----
  let devices = [];

  let latest = 0;
  const load = async (focus) => {
    const mine = ++latest;
    const got = await attempt(ctx, { status: 'Loading devices…', box: devicesBox, alertAt: devicesBox }, () => api('GET', devicesPath));
    if (!got || mine !== latest) return;
    devices = got.value?._embedded?.devices ?? [];
    renderDevices();
    resumeCreate();
    if (focus) refocus(focus);
  };

  /**
   * Keyboard users keep their place after a reload: the same button of the same device, or —
   * when a move took the device to an end and that button is now disabled — the other move,
   * else the row's first enabled button.
   */
  const refocus = ({ id, action }) => {
    const row = devicesBox.querySelector(`tr[data-device="${CSS.escape(id)}"]`);
    if (!row) return;
    const other = { 'Move up': 'Move down', 'Move down': 'Move up' }[action];
    const candidates = [action, other].filter(Boolean).map((a) => `button[data-action="${a}"]:not([disabled])`);
    const target = candidates.map((sel) => row.querySelector(sel)).find(Boolean) ?? row.querySelector('button:not([disabled])');
    target?.focus();
  };

  const renderDevices = () => {
    const active = devices.filter((d) => d.status === 'ACTIVE').map((d) => d.id);
    devicesBox.replaceChildren(h('table', { class: 'devices' },
      h('caption', {}, 'Devices'),
      h('thead', {}, h('tr', {}, ['ID', 'Type', 'Status', 'Nickname', 'Lock', 'Block', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, devices.length === 0
        ? h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'This user has no devices.'))
        : devices.map((d) => deviceRow(d, active)))));
  };

  /** One call for a row; the row's alert shows what failed, else the list is reloaded. */
  const rowAction = async (row, cell, statusText, task, focus) => {
    clearAlerts();
    if (!await attempt(ctx, { status: statusText, box: row, buttons: [...row.querySelectorAll('button')], alertAt: cell }, task)) return false;
    await load(focus);
    if (ctx.current()) ctx.setStatus(statusText.replace(/…$/, ': done.'));
    return true;
  };

  const deviceRow = (d, active) => {
    const item = `${devicesPath}/${enc(d.id)}`;
    const actions = h('div', { class: 'row-actions' });
    const cell = h('td', { class: 'actions-cell' }, actions);
    const row = h('tr', { 'data-device': d.id },
      h('td', {}, h('code', {}, d.id)),
      h('td', {}, d.type),
      h('td', {}, d.status),
      h('td', {}, d.nickname ?? ''),
      h('td', {}, lockText(d)),
      h('td', {}, d.block?.status ?? ''),
      cell);
    const label = `${d.type}${d.nickname ? ` ${d.nickname}` : ''}`;
    const act = (name, disabled, onclick) => h('button', { type: 'button', 'data-action': name, disabled, onclick, title: `${name} ${label}` }, name);

    const position = active.indexOf(d.id);
    const move = (delta) => {
      const order = [...active];
      [order[position], order[position + delta]] = [order[position + delta], order[position]];
      return rowAction(row, cell, 'Saving the device order…',
        () => api('POST', devicesPath, { contentType: CT.reorder, body: { order: order.map((id) => ({ id })) } }),
        { id: d.id, action: delta < 0 ? 'Move up' : 'Move down' });
    };
    const simple = (name, contentType, text) => act(name, false, () => rowAction(row, cell, text,
      () => api('POST', item, { contentType }), { id: d.id, action: name }));

    const buttons = () => [
      act('Rename', false, () => renameForm()),
      act('Move up', position <= 0, () => move(-1)),
      act('Move down', position < 0 || position >= active.length - 1, () => move(1)),
      // Block or Unblock, whichever applies; Unlock only while the device is locked.
      d.block?.status === 'BLOCKED' ? simple('Unblock', CT.unblock, 'Unblocking the device…') : simple('Block', CT.block, 'Blocking the device…'),
      d.lock?.status === 'LOCKED' ? simple('Unlock', CT.unlock, 'Unlocking the device…') : null,
      act('Delete', false, () => confirmDelete()),
    ];

    const extras = () => {
      const out = [];
      if (d.status === 'ACTIVATION_REQUIRED' && OTP_TYPES.has(d.type)) {
        const code = field('Activation code', { name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 10, size: 10 });
        const activate = h('button', { type: 'submit' }, 'Activate');
        const form = h('form', { class: 'inline-form', novalidate: true }, code.row, activate);
        form.addEventListener('submit', (event) => {
          event.preventDefault();
          const otp = code.input.value.trim();
          if (!otp) {
            showAlert(cell, 'Enter the activation code first.');
            return;
          }
          void rowAction(row, cell, 'Activating the device…', () => api('POST', item, { contentType: CT.activate, body: { otp } }));
        });
        out.push(form);
        if (SENT_CODE_TYPES.has(d.type)) out.push(simple('Send new code', CT.sendActivationCode, 'Sending a new activation code…'));
      }
      if (d.status === 'ACTIVATION_REQUIRED' && d.type === DESKTOP && creationOptions.has(d.id)) {
        out.push(h('button', { type: 'button', 'data-action': 'pair', onclick: () => pair(d) }, 'Pair with desktop agent'));
      }
      return out;
    };

    const normal = () => {
      actions.replaceChildren(h('div', { class: 'buttons' }, buttons()), ...extras());
      resumeCreate();
    };

    const renameForm = () => {
      clearAlerts();
      const nick = field('Nickname', { name: 'nickname', value: d.nickname ?? '', maxlength: 256 });
      const save = h('button', { type: 'submit' }, 'Save');
      const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { normal(); actions.querySelector('[data-action="Rename"]')?.focus(); } }, 'Cancel');
      const form = h('form', { class: 'inline-form', novalidate: true }, nick.row, save, cancel);
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        void rowAction(row, cell, 'Renaming the device…',
          () => api('PUT', `${item}/nickname`, { body: { nickname: nick.input.value.trim() } }), { id: d.id, action: 'Rename' });
      });
      // One rename at a time: any other row's open form goes back to its buttons.
      for (const other of devicesBox.querySelectorAll('form.rename')) if (other !== form) other.dispatchEvent(new CustomEvent('cancel-rename'));
      form.classList.add('rename');
      form.addEventListener('cancel-rename', () => normal());
      actions.replaceChildren(form);
      suspendCreate();
      nick.input.focus();
      nick.input.select();
    };

    const confirmDelete = () => {
      clearAlerts();
      const confirm = h('button', { type: 'button', class: 'danger', onclick: () => rowAction(row, cell, 'Deleting the device…', async () => {
        await api('DELETE', item);
        creationOptions.delete(d.id);
      }) }, 'Confirm delete');
      const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { normal(); actions.querySelector('[data-action="Delete"]')?.focus(); } }, 'Cancel');
      actions.replaceChildren(h('p', { class: 'confirm' }, `Delete ${label}? This cannot be undone.`), h('div', { class: 'buttons' }, confirm, cancel));
      confirm.focus();
    };

    normal();
    return row;
  };

  // ---- pairing ----
  const pair = async (d) => {
    const options = creationOptions.get(d.id);
    if (!options) return;
    clearAlerts();
    pairingBox.hidden = false;
    progress.replaceChildren();
    const step = (text, cls) => {
      const li = h('li', cls ? { class: cls } : {}, text);
      progress.append(li);
      return li;
    };
    const buttons = [...devicesBox.querySelectorAll('button')];
    let ok = false;
    let pairedText = '';
    await busy(progress, buttons, async () => {
      try {
        ctx.setStatus('Pairing: sending the creation options to the desktop agent…');
        step('Sending creation options to the agent');
        const attestation = await agentRegister(agentUrl, options);
        step('Attestation received');
        ctx.setStatus('Pairing: activating the device…');
        step('Activating device');
        const device = await api('POST', `${devicesPath}/${enc(d.id)}`, { contentType: CT.activate, body: { attestation } });
        step(`Device is ${device.status}`, 'done');
        creationOptions.delete(d.id);
        ok = true;
        pairedText = `Paired ${device.nickname ?? d.id}: the device is ${device.status}.`;
      } catch (e) {
        const lines = describeError(e instanceof Error ? e : new ApiError(0, 'ERROR', String(e)));
        step(lines[0], 'failed');
        ctx.setStatus('Pairing failed.');
        showAlert(pairingBox, lines);
      }
    });
    if (ok && ctx.current()) {
      await load();
      if (ctx.current()) ctx.setStatus(pairedText);
    }
  };

  // ---- create ----
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const t = typeSelect.value;
    const body = { type: t, status: requireActivation.checked ? 'ACTIVATION_REQUIRED' : 'ACTIVE' };
    if (t === 'EMAIL') body.email = email.input.value.trim();
    if (t === 'SMS') body.phone = phone.input.value.trim();
    if (t === DESKTOP) {
      body.status = 'ACTIVATION_REQUIRED';
      // The origin rule: the agent accepts this page's Origin only when its host is rp.id.
      body.rp = { id: location.hostname, name: 'OpenMFA console' };
    }
    if (nickname.input.value.trim()) body.nickname = nickname.input.value.trim();
    const got = await attempt(ctx, { status: `Creating a ${t} device…`, box: createForm, buttons: [createButton], alertAt: createForm },
      () => api('POST', devicesPath, { body }));
    if (!got) return;
    const device = got.value;
    created.replaceChildren();
    if (typeof device.pingIdDesktopCredentialCreationOptions === 'string') {
      creationOptions.set(device.id, device.pingIdDesktopCredentialCreationOptions);
    }
    if (typeof device.keyUri === 'string') created.append(totpCard(device));
    nickname.input.value = '';
    phone.input.value = '';
    await load();
    if (ctx.current()) ctx.setStatus(`Created ${device.type} device ${device.id} (${device.status}).${device.type === DESKTOP ? ' Pair it with the desktop agent.' : ''}`);
  });

  await load();
}
