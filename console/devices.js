// The user view: the user's devices in list order, their actions, creating devices, TOTP QR
// codes, pairing a PingID Desktop device through the local agent, registering and
// authenticating with a FIDO2 passkey or security key through the browser's own WebAuthn, and
// a phone's pairing keys and push authentication (pairing-keys.js, push.js).
import { ApiError, agentRegister, api, describeError, enc } from './api.js';
import { DEVICE_TYPES, activateWith, deviceType } from './device-types.js';
import { busy, clearAlerts, field, h, keepTableRoles, showAlert, uid } from './dom.js';
import { bodyFrom, pathField } from './forms.js';
import { agentHint } from './agent-hint.js';
import { forgetPairingKeys, pairingKeysCard } from './pairing-keys.js';
import { authenticatePhone } from './push.js';
import { qrDataUrl } from './qr.js';
import { attempt, formatTime } from './views.js';
import {
  assertionJson, attestationJson, compatibility, creationOptions as toCreationOptions, describeWebAuthnError,
  localhostUrl, onIpAddress, requestOptions, webauthnAvailable,
} from './webauthn.js';

const CT = {
  activate: 'application/vnd.pingidentity.device.activate+json',
  block: 'application/vnd.pingidentity.device.block+json',
  unblock: 'application/vnd.pingidentity.device.unblock+json',
  unlock: 'application/vnd.pingidentity.device.unlock+json',
  sendActivationCode: 'application/vnd.pingidentity.device.sendActivationCode+json',
  reorder: 'application/vnd.pingidentity.devices.reorder+json',
  select: 'application/vnd.pingidentity.device.select+json',
  assertionCheck: 'application/vnd.pingidentity.assertion.check+json',
};

const DEVICE_COLUMNS = ['ID', 'Type', 'Status', 'Nickname', 'Lock', 'Block', 'Details'];

/** What tells a device from another of its type, as [label, value] pairs: its address, token, or a phone's model, OS and application. */
function details(d) {
  const os = d.os ? [['OS', `${d.os.type ?? ''} ${d.os.version ?? ''}`.trim()]] : [];
  switch (d.type) {
    case 'EMAIL': return [['Email', d.email]];
    case 'SMS': case 'VOICE': case 'WHATSAPP': return [['Phone', d.phone]];
    case 'OATH_TOKEN': return [['Serial number', d.serialNumber]];
    case 'PINGID_DESKTOP_GEN2': return os;
    case 'MOBILE': return [['Model', d.model?.marketingName ?? d.model?.name], ...os, ['Application', d.application?.id], ['SDK', d.sdkVersion]];
    default: return [];
  }
}

const detailsList = (d) => {
  const facts = details(d).filter(([, v]) => typeof v === 'string' && v !== '');
  return facts.length ? h('ul', { class: 'facts' }, facts.map(([label, value]) => h('li', {}, `${label}: `, label === 'Application' ? h('code', {}, value) : value))) : '';
};

/** The create form's type-specific inputs, by body member (device-types.js says which type needs which). */
const CREATE_FIELDS = {
  email: { label: 'Email', attrs: { type: 'email', maxlength: 256 }, initial: (user) => user.email },
  phone: { label: 'Phone', attrs: { type: 'tel', placeholder: '+15125201234' } },
  serialNumber: { label: 'Serial number', attrs: { maxlength: 50 } },
};

/** Creation options (desktop or FIDO2) by device ID, in memory only, until the device is paired or registered. */
const creationOptions = new Map();
let agentUrl = 'http://127.0.0.1:9410';

export function forgetPairings() {
  creationOptions.clear();
  forgetPairingKeys();
}

const lockText = (d) => (d.lock?.status === 'LOCKED'
  ? `LOCKED${d.lock.expiresAt ? ` until ${formatTime(d.lock.expiresAt)}` : ''}`
  : d.lock?.status ?? '');

/**
 * Why this page cannot run WebAuthn, with where it can, or undefined when it can: WebAuthn
 * takes no IP address as a relying party ID, and runs only in a secure context (https, or
 * http on localhost).
 */
