/**
 * The console's MOBILE part (issue 17 item 6), driven in Debian's chromium: "Pair a phone" makes
 * a pairing key whose code (and its QR code) the page shows once; the in-process mobile
 * authenticator of src/testing — its own JWS and TOTP, over real HTTP to the same server — pairs
 * with the code READ FROM THE PAGE; the page sees the key CLAIMED and the MOBILE device appear
 * with its model, OS and application; "Authenticate" pushes to it and shows the number to pick,
 * which the test reads from the page to approve with → COMPLETED; a deny → FAILED
 * (PUSH_REJECTED); the app's offline code typed into the page → COMPLETED; an unanswered push
 * past its timeout (the server's clock moved) → PUSH_CONFIRMATION_TIMED_OUT. The Policies view
 * edits the mobile section's application entries. Both layouts
 * (390 px, 1280 px) fit. The Firefox main path pairs and approves too (firefox.test.ts).
 *
 * SQLite only: scripts/test.mjs leaves test/browser/ out of the PostgreSQL pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MobileAuthenticator, type ReceivedPush } from '../../src/testing/mobile-authenticator.js';
import { APP_ENTRY, enableMobile, setEntry } from '../mobile/support.js';
import {
  WIDTHS, browserSkip, cell, consoleSuite, cspViolations, deviceRow, eventually, fieldError, fitsWidth, formWith, letters, nav, openPage,
  openUser, screenshot, signIn, waitForSuccess, type Watched,
} from '../support/browser.js';

const skip = browserSkip();
const TIMEOUT = 90_000;

const suite = consoleSuite(skip);
const { creds, envId, withPage } = suite;

let mobile: { appId: string; policyId: string } | undefined;
/** The bootstrap environment's default policy lists one native application: push on, number matching as asked (`extra` overrides). */
async function phoneApp(numberMatching: boolean, extra: Record<string, unknown> = {}): Promise<string> {
  const { server } = suite.stack;
  mobile ??= await enableMobile(server, envId());
  await setEntry({ server, env: envId(), policyId: mobile.policyId }, APP_ENTRY(mobile.appId, { push: { enabled: true, numberMatching: { enabled: numberMatching } }, ...extra }));
  return mobile.appId;
}

/** The phone: over real HTTP to the console's server, on the server's clock. */
const newPhone = () => new MobileAuthenticator({ now: () => suite.stack.server.clock.now() });
const sdk = () => `${suite.stack.server.config.authPath}/${envId()}`;

