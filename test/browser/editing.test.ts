/**
 * The console's editing forms in Debian's chromium: a user edited and deleted, the MFA
 * settings and a device authentication policy saved — each success shown as the green status
 * banner and agreed by the API, and each of the server's validation errors shown under the
 * field its `details[].target` names (aria-invalid, aria-describedby), with nothing changed.
 *
 * SQLite only: scripts/test.mjs leaves test/browser/ out of the PostgreSQL pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  browserSkip, consoleSuite, fieldError, formWith, letters, nav, openUser, screenshot, signIn,
  waitForSuccess, type Watched,
} from '../support/browser.js';

const skip = browserSkip();
const TIMEOUT = 90_000;

const suite = consoleSuite(skip);
const { creds, envId, withPage } = suite;


const api = (method: string, path: string, body?: unknown) =>
  suite.stack.server.request(method, `/v1/environments/${envId()}${path}`, body === undefined ? {} : { body });

/** Signs in and opens `view`. */
async function openView(w: Watched, view: Parameters<typeof nav>[1]): Promise<void> {
  await signIn(w, suite.stack.consoleUrl, creds());
  await nav(w.page, view).click();
}

async function apiUser(username: string): Promise<Record<string, any>> {
  const res = await api('POST', '/users', { username, email: `${username}@example.com` });
  assert.equal(res.status, 201, res.text);
  return res.body as Record<string, any>;
}

test('Environments: a missing name is shown under Name; a created environment is listed and can be picked at the top', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '19-environment-created', async (w) => {
    const { page } = w;
    await openView(w, 'Environments');
    const form = formWith(page, 'Create environment');
    await form.getByRole('button', { name: 'Create environment', exact: true }).click();
    assert.equal(await fieldError(form, 'Name'), 'name is required');

    const name = letters('Staging ');
    await form.getByLabel('Name', { exact: true }).fill(name);
    await form.getByLabel('Region', { exact: true }).selectOption('EU');
    await form.getByRole('button', { name: 'Create environment', exact: true }).click();
    await waitForSuccess(page, `Created environment ${name}: pick it under Environment at the top to work in it.`);
    const row = page.getByRole('table', { name: 'Environments', exact: true }).getByRole('row').filter({ hasText: name });
    await row.getByRole('cell', { name: 'EU', exact: true }).waitFor();
    const listed = (await suite.stack.server.request('GET', `/v1/environments?filter=${encodeURIComponent(`name eq "${name}"`)}`)).body._embedded.environments as Record<string, any>[];
    assert.deepEqual(listed.map((e) => [e.region, e.type]), [['EU', 'SANDBOX']]);

    // The picker knows it at once: pick it, and the Users view is that environment's (empty).
    await page.getByLabel('Environment', { exact: true }).selectOption(listed[0]!.id as string);
    await nav(page, 'Users').click();
    await page.getByRole('table', { name: 'Users', exact: true }).getByRole('cell', { name: 'None', exact: true }).waitFor();
  });
});

