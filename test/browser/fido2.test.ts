/**
 * FIDO2 with a real browser as the oracle (issue 16 items 5 and 6): Debian's chromium, driven
 * through playwright-core, with a virtual authenticator of the DevTools protocol's WebAuthn
 * domain (CTAP2; internal or USB transport; resident keys; user verification given or denied)
 * — chromium's own WebAuthn client builds clientDataJSON, the authenticator data and the
 * attestation, and the server must accept exactly what a browser sends.
 *
 * - Through the console: "Register passkey" on a FIDO2 device created in the user view.
 * - Through the raw API: the options fetched by the test, navigator.credentials called in the
 *   page with Ping's own conversion (new Uint8Array(array), btoa), the activation sent by the test.
 * - A denied user verification where the policy requires it: the browser refuses in the
 *   console; a client that asks the authenticator for no verification gets PingOne's error.
 *
 * WebAuthn takes no IP address as an RP ID, so the pages are opened at localhost (the server
 * listens on 127.0.0.1; chromium resolves localhost to loopback). SQLite only, like every
 * browser suite.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CDPSession, Page } from 'playwright-core';
import { assertUnchanged, snapshot } from '../devices/expect.js';
import { expectError } from '../support/errors.js';
import { fido2PolicyBody } from '../fuzz/openapi.js';
import {
  browserSkip, consoleSuite, deviceRow, eventually, formWith, letters, openUser, screenshot, signIn, waitForSuccess, type Watched,
} from '../support/browser.js';

const skip = browserSkip();
const TIMEOUT = 90_000;
const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const suite = consoleSuite(skip);
const { creds, envId, withPage } = suite;

/** The console at localhost (WebAuthn's RP ID must be a host name), and its origin. */
const localConsole = () => suite.stack.consoleUrl.replace('//127.0.0.1:', '//localhost:');
const localOrigin = () => new URL(localConsole()).origin;

interface VirtualAuthenticator {
  cdp: CDPSession;
  authenticatorId: string;
  credentials(): Promise<Array<{ credentialId: string; isResidentCredential: boolean; rpId?: string; userHandle?: string; signCount: number }>>;
}