async function apiUser(username: string): Promise<string> {
  const res = await suite.stack.server.request('POST', `/v1/environments/${envId()}/users`, { body: { username, email: `${username}@example.com` } });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

const apiGet = async (path: string) => {
  const res = await suite.stack.server.request('GET', path);
  assert.equal(res.status, 200, res.text);
  return res.body as Record<string, any>;
};

const pairButton = async (w: Watched) => { await w.page.getByRole('button', { name: 'Pair a phone', exact: true }).click(); };
const codeOnPage = async (w: Watched) => (await w.page.locator('code.pairing-code').innerText()).trim();

/**
 * Signed in, on a new user's page: "Pair a phone", the code read from the page (`shown()` runs
 * while it is there), the phone paired with it, the device ACTIVE in its row; then
 * "Authenticate" on it. Resolves to the user's name, the phone and the device's ID.
 */
async function authenticateOnPage(w: Watched, { numberMatching, entry, shown = async () => {} }: { numberMatching: boolean; entry?: Record<string, unknown>; shown?: () => Promise<void> }) {
  const { page } = w;
  await phoneApp(numberMatching, entry);
  const username = letters('pho.');
  await apiUser(username);
  const phone = newPhone();
  await signIn(w, suite.stack.consoleUrl, creds());
  await openUser(page, username);
  await pairButton(w);
  const code = await codeOnPage(w);
  await shown();
  const { id: deviceId } = await phone.pair(sdk(), code);
  const row = deviceRow(page, deviceId);
  await cell(row, 'ACTIVE').waitFor();
  await row.getByRole('button', { name: 'Authenticate', exact: true }).click();
  return { username, phone, deviceId };
}

/** The push the phone received for the newest flow, read from its channel. */
async function receivedPush(phone: MobileAuthenticator, deviceId: string): Promise<ReceivedPush> {
  return eventually('the push on the phone\'s channel', async () => {
    await phone.poll(deviceId, 0);
    return phone.pushes().find((p) => p.deviceId === deviceId && p.status === 'PENDING');
  });
}

const progressItems = (w: Watched) => w.page.getByRole('list', { name: 'Authentication progress', exact: true }).getByRole('listitem');

test('Pair a phone: the code and its QR code shown once with the authenticator\'s command; the authenticator pairs with the code read from the page; the key reads CLAIMED, the MOBILE device appears with its model, OS and application, and the code is gone', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '40-phone-paired', async (w) => {
    const { page } = w;
    const appId = await phoneApp(false);
    const username = letters('pia.');
    const userId = await apiUser(username);
    await signIn(w, suite.stack.consoleUrl, creds());
    await openUser(page, username);

    await pairButton(w);
    await waitForSuccess(page, /^Created pairing key .* \(UNCLAIMED\): give its code to the phone's app/);
    const qr = page.getByRole('img', { name: 'Pairing key QR code', exact: true });
    await qr.waitFor();
    await page.waitForFunction(`Array.from(document.querySelectorAll('img')).some((i) => i.alt === 'Pairing key QR code' && i.complete && i.naturalWidth > 0)`, undefined, { timeout: 15_000 });
    const code = await codeOnPage(w);
    assert.match(code, /^[A-HJ-NP-Z2-9]{16}$/, 'ALPHANUMERIC, the default format: 16 characters without 0, 1, I, O');
    const hint = page.getByRole('note', { name: 'How to pair the mobile authenticator', exact: true });
    assert.deepEqual((await hint.locator('pre code').allInnerTexts()).map((c) => c.trim()), [
      'npm run mobile',
      `curl -sS -H 'Content-Type: application/json' -d '{"code":"${code}","server":"${sdk()}"}' http://127.0.0.1:9420/pair`,
    ], 'the authenticator\'s start, then its POST /pair with this code and this server (mobile-protocol §5)');
    const keyId = (await page.locator('tr[data-pairing-key]').getAttribute('data-pairing-key'))!;
    const keyRow = page.locator(`tr[data-pairing-key="${keyId}"]`);
    await cell(keyRow, 'UNCLAIMED').waitFor();
    const key = await apiGet(`/v1/environments/${envId()}/users/${userId}/pairingKeys/${keyId}`);
    assert.equal(key.status, 'UNCLAIMED');
    assert.equal(key.code, undefined, 'the API never shows the code again');
    await screenshot(t, page, '40-pairing-key');

    // The phone pairs with what the page shows; the page, watching the key, shows the device.
    const phone = newPhone();
    const paired = await phone.pair(sdk(), code);
    const row = deviceRow(page, paired.id);
    await cell(row, 'ACTIVE').waitFor();
    await cell(row, 'MOBILE').waitFor();
    await cell(keyRow, 'CLAIMED').waitFor();
    await waitForSuccess(page, `A phone paired with pairing key ${keyId}: its MOBILE device is in the list.`);
    const facts = (await row.locator('ul.facts li').allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(facts, ['Model: OpenMFA Phone', 'OS: ANDROID 14', `Application: ${appId}`, 'SDK: 2.0.0(openmfa)']);
    const device = await apiGet(`/v1/environments/${envId()}/users/${userId}/devices/${paired.id}`);
    assert.deepEqual([device.type, device.status, device.application, device.os, device.model],
      ['MOBILE', 'ACTIVE', { id: appId }, { type: 'ANDROID', version: '14' }, { name: 'OpenMFA Phone', marketingName: 'OpenMFA Phone' }]);

    // Shown once: a claimed key's code is no longer on the page.
    assert.equal(await page.locator('code.pairing-code').count(), 0, 'the code card is gone once the key is CLAIMED');
    assert.equal(await page.getByText(code).count(), 0, 'the code is nowhere on the page');
    assert.equal(await row.getByRole('button', { name: 'Authenticate', exact: true }).count(), 1, 'an ACTIVE phone can be authenticated with');
  });
});

test('Create device → MOBILE makes a pairing key too; the list keeps it across views; Delete removes it (404 in the API); without a native application in the policy the server\'s error is shown', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '41-pairing-key-deleted', async (w) => {
    const { page } = w;
    await phoneApp(false);
    const username = letters('max.');
    const userId = await apiUser(username);
    await signIn(w, suite.stack.consoleUrl, creds());
    await openUser(page, username);

    const form = formWith(page, 'Create device');
    await form.getByLabel('Device type', { exact: true }).selectOption('MOBILE');
    assert.equal(await form.getByLabel('Nickname', { exact: true }).isVisible(), false, 'a pairing key takes no nickname');
    await form.getByRole('note').filter({ hasText: /this creates a pairing key/ }).waitFor();
    await form.getByRole('button', { name: 'Create device', exact: true }).click();
    await waitForSuccess(page, /^Created pairing key /);
    const keyId = (await page.locator('tr[data-pairing-key]').getAttribute('data-pairing-key'))!;
    await page.locator('code.pairing-code').waitFor();

    // Hidden by hand, the code is gone; the key stays listed, and is read again on a return.
    await page.getByRole('button', { name: 'Hide the code', exact: true }).click();
    assert.equal(await page.locator('code.pairing-code').count(), 0);
    await page.getByRole('button', { name: 'Back to list', exact: true }).click();
    await openUser(page, username);
    const keyRow = page.locator(`tr[data-pairing-key="${keyId}"]`);
    await cell(keyRow, 'UNCLAIMED').waitFor();

    await keyRow.getByRole('button', { name: 'Delete', exact: true }).click();
    await waitForSuccess(page, `Deleted pairing key ${keyId}.`);
    assert.equal(await keyRow.count(), 0);
    const gone = await suite.stack.server.request('GET', `/v1/environments/${envId()}/users/${userId}/pairingKeys/${keyId}`);
    assert.equal(gone.status, 404, gone.text);

    // No native application open to pairing: 400 from the server, shown where the key was asked for; nothing made.
    await setEntry({ server: suite.stack.server, env: envId(), policyId: mobile!.policyId }, APP_ENTRY(mobile!.appId, { pairingDisabled: true }));
    await pairButton(w);
    await page.getByRole('alert').filter({ hasText: /^INVALID_DATA: / }).waitFor();
    await page.getByText(/^INVALID_VALUE \(applications\): /).waitFor();
    assert.equal(await page.locator('tr[data-pairing-key]').count(), 0, 'no key listed');
  });
});

