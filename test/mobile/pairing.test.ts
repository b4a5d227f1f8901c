/**
 * Pairing keys (wave-2 reference §3.2) and pairing (protocol §1), both dialects: the happy path
 * asserted whole, then each threat named, answered 4xx with nothing changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvironment, createUser, useTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { DEFAULT_METADATA, MobileAuthenticator, MobileError } from '../../src/testing/mobile-authenticator.js';
import { APP_ENTRY, injectTransport, mobileTenant, newUser, pairRaw, pairingKey, setEntry, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'mobile pairing'); });

const devicesOf = async (userId: string) => (await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices`)).body._embedded.devices as Array<Record<string, unknown>>;
const keyOf = async (userId: string, keyId: string) => server.request('GET', `/v1/environments/${t.env}/users/${userId}/pairingKeys/${keyId}`);

test('a pairing key in PingOne\'s shape: 201 with the code once (ALPHANUMERIC 16), GET without it, CLAIMED after pairing; the MOBILE device as wave-2 §3.3 shows it', async () => {
  const userId = await newUser(t, 'alice');
  const created = server.clock.now();
  const res = await pairingKey(t, userId, { applications: [{ id: t.appId }] });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers['cache-control'], 'no-store');
  const code = res.body.code as string;
  assert.match(code, /^[2-9A-HJ-NP-Z]{16}$/);
  const api = server.config.apiPath;
  assert.deepEqual(withoutVolatile(res.body), {
    _links: { self: { href: `${api}/environments/<id>/users/<id>/pairingKeys/<id>` }, environment: { href: `${api}/environments/<id>` }, user: { href: `${api}/environments/<id>/users/<id>` } },
    id: '<id>', environment: { id: '<id>' }, code, status: 'UNCLAIMED', applications: [{ id: '<id>' }], user: { id: '<id>' },
    createdAt: '<time>', updatedAt: '<time>', expiresAt: '<time>',
  });
  assert.deepEqual(Object.keys(res.body), ['_links', 'id', 'environment', 'code', 'status', 'applications', 'user', 'createdAt', 'updatedAt', 'expiresAt']);
  assert.equal(Date.parse(res.body.expiresAt) - created, 10 * 60_000);
  const read = await keyOf(userId, res.body.id);
  const { code: _shown, ...withoutCode } = res.body;
  assert.deepEqual(read.body, withoutCode);

  server.clock.advance(1000);
  const device = await t.phone.pair(t.sdk, code.toLowerCase(), { applicationId: t.appId, device: { model: { name: 'Pixel 8' }, os: { type: 'ANDROID', version: '15' }, sdkVersion: '2.1.0(77)', nickname: 'My phone' } });
  assert.match(device.otpSeed, /^[A-Z2-7]{32}$/);
  assert.equal(device.pushChannel, `${t.sdk}/mobile/devices/${device.id}/pushes`);
  const claimed = await keyOf(userId, res.body.id);
  assert.equal(claimed.body.status, 'CLAIMED');
  const devices = await devicesOf(userId);
  assert.equal(devices.length, 1);
  assert.deepEqual(withoutVolatile(devices[0]), {
    _links: { self: { href: `${api}/environments/<id>/users/<id>/devices/<id>` }, environment: { href: `${api}/environments/<id>` }, user: { href: `${api}/environments/<id>/users/<id>` } },
    id: '<id>', environment: { id: '<id>' }, user: { id: '<id>' }, type: 'MOBILE', nickname: 'My phone',
    lock: { status: 'UNLOCKED' }, block: { status: 'UNBLOCKED' }, status: 'ACTIVE', createdAt: '<time>', updatedAt: '<time>',
    os: { version: '15', type: 'ANDROID' }, model: { name: 'Pixel 8' }, application: { id: '<id>' },
    sdkVersion: '2.1.0(77)', apiVersion: '2.0', allowPushNotification: true, notificationProvider: 'OPENMFA', otpStatus: { status: 'ENABLED' }, pushFails: [],
  });
  // Neither the device key nor the seed is ever shown.
  assert.ok(!JSON.stringify(devices).includes(device.otpSeed));
  assert.ok(!JSON.stringify(devices).includes(String(device.publicJwk.x)));
});

test('NUMERIC keys have 12 digits; DELETE removes a key (204, then 404)', async () => {
  const put = await server.request('PUT', `/v1/environments/${t.env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'NUMERIC' } } });
  assert.equal(put.status, 200, put.text);
  const userId = await newUser(t, 'numeric');
  const res = await pairingKey(t, userId);
  assert.match(res.body.code, /^[0-9]{12}$/);
  assert.deepEqual(res.body.applications, []);
  assert.equal((await server.request('DELETE', `/v1/environments/${t.env}/users/${userId}/pairingKeys/${res.body.id}`)).status, 204);
  expectError(await keyOf(userId, res.body.id), 404, 'NOT_FOUND');
  await server.request('PUT', `/v1/environments/${t.env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'ALPHANUMERIC' } } });
});

test('refused pairing keys: a worker application, an unknown one, a 21st valid key, a user of another environment — 4xx, nothing made', async () => {
  const userId = await newUser(t, 'limits');
  expectError(await pairingKey(t, userId, { applications: [{ id: server.boot.clientId }] }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'applications[0].id' }]);
  expectError(await pairingKey(t, userId, { applications: [{ id: '00000000-0000-4000-8000-000000000000' }] }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'applications[0].id' }]);
  for (let i = 0; i < 20; i++) assert.equal((await pairingKey(t, userId)).status, 201);
  expectError(await pairingKey(t, userId), 400, 'REQUEST_FAILED', [{ code: 'LIMIT_EXCEEDED', target: 'user.id' }]);
  const other = await createEnvironment(server, 'other');
  const stranger = await createUser(server, other, 'stranger');
  expectError(await pairingKey(t, stranger), 404, 'NOT_FOUND');
});

test('threat: a guessed pairing code — a wrong code of an existing key\'s bucket, a code that does not exist and a spent code get one answer (status, code, message, details); five wrong codes spend the key (FAILED), and the right code then pairs nothing', async () => {
  const userId = await newUser(t, 'guessed');
  const res = await pairingKey(t, userId);
  const code = res.body.code as string;
  // Same first four characters (the key's bucket), so each guess is a real attempt on the key.
  const wrong = (i: number) => code.slice(0, 4) + (code.slice(4, 15) + '23456789ABCDEFGH'[i]).slice(0, 12);
  const guess = (c: string) => pairRaw(t, t.phone.pairingJwt(t.sdk, c, { ...MobileAuthenticator.newKey(), applicationId: t.appId }));
  const answer = (r: Awaited<ReturnType<typeof guess>>) => {
    expectError(r, 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'code' }]);
    const { id: _id, ...rest } = r.body;
    return rest;
  };
  const codes = Array.from({ length: 10 }, (_, i) => wrong(i)).filter((c) => c !== code).slice(0, 5);
  const first = answer(await guess(codes[0]!));
  assert.deepEqual(first, {
    code: 'INVALID_DATA', message: 'The request could not be completed. One or more validation errors were in the request.',
    details: [{ code: 'INVALID_VALUE', target: 'code', message: 'The pairing key is not valid' }],
  });
  for (let i = 1; i < 4; i++) assert.deepEqual(answer(await guess(codes[i]!)), first);
  assert.equal((await keyOf(userId, res.body.id)).body.status, 'UNCLAIMED');
  // A code no key has (another bucket), and a malformed one: the same answer, and the key is not touched.
  assert.deepEqual(answer(await guess('ZZZZZZZZZZZZZZZZ')), first);
  assert.deepEqual(answer(await guess('not-a-code')), first);
  assert.equal((await keyOf(userId, res.body.id)).body.status, 'UNCLAIMED');
  // The fifth wrong guess spends the key.
  assert.deepEqual(answer(await guess(codes[4]!)), first);
  const spent = await keyOf(userId, res.body.id);
  assert.equal(spent.body.status, 'FAILED');
  assert.deepEqual(spent.body.error, { code: 'TOO_MANY_ATTEMPTS', message: 'Too many wrong pairing codes' });
  const stored = await server.store.db.selectFrom('pairing_keys').select(['failed_attempts', 'device_id']).where('id', '=', res.body.id).executeTakeFirstOrThrow();
  assert.deepEqual({ failed: Number(stored.failed_attempts), device: stored.device_id }, { failed: 5, device: null });
  // The right code afterwards: the same answer, nothing made, the key still FAILED.
  assert.deepEqual(answer(await guess(code)), first);
  assert.deepEqual(await devicesOf(userId), []);
  assert.deepEqual((await keyOf(userId, res.body.id)).body, spent.body);
});

test('threat: a reused, an expired and another environment\'s pairing key pair nothing, with the answer a wrong code gets', async () => {
  const userId = await newUser(t, 'reused');
  const res = await pairingKey(t, userId);
  await t.phone.pair(t.sdk, res.body.code, { applicationId: t.appId });
  const again = await pairRaw(t, t.phone.pairingJwt(t.sdk, res.body.code, { ...MobileAuthenticator.newKey(), applicationId: t.appId }));
  expectError(again, 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'code' }]);
  assert.equal((await devicesOf(userId)).length, 1);
  assert.equal((await keyOf(userId, res.body.id)).body.status, 'CLAIMED');

  const late = await newUser(t, 'expired');
  const key = await pairingKey(t, late);
  server.clock.advance(10 * 60_000);
  expectError(await pairRaw(t, t.phone.pairingJwt(t.sdk, key.body.code, { ...MobileAuthenticator.newKey(), applicationId: t.appId })), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'code' }]);
  assert.deepEqual(await devicesOf(late), []);
  // An expired key keeps its status (README, Decisions): expiresAt says it.
  const expired = await keyOf(late, key.body.id);
  assert.equal(expired.body.status, 'UNCLAIMED');
  assert.ok(Date.parse(expired.body.expiresAt) <= server.clock.now());

  const other = await mobileTenant(server, 'other mobile');
  const theirs = await pairingKey(other, await newUser(other, 'theirs'));
  expectError(await pairRaw(t, t.phone.pairingJwt(t.sdk, theirs.body.code, { ...MobileAuthenticator.newKey(), applicationId: t.appId })), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'code' }]);
  assert.equal((await other.server.request('GET', `/v1/environments/${other.env}/users/${theirs.body.user.id}/pairingKeys/${theirs.body.id}`)).body.status, 'UNCLAIMED');
});

test('threat: a pairing JWT replayed, signed with another key than its jwk, or for another environment — refused before the code is looked at', async () => {
  const userId = await newUser(t, 'jwt');
  const res = await pairingKey(t, userId);
  const key = MobileAuthenticator.newKey();
  const other = MobileAuthenticator.newKey();
  const forged = t.phone.pairingJwt(t.sdk, res.body.code, { privateJwk: other.privateJwk, publicJwk: key.publicJwk, applicationId: t.appId });
  expectError(await pairRaw(t, forged), 400, 'INVALID_DATA', [{ code: 'INVALID_SIGNATURE', target: 'pairing' }]);
  const elsewhere = await createEnvironment(server, 'elsewhere');
  const wrongAud = t.phone.pairingJwt(`${server.config.authPath}/${elsewhere}`, res.body.code, { ...key, applicationId: t.appId });
  expectError(await pairRaw(t, wrongAud), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'pairing' }]);
  assert.equal((await keyOf(userId, res.body.id)).body.status, 'UNCLAIMED');
  const jwt = t.phone.pairingJwt(t.sdk, res.body.code, { ...key, applicationId: t.appId });
  assert.equal((await pairRaw(t, jwt)).status, 201);
  expectError(await pairRaw(t, jwt), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'pairing' }]);
  assert.equal((await devicesOf(userId)).length, 1);
});

test('past maxAllowedDevices the key becomes FAILED with LIMIT_EXCEEDED and no device is made', async () => {
  await server.request('PUT', `/v1/environments/${t.env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 1, pairingKeyFormat: 'ALPHANUMERIC' } } });
  try {
    const userId = await newUser(t, 'full');
    await t.phone.pair(t.sdk, (await pairingKey(t, userId)).body.code, { applicationId: t.appId });
    const key = await pairingKey(t, userId);
    const r = await pairRaw(t, t.phone.pairingJwt(t.sdk, key.body.code, { ...MobileAuthenticator.newKey(), applicationId: t.appId }));
    expectError(r, 400, 'REQUEST_FAILED', [{ code: 'LIMIT_EXCEEDED' }]);
    const failed = await keyOf(userId, key.body.id);
    assert.equal(failed.body.status, 'FAILED');
    assert.equal(failed.body.error.code, 'LIMIT_EXCEEDED');
    assert.equal((await devicesOf(userId)).length, 1);
  } finally {
    await server.request('PUT', `/v1/environments/${t.env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'ALPHANUMERIC' } } });
  }
});

test('race: 50 concurrent claims of one pairing key make exactly one device', async () => {
  const userId = await newUser(t, 'race');
  const res = await pairingKey(t, userId);
  const phones = Array.from({ length: 50 }, () => new MobileAuthenticator({ transport: injectTransport(server), now: () => server.clock.now() }));
  const results = await Promise.allSettled(phones.map((p) => p.pair(t.sdk, res.body.code, { applicationId: t.appId })));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) {
    if (r.status === 'rejected') assert.deepEqual([(r.reason as MobileError).status, ((r.reason as MobileError).body as { details: Array<{ target: string }> }).details[0]!.target], [400, 'code']);
  }
  assert.equal((await devicesOf(userId)).length, 1);
  assert.equal((await keyOf(userId, res.body.id)).body.status, 'CLAIMED');
});

test('integrityDetection permissive: a device that reports it is not compromised pairs (NOT_COMPROMISED), one whose check got no answer pairs too (UNKNOWN), each with the pairing time', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { integrityDetection: 'permissive' }));
  try {
    const now = server.clock.now();
    const clean = await newUser(t, 'clean');
    await t.phone.pair(t.sdk, (await pairingKey(t, clean)).body.code, { applicationId: t.appId, device: { ...DEFAULT_METADATA, integrity: { compromised: false } } });
    assert.deepEqual((await devicesOf(clean))[0]!.deviceIntegrityState, { compromised: 'NOT_COMPROMISED', timestamp: now });
    const silent = await newUser(t, 'silent');
    await t.phone.pair(t.sdk, (await pairingKey(t, silent)).body.code, { applicationId: t.appId });
    assert.deepEqual((await devicesOf(silent))[0]!.deviceIntegrityState, { compromised: 'UNKNOWN', timestamp: now });
  } finally {
    await setEntry(t, APP_ENTRY(t.appId));
  }
});

test('threat: a rooted or tampered phone paired to take pushes — with integrityDetection it is refused 400 and the key spent (FAILED, DEVICE_COMPROMISED); under restrictive a device with no verdict is refused and the key left UNCLAIMED; no device made', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { integrityDetection: 'restrictive' }));
  try {
    const userId = await newUser(t, 'rooted');
    const key = await pairingKey(t, userId);
    const send = (device: typeof DEFAULT_METADATA) => pairRaw(t, t.phone.pairingJwt(t.sdk, key.body.code, { ...MobileAuthenticator.newKey(), applicationId: t.appId, device }));
    const silent = await send(DEFAULT_METADATA);
    expectError(silent, 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'device.integrity', message: /requires an integrity verdict/ }]);
    assert.equal((await keyOf(userId, key.body.id)).body.status, 'UNCLAIMED');
    const rooted = await send({ ...DEFAULT_METADATA, integrity: { compromised: true } });
    expectError(rooted, 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'device.integrity', message: /compromised/ }]);
    const spent = await keyOf(userId, key.body.id);
    assert.equal(spent.body.status, 'FAILED');
    assert.deepEqual(spent.body.error, { code: 'DEVICE_COMPROMISED', message: 'The device reported a compromised integrity' });
    assert.deepEqual(await devicesOf(userId), []);
    // The key is spent: a clean device with the same code now gets the wrong code's answer.
    expectError(await send({ ...DEFAULT_METADATA, integrity: { compromised: false } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'code' }]);
    assert.deepEqual(await devicesOf(userId), []);
  } finally {
    await setEntry(t, APP_ENTRY(t.appId));
  }
});

test('without integrityDetection no verdict is asked for or kept: a device reporting compromised still pairs, without deviceIntegrityState', async () => {
  const userId = await newUser(t, 'unchecked');
  await t.phone.pair(t.sdk, (await pairingKey(t, userId)).body.code, { applicationId: t.appId, device: { ...DEFAULT_METADATA, integrity: { compromised: true } } });
  const [device] = await devicesOf(userId);
  assert.equal(device!.status, 'ACTIVE');
  assert.equal(device!.deviceIntegrityState, undefined);
});
