// Drives the console in Debian's Firefox ESR over WebDriver BiDi, the protocol Firefox speaks
// natively (playwright-core's Firefox needs a patched build; its BiDi driver still sends
// commands ESR does not know). Run by test/browser/firefox.test.ts as
//   node --experimental-websocket test/support/firefox-console.mjs
// with OPENMFA_FF_* in the environment (the secret never on a command line). Prints one JSON
// line per step: {"step": …, …}; exits 1 with {"error": …, "page": …} when a step fails.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const env = process.env;
const [consoleUrl, agentUrl, environmentId, clientId, clientSecret, firefoxPath, port, screenshotDir] = [
  env.OPENMFA_FF_CONSOLE_URL, env.OPENMFA_FF_AGENT_URL, env.OPENMFA_FF_ENVIRONMENT_ID, env.OPENMFA_FF_CLIENT_ID,
  env.OPENMFA_FF_CLIENT_SECRET, env.OPENMFA_FF_PATH ?? '/usr/bin/firefox-esr', env.OPENMFA_FF_PORT, env.OPENMFA_FF_SCREENSHOTS];
const STEP_MS = 20_000;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const profile = mkdtempSync(path.join(tmpdir(), 'openmfa-firefox-'));
const firefox = spawn(firefoxPath, ['--headless', '--remote-debugging-port', port, '--profile', profile, '--no-remote', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
const listening = new Promise((resolve, reject) => {
  firefox.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('WebDriver BiDi listening')) resolve();
  });
  firefox.once('exit', (code) => reject(new Error(`firefox exited ${code}: ${stderr.slice(-1000)}`)));
  setTimeout(() => reject(new Error(`firefox did not start BiDi within ${STEP_MS} ms: ${stderr.slice(-1000)}`)), STEP_MS);
});