test('Authenticate with number matching: the page shows the number, the phone gets it among three choices, the test picks the number READ FROM THE PAGE → COMPLETED on the page and in the API', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '42-push-approved', async (w) => {
    const { page } = w;
    const { username, phone, deviceId } = await authenticateOnPage(w, { numberMatching: true });
    const shown = page.getByRole('status', { name: 'Number to pick on the phone', exact: true });
    await shown.waitFor();
    const number = (await shown.innerText()).trim();
    assert.match(number, /^[1-9][0-9]$/);
    await progressItems(w).filter({ hasText: 'Push sent to the phone: waiting for its answer' }).waitFor();
    await screenshot(t, page, '42-push-number');

    const push = await receivedPush(phone, deviceId);
    assert.equal(push.numberChoices?.length, 3);
    assert.ok(push.numberChoices!.includes(number), 'the page\'s number is one of the phone\'s choices');
    assert.equal((await apiGet(`/${envId()}/deviceAuthentications/${push.flowId}`)).numberMatching?.number, number, 'the page shows the flow\'s number');
    assert.deepEqual(await phone.approve(push.id, number), { id: push.id, status: 'APPROVED' });

    await progressItems(w).filter({ hasText: 'Authentication is COMPLETED' }).waitFor();
    await waitForSuccess(page, `Authenticated ${username} with ${deviceId}: the device authentication is COMPLETED.`);
    const steps = (await progressItems(w).allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(steps, ['Starting a device authentication', 'Push sent to the phone: waiting for its answer', 'Authentication is COMPLETED']);
    assert.equal(await shown.count(), 0, 'the number is put away once the flow ends');
    const flow = await apiGet(`/${envId()}/deviceAuthentications/${push.flowId}`);
    assert.equal(flow.status, 'COMPLETED');
    assert.deepEqual(flow.authenticators, ['mobile', 'mfa', 'user']);
  });
});