/** A CTAP2 virtual authenticator in this page's browser context (WebAuthn.enable, WebAuthn.addVirtualAuthenticator). */
async function virtualAuthenticator(w: Watched, options: { transport: 'internal' | 'usb'; hasResidentKey: boolean; hasUserVerification: boolean; isUserVerified: boolean }): Promise<VirtualAuthenticator> {
  const cdp = await w.context.newCDPSession(w.page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', automaticPresenceSimulation: true, ...options },
  });
  return {
    cdp, authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

const b64ToB64url = (s: string) => Buffer.from(s, 'base64').toString('base64url');

async function apiUser(username: string): Promise<string> {
  const res = await suite.stack.server.request('POST', `/v1/environments/${envId()}/users`, { body: { username, email: `${username}@example.com` } });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

const devicesPath = (userId: string) => `/v1/environments/${envId()}/users/${userId}/devices`;

async function apiDevices(userId: string): Promise<Record<string, any>[]> {
  const res = await suite.stack.server.request('GET', devicesPath(userId));
  assert.equal(res.status, 200, res.text);
  return res.body._embedded.devices as Record<string, any>[];
}

/** A FIDO2 device created by the test, its options string and its path. */
async function apiFido2Device(userId: string, policyId?: string) {
  const res = await suite.stack.server.request('POST', devicesPath(userId), {
    body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' }, ...(policyId ? { policy: { id: policyId } } : {}) },
  });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, path: `${devicesPath(userId)}/${res.body.id as string}`, options: res.body.publicKeyCredentialCreationOptions as string };
}

/**
 * navigator.credentials.create in the page from PingOne's options string, converted the way
 * Ping's own browser sample does (JSON.parse, new Uint8Array(array) for the signed bytes) —
 * not with the console's module — and answered in §1.4's encoding (`id` as the browser gives
 * it, the rest btoa). `tamper` is a function body run on the parsed options before the call
 * (what a client might change). Resolves to { attestation } or { error: "Name: message" }.
 */
function createInPage(page: Page, options: string, tamper = ''): Promise<{ attestation?: string; error?: string }> {
  return page.evaluate(`(async () => {
    const o = JSON.parse(${JSON.stringify(options)});
    ${tamper}
    const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
    const publicKey = {
      ...o,
      challenge: new Uint8Array(o.challenge),
      user: { ...o.user, id: new Uint8Array(o.user.id) },
      pubKeyCredParams: o.pubKeyCredParams.map((p) => ({ type: p.type, alg: Number(p.alg) })),
      excludeCredentials: o.excludeCredentials.map((c) => ({ ...c, id: new Uint8Array(c.id) })),
    };
    try {
      const c = await navigator.credentials.create({ publicKey });
      return { attestation: JSON.stringify({
        id: c.id, type: c.type, rawId: b64(c.rawId),
        response: { clientDataJSON: b64(c.response.clientDataJSON), attestationObject: b64(c.response.attestationObject), transports: c.response.getTransports() },
        authenticatorAttachment: c.authenticatorAttachment,
        clientExtensionResults: {},
      }) };
    } catch (e) {
      return { error: e.name + ': ' + e.message };
    }
  })()`);
}

test('console: a passkey (CTAP2, internal transport, resident key, user verification) is registered with "Register passkey" → ACTIVE, and the credential the authenticator holds is the device\'s', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, 'fido2-01-console-passkey-registered', async (w) => {
    const { page } = w;
    const authenticator = await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const username = letters('pia.');
    const userId = await apiUser(username);
    await page.goto(localConsole());
    await signIn(w, localConsole(), creds());
    await openUser(page, username);
    // A page at localhost can use WebAuthn: no hint about IP addresses.
    assert.equal(await page.locator('.webauthn-hint').count(), 0);

    const form = formWith(page, 'Create device');
    await form.getByLabel('Device type', { exact: true }).selectOption('FIDO2');
    await form.getByRole('button', { name: 'Create device', exact: true }).click();
    await waitForSuccess(page, /Created FIDO2 device .* \(ACTIVATION_REQUIRED\)\. Register a passkey or security key for it\./);
    const [created] = await apiDevices(userId);
    assert.equal(created!.status, 'ACTIVATION_REQUIRED');
    assert.deepEqual(created!.rp, { id: 'localhost', name: 'OpenMFA console' });

    await deviceRow(page, created!.id).getByRole('button', { name: 'Register passkey', exact: true }).click();
    await waitForSuccess(page, /^Registered .*: the FIDO2 device is ACTIVE/);
    const steps = await page.getByRole('list', { name: 'Passkey progress', exact: true }).getByRole('listitem').allInnerTexts();
    assert.deepEqual(steps, ['Waiting for the authenticator (navigator.credentials.create)', 'Attestation received', 'Activating device', 'Device is ACTIVE']);
    await deviceRow(page, created!.id).getByRole('cell', { name: 'ACTIVE', exact: true }).waitFor();
    assert.equal(await deviceRow(page, created!.id).getByRole('button', { name: 'Register passkey', exact: true }).count(), 0, 'nothing left to register');

    const [held] = await authenticator.credentials();
    assert.ok(held, 'the virtual authenticator holds the credential');
    assert.equal(held.isResidentCredential, true, 'a discoverable credential (the policy requires one)');
    assert.equal(held.rpId, 'localhost');
    const [device] = await apiDevices(userId);
    assert.equal(device!.status, 'ACTIVE');
    assert.equal(device!.credentialId, b64ToB64url(held.credentialId), 'the device names the credential the authenticator made');
    assert.equal(Buffer.from(held.userHandle!, 'base64').length, 32, 'the user handle of the options');
    assert.deepEqual(device!.attributes, { transports: ['internal'], isCrossPlatform: false, isResidentKey: true });
    assert.deepEqual(device!.backup, { backupEligibility: false, backupState: false });
    assert.deepEqual(device!.fidoRegistrationArtifacts, { attestationType: 'NONE' });
    assert.equal(device!.displayName, 'Passkey');
  });
});

