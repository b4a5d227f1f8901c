/**
 * FIDO2 authentication (wave-2 reference §1.5) with a real browser as the oracle: chromium's
 * virtual authenticator (DevTools WebAuthn domain: CTAP2, internal or USB, resident keys, user
 * verification given or denied) answers the flow's publicKeyCredentialRequestOptions — through
 * the console's "Authenticate", and through the raw API (navigator.credentials.get in the page
 * with Ping's conversion, assertion.check sent by the test). Devices are registered through
 * the API by the same authenticator (test/browser/fido2.test.ts covers registration). Pages
 * are opened at localhost (WebAuthn takes no IP address as an RP ID). SQLite only, like every
 * browser suite.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertUnchanged, snapshot } from '../devices/expect.js';
import { expectError } from '../support/errors.js';
import { browserSkip, consoleSuite, deviceRow, eventually, letters, screenshot, waitForSuccess } from '../support/browser.js';
import { ASSERTION_CHECK, fido2Kit, getInPage, virtualAuthenticator } from '../support/webauthn.js';

const skip = browserSkip();
const TIMEOUT = 90_000;
const suite = consoleSuite(skip);
const { withPage } = suite;
const { localConsole, localOrigin, devicesPath, flows, apiUser, registeredInPage, startFlow, readFlow, openAtLocalhost } = fido2Kit(suite);

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
    // EMAIL first in the user's order (both were made at the same instant of the test clock).
    const order = await suite.stack.server.request('POST', devicesPath(userId), {
      contentType: 'application/vnd.pingidentity.devices.reorder+json', body: { order: [{ id: email.body.id }, { id: passkey.id }] },
    });
    assert.equal(order.status, 200, order.text);
    const counterBefore = (await authenticator.credentials())[0]!.signCount;

    await openAtLocalhost(w, username);
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
    const counterBefore = (await authenticator.credentials())[0]!.signCount;
    const got = await getInPage(w.page, flow.publicKeyCredentialRequestOptions as string);
    assert.equal(got.error, undefined, got.error);
    const done = await server.request('POST', `${flows()}/${flow.id as string}`, { contentType: ASSERTION_CHECK, body: { origin: localOrigin(), assertion: got.assertion, compatibility: 'SECURITY_KEY_ONLY' } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
    assert.equal((await authenticator.credentials())[0]!.signCount, counterBefore + 1, 'one signature');

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
    await openAtLocalhost(w, username);
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
