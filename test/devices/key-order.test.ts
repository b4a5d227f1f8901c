/**
 * PingOne's key order in every device body (issue #18): a snapshot-style client compares the
 * text, so the text must be PingOne's — the seed document's for PingID Desktop, the reference's
 * SMS example (§2.2) for the OTP devices — on create, activate, read, list and actions.
 * JSON.stringify of our expectation against the response text: equal only when every member,
 * value and position agree at every depth.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { createUser, useTestServer, type TestServer } from '../helper.js';
import { SEED, attest, pendingDesktop, seedFor } from './desktop-fixtures.js';
import { activate } from './expect.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

/** Reference §2.2, the SMS device after Block (verbatim but for our host and IDs). */
const SMS_EXAMPLE = {
  _links: { self: { href: '<self>' }, environment: { href: '<environment>' }, user: { href: '<user>' } },
  id: '<device>',
  environment: { id: '<env>' },
  user: { id: '<userId>' },
  type: 'SMS',
  lock: { status: 'UNLOCKED' },
  block: { status: 'BLOCKED', blockedAt: '<blockedAt>' },
  status: 'ACTIVE',
  createdAt: '<createdAt>',
  updatedAt: '<updatedAt>',
  phone: '+14135550150',
  testMode: true,
};

test('PingID Desktop: the activation answer, GET and the list entry are the seed document\'s text, key for key', async () => {
  server.clock.set(SEED.createdAt);
  const p = await pendingDesktop(server, env);
  server.clock.set(SEED.updatedAt);
  const res = await activate(server, p.path, await attest(p.options, { now: server.clock.now() }));
  assert.equal(res.status, 200, res.text);
  const expected = JSON.stringify(seedFor(server, { env, user: p.userId, device: p.deviceId }));
  assert.equal(res.text, expected);
  assert.equal((await server.request('GET', p.path)).text, expected);
  const list = await server.request('GET', `/v1/environments/${env}/users/${p.userId}/devices`);
  assert.equal(JSON.stringify(list.body._embedded.devices[0]), expected);
});

test('PingID Desktop pending: create answers _links, rp, id, environment, user, type, lock, block, status, createdAt, updatedAt, then the creation options', async () => {
  const p = await pendingDesktop(server, env);
  assert.deepEqual(Object.keys(p.created), ['_links', 'rp', 'id', 'environment', 'user', 'type', 'lock', 'block', 'status', 'createdAt', 'updatedAt', 'pingIdDesktopCredentialCreationOptions']);
  assert.deepEqual(Object.keys(p.created._links), ['self', 'environment', 'user', 'activate']);
});

test('SMS: a blocked test device is the reference\'s example text (§2.2), on the block answer, GET and the list', async () => {
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const created = await server.request('POST', devices, { body: { type: 'SMS', phone: '+14135550150', testMode: true } });
  assert.equal(created.status, 201, created.text);
  const path = `${devices}/${created.body.id as string}`;
  server.clock.advance(1000);
  const blocked = await server.request('POST', path, { contentType: 'application/vnd.pingidentity.device.block+json' });
  assert.equal(blocked.status, 200, blocked.text);
  const self = `${server.config.publicUrl}${path}`;
  const expected = JSON.stringify(SMS_EXAMPLE)
    .replace('<self>', self).replace('<environment>', `${server.config.apiPath}/environments/${env}`).replace('<user>', `${server.config.apiPath}/environments/${env}/users/${userId}`)
    .replace('<device>', created.body.id).replace('<env>', env).replace('<userId>', userId)
    .replace('<blockedAt>', iso(server.clock.now())).replace('<createdAt>', iso(server.clock.now() - 1000)).replace('<updatedAt>', iso(server.clock.now()));
  assert.equal(blocked.text, expected);
  assert.equal((await server.request('GET', path)).text, expected);
  assert.equal(JSON.stringify((await server.request('GET', devices)).body._embedded.devices[0]), expected);
});

test('EMAIL with a nickname and TOTP: nickname after type, the type\'s own members after updatedAt, the shown-once ones last', async () => {
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const email = await server.request('POST', devices, { body: { type: 'EMAIL', email: 'keys@example.com', nickname: 'Work mail' } });
  assert.equal(email.status, 201, email.text);
  assert.deepEqual(Object.keys(email.body), ['_links', 'id', 'environment', 'user', 'type', 'nickname', 'lock', 'block', 'status', 'createdAt', 'updatedAt', 'email']);
  const totp = await server.request('POST', devices, { body: { type: 'TOTP' } });
  assert.equal(totp.status, 201, totp.text);
  assert.deepEqual(Object.keys(totp.body), ['_links', 'id', 'environment', 'user', 'type', 'lock', 'block', 'status', 'createdAt', 'updatedAt', 'secret', 'keyUri']);
  assert.deepEqual(Object.keys(JSON.parse((await server.request('GET', `${devices}/${email.body.id as string}`)).text)), Object.keys(email.body));
});
