/**
 * The user-level MFA flags (wave-2 reference §5, reference §3.4): `…/mfaEnabled` and
 * `…/bypassMFA`, whole bodies, PingOne's one date format, the bypass ending with the injected
 * clock, another environment's user 404, and MFA settings' `users.mfaEnabled` as the default
 * of new users.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvironment, createUser, useTenant, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
let userId: string;

useTenant('user mfa flags', (t) => ({ server, env, userId } = t));

const userPath = (u = userId, e = env) => `/v1/environments/${e}/users/${u}`;
const userHref = (u = userId, e = env) => `${server.config.apiPath}/environments/${e}/users/${u}`;

test('GET …/mfaEnabled is {_links{self,user}, mfaEnabled}; PUT {"mfaEnabled": false} answers the same shape and the user shows it', async () => {
  const read = await server.request('GET', `${userPath()}/mfaEnabled`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, { _links: { self: { href: `${userHref()}/mfaEnabled` }, user: { href: userHref() } }, mfaEnabled: true });
  const put = await server.request('PUT', `${userPath()}/mfaEnabled`, { body: { mfaEnabled: false } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, { ...read.body, mfaEnabled: false });
  assert.equal((await server.request('GET', userPath())).body.mfaEnabled, false);
  // Read-modify-write: the body read back is taken as it is.
  const back = await server.request('PUT', `${userPath()}/mfaEnabled`, { body: { ...put.body, mfaEnabled: true } });
  assert.equal(back.status, 200, back.text);
  assert.equal(back.body.mfaEnabled, true);
});

test('a bad …/mfaEnabled body is 400 naming the field and changes nothing', async () => {
  for (const [body, detail] of [
    [{}, { code: 'REQUIRED_VALUE', target: 'mfaEnabled' }],
    [{ mfaEnabled: 'yes' }, { code: 'INVALID_VALUE', target: 'mfaEnabled' }],
    [{ mfaEnabled: true, extra: 1 }, { code: 'INVALID_VALUE', target: 'extra' }],
  ] as const) {
    const res = await server.request('PUT', `${userPath()}/mfaEnabled`, { body });
    expectError(res, 400, 'INVALID_DATA', detail);
  }
  assert.equal((await server.request('GET', `${userPath()}/mfaEnabled`)).body.mfaEnabled, true);
});

test('bypassMFA: no bypass → only _links; PUT a future date → bypassMFAEnabledUntil and canBypassMFA; the clock passing it ends the bypass', async () => {
  const u = await createUser(server, env, 'bypass-user');
  const links = { self: { href: `${userHref(u)}/bypassMFA` }, user: { href: userHref(u) } };
  const none = await server.request('GET', `${userPath(u)}/bypassMFA`);
  assert.equal(none.status, 200, none.text);
  assert.deepEqual(none.body, { _links: links });
  const until = new Date(server.clock.now() + 3_600_000).toISOString();
  const put = await server.request('PUT', `${userPath(u)}/bypassMFA`, { body: { bypassMFAEnabledUntil: until } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, { _links: links, bypassMFAEnabledUntil: until, canBypassMFA: true });
  assert.equal(JSON.stringify(Object.keys(put.body)), '["_links","bypassMFAEnabledUntil","canBypassMFA"]');
  assert.deepEqual((await server.request('GET', `${userPath(u)}/bypassMFA`)).body, put.body);
  server.clock.advance(3_600_000 - 1);
  assert.equal((await server.request('GET', `${userPath(u)}/bypassMFA`)).body.canBypassMFA, true);
  server.clock.advance(1);
  assert.deepEqual((await server.request('GET', `${userPath(u)}/bypassMFA`)).body, { _links: links });
  // A date already past is taken: it ends a bypass at once.
  await server.request('PUT', `${userPath(u)}/bypassMFA`, { body: { bypassMFAEnabledUntil: new Date(server.clock.now() + 60_000).toISOString() } });
  const past = await server.request('PUT', `${userPath(u)}/bypassMFA`, { body: { bypassMFAEnabledUntil: '2025-11-30T00:00:00.000Z' } });
  assert.equal(past.status, 200, past.text);
  assert.deepEqual(past.body, { _links: links });
});

test('bypassMFA takes only the documented date format: each other form is 400 on bypassMFAEnabledUntil and changes nothing', async () => {
  const u = await createUser(server, env, 'bypass-formats');
  for (const value of ['2027-11-30', '2027-11-30T00:00:00Z', '2027-11-30T00:00:00.000+01:00', '2027-02-30T00:00:00.000Z', '2027-11-30T25:00:00.000Z', 1_900_000_000_000, '', null]) {
    const res = await server.request('PUT', `${userPath(u)}/bypassMFA`, { body: { bypassMFAEnabledUntil: value } });
    expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'bypassMFAEnabledUntil' });
  }
  expectError(await server.request('PUT', `${userPath(u)}/bypassMFA`, { body: {} }), 400, 'INVALID_DATA', { code: 'REQUIRED_VALUE', target: 'bypassMFAEnabledUntil' });
  assert.deepEqual(Object.keys((await server.request('GET', `${userPath(u)}/bypassMFA`)).body), ['_links']);
});

test('another environment\'s user, or none, is 404 on every flag route', async () => {
  const other = await createEnvironment(server, 'user mfa flags: other');
  for (const path of [`${userPath(userId, other)}`, `${userPath('00000000-0000-4000-8000-000000000000')}`]) {
    expectError(await server.request('GET', `${path}/mfaEnabled`), 404, 'NOT_FOUND');
    expectError(await server.request('PUT', `${path}/mfaEnabled`, { body: { mfaEnabled: false } }), 404, 'NOT_FOUND');
    expectError(await server.request('GET', `${path}/bypassMFA`), 404, 'NOT_FOUND');
    expectError(await server.request('PUT', `${path}/bypassMFA`, { body: { bypassMFAEnabledUntil: '2030-01-01T00:00:00.000Z' } }), 404, 'NOT_FOUND');
  }
  assert.equal((await server.request('GET', `${userPath()}/mfaEnabled`)).body.mfaEnabled, true);
});

test('MFA settings users.mfaEnabled is the default of new users; mfaEnabled at creation wins over it', async () => {
  const e = await createEnvironment(server, 'user mfa flags: default');
  const settings = `/v1/environments/${e}/mfaSettings`;
  assert.equal((await server.request('GET', `${userPath(await createUser(server, e, 'on-by-default'), e)}/mfaEnabled`)).body.mfaEnabled, true);
  const put = await server.request('PUT', settings, { body: { pairing: {}, users: { mfaEnabled: false } } });
  assert.equal(put.status, 200, put.text);
  assert.equal((await server.request('GET', `${userPath(await createUser(server, e, 'off-by-default'), e)}/mfaEnabled`)).body.mfaEnabled, false);
  assert.equal((await server.request('GET', `${userPath(await createUser(server, e, 'asked-on', { mfaEnabled: true }), e)}/mfaEnabled`)).body.mfaEnabled, true);
});