test('Users: a taken username is shown under Username; a user is edited (PATCH) and deleted with confirmation', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '20-user-edit-delete', async (w) => {
    const { page } = w;
    const taken = await apiUser(letters('tia.'));
    const user = await apiUser(letters('uma.'));
    await signIn(w, suite.stack.consoleUrl, creds());

    // Create with a username that exists: UNIQUENESS_VIOLATION on `username`.
    await nav(page, 'Users').click();
    const create = formWith(page, 'Create user');
    await create.getByLabel('Username', { exact: true }).fill(taken.username as string);
    await create.getByRole('button', { name: 'Create user', exact: true }).click();
    assert.equal(await fieldError(create, 'Username'), 'A user with this username already exists in the environment');
    await create.getByRole('alert').filter({ hasText: /^INVALID_DATA: / }).waitFor();
    await page.locator('#status[data-kind="error"]').filter({ hasText: 'Failed: creating the user' }).waitFor();
    assert.equal((await api('GET', `/users?filter=${encodeURIComponent(`username eq "${taken.username as string}"`)}`)).body._embedded.users.length, 1);
    await screenshot(t, page, '20-username-taken');

    // Edit.
    await openUser(page, user.username as string);
    await page.getByRole('button', { name: 'Edit user', exact: true }).click();
    const edit = formWith(page, 'Save user');
    const renamed = letters('una.');
    await edit.getByLabel('Username', { exact: true }).fill(renamed);
    await edit.getByLabel('Email', { exact: true }).fill(`${renamed}@example.org`);
    await edit.getByLabel('Given name', { exact: true }).fill('Una');
    await edit.getByRole('button', { name: 'Save user', exact: true }).click();
    await waitForSuccess(page, `Saved user ${renamed}.`);
    await page.getByRole('heading', { level: 2, name: renamed, exact: true }).waitFor();
    const after = (await api('GET', `/users/${user.id as string}`)).body;
    assert.deepEqual([after.username, after.email, after.name?.given], [renamed, `${renamed}@example.org`, 'Una']);

    // A bad email on edit: under Email, and the user is unchanged.
    await page.getByRole('button', { name: 'Edit user', exact: true }).click();
    await edit.getByLabel('Email', { exact: true }).fill('not an email');
    await edit.getByRole('button', { name: 'Save user', exact: true }).click();
    assert.match(await fieldError(edit, 'Email'), /^email /);
    assert.equal((await api('GET', `/users/${user.id as string}`)).body.email, `${renamed}@example.org`);
    await edit.getByRole('button', { name: 'Cancel', exact: true }).click();

    // Delete asks first.
    await page.getByRole('button', { name: 'Delete user', exact: true }).click();
    const group = page.getByRole('group', { name: 'Delete user', exact: true });
    await group.getByText(/This cannot be undone/).waitFor();
    await group.getByRole('button', { name: 'Confirm delete user', exact: true }).click();
    await waitForSuccess(page, `Deleted user ${renamed}.`);
    await page.getByRole('table', { name: 'Users', exact: true }).waitFor();
    assert.equal((await api('GET', `/users/${user.id as string}`)).status, 404, 'the user is gone from the API');
  });
});

test('MFA settings: saved from the form; an out-of-range value is shown under its field and changes nothing', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '21-mfa-settings', async (w) => {
    const { page } = w;
    await openView(w, 'MFA settings');
    const form = formWith(page, 'Save MFA settings');
    const devices = form.getByLabel('Most devices per user', { exact: true });
    assert.equal(await devices.inputValue(), '5', 'the default limit');

    await devices.fill('9');
    await form.getByLabel('Lockout duration (seconds)', { exact: true }).fill('900');
    await form.getByLabel('Pairing key format', { exact: true }).selectOption('NUMERIC');
    await form.getByLabel('Allow phone extensions (VOICE)', { exact: true }).check();
    await form.getByRole('button', { name: 'Save MFA settings', exact: true }).click();
    await waitForSuccess(page, 'Saved the MFA settings.');
    const saved = (await api('GET', '/mfaSettings')).body;
    assert.deepEqual({ pairing: saved.pairing, lockout: saved.lockout, phoneExtensions: saved.phoneExtensions, users: saved.users },
      { pairing: { maxAllowedDevices: 9, pairingKeyFormat: 'NUMERIC' }, lockout: { failureCount: 5, durationSeconds: 900 }, phoneExtensions: { enabled: true }, users: { mfaEnabled: true } });

    // PingOne's limit is 15 (reference §8.1): OUT_OF_RANGE on pairing.maxAllowedDevices.
    await form.getByLabel('Most devices per user', { exact: true }).fill('99');
    await form.getByRole('button', { name: 'Save MFA settings', exact: true }).click();
    assert.match(await fieldError(form, 'Most devices per user'), /^pairing\.maxAllowedDevices /);
    await form.getByRole('alert').filter({ hasText: /^INVALID_DATA: / }).waitFor();
    assert.equal(await page.evaluate<string>('document.activeElement?.name ?? ""'), 'pairing.maxAllowedDevices', 'the invalid field has the focus');
    assert.equal((await api('GET', '/mfaSettings')).body.pairing.maxAllowedDevices, 9, 'unchanged');
    await screenshot(t, page, '21-mfa-settings-error');

    // Corrected, the error goes.
    await form.getByLabel('Most devices per user', { exact: true }).fill('5');
    await form.getByRole('button', { name: 'Save MFA settings', exact: true }).click();
    await waitForSuccess(page, 'Saved the MFA settings.');
    assert.equal(await page.locator('[aria-invalid="true"]').count(), 0);
    assert.equal((await api('GET', '/mfaSettings')).body.pairing.maxAllowedDevices, 5);
  });
});

