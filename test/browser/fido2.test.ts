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
 * listens on 127.0.0.1; chromium resolves localhost to loopback). Authentication is in
 * fido2-authentication.test.ts; what both share in test/support/webauthn.ts. SQLite only, like
 * every browser suite.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { assertUnchanged, snapshot } from '../devices/expect.js';
import { expectError } from '../support/errors.js';
import { fido2PolicyBody } from '../fuzz/openapi.js';
import { browserSkip, consoleSuite, deviceRow, eventually, formWith, letters, openUser, screenshot, signIn, waitForSuccess } from '../support/browser.js';
import { ACTIVATE, b64ToB64url, createInPage, fido2Kit, virtualAuthenticator } from '../support/webauthn.js';

const skip = browserSkip();
const TIMEOUT = 90_000;
const suite = consoleSuite(skip);
const { creds, envId, withPage } = suite;
const { localConsole, localOrigin, devicesPath, apiUser, apiDevices, apiFido2Device, openAtLocalhost } = fido2Kit(suite);

/** "Create a device" with FIDO2 chosen. */
async function createInForm(page: Page): Promise<void> {
  const form = formWith(page, 'Create device');
  await form.getByLabel('Device type', { exact: true }).selectOption('FIDO2');
  await form.getByRole('button', { name: 'Create device', exact: true }).click();
}

test('console: a passkey (CTAP2, internal transport, resident key, user verification) is registered with "Register passkey" → ACTIVE, and the credential the authenticator holds is the device\'s', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, 'fido2-01-console-passkey-registered', async (w) => {
    const { page } = w;
    const authenticator = await virtualAuthenticator(w, { transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const username = letters('pia.');
    const userId = await apiUser(username);
    await openAtLocalhost(w, username);
    // A page at localhost can use WebAuthn: no hint about IP addresses.
    assert.equal(await page.locator('.webauthn-hint').count(), 0);

    await createInForm(page);
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
    await openAtLocalhost(w, username);
    await createInForm(page);
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

test('direct attestation: chromium\'s authenticator answers a FIDO2 policy with attestationRequirements DIRECT with a packed attestation and its certificate, verified → ACTIVE with attestationType PACKED and its AAGUID', { skip, timeout: TIMEOUT }, async (t) => {
  const server = suite.stack.server;
  const fido2 = await server.request('POST', `/v1/environments/${envId()}/fido2Policies`, {
    body: { ...fido2PolicyBody('attested keys'), relyingPartyId: 'localhost', attestationRequirements: 'DIRECT',
      mdsAuthenticatorsRequirements: { option: 'GLOBAL', enforceDuringAuthentication: false } },
  });
  assert.equal(fido2.status, 201, fido2.text);
  const dap = await server.request('POST', `/v1/environments/${envId()}/deviceAuthenticationPolicies`, { body: { name: letters('attested.'), fido2: { enabled: true, fido2PolicyId: fido2.body.id } } });
  assert.equal(dap.status, 201, dap.text);
  await withPage(t, 'fido2-06-direct-attestation', async (w) => {
    await virtualAuthenticator(w, { transport: 'usb', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const userId = await apiUser(letters('dia.'));
    const { path, options } = await apiFido2Device(userId, dap.body.id as string);
    assert.equal(JSON.parse(options).attestation, 'direct');
    await w.page.goto(localConsole());
    const made = await createInPage(w.page, options);
    assert.equal(made.error, undefined, made.error);
    const done = await server.request('POST', path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.body.fidoRegistrationArtifacts, { attestationType: 'PACKED' });
    // Chromium's virtual authenticators all carry this AAGUID (device/fido's test AAGUID).
    assert.deepEqual(done.body.fidoDeviceMetadata, { mdsIdentifier: '01020304-0506-0708-0102-030405060708' });
  });
});