test('Authenticate, and the phone denies: FAILED on the page with PUSH_REJECTED, the error shown under the progress', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '43-push-denied', async (w) => {
    const { page } = w;
    const { phone, deviceId } = await authenticateOnPage(w, { numberMatching: false });
    await progressItems(w).filter({ hasText: 'Push sent to the phone: waiting for its answer' }).waitFor();
    assert.equal(await page.getByRole('status', { name: 'Number to pick on the phone', exact: true }).count(), 0, 'no number without number matching');
    const push = await receivedPush(phone, deviceId);
    assert.equal(push.numberChoices, undefined);
    await phone.deny(push.id);

    await progressItems(w).filter({ hasText: 'Authentication is FAILED' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'PUSH_REJECTED: The user rejected the push' }).waitFor();
    await page.locator('#status[data-kind="error"]').filter({ hasText: 'Phone authentication failed' }).waitFor();
    const flow = await apiGet(`/${envId()}/deviceAuthentications/${push.flowId}`);
    assert.equal(flow.status, 'FAILED');
    assert.equal(flow.error.code, 'PUSH_REJECTED');
  });
});

test('the offline code: a wrong code is refused under the form and the push still waits; the app\'s code typed into the page completes the PUSH flow (otp.check)', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '44-offline-code', async (w) => {
    const { page } = w;
    const { phone, deviceId } = await authenticateOnPage(w, { numberMatching: false });
    const form = page.getByRole('form', { name: 'Offline code', exact: true });
    const right = phone.otp(deviceId);
    const wrong = right === '000000' ? '111111' : '000000';
    await form.getByLabel('Code from the phone app', { exact: true }).fill(wrong);
    await form.getByRole('button', { name: 'Check code', exact: true }).click();
    await form.getByRole('alert').filter({ hasText: /^INVALID_DATA: / }).waitFor();
    const push = await receivedPush(phone, deviceId);
    assert.equal((await apiGet(`/${envId()}/deviceAuthentications/${push.flowId}`)).status, 'PUSH_CONFIRMATION_REQUIRED', 'a wrong code leaves the push waiting');

    await form.getByLabel('Code from the phone app', { exact: true }).fill(right);
    await form.getByRole('button', { name: 'Check code', exact: true }).click();
    await progressItems(w).filter({ hasText: 'Authentication is COMPLETED' }).waitFor();
    await waitForSuccess(page, /^Authenticated .*: the device authentication is COMPLETED\.$/);
    assert.equal(await form.count(), 0, 'the code form is put away');
    assert.equal((await apiGet(`/${envId()}/deviceAuthentications/${push.flowId}`)).status, 'COMPLETED');
  });
});

test('an application with offline codes and no push: the flow waits in OTP_REQUIRED, no push reaches the phone, and the app\'s code typed into the page completes it', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '44-otp-only', async (w) => {
    const { page } = w;
    const { phone, deviceId } = await authenticateOnPage(w, { numberMatching: false, entry: { push: { enabled: false } } });
    await progressItems(w).filter({ hasText: 'Waiting for a code from the phone app' }).waitFor();
    assert.deepEqual((await phone.poll(deviceId, 0)).pushes, [], 'no push without push.enabled');
    const form = page.getByRole('form', { name: 'Offline code', exact: true });
    await form.getByLabel('Code from the phone app', { exact: true }).fill(phone.otp(deviceId));
    await form.getByRole('button', { name: 'Check code', exact: true }).click();
    await progressItems(w).filter({ hasText: 'Authentication is COMPLETED' }).waitFor();
    assert.deepEqual((await progressItems(w).allInnerTexts()).map((s) => s.trim()),
      ['Starting a device authentication', 'Waiting for a code from the phone app', 'Authentication is COMPLETED']);
  });
});