test('console opened at 127.0.0.1: the FIDO2 choice and a FIDO2 row say WebAuthn refuses IP addresses and link to localhost; no "Register passkey"', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, 'fido2-02-console-on-ip-hint', async (w) => {
    const { page } = w;
    const username = letters('ipo.');
    const userId = await apiUser(username);
    await signIn(w, suite.stack.consoleUrl, creds());
    await openUser(page, username);
    const form = formWith(page, 'Create device');
    const note = form.getByRole('note');
    assert.equal(await note.isVisible(), false, 'no note while another type is chosen');
    await form.getByLabel('Device type', { exact: true }).selectOption('FIDO2');
    await note.waitFor();
    assert.match(await note.innerText(), /WebAuthn refuses IP addresses as relying party IDs\. Open the console at http:\/\/localhost:\d+\/console/);
    assert.equal(await note.getByRole('link').getAttribute('href'), localConsole());
    await form.getByRole('button', { name: 'Create device', exact: true }).click();
    await waitForSuccess(page, /Created FIDO2 device .*Open the console at localhost to register it\./);
    const [device] = await apiDevices(userId);
    const row = deviceRow(page, device!.id);
    await row.getByRole('note').filter({ hasText: 'WebAuthn refuses IP addresses' }).waitFor();
    assert.equal(await row.getByRole('button', { name: 'Register passkey', exact: true }).count(), 0);
  });
});

test('raw API: a security key (CTAP2, USB, no resident key) under a cross-platform FIDO2 policy — options from the server, navigator.credentials.create in the page, the activation by API → ACTIVE', { skip, timeout: TIMEOUT }, async (t) => {
  const server = suite.stack.server;
  const fido2 = await server.request('POST', `/v1/environments/${envId()}/fido2Policies`, {
    body: { ...fido2PolicyBody('security keys'), relyingPartyId: 'localhost', authenticatorAttachment: 'CROSS_PLATFORM', discoverableCredentials: 'DISCOURAGED',
      userVerification: { option: 'DISCOURAGED', enforceDuringAuthentication: false }, attestationRequirements: 'NONE',
      mdsAuthenticatorsRequirements: { option: 'NONE', enforceDuringAuthentication: false } },
  });
  assert.equal(fido2.status, 201, fido2.text);
  const dap = await server.request('POST', `/v1/environments/${envId()}/deviceAuthenticationPolicies`, { body: { name: letters('keys.'), fido2: { enabled: true, fido2PolicyId: fido2.body.id } } });
  assert.equal(dap.status, 201, dap.text);
  await withPage(t, 'fido2-03-raw-api-security-key', async (w) => {
    const authenticator = await virtualAuthenticator(w, { transport: 'usb', hasResidentKey: false, hasUserVerification: false, isUserVerified: false });
    const userId = await apiUser(letters('sam.'));
    const { path, options } = await apiFido2Device(userId, dap.body.id as string);
    assert.deepEqual(JSON.parse(options).authenticatorSelection, { authenticatorAttachment: 'cross-platform', residentKey: 'discouraged', requireResidentKey: false, userVerification: 'discouraged' });
    await w.page.goto(localConsole());
    const made = await createInPage(w.page, options);
    assert.equal(made.error, undefined, made.error);
    const done = await server.request('POST', path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
    assert.equal(done.status, 200, done.text);
    const [held] = await authenticator.credentials();
    assert.equal(held!.isResidentCredential, false);
    assert.equal(done.body.status, 'ACTIVE');
    assert.equal(done.body.credentialId, b64ToB64url(held!.credentialId));
    assert.deepEqual(done.body.attributes, { transports: ['usb'], isCrossPlatform: true });

    // The next registration excludes it: the same authenticator refuses to make a second credential.
    const next = await apiFido2Device(userId, dap.body.id as string);
    assert.equal(JSON.parse(next.options).excludeCredentials.length, 1);
    const again = await createInPage(w.page, next.options);
    assert.match(again.error ?? '', /^InvalidStateError/, 'excludeCredentials reached the authenticator');
    await screenshot(t, w.page, 'fido2-03-raw-api-done');
  });
});

test('raw API passkey (CTAP2, internal, resident key, UV) under the default policy → ACTIVE; the attestation replayed to another device of the user is refused', { skip, timeout: TIMEOUT }, async (t) => {
  const server = suite.stack.server;
  await withPage(t, 'fido2-04-raw-api-passkey', async (w) => {
    await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const userId = await apiUser(letters('rae.'));
    const first = await apiFido2Device(userId);
    const second = await apiFido2Device(userId);
    await w.page.goto(localConsole());
    const made = await createInPage(w.page, first.options);
    assert.equal(made.error, undefined, made.error);
    const before = await snapshot(server, second.path);
    const replayed = await server.request('POST', second.path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
    expectError(replayed, 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'attestation' }]);
    await assertUnchanged(server, before, 1);
    const done = await server.request('POST', first.path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'ACTIVE');
  });
});

