/**
 * Every field of PingOne's device authentication policy and MFA settings models, returned with
 * its default and taken where PingOne takes it (issue #18): `forSignOnPolicy`, the disabled-MFA
 * flags, `notificationsPolicy: {}`, `rememberMe`, `mobile.otp.window`, `totp.
 * promptForNicknameOnPairing`, `totp.uriParameters` with any string keys (and into the TOTP
 * URI), `{}` sections of the MFA settings filled with defaults, and rows stored before these
 * fields existed read with them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvironment, createUser, useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
useTestServer((s) => { server = s; });

const policiesOf = (env: string) => `/v1/environments/${env}/deviceAuthenticationPolicies`;
const settingsOf = (env: string) => `/v1/environments/${env}/mfaSettings`;

const FAILURE_2M = { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } };
const NEW_FIELDS = {
  ignoreUserLock: false,
  forSignOnPolicy: false,
  blockUsersWithDisabledMfa: false,
  bypassBlockedWhenMfaDisabled: false,
  notificationsPolicy: {},
  rememberMe: { web: { enabled: false, lifeTime: { duration: 30, timeUnit: 'DAYS' } } },
};
const MOBILE = { enabled: false, otp: { failure: FAILURE_2M, window: { stepSize: { duration: 30, timeUnit: 'SECONDS' } } }, promptForNicknameOnPairing: false, applications: [] };
const TOTP = { enabled: true, pairingDisabled: false, promptForNicknameOnPairing: false, otp: { failure: FAILURE_2M }, uriParameters: { issuer: 'OpenMFA' } };

async function defaultPolicy(env: string): Promise<Record<string, any>> {
  const res = await server.request('GET', policiesOf(env));
  assert.equal(res.status, 200, res.text);
  return res.body._embedded.deviceAuthenticationPolicies[0];
}

test('the default policy has every model field with its default', async () => {
  const p = await defaultPolicy(await createEnvironment(server, 'fields: defaults'));
  for (const [k, v] of Object.entries(NEW_FIELDS)) assert.deepEqual(p[k], v, k);
  assert.deepEqual(p.mobile, MOBILE);
  assert.deepEqual(p.totp, TOTP);
  assert.deepEqual(Object.keys(p).slice(0, 13), ['_links', 'id', 'environment', 'name', 'default', 'authentication', 'newDeviceNotification', ...Object.keys(NEW_FIELDS).slice(0, 6)]);
});

test('totp.uriParameters takes any string keys; they follow the device\'s own parameters in the keyUri of a new TOTP device', async () => {
  const env = await createEnvironment(server, 'fields: uri parameters');
  const uriParameters = { issuer: 'Acme Corp', image: 'https://example.com/logo.png', 'x-tenant': 'blue sky' };
  const made = await server.request('POST', policiesOf(env), { body: { name: 'uri', totp: { enabled: true, promptForNicknameOnPairing: true, uriParameters } } });
  assert.equal(made.status, 201, made.text);
  assert.deepEqual(made.body.totp, { ...TOTP, promptForNicknameOnPairing: true, uriParameters });
  const userId = await createUser(server, env, 'uri-user');
  const device = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'TOTP', policy: { id: made.body.id } } });
  assert.equal(device.status, 201, device.text);
  const uri = new URL(device.body.keyUri as string);
  assert.equal(decodeURIComponent(uri.pathname), '/Acme Corp:uri-user');
  assert.deepEqual([...uri.searchParams.keys()], ['secret', 'issuer', 'algorithm', 'digits', 'period', 'image', 'x-tenant']);
  assert.deepEqual([uri.searchParams.get('issuer'), uri.searchParams.get('image'), uri.searchParams.get('x-tenant')], ['Acme Corp', uriParameters.image, 'blue sky']);
  assert.ok(!device.body.keyUri.includes('+'), 'RFC 3986 encoding');
});

test('refused, changing nothing: a uriParameter the device owns (secret, digits, …), an empty issuer, 17 parameters, a non-string value, rememberMe.web.enabled true', async () => {
  const env = await createEnvironment(server, 'fields: refused');
  const before = (await server.request('GET', policiesOf(env))).body.size;
  const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
  const cases: Array<[Record<string, unknown>, { code: string; target: string }]> = [
    [{ totp: { enabled: true, uriParameters: { digits: '8' } } }, { code: 'INVALID_VALUE', target: 'totp.uriParameters.digits' }],
    [{ totp: { enabled: true, uriParameters: { secret: 'AAAA' } } }, { code: 'INVALID_VALUE', target: 'totp.uriParameters.secret' }],
    [{ totp: { enabled: true, uriParameters: { issuer: '' } } }, { code: 'EMPTY_VALUE', target: 'totp.uriParameters.issuer' }],
    [{ totp: { enabled: true, uriParameters: many } }, { code: 'INVALID_VALUE', target: 'totp.uriParameters' }],
    [{ totp: { enabled: true, uriParameters: { image: 5 } } }, { code: 'INVALID_VALUE', target: 'totp.uriParameters.image' }],
    [{ rememberMe: { web: { enabled: true } } }, { code: 'INVALID_VALUE', target: 'rememberMe.web.enabled' }],
    [{ forSignOnPolicy: 'no' }, { code: 'INVALID_VALUE', target: 'forSignOnPolicy' }],
    [{ notificationsPolicy: { name: 'x' } }, { code: 'INVALID_VALUE', target: 'notificationsPolicy.name' }],
  ];
  for (const [body, detail] of cases) expectError(await server.request('POST', policiesOf(env), { body: { name: 'refused', ...body } }), 400, 'INVALID_DATA', detail);
  assert.equal((await server.request('GET', policiesOf(env))).body.size, before);
});

test('MFA settings: phoneExtensions: {} and users: {} are taken and filled with their defaults', async () => {
  const env = await createEnvironment(server, 'fields: settings');
  const res = await server.request('PUT', settingsOf(env), { body: { pairing: {}, phoneExtensions: {}, users: {} } });
  assert.equal(res.status, 200, res.text);
  const { _links, environment, updatedAt, ...body } = res.body;
  void _links; void environment; void updatedAt;
  assert.deepEqual(body, { pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'ALPHANUMERIC' }, lockout: { failureCount: 5, durationSeconds: 600 }, phoneExtensions: { enabled: false }, users: { mfaEnabled: true } });
});

test('a policy and MFA settings stored before these fields existed read with their defaults, and a PUT of what was read is taken', async () => {
  const env = await createEnvironment(server, 'fields: stored before');
  const p = await defaultPolicy(env);
  const row = await server.store.db.selectFrom('device_authentication_policies').select('body').where('id', '=', p.id).executeTakeFirstOrThrow();
  const old = JSON.parse(row.body) as Record<string, any>;
  for (const k of ['forSignOnPolicy', 'blockUsersWithDisabledMfa', 'bypassBlockedWhenMfaDisabled', 'notificationsPolicy', 'rememberMe']) delete old[k];
  delete old.mobile.otp.window; delete old.mobile.promptForNicknameOnPairing; delete old.totp.promptForNicknameOnPairing;
  await server.store.db.updateTable('device_authentication_policies').set({ body: JSON.stringify(old) }).where('id', '=', p.id).execute();
  await server.store.db.updateTable('mfa_settings').set({ body: JSON.stringify({ pairing: { maxAllowedDevices: 4, pairingKeyFormat: 'NUMERIC' }, lockout: { failureCount: 5, durationSeconds: 600 } }) }).where('environment_id', '=', env).execute();
  const read = await server.request('GET', `${policiesOf(env)}/${p.id as string}`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, p);
  const settings = await server.request('GET', settingsOf(env));
  assert.deepEqual([settings.body.pairing.maxAllowedDevices, settings.body.phoneExtensions, settings.body.users], [4, { enabled: false }, { mfaEnabled: true }]);
  const put = await server.request('PUT', `${policiesOf(env)}/${p.id as string}`, { body: read.body });
  assert.equal(put.status, 200, put.text);
});