test('Policies view: the mobile section\'s application row — number matching switched on and a push timeout saved; a timeout under 40 s is shown under its field and changes nothing', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '47-policy-mobile', async (w) => {
    const { page } = w;
    const appId = await phoneApp(false);
    const { server } = suite.stack;
    const policyPath = `/v1/environments/${envId()}/deviceAuthenticationPolicies/${mobile!.policyId}`;
    await setEntry({ server, env: envId(), policyId: mobile!.policyId }, APP_ENTRY(appId, { pushTimeout: { duration: 60, timeUnit: 'SECONDS' } }));
    await signIn(w, suite.stack.consoleUrl, creds());
    await nav(page, 'Policies').click();
    const form = formWith(page, 'Save policy').filter({ has: page.getByRole('table', { name: /^Mobile applications of / }) });
    const matching = form.getByLabel(`Application ${appId} number matching`, { exact: true });
    const timeout = form.getByLabel(`Application ${appId} push timeout (seconds)`, { exact: true });
    assert.equal(await matching.isChecked(), false);
    assert.equal(await form.getByLabel(`Application ${appId} push`, { exact: true }).isChecked(), true);
    assert.equal(await timeout.inputValue(), '60');

    await matching.check();
    await timeout.fill('30');
    await form.getByRole('button', { name: 'Save policy', exact: true }).click();
    assert.match(await fieldError(form, `Application ${appId} push timeout (seconds)`), /\S/);
    const unchanged = await apiGet(policyPath);
    assert.deepEqual([unchanged.mobile.applications[0].push.numberMatching, unchanged.mobile.applications[0].pushTimeout], [{ enabled: false }, { duration: 60, timeUnit: 'SECONDS' }], 'nothing saved');

    await timeout.fill('45');
    await form.getByRole('button', { name: 'Save policy', exact: true }).click();
    await waitForSuccess(page, /^Saved the policy /);
    const saved = (await apiGet(policyPath)).mobile.applications[0];
    assert.deepEqual(saved.push, { enabled: true, numberMatching: { enabled: true } });
    assert.deepEqual(saved.pushTimeout, { duration: 45, timeUnit: 'SECONDS' });
    assert.deepEqual(saved.otp, { enabled: true });
  });
});

for (const [name, viewport] of Object.entries(WIDTHS)) {
  test(`${viewport.width} px (${name}): the Phones card, the code card, the paired device, the push number and the policy's mobile applications fit the width`, { skip, timeout: TIMEOUT }, async (t) => {
    const w = await openPage(suite.browser, viewport);
    const { page } = w;
    try {
      const { phone, deviceId } = await authenticateOnPage(w, { numberMatching: true, shown: () => fitsWidth(t, page, viewport, `45-${viewport.width}-pairing-key`) });
      await page.getByRole('status', { name: 'Number to pick on the phone', exact: true }).waitFor();
      await fitsWidth(t, page, viewport, `45-${viewport.width}-push-number`);
      const push = await receivedPush(phone, deviceId);
      await phone.approve(push.id, (await page.getByRole('status', { name: 'Number to pick on the phone', exact: true }).innerText()).trim());
      await progressItems(w).filter({ hasText: 'Authentication is COMPLETED' }).waitFor();
      await nav(page, 'Policies').click();
      await page.getByRole('table', { name: /^Mobile applications of / }).waitFor();
      await fitsWidth(t, page, viewport, `45-${viewport.width}-policy-mobile`);
      assert.deepEqual(w.dialogs, []);
      assert.deepEqual(await cspViolations(w), []);
      assert.deepEqual(w.pageErrors, []);
    } finally {
      await w.close();
    }
  });
}

// Last: it moves the server's clock forward.
test('an unanswered push: once the server\'s clock passes pushTimeout the page reads PUSH_CONFIRMATION_TIMED_OUT and says so', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '46-push-timed-out', async (w) => {
    const { page } = w;
    const { phone, deviceId } = await authenticateOnPage(w, { numberMatching: false });
    await progressItems(w).filter({ hasText: 'Push sent to the phone: waiting for its answer' }).waitFor();
    const push = await receivedPush(phone, deviceId);
    suite.stack.server.clock.advance(40_001); // the default pushTimeout is 40 s
    await progressItems(w).filter({ hasText: 'Authentication is PUSH_CONFIRMATION_TIMED_OUT' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'PUSH_CONFIRMATION_TIMED_OUT: The phone did not answer the push before it timed out' }).waitFor();
    assert.equal((await apiGet(`/${envId()}/deviceAuthentications/${push.flowId}`)).status, 'PUSH_CONFIRMATION_TIMED_OUT');
  });
});