test('denied user verification where the policy requires it: the console shows the browser\'s refusal and the device stays ACTIVATION_REQUIRED; an attestation without UV is refused by the server and nothing changes', { skip, timeout: TIMEOUT }, async (t) => {
  const server = suite.stack.server;
  await withPage(t, 'fido2-05-denied-user-verification', async (w) => {
    const { page } = w;
    const denying = await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: false });
    const username = letters('uvn.');
    const userId = await apiUser(username);
    await page.goto(localConsole());
    await signIn(w, localConsole(), creds());
    await openUser(page, username);
    const form = formWith(page, 'Create device');
    await form.getByLabel('Device type', { exact: true }).selectOption('FIDO2');
    await form.getByRole('button', { name: 'Create device', exact: true }).click();
    await waitForSuccess(page, /Created FIDO2 device/);
    const [created] = await apiDevices(userId);
    const path = `${devicesPath(userId)}/${created!.id as string}`;
    const before = await snapshot(server, path);
    await deviceRow(page, created!.id).getByRole('button', { name: 'Register passkey', exact: true }).click();
    const alert = page.locator('.alert').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /^WEBAUTHN_NOT_ALLOWED: /);
    await page.locator('#status[data-kind="error"]').filter({ hasText: 'Passkey registration failed' }).waitFor();
    await assertUnchanged(server, before);
    await screenshot(t, page, 'fido2-05-console-refusal');

    // Chromium's authenticator that can verify always tries to (and is refused); one that cannot
    // answers with UV unset when a client lowers the options' "required" (user verification, and
    // the resident key that needs it). The default policy requires UV: INVALID_DATA on the
    // attestation, nothing changes.
    await denying.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: denying.authenticatorId });
    await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: false, isUserVerified: false });
    const direct = await apiFido2Device(userId);
    const made = await createInPage(page, direct.options, "o.authenticatorSelection = { residentKey: 'discouraged', requireResidentKey: false, userVerification: 'preferred' };");
    assert.equal(made.error, undefined, made.error);
    const snap = await snapshot(server, direct.path);
    const refused = await server.request('POST', direct.path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
    expectError(refused, 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'attestation' }]);
    assert.match(refused.body.details[0].message, /user verification|user could not be verified/i);
    await assertUnchanged(server, snap, 1);
    await eventually('the device to still wait for its activation', async () => (await apiDevices(userId)).every((d) => d.status === 'ACTIVATION_REQUIRED'));
  });
});

// ─── authentication (wave-2 reference §1.5) ──────────────────────────────────────────────────

const ASSERTION_CHECK = 'application/vnd.pingidentity.assertion.check+json';
const flows = () => `/${envId()}/deviceAuthentications`;

/**
 * navigator.credentials.get in the page from PingOne's request options string, converted and
 * answered as Ping's own sample does (JSON.parse, new Uint8Array, btoa; a null userHandle → "").
 */
function getInPage(page: Page, options: string, tamper = ''): Promise<{ assertion?: string; error?: string }> {
  return page.evaluate(`(async () => {
    const o = JSON.parse(${JSON.stringify(options)});
    ${tamper}
    const b64 = (buf) => buf ? btoa(String.fromCharCode(...new Uint8Array(buf))) : '';
    const publicKey = { ...o, challenge: new Uint8Array(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: new Uint8Array(c.id) })) };
    try {
      const c = await navigator.credentials.get({ publicKey });
      return { assertion: JSON.stringify({
        id: c.id, rawId: b64(c.rawId), type: c.type,
        response: { clientDataJSON: b64(c.response.clientDataJSON), authenticatorData: b64(c.response.authenticatorData), signature: b64(c.response.signature), userHandle: b64(c.response.userHandle) },
      }) };
    } catch (e) {
      return { error: e.name + ': ' + e.message };
    }
  })()`);
}

