// A user's phones: "Pair a phone" makes a pairing key (wave-2 reference §3.2), its code shown
// once as text and as a QR code with the command that pairs OpenMFA's scriptable authenticator,
// and the keys made in this sign-in listed with their status — read again every second while
// one is UNCLAIMED, so the MOBILE device shows up once a phone claims it (mobile-protocol §1).
import { api, authBase, describeError, enc } from './api.js';
import { clearAlerts, h, keepTableRoles, showAlert, uid } from './dom.js';
import { qrDataUrl } from './qr.js';
import { attempt, formatTime } from './views.js';

/** How often an UNCLAIMED key is read again, in the browser's time (the server's clock may stand still). */
const POLL_MS = 1000;
const COLUMNS = ['ID', 'Status', 'Expires', 'Error'];

/**
 * The keys made in this sign-in, by user path, as `{ key, watchUntil }` (the key's body, never
 * its code). PingOne has no collection GET of pairing keys (wave-2 reference §3.2), so the
 * console lists what it made and reads each again by ID. `watchUntil` is the browser's
 * `performance.now()` at which the key's lifetime (`expiresAt - createdAt`, both the server's)
 * has passed since it was made: the console stops watching an expired key without comparing
 * its own clock with the server's.
 */
const made = new Map();

export function forgetPairingKeys() {
  made.clear();
}

/** Where `npm run mobile` listens unless told otherwise (OPENMFA_MOBILE_PORT). */
const MOBILE_URL = 'http://127.0.0.1:9420';

/**
 * The commands that pair OpenMFA's scriptable mobile authenticator with `code`: start it, then
 * its loopback surface's `POST /pair {"code","server"}` (mobile-protocol §1.2, §5). The code
 * (digits, or letters and digits) and the URL need no shell quoting inside the single quotes.
 */
export function mobileCommands(code, server) {
  return [
    'npm run mobile',
    `curl -sS -H 'Content-Type: application/json' -d '${JSON.stringify({ code, server })}' ${MOBILE_URL}/pair`,
  ];
}

function mobileHint(code, server) {
  const [start, pair] = mobileCommands(code, server);
  return h('div', { class: 'agent-hint', role: 'note', 'aria-label': 'How to pair the mobile authenticator' },
    h('p', {}, 'No phone at hand? Start OpenMFA\'s scriptable mobile authenticator in a terminal, from the OpenMFA folder:'),
    h('pre', {}, h('code', { class: 'mobile-command' }, start)),
    h('p', {}, 'and pair it with this key from another:'),
    h('pre', {}, h('code', { class: 'mobile-command' }, pair)));
}

/** The shown-once card of a new key: its code as a QR code (PingOne's keys carry no URI: the QR holds the code) and as text. */
function codeCard(code, server, onDone) {
  const titleId = uid('h');
  const qr = qrDataUrl(code);
  return h('section', { class: 'shown-once-card', 'aria-labelledby': titleId },
    qr ? h('img', { src: qr, alt: 'Pairing key QR code', class: 'qr' }) : null,
    h('div', { class: 'shown-once-text' },
      h('h3', { id: titleId }, 'Pairing key (shown once)'),
      h('p', {}, 'Scan the QR code with the phone\'s app, or type the code there. The server never shows it again.'),
      h('p', {}, 'Code: ', h('code', { class: 'pairing-code' }, code)),
      mobileHint(code, server),
      h('button', { type: 'button', class: 'secondary', onclick: onDone }, 'Hide the code')));
}

/**
 * The Phones card of a user's view (`base`: the user's API path). `onClaimed()` runs when a key
 * this card watches becomes CLAIMED (the devices list reloads). Returns `{ card, pair }`:
 * `pair({ alertAt })` makes a key, as "Pair a phone" and the create form's MOBILE choice do.
 */