test('Policies: a policy is renamed and its methods edited; the schema\'s and the server\'s own range checks are shown under their fields', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '22-policy', async (w) => {
    const { page } = w;
    const list = (await api('GET', '/deviceAuthenticationPolicies')).body._embedded.deviceAuthenticationPolicies as Record<string, any>[];
    const policy = list.find((p) => p.default)!;
    await openView(w, 'Policies');
    const form = page.locator(`article[data-policy="${policy.id as string}"] form`);
    await form.getByRole('table', { name: `Methods of ${policy.name as string}`, exact: true }).waitFor();
    const sms = (label: string) => form.getByLabel(`SMS ${label}`, { exact: true });
    assert.equal(await sms('failures before lock').inputValue(), String(policy.sms.otp.failure.count));

    const name = letters('Policy ');
    await form.getByLabel('Name', { exact: true }).fill(name);
    await sms('failures before lock').fill('4');
    await sms('cool-down').fill('3');
    await sms('cool-down unit').selectOption('MINUTES');
    await form.getByLabel('Voice enabled', { exact: true }).uncheck();
    await form.getByLabel('Device selection', { exact: true }).selectOption('PROMPT_TO_SELECT');
    await form.getByRole('button', { name: 'Save policy', exact: true }).click();
    await waitForSuccess(page, `Saved the policy ${name}.`);
    const saved = (await api('GET', `/deviceAuthenticationPolicies/${policy.id as string}`)).body;
    assert.equal(saved.name, name);
    assert.deepEqual(saved.sms.otp.failure, { count: 4, coolDown: { duration: 3, timeUnit: 'MINUTES' } });
    assert.equal(saved.voice.enabled, false);
    assert.equal(saved.authentication.deviceSelection, 'PROMPT_TO_SELECT');
    assert.deepEqual(saved.email, policy.email, 'what the form did not touch is sent back as it was');
    assert.deepEqual(saved.pingIdDesktopGen2, policy.pingIdDesktopGen2);
    assert.equal(saved.default, true);

    // The schema's bound (1–7 failures): OUT_OF_RANGE on sms.otp.failure.count.
    const saveAndExpect = async (label: string, target: RegExp) => {
      await form.getByRole('button', { name: 'Save policy', exact: true }).click();
      assert.match(await fieldError(form, label), target);
    };
    await sms('failures before lock').fill('9');
    await saveAndExpect('SMS failures before lock', /^sms\.otp\.failure\.count /);
    await screenshot(t, page, '22-policy-error');
    await sms('failures before lock').fill('4');
    // The server's own check beyond the schema (reference §4.6): a desktop cool-down of at most 30 minutes.
    await form.getByLabel('PingID Desktop cool-down', { exact: true }).fill('31');
    await form.getByLabel('PingID Desktop cool-down unit', { exact: true }).selectOption('MINUTES');
    await saveAndExpect('PingID Desktop cool-down', /^The cool-down must be at most 30 minutes$/);
    assert.equal(await sms('failures before lock').getAttribute('aria-invalid'), null, 'the earlier error went');
    const unchanged = (await api('GET', `/deviceAuthenticationPolicies/${policy.id as string}`)).body;
    assert.deepEqual(unchanged, saved, 'a refused save changes nothing');
  });
});

test('Policies: "Make this the default policy" moves the default, and both cards say so', { skip, timeout: TIMEOUT }, async (t) => {
  await withPage(t, '23-policy-default', async (w) => {
    const { page } = w;
    const other = await api('POST', '/deviceAuthenticationPolicies', { name: 'Second policy' });
    assert.equal(other.status, 201, other.text);
    const before = (await api('GET', '/deviceAuthenticationPolicies')).body._embedded.deviceAuthenticationPolicies as Record<string, any>[];
    const first = before.find((p) => p.default)!;
    await openView(w, 'Policies');
    const card = page.locator(`article[data-policy="${other.body.id as string}"]`);
    await card.getByLabel('Make this the default policy', { exact: true }).check();
    await card.getByRole('button', { name: 'Save policy', exact: true }).click();
    await waitForSuccess(page, 'Saved the policy Second policy; it is the default now.');
    await card.getByText('This is the environment\'s default policy.').waitFor();
    await page.locator(`article[data-policy="${first.id as string}"]`).getByLabel('Make this the default policy', { exact: true }).waitFor();
    const after = (await api('GET', '/deviceAuthenticationPolicies')).body._embedded.deviceAuthenticationPolicies as Record<string, any>[];
    assert.deepEqual(Object.fromEntries(after.map((p) => [p.id, p.default])), { [first.id as string]: false, [other.body.id as string]: true });
  });
});
