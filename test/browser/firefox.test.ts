/**
 * The console's main path in Firefox: Debian's firefox-esr, driven over WebDriver BiDi by
 * test/support/firefox-console.mjs in a child process — sign in, create and edit a user, create
 * a PINGID_DESKTOP_GEN2 device and pair it through the REAL agent, create a TOTP device (its QR
 * code next to it), pair a phone (this test's mobile authenticator takes the code the page
 * printed) and approve a push with the number the page printed, save the MFA settings after a
 * server error under its field, sign out — with
 * nothing logged to the browser console and the token kept out of storage. The Chromium suites cover every view and action; this one proves the same modules,
 * CSP and agent calls work in the other engine.
 *
 * Skipped without /usr/bin/firefox-esr (or OPENMFA_FIREFOX) outside CI; with CI set a missing
 * Firefox fails (.ci/run installs Debian's firefox-esr).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../src/free-port.js';
import { MobileAuthenticator } from '../../src/testing/mobile-authenticator.js';
import { APP_ENTRY, enableMobile } from '../mobile/support.js';
import { artifactsDir, CI, eventually, ROOT, startConsoleStack, type ConsoleStack } from '../support/browser.js';

const FIREFOX = process.env.OPENMFA_FIREFOX ?? '/usr/bin/firefox-esr';
const skip = existsSync(FIREFOX) || CI ? false : `firefox not found at ${FIREFOX} (apt-get install firefox-esr, or set OPENMFA_FIREFOX); skipped outside CI`;

let stack: ConsoleStack;
before(async () => {
  if (!skip) stack = await startConsoleStack();
});
after(async () => {
  await stack?.close();
});

interface Step { step?: string; error?: string; page?: string; [k: string]: unknown }

test('Firefox: sign in (one token request), create and edit a user, pair a PINGID_DESKTOP_GEN2 device through the real agent, create a TOTP device, pair a phone and approve its push with the page\'s number, save the MFA settings past a field error, sign out — no console messages, no stored token', { skip, timeout: 120_000 }, async (t) => {
  if (!existsSync(FIREFOX)) throw new Error(`CI is set and firefox-esr is missing at ${FIREFOX}: .ci/run installs it`);
  const boot = stack.server.boot;
  // The phone's side: a native application with number matching, and the in-process authenticator
  // over real HTTP, which pairs with the code and answers with the number the page printed.
  const { appId } = await enableMobile(stack.server, boot.environmentId, (id) => APP_ENTRY(id, { push: { enabled: true, numberMatching: { enabled: true } } }));
  const phone = new MobileAuthenticator({ now: () => stack.server.clock.now() });
  const sdk = `${stack.server.config.authPath}/${boot.environmentId}`;
  let phoneId = '';
  const react = async (s: Step) => {
    if (s.step === 'pairing key') phoneId = (await phone.pair(sdk, String(s.code))).id;
    if (s.step === 'push sent') {
      const push = await eventually('the push on the phone\'s channel', async () => (await phone.poll(phoneId, 0)).pushes[0]);
      assert.ok(push.numberChoices?.includes(String(s.number)), `the page's number ${String(s.number)} is among the phone's choices ${JSON.stringify(push.numberChoices)}`);
      await phone.approve(push.id, String(s.number));
    }
  };
  const reactions: Promise<void>[] = [];
  const reactionErrors: string[] = [];
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', path.join(ROOT, 'test/support/firefox-console.mjs')], {
    env: {
      ...process.env,
      OPENMFA_FF_CONSOLE_URL: stack.consoleUrl,
      OPENMFA_FF_AGENT_URL: stack.agentUrl,
      OPENMFA_FF_ENVIRONMENT_ID: boot.environmentId,
      OPENMFA_FF_CLIENT_ID: boot.clientId,
      OPENMFA_FF_CLIENT_SECRET: boot.clientSecret,
      OPENMFA_FF_PATH: FIREFOX,
      OPENMFA_FF_PORT: String(await freePort()),
      OPENMFA_FF_SCREENSHOTS: artifactsDir(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let unread = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    unread += d.toString();
    for (let nl = unread.indexOf('\n'); nl >= 0; nl = unread.indexOf('\n')) {
      const line = unread.slice(0, nl).trim();
      unread = unread.slice(nl + 1);
      if (line) reactions.push(react(JSON.parse(line) as Step).catch((e: unknown) => { reactionErrors.push(String(e)); }));
    }
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await Promise.all(reactions);
  assert.deepEqual(reactionErrors, [], 'the phone paired and answered');
  const steps = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Step);
  for (const s of steps) t.diagnostic(JSON.stringify(s).slice(0, 400));
  const failed = steps.find((s) => s.error);
  assert.equal(failed, undefined, `the Firefox run failed: ${failed?.error}\n${failed?.page ?? ''}\n${stderr.slice(-1000)}`);
  assert.equal(code, 0, stderr.slice(-1000));
  const byStep = Object.fromEntries(steps.map((s) => [s.step, s]));
  assert.deepEqual(steps.map((s) => s.step), ['loaded', 'signed in', 'user created', 'user edited', 'desktop device created', 'paired', 'totp created', 'pairing key', 'phone paired', 'push sent', 'push approved', 'mfa settings saved', 'signed out']);
  assert.match(String(byStep.loaded!.browser), /^firefox \d+/);
  assert.equal(byStep['signed in']!.storage, JSON.stringify({ local: 0, session: 0, cookie: '' }), 'the token is kept in memory only');
  assert.equal(byStep['signed in']!.tokenRequests, 1, 'one token request signs in');
  const paired = byStep.paired!;
  assert.deepEqual(paired.progress, ['Sending creation options to the agent', 'Attestation received', 'Activating device', 'Device is ACTIVE']);
  assert.deepEqual(paired.row, ['PINGID_DESKTOP_GEN2', 'ACTIVE', 'Desktop Linux', 'UNLOCKED', 'UNBLOCKED']);
  assert.deepEqual(byStep['totp created'], { step: 'totp created', nextToDevice: true, secret: true }, 'the QR code and secret in the row after the TOTP device');
  assert.match(String(byStep['pairing key']!.code), /^[A-HJ-NP-Z2-9]{16}$/);
  assert.deepEqual(byStep['phone paired'], { step: 'phone paired', facts: ['Model: OpenMFA Phone', 'OS: ANDROID 14', `Application: ${appId}`, 'SDK: 2.0.0(openmfa)'], codeGone: true });
  assert.match(String(byStep['push sent']!.number), /^[1-9][0-9]$/);
  // The desktop and the phone were activated in the same millisecond (the clock stands still): the
  // policy's first device is either, and the console selects the phone when it is not.
  assert.deepEqual((byStep['push approved']!.progress as string[]).filter((s) => s !== 'Selecting this device'),
    ['Starting a device authentication', 'Push sent to the phone: waiting for its answer', 'Authentication is COMPLETED']);
  assert.match(String(byStep['push approved']!.status), /^Authenticated fox\d+ with .*: the device authentication is COMPLETED\.$/);
  assert.match(String(byStep['mfa settings saved']!.fieldError), /^pairing\.maxAllowedDevices /, 'the server\'s error under its field');
  assert.deepEqual(byStep['signed out']!.logs, [], 'nothing logged to the browser console (no CSP report, no error)');

  // The API agrees.
  const users = await stack.server.request('GET', `/v1/environments/${boot.environmentId}/users?filter=${encodeURIComponent(`username eq "${String(byStep['user created']!.username)}"`)}`);
  assert.equal(users.status, 200, users.text);
  const userId = users.body._embedded.users[0].id as string;
  const devices = await stack.server.request('GET', `/v1/environments/${boot.environmentId}/users/${userId}/devices`);
  assert.equal(devices.status, 200, devices.text);
  // Sorted: the desktop and the phone were activated in the same millisecond of the clock that stands still.
  assert.deepEqual(devices.body._embedded.devices.map((d: Record<string, unknown>) => [d.type, d.status]).sort(), [['MOBILE', 'ACTIVE'], ['PINGID_DESKTOP_GEN2', 'ACTIVE'], ['TOTP', 'ACTIVATION_REQUIRED']]);
  assert.equal(users.body._embedded.users[0].name?.given, 'Fox', 'the edit was saved');
  assert.equal((await stack.server.request('GET', `/v1/environments/${boot.environmentId}/mfaSettings`)).body.pairing.maxAllowedDevices, 8, 'the settings were saved');
});