function webauthnHint() {
  if (onIpAddress()) {
    const url = localhostUrl();
    return h('p', { class: 'hint webauthn-hint', role: 'note' },
      'Passkeys and security keys need a host name: WebAuthn refuses IP addresses as relying party IDs. Open the console at ',
      h('a', { href: url }, url), ' (sign in again there) to register or use a FIDO2 device.');
  }
  if (!webauthnAvailable()) {
    return h('p', { class: 'hint webauthn-hint', role: 'note' },
      'This browser offers no WebAuthn here: it needs https, or http on localhost.');
  }
  return undefined;
}

/**
 * The shown-once TOTP card, drawn in the table row after its device: the QR code when it can be
 * drawn beside the key URI and secret as text (never as HTML), and a button that puts it away.
 */
function totpCard(device, onDone) {
  const titleId = uid('h');
  const qr = qrDataUrl(device.keyUri);
  return h('section', { class: 'totp', 'aria-labelledby': titleId },
    qr ? h('img', { src: qr, alt: 'TOTP QR code', class: 'qr' })
      : h('p', { class: 'hint', role: 'note' }, 'The QR code cannot be drawn for this key URI; enter the secret in the authenticator app by hand.'),
    h('div', { class: 'totp-text' },
      h('h3', { id: titleId }, 'TOTP secret (shown once)'),
      h('p', {}, 'Scan the QR code with an authenticator app, or enter the secret by hand. The server never shows it again.'),
      typeof device.secret === 'string' ? h('p', {}, 'Secret: ', h('code', { class: 'totp-secret' }, device.secret)) : null,
      h('p', {}, 'Key URI: ', h('code', { class: 'key-uri' }, device.keyUri)),
      h('button', { type: 'button', class: 'secondary', onclick: onDone }, 'I have saved the secret')));
}

/**
 * The devices part of a user's view, appended to `root`: the Agent URL, the devices table
 * (with the shown-once TOTP card in the row after its device), the pairing progress and the
 * create form. `user()` is the user as last saved (the EMAIL field starts from its email).
 */