/** A FIDO2 device registered through the API by the page's virtual authenticator. */
async function registeredInPage(page: Page, userId: string, policyId?: string): Promise<{ id: string; path: string; credentialId: string }> {
  const created = await apiFido2Device(userId, policyId);
  const made = await createInPage(page, created.options);
  assert.equal(made.error, undefined, made.error);
  const done = await suite.stack.server.request('POST', created.path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
  assert.equal(done.status, 200, done.text);
  return { id: created.id, path: created.path, credentialId: done.body.credentialId as string };
}

async function startFlow(userId: string): Promise<Record<string, any>> {
  const res = await suite.stack.server.request('POST', flows(), { body: { user: { id: userId } } });
  assert.equal(res.status, 200, res.text);
  return res.body as Record<string, any>;
}

const readFlow = async (flowId: string) => {
  const res = await suite.stack.server.request('GET', `${flows()}/${flowId}`);
  assert.equal(res.status, 200, res.text);
  return res.body as Record<string, any>;
};

test('console: "Authenticate" on a passkey — the flow picked the user\'s EMAIL device first, the console selects the passkey, navigator.credentials.get, assertion.check → COMPLETED; the authenticator\'s counter moved', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, 'fido2-06-console-authenticated', async (w) => {
    const { page } = w;
    const authenticator = await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const username = letters('ava.');
    const userId = await apiUser(username);
    const email = await suite.stack.server.request('POST', devicesPath(userId), { body: { type: 'EMAIL', email: `${username}@example.com`, status: 'ACTIVE' } });
    assert.equal(email.status, 201, email.text);
    await page.goto(localConsole());
    const passkey = await registeredInPage(page, userId);
    const counterBefore = (await authenticator.credentials())[0]!.signCount;

    await signIn(w, localConsole(), creds());
    await openUser(page, username);
    const flowAnswers: Array<Record<string, any>> = [];
    page.on('response', (r) => {
      if (r.url().includes('/deviceAuthentications') && r.request().method() === 'POST') void r.json().then((b) => flowAnswers.push(b as Record<string, any>), () => {});
    });
    await deviceRow(page, passkey.id).getByRole('button', { name: 'Authenticate', exact: true }).click();
    await waitForSuccess(page, `Authenticated ${username} with ${passkey.id}: the device authentication is COMPLETED.`);
    const steps = await page.getByRole('list', { name: 'Authentication progress', exact: true }).getByRole('listitem').allInnerTexts();
    assert.deepEqual(steps, [
      'Starting a device authentication', 'Selecting this device', 'Waiting for the authenticator (navigator.credentials.get)',
      'Assertion received', 'Checking the assertion', 'Authentication is COMPLETED',
    ]);
    await eventually('the three flow answers', async () => flowAnswers.length === 3);
    const [started, selected, checked] = flowAnswers;
    assert.equal(started!.selectedDevice?.id, email.body.id, 'the policy chose the first device in order');
    assert.equal(selected!.status, 'ASSERTION_REQUIRED');
    assert.equal(typeof selected!.publicKeyCredentialRequestOptions, 'string');
    assert.equal(checked!.status, 'COMPLETED');
    assert.equal((await readFlow(started!.id as string)).status, 'COMPLETED');
    assert.ok((await authenticator.credentials())[0]!.signCount > counterBefore, 'the authenticator signed once more');
  });
});