let ws;
let context;
const pending = new Map();
const logs = [];
let nextId = 0;
const send = (method, params) => new Promise((resolve, reject) => {
  const id = ++nextId;
  pending.set(id, (m) => (m.type === 'error' ? reject(new Error(`${method}: ${m.error} ${m.message}`)) : resolve(m.result)));
  ws.send(JSON.stringify({ id, method, params }));
});
const js = async (expression) => {
  const r = await send('script.evaluate', { expression, target: { context }, awaitPromise: true });
  if (r.type === 'exception') throw new Error(`${expression.slice(0, 100)}: ${r.exceptionDetails.text}`);
  return r.result.value;
};
const until = async (what, expression) => {
  const t0 = Date.now();
  for (;;) {
    if (await js(expression).catch(() => false)) return;
    if (Date.now() - t0 > STEP_MS) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const screenshot = async (name) => {
  if (!screenshotDir) return;
  const { data } = await send('browsingContext.captureScreenshot', { context });
  writeFileSync(path.join(screenshotDir, `${name}.png`), Buffer.from(data, 'base64'));
};
// Controls are found the way a person finds them: by their visible label or button text.
const HELPERS = `
window.__byLabel = (t) => [...document.querySelectorAll('label')].find((l) => l.textContent.trim() === t)?.control;
window.__button = (t) => [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === t && !b.disabled);
window.__fill = (t, v) => { const i = __byLabel(t); i.value = v; i.dispatchEvent(new Event('input', { bubbles: true })); };
window.__success = () => { const s = document.getElementById('status'); return s.dataset.kind === 'success' ? s.textContent : ''; };
true`;

try {
  await listening;
  ws = new WebSocket(`ws://127.0.0.1:${port}/session`);
  await new Promise((resolve, reject) => { ws.addEventListener('open', resolve); ws.addEventListener('error', reject); });
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(e.data);
    if (m.id !== undefined && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
    else if (m.method === 'log.entryAdded') logs.push({ level: m.params.level, text: m.params.text });
  });
  const session = await send('session.new', { capabilities: {} });
  await send('session.subscribe', { events: ['log.entryAdded'] });
  context = (await send('browsingContext.getTree', {})).contexts[0].context;

  await send('browsingContext.navigate', { context, url: consoleUrl, wait: 'complete' });
  await until('the sign-in form', `[...document.querySelectorAll('label')].some((l) => l.textContent.trim() === 'Client ID')`);
  await js(HELPERS);
  out({ step: 'loaded', browser: `${session.capabilities.browserName} ${session.capabilities.browserVersion}` });

  await js(`__fill('Environment ID', ${JSON.stringify(environmentId)}); __fill('Client ID', ${JSON.stringify(clientId)}); __fill('Client secret', ${JSON.stringify(clientSecret)}); __button('Sign in').click(); true`);
  await until('"Sign out"', `!!__button('Sign out')`);
  out({
    step: 'signed in',
    storage: await js('JSON.stringify({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie })'),
    tokenRequests: await js(`performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/as/token')).length`),
  });

  const username = `fox${Date.now() % 1_000_000}`;
  await js(`[...document.querySelectorAll('nav button')].find((b) => b.textContent.trim() === 'Users').click(); true`);
  await until('"Search users"', `!!__byLabel('Search users')`);
  await js(`__fill('Username', '${username}'); __button('Create user').click(); true`);
  await until('the new user in the list', `!!__button('${username}')`);
  out({ step: 'user created', username });

  await js(`__button('${username}').click(); true`);
  await until('the user view', `!!__byLabel('Device type') && !!__byLabel('Agent URL')`);
  await js(`__button('Edit user').click(); true`);
  await until('the edit form', `!!__button('Save user')`);
  await js(`__fill('Given name', 'Fox'); __button('Save user').click(); true`);
  await until('"Saved user"', `__success() === 'Saved user ${username}.'`);
  out({ step: 'user edited', status: await js('__success()') });
  await js(`__fill('Agent URL', ${JSON.stringify(agentUrl)}); const s = __byLabel('Device type'); s.value = 'PINGID_DESKTOP_GEN2'; s.dispatchEvent(new Event('change', { bubbles: true })); __button('Create device').click(); true`);
  await until('"Pair with desktop agent"', `!!__button('Pair with desktop agent')`);
  out({ step: 'desktop device created' });

  await js(`__button('Pair with desktop agent').click(); true`);
  await until('"Device is ACTIVE"', `[...document.querySelectorAll('ol li')].some((l) => l.textContent === 'Device is ACTIVE')`);
  // The list is reloaded after the activation: read the row once it shows the new status.
  await until('the row to read ACTIVE', `document.querySelector('table tbody tr')?.cells[2]?.textContent === 'ACTIVE'`);
  out({
    step: 'paired',
    // BiDi returns arrays as remote values: strings (JSON) cross more simply.
    progress: JSON.parse(await js(`JSON.stringify([...document.querySelectorAll('ol li')].map((l) => l.textContent))`)),
    row: JSON.parse(await js(`JSON.stringify([...document.querySelector('table tbody tr').cells].slice(1, 6).map((c) => c.textContent))`)),
  });
  await screenshot('firefox-paired');

  await js(`{ const s = __byLabel('Device type'); s.value = 'TOTP'; s.dispatchEvent(new Event('change', { bubbles: true })); } __button('Create device').click(); true`);
  await until('the TOTP QR code', `[...document.querySelectorAll('img')].some((i) => i.alt === 'TOTP QR code' && i.complete && i.naturalWidth > 0)`);
  out({
    step: 'totp created',
    nextToDevice: await js(`document.querySelector('tr.shown-once')?.previousElementSibling?.getAttribute('data-device') === document.querySelector('tr.shown-once')?.getAttribute('data-shown-once')`),
    secret: await js(`/^[A-Z2-7]{32}$/.test(document.querySelector('code.totp-secret')?.textContent ?? '')`),
  });

  // A phone: the code is read from the page and printed; the test pairs its mobile authenticator
  // with it (firefox.test.ts), the page shows the device, and a push is approved with the number
  // this step prints from the page.
  await js(`__button('Pair a phone').click(); true`);
  await until('the pairing code', `!!document.querySelector('code.pairing-code')`);
  await until('the pairing key QR code', `[...document.querySelectorAll('img')].some((i) => i.alt === 'Pairing key QR code' && i.complete && i.naturalWidth > 0)`);
  out({ step: 'pairing key', code: await js(`document.querySelector('code.pairing-code').textContent`) });
  const phoneRow = `[...document.querySelectorAll('table.devices tbody tr')].find((r) => r.cells[1]?.textContent === 'MOBILE' && r.cells[2]?.textContent === 'ACTIVE')`;
  await until('the MOBILE device, ACTIVE', `!!${phoneRow}`);
  out({
    step: 'phone paired',
    facts: JSON.parse(await js(`JSON.stringify([...${phoneRow}.querySelectorAll('ul.facts li')].map((l) => l.textContent))`)),
    codeGone: await js(`!document.querySelector('code.pairing-code')`),
  });
  await js(`${phoneRow}.querySelector('button[data-action="authenticate"]').click(); true`);
  await until('the number to pick', `!!document.querySelector('.push-number output')`);
  out({ step: 'push sent', number: await js(`document.querySelector('.push-number output').textContent`) });
  await until('"Authentication is COMPLETED"', `[...document.querySelectorAll('ol li')].some((l) => l.textContent === 'Authentication is COMPLETED')`);
  out({ step: 'push approved', progress: JSON.parse(await js(`JSON.stringify([...document.querySelectorAll('ol li')].map((l) => l.textContent))`)), status: await js('__success()') });
  await screenshot('firefox-push-approved');

  await js(`[...document.querySelectorAll('nav button')].find((b) => b.textContent.trim() === 'MFA settings').click(); true`);
  await until('the MFA settings form', `!!__byLabel('Most devices per user')`);
  await js(`__fill('Most devices per user', '99'); __button('Save MFA settings').click(); true`);
  await until('the field error', `__byLabel('Most devices per user').getAttribute('aria-invalid') === 'true'`);
  const fieldError = await js(`document.getElementById(__byLabel('Most devices per user').getAttribute('aria-describedby')).textContent`);
  await js(`__fill('Most devices per user', '8'); __button('Save MFA settings').click(); true`);
  await until('"Saved the MFA settings."', `__success() === 'Saved the MFA settings.'`);
  out({ step: 'mfa settings saved', fieldError, status: await js('__success()') });

  await js(`__button('Sign out').click(); true`);
  await until('the sign-in form again', `!!__byLabel('Client secret')`);
  out({ step: 'signed out', logs });
  await send('session.end', {}).catch(() => {});
} catch (e) {
  const page = context ? await js('document.body.innerText').catch(() => '') : '';
  out({ error: String(e instanceof Error ? e.message : e), page: String(page).slice(0, 1500), logs });
  process.exitCode = 1;
} finally {
  ws?.close();
  firefox.kill();
  await new Promise((r) => (firefox.exitCode !== null ? r() : firefox.once('exit', r)));
  rmSync(profile, { recursive: true, force: true });
}