export async function renderDevices(ctx, user, root) {
  const base = `/v1/environments/${enc(ctx.envId)}/users/${enc(user().id)}`;
  const devicesPath = `${base}/devices`;

  // ---- layout ----
  const agent = field('Agent URL', { name: 'agentUrl', type: 'url', value: agentUrl, spellcheck: 'false' });
  agent.input.addEventListener('input', () => { agentUrl = agent.input.value.trim(); });
  const devicesBox = h('div', { class: 'results' });
  // One box for the ceremony under way: a desktop pairing, or a passkey registration or authentication.
  const ceremonyTitle = h('h3', { id: 'ceremony-title' });
  const progress = h('ol', { class: 'progress' });
  // What a ceremony shows beside its steps while it waits (a phone's number to pick, its code form).
  const ceremonyPanel = h('div', { class: 'ceremony-panel' });
  const ceremonyBox = h('section', { class: 'card', 'aria-labelledby': 'ceremony-title', hidden: true }, ceremonyTitle, progress, ceremonyPanel);

  const typeSelect = pathField('Device type', 'type', DEVICE_TYPES[0].type, { kind: 'select', options: DEVICE_TYPES.map((t) => [t.type, `${t.type} — ${t.description}`]) });
  const inputs = Object.fromEntries(Object.entries(CREATE_FIELDS).map(([name, f]) => [name, pathField(f.label, name, '', { attrs: f.attrs })]));
  const nickname = pathField('Nickname', 'nickname', '', { attrs: { maxlength: 256, placeholder: 'optional' } });
  const requireActivation = pathField('Require activation', 'status', true, { kind: 'checkbox' });
  const createButton = h('button', { type: 'submit' }, 'Create device');
  const createTitle = uid('h');
  const createForm = h('form', { class: 'card', 'aria-labelledby': createTitle, novalidate: true },
    h('h3', { id: createTitle }, 'Create a device'),
    typeSelect.row, Object.values(inputs).map((f) => f.row), nickname.row, requireActivation.row, h('div', { class: 'actions' }, createButton));
  // WebAuthn takes no IP address as a relying party ID: on one, the FIDO2 choice says where to go.
  const fido2Note = webauthnHint();
  if (fido2Note) createForm.insertBefore(fido2Note, createForm.lastElementChild);
  const phoneNote = h('p', { class: 'hint', role: 'note', hidden: true }, 'A MOBILE device is made by its pairing: this creates a pairing key (as "Pair a phone" does), shown under Phones.');
  createForm.insertBefore(phoneNote, createForm.lastElementChild);
  const phones = pairingKeysCard(ctx, { base, onClaimed: () => load() });

  const syncCreateFields = () => {
    const t = deviceType(typeSelect.input.value);
    for (const [name, f] of Object.entries(inputs)) {
      f.row.hidden = !t.fields.includes(name);
      if (!f.row.hidden && f.input.value === '') f.input.value = CREATE_FIELDS[name].initial?.(user()) ?? '';
    }
    // A desktop device is always created waiting for its pairing.
    if (t.activation === 'always') requireActivation.input.checked = true;
    requireActivation.input.disabled = t.activation === 'always';
    // A phone is not created here: a pairing key is, and the phone's pairing makes the device.
    nickname.row.hidden = t.activateWith === 'pairingKey';
    requireActivation.row.hidden = t.activateWith === 'pairingKey';
    phoneNote.hidden = t.activateWith !== 'pairingKey';
    if (fido2Note) fido2Note.hidden = t.activateWith !== 'webauthn';
  };
  typeSelect.input.addEventListener('change', syncCreateFields);
  syncCreateFields();

  root.append(agent.row, devicesBox, ceremonyBox, phones.card, createForm);

  // While a row's inline "Nickname" box is open, the create form (which has its own "Nickname")
  // steps aside, so the page never holds two controls of that name.
  const createSlot = h('p', { class: 'hint', hidden: true }, 'Finish renaming to create a device.');
  const suspendCreate = () => { if (createForm.isConnected) { createForm.replaceWith(createSlot); createSlot.hidden = false; } };
  const resumeCreate = () => { if (createSlot.isConnected) { createSlot.replaceWith(createForm); createSlot.hidden = true; } };

  // ---- devices ----
  let devices = [];
  /** The TOTP device just created, with its secret and keyUri: in this closure only, never stored. */
  let shownOnce;

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
    devicesBox.replaceChildren(keepTableRoles(h('table', { class: 'devices stack' },
      h('caption', {}, 'Devices'),
      h('thead', {}, h('tr', {}, [...DEVICE_COLUMNS, 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, devices.length === 0
        ? h('tr', {}, h('td', { colspan: DEVICE_COLUMNS.length + 1, class: 'empty' }, 'This user has no devices.'))
        : devices.flatMap((d) => [deviceRow(d, active), shownOnce?.id === d.id ? shownOnceRow(d) : null])))));
  };

  /** The TOTP card of the device just created, until it is put away or the view is left. */
  const shownOnceRow = (d) => h('tr', { class: 'shown-once', 'data-shown-once': d.id },
    h('td', { colspan: DEVICE_COLUMNS.length + 1 }, totpCard(shownOnce, () => {
      shownOnce = undefined;
      renderDevices();
      devicesBox.querySelector(`tr[data-device="${CSS.escape(d.id)}"] button`)?.focus();
    })));

  /** One call for a row; the row's alert shows what failed, else the list is reloaded. */
  const rowAction = async (row, cell, statusText, task, focus) => {
    clearAlerts();
    if (!await attempt(ctx, { status: statusText, box: row, buttons: [...row.querySelectorAll('button')], alertAt: cell }, task)) return false;
    await load(focus);
    if (ctx.current()) ctx.success(statusText.replace(/…$/, ': done.'));
    return true;
  };

  const deviceRow = (d, active) => {
    const item = `${devicesPath}/${enc(d.id)}`;
    const actions = h('div', { class: 'row-actions' });
    const cell = h('td', { class: 'actions-cell', 'data-label': 'Actions' }, actions);
    const row = h('tr', { 'data-device': d.id },
      [h('code', {}, d.id), d.type, d.status, d.nickname ?? '', lockText(d), d.block?.status ?? '', detailsList(d)].map((content, i) =>
        h('td', { 'data-label': DEVICE_COLUMNS[i] }, content)),
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
      if (d.status === 'ACTIVATION_REQUIRED' && ['sentCode', 'appCode', 'tokenCode'].includes(activateWith(d.type))) {
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
        if (activateWith(d.type) === 'sentCode') out.push(simple('Send new code', CT.sendActivationCode, 'Sending a new activation code…'));
      }
      if (d.status === 'ACTIVATION_REQUIRED' && activateWith(d.type) === 'agent' && creationOptions.has(d.id)) {
        out.push(h('button', { type: 'button', 'data-action': 'pair', onclick: () => pair(d) }, 'Pair with desktop agent'));
      }
      if (activateWith(d.type) === 'webauthn') {
        const hint = webauthnHint();
        if (hint && (d.status === 'ACTIVE' || creationOptions.has(d.id))) out.push(hint);
        else if (d.status === 'ACTIVATION_REQUIRED' && creationOptions.has(d.id)) {
          out.push(h('button', { type: 'button', 'data-action': 'register', title: `Register a passkey or security key for ${label}`, onclick: () => registerPasskey(d) }, 'Register passkey'));
        } else if (d.status === 'ACTIVE') {
          out.push(h('button', { type: 'button', 'data-action': 'authenticate', title: `Authenticate with ${label}`, onclick: () => authenticatePasskey(d) }, 'Authenticate'));
        }
      }
      if (activateWith(d.type) === 'pairingKey' && d.status === 'ACTIVE') {
        out.push(h('button', { type: 'button', 'data-action': 'authenticate', title: `Authenticate with ${label}`, onclick: () => authenticateMobile(d) }, 'Authenticate'));
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

  // ---- ceremonies: desktop pairing, passkey registration and authentication ----
  /**
   * Runs `task(step)` in the ceremony box titled `title`, its steps listed under `label`, with
   * the devices' buttons disabled. A failure is the last step, the status line says so, and
   * the error (PingOne's code and details, or the browser's refusal) sits under the progress.
   * Resolves to the success message `task` returned, shown once the list is reloaded.
   */
  const ceremony = async (title, label, task) => {
    clearAlerts();
    ceremonyTitle.textContent = title;
    progress.setAttribute('aria-label', label);
    progress.replaceChildren();
    ceremonyPanel.replaceChildren();
    ceremonyBox.hidden = false;
    const step = (text, cls) => {
      progress.append(h('li', cls ? { class: cls } : {}, text));
      ctx.setStatus(`${title}: ${text.replace(/^./, (c) => c.toLowerCase())}…`);
    };
    const buttons = [...devicesBox.querySelectorAll('button')];
    let done;
    await busy(progress, buttons, async () => {
      try {
        done = await task(step);
      } catch (e) {
        const lines = e instanceof ApiError ? describeError(e) : e instanceof Error && e.name !== 'Error' ? [describeWebAuthnError(e)] : describeError(e);
        progress.append(h('li', { class: 'failed' }, lines[0]));
        ctx.setStatus(`${title} failed: see the message under the progress.`, 'error');
        showAlert(ceremonyBox, lines);
        if (e instanceof ApiError && e.code === 'AGENT_UNREACHABLE') ceremonyBox.querySelector('.alert').append(agentHint(agentUrl));
      }
    });
    if (done && ctx.current()) {
      await load();
      if (ctx.current()) ctx.success(done);
    }
  };

  const pair = (d) => ceremony('Desktop pairing', 'Pairing progress', async (step) => {
    const options = creationOptions.get(d.id);
    step('Sending creation options to the agent');
    const attestation = await agentRegister(agentUrl, options);
    step('Attestation received');
    step('Activating device');
    const device = await api('POST', `${devicesPath}/${enc(d.id)}`, { contentType: CT.activate, body: { attestation } });
    step(`Device is ${device.status}`, 'done');
    creationOptions.delete(d.id);
    return `Paired ${device.nickname ?? d.id}: the device is ${device.status}.`;
  });

  // navigator.credentials answers the page's own origin: it is the `origin` the server checks.
  const registerPasskey = (d) => ceremony('Passkey registration', 'Passkey progress', async (step) => {
    const publicKey = toCreationOptions(creationOptions.get(d.id));
    step('Waiting for the authenticator (navigator.credentials.create)');
    const credential = await navigator.credentials.create({ publicKey });
    step('Attestation received');
    step('Activating device');
    const device = await api('POST', `${devicesPath}/${enc(d.id)}`, {
      contentType: CT.activate, body: { origin: location.origin, attestation: attestationJson(credential) },
    });
    step(`Device is ${device.status}`, 'done');
    creationOptions.delete(d.id);
    return `Registered ${device.nickname ?? d.id}: the FIDO2 device is ${device.status} (credential ${device.credentialId ?? credential.id}).`;
  });

  /** A device authentication for this user, with this device selected, then navigator.credentials.get and assertion.check (§1.5). */
  const authenticatePasskey = (d) => ceremony('Passkey authentication', 'Authentication progress', async (step) => {
    const flows = `/${enc(ctx.envId)}/deviceAuthentications`;
    step('Starting a device authentication');
    let flow = await api('POST', flows, { body: { user: { id: user().id } } });
    if (flow.selectedDevice?.id !== d.id || flow.status !== 'ASSERTION_REQUIRED') {
      step('Selecting this device');
      flow = await api('POST', `${flows}/${enc(flow.id)}`, { contentType: CT.select, body: { device: { id: d.id } } });
    }
    if (typeof flow.publicKeyCredentialRequestOptions !== 'string') {
      throw new ApiError(0, 'UNEXPECTED_RESPONSE', `The device authentication is ${flow.status} without publicKeyCredentialRequestOptions`);
    }
    const publicKey = requestOptions(flow.publicKeyCredentialRequestOptions);
    step('Waiting for the authenticator (navigator.credentials.get)');
    const credential = await navigator.credentials.get({ publicKey });
    step('Assertion received');
    step('Checking the assertion');
    const checked = await api('POST', `${flows}/${enc(flow.id)}`, {
      contentType: CT.assertionCheck, body: { origin: location.origin, assertion: assertionJson(credential), compatibility: await compatibility() },
    });
    step(`Authentication is ${checked.status}`, checked.status === 'COMPLETED' ? 'done' : 'failed');
    if (checked.status !== 'COMPLETED') throw new ApiError(0, checked.status, checked.error?.message ?? 'the device authentication did not complete');
    return `Authenticated ${user().username} with ${d.nickname ?? d.id}: the device authentication is COMPLETED.`;
  });

  /** A push to the phone (or its offline code), watched until the flow ends (push.js). */
  const authenticateMobile = (d) => ceremony('Phone authentication', 'Authentication progress',
    (step) => authenticatePhone(ctx, { user: user(), device: d, step, panel: ceremonyPanel }));

  // ---- create ----
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearAlerts();
    const t = deviceType(typeSelect.input.value);
    if (t.activateWith === 'pairingKey') {
      await phones.pair({ alertAt: createForm });
      return;
    }
    const fields = [typeSelect, ...t.fields.map((name) => inputs[name]), nickname];
    const body = { ...bodyFrom({}, fields), status: requireActivation.input.checked ? 'ACTIVATION_REQUIRED' : 'ACTIVE', ...(t.body?.() ?? {}) };
    const got = await attempt(ctx, { status: `Creating a ${t.type} device…`, box: createForm, buttons: [createButton], alertAt: createForm, fields: [...fields, requireActivation] },
      () => api('POST', devicesPath, { body }));
    if (!got) return;
    const device = got.value;
    const options = device.pingIdDesktopCredentialCreationOptions ?? device.publicKeyCredentialCreationOptions;
    if (typeof options === 'string') creationOptions.set(device.id, options);
    shownOnce = typeof device.keyUri === 'string' ? device : undefined;
    nickname.input.value = '';
    for (const f of Object.values(inputs)) f.input.value = '';
    syncCreateFields();
    await load();
    if (!ctx.current()) return;
    const next = { agent: ' Pair it with the desktop agent.', webauthn: webauthnHint() ? ' Open the console at localhost to register it.' : ' Register a passkey or security key for it.', appCode: ' Scan the QR code, then enter a code from the app to activate it.', tokenCode: device.status === 'ACTIVATION_REQUIRED' ? ' Enter a code from the token to activate it.' : '', sentCode: device.status === 'ACTIVATION_REQUIRED' ? ' Enter the code sent to it to activate it.' : '' }[t.activateWith] ?? '';
    ctx.success(`Created ${device.type} device ${device.id} (${device.status}).${next}`);
    // The shown-once card sits right after its device's row: bring it into view.
    devicesBox.querySelector('.shown-once')?.scrollIntoView({ block: 'nearest' });
  });

  await load();
}