test('raw API: a security key (CTAP2, USB) answers the flow\'s publicKeyCredentialRequestOptions through navigator.credentials.get → COMPLETED; the same assertion replayed on a new flow is refused and changes nothing', { skip, timeout: TIMEOUT }, async (t) => {
  const server = suite.stack.server;
  await withPage(t, 'fido2-07-raw-api-authenticated', async (w) => {
    const authenticator = await virtualAuthenticator(w, { transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const userId = await apiUser(letters('ray.'));
    await w.page.goto(localConsole());
    const key = await registeredInPage(w.page, userId);
    const flow = await startFlow(userId);
    assert.equal(flow.status, 'ASSERTION_REQUIRED');
    assert.equal(flow.selectedDevice.id, key.id);
    const options = JSON.parse(flow.publicKeyCredentialRequestOptions as string);
    assert.equal(options.rpId, 'localhost');
    assert.equal(options.userVerification, 'required');
    assert.deepEqual(options.allowCredentials.map((c: { id: number[] }) => Buffer.from(Uint8Array.from(c.id)).toString('base64url')), [key.credentialId]);
    const got = await getInPage(w.page, flow.publicKeyCredentialRequestOptions as string);
    assert.equal(got.error, undefined, got.error);
    const done = await server.request('POST', `${flows()}/${flow.id as string}`, { contentType: ASSERTION_CHECK, body: { origin: localOrigin(), assertion: got.assertion, compatibility: 'SECURITY_KEY_ONLY' } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
    assert.equal((await authenticator.credentials())[0]!.signCount, 1);

    const second = await startFlow(userId);
    const before = await snapshot(server, key.path);
    const replayed = await server.request('POST', `${flows()}/${second.id as string}`, { contentType: ASSERTION_CHECK, body: { origin: localOrigin(), assertion: got.assertion } });
    expectError(replayed, 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'assertion' }]);
    assert.equal((await readFlow(second.id as string)).status, 'ASSERTION_REQUIRED', 'the flow still waits');
    await assertUnchanged(server, before, 1);
  });
});

test('denied user verification at authentication where the policy requires it: the console shows the browser\'s refusal and the flow still waits; an assertion without UV is refused by the server and nothing changes', { skip, timeout: TIMEOUT }, async (t) => {
  const server = suite.stack.server;
  await withPage(t, 'fido2-08-denied-uv-authentication', async (w) => {
    const { page } = w;
    const verifying = await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const username = letters('dun.');
    const userId = await apiUser(username);
    await page.goto(localConsole());
    const passkey = await registeredInPage(page, userId);

    // The user fails verification (a wrong fingerprint): chromium refuses, nothing reaches assertion.check.
    await verifying.cdp.send('WebAuthn.setUserVerified', { authenticatorId: verifying.authenticatorId, isUserVerified: false });
    await signIn(w, localConsole(), creds());
    await openUser(page, username);
    const before = await snapshot(server, passkey.path);
    await deviceRow(page, passkey.id).getByRole('button', { name: 'Authenticate', exact: true }).click();
    const alert = page.locator('.alert').getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /^WEBAUTHN_NOT_ALLOWED: /);
    await page.locator('#status[data-kind="error"]').filter({ hasText: 'Passkey authentication failed' }).waitFor();
    await assertUnchanged(server, before);
    await screenshot(t, page, 'fido2-08-console-refusal');

    // The same credential in an authenticator that cannot verify (WebAuthn.addCredential with its
    // private key), asked by a client that lowered "required": an assertion with UV unset.
    const [credential] = await verifying.credentials();
    await verifying.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: verifying.authenticatorId });
    const unverifying = await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: false, isUserVerified: false });
    await unverifying.cdp.send('WebAuthn.addCredential', { authenticatorId: unverifying.authenticatorId, credential: credential! as never });
    const flow = await startFlow(userId);
    const got = await getInPage(page, flow.publicKeyCredentialRequestOptions as string, "o.userVerification = 'discouraged';");
    assert.equal(got.error, undefined, got.error);
    const snap = await snapshot(server, passkey.path);
    const refused = await server.request('POST', `${flows()}/${flow.id as string}`, { contentType: ASSERTION_CHECK, body: { origin: localOrigin(), assertion: got.assertion, compatibility: 'FULL' } });
    expectError(refused, 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'assertion' }]);
    assert.match(refused.body.details[0].message, /requires user verification/);
    assert.equal((await readFlow(flow.id as string)).status, 'ASSERTION_REQUIRED');
    await assertUnchanged(server, snap, 1);
  });
});