export function pairingKeysCard(ctx, { base, onClaimed }) {
  const keysPath = `${base}/pairingKeys`;
  const server = `${authBase()}/${ctx.envId}`;
  if (!made.has(base)) made.set(base, []);
  const entries = made.get(base);
  /** The new key's code: in this closure only, never stored, gone once the key is no longer UNCLAIMED. */
  let shownOnce;

  const titleId = uid('h');
  const pairButton = h('button', { type: 'button', onclick: () => void pair() }, 'Pair a phone');
  const refreshButton = h('button', { type: 'button', class: 'secondary', onclick: () => void refresh() }, 'Refresh pairing keys');
  const list = h('div', { class: 'results' });
  const card = h('section', { class: 'card phones', 'aria-labelledby': titleId },
    h('h3', { id: titleId }, 'Phones'),
    h('p', { class: 'hint' }, 'A phone pairs as a MOBILE device through a pairing key: its app takes the key\'s code once, for a native application (NATIVE_APP) that the device authentication policy\'s mobile section lists. Keys made in this sign-in are listed here.'),
    h('div', { class: 'actions' }, pairButton, refreshButton), list);

  const draw = () => {
    if (entries.length === 0) {
      list.replaceChildren();
      return;
    }
    list.replaceChildren(keepTableRoles(h('table', { class: 'pairing-keys stack' },
      h('caption', {}, 'Pairing keys'),
      h('thead', {}, h('tr', {}, [...COLUMNS, 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, entries.flatMap(({ key }) => [keyRow(key), shownOnce?.id === key.id ? codeRow(key) : null])))));
  };

  const codeRow = (key) => h('tr', { class: 'shown-once', 'data-shown-once': key.id },
    h('td', { colspan: COLUMNS.length + 1 }, codeCard(shownOnce.code, server, () => {
      shownOnce = undefined;
      draw();
      list.querySelector(`tr[data-pairing-key="${CSS.escape(key.id)}"] button`)?.focus();
    })));

  const keyRow = (key) => {
    const cell = h('td', { class: 'actions-cell', 'data-label': 'Actions' });
    const row = h('tr', { 'data-pairing-key': key.id },
      [h('code', {}, key.id), key.status, formatTime(key.expiresAt), key.error ? `${key.error.code}: ${key.error.message}` : '']
        .map((content, i) => h('td', { 'data-label': COLUMNS[i] }, content)),
      cell);
    cell.append(h('div', { class: 'row-actions' }, h('button', { type: 'button', 'data-action': 'Delete', title: `Delete pairing key ${key.id}`, onclick: async () => {
      clearAlerts();
      const got = await attempt(ctx, { status: 'Deleting the pairing key…', box: row, buttons: [...row.querySelectorAll('button')], alertAt: cell },
        () => api('DELETE', `${keysPath}/${enc(key.id)}`));
      if (!got) return;
      forget(key.id);
      draw();
      ctx.success(`Deleted pairing key ${key.id}.`);
    } }, 'Delete')));
    return row;
  };

  const forget = (id) => {
    const i = entries.findIndex((e) => e.key.id === id);
    if (i >= 0) entries.splice(i, 1);
    if (shownOnce?.id === id) shownOnce = undefined;
  };

  /** Reads every listed key again (a 404 drops it); resolves to the keys that were UNCLAIMED and are CLAIMED now. */
  const readAll = async () => {
    const claimed = [];
    for (const entry of [...entries]) {
      let key;
      try {
        key = await api('GET', `${keysPath}/${enc(entry.key.id)}`);
      } catch (e) {
        if (e?.status === 404) { forget(entry.key.id); continue; }
        throw e;
      }
      if (entry.key.status === 'UNCLAIMED' && key.status === 'CLAIMED') claimed.push(key);
      entry.key = key;
      if (key.status !== 'UNCLAIMED' && shownOnce?.id === key.id) shownOnce = undefined;
    }
    return claimed;
  };

  const settle = async (claimed) => {
    draw();
    if (claimed.length === 0) return;
    await onClaimed();
    if (ctx.current()) ctx.success(`A phone paired with pairing key ${claimed.map((k) => k.id).join(', ')}: its MOBILE device is in the list.`);
  };

  // ---- watching UNCLAIMED keys (one timer per card; it stops when the view is left) ----
  let timer;
  let reading = false;
  const watched = () => entries.some((e) => e.key.status === 'UNCLAIMED' && performance.now() < e.watchUntil);
  const schedule = () => {
    clearTimeout(timer);
    if (ctx.current() && watched()) timer = setTimeout(tick, POLL_MS);
  };
  const tick = async () => {
    if (!ctx.current() || reading) return;
    reading = true;
    try {
      await settle(await readAll());
    } catch (e) {
      // Watching stops on a failure (the network, a revoked token); Refresh reads again.
      if (ctx.current()) showAlert(card, [...describeError(e), 'Select "Refresh pairing keys" to read the keys again.']);
      return;
    } finally {
      reading = false;
    }
    schedule();
  };

  const refresh = async () => {
    clearAlerts();
    const got = await attempt(ctx, { status: 'Reading the pairing keys…', box: list, buttons: [pairButton, refreshButton], alertAt: card }, readAll);
    if (!got) return;
    await settle(got.value);
    schedule();
  };

  const pair = async ({ alertAt = card } = {}) => {
    clearAlerts();
    const got = await attempt(ctx, { status: 'Creating a pairing key…', box: card, buttons: [pairButton], alertAt },
      () => api('POST', keysPath, { body: {} }));
    if (!got) return undefined;
    const { code, ...key } = got.value;
    entries.push({ key, watchUntil: performance.now() + Math.max(0, Date.parse(key.expiresAt) - Date.parse(key.createdAt)) });
    shownOnce = { id: key.id, code };
    draw();
    schedule();
    ctx.success(`Created pairing key ${key.id} (${key.status}): give its code to the phone's app; the MOBILE device appears once it pairs.`);
    list.querySelector('.shown-once')?.scrollIntoView({ block: 'nearest' });
    return key;
  };

  draw();
  // Keys made before this view was opened: read once (their status may have changed), then watched.
  if (entries.length > 0) void tick();
  return { card, pair };
}
