/**
 * The life of an OTP device (reference §2, §3, §5, §6): create per type with whole bodies,
 * block / unblock / unlock / nickname, the Content-Type dispatch of the item POST, and the
 * activate link. Time is the harness's ManualClock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { createEnvironment, useTestServer, type TestServer } from '../helper.js';
import {
  CT, MSG, WRONG_OTP, action, activate, assertError, assertInvalidData, assertRequestFailed, assertUnchanged, assertUnsupported,
  createPolicy, deviceBody, deviceCount, deviceRow, locked, newUser, otherCode, putMfaSettings, snapshot, type UserDevices,
} from './otp-support.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const PHONE_PATTERN = { allowedPattern: '^\\+[1-9][0-9 .()-]{6,}$' };

async function createActive(u: UserDevices, body: Record<string, unknown>) {
  const res = await server.request('POST', u.devices, { body });
  assert.equal(res.status, 201, res.text);
  return res.body as { id: string } & Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Create, per type (reference §5)

test('create EMAIL as an administrator answers 201 with the whole device, ACTIVE by default, and GET reads the same', async () => {
  const u = await newUser(server, env);
  const now = server.clock.now();
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'alice@example.com' } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers['cache-control'], 'no-store');
  const id = res.body.id as string;
  const expected = deviceBody(server, u, { id, type: 'EMAIL', status: 'ACTIVE', createdAt: now, updatedAt: now, email: 'alice@example.com' });
  assert.deepEqual(res.body, expected);
  const read = await server.request('GET', u.device(id));
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, expected);
  const row = await deviceRow(server, id);
  assert.equal(row.challenge_hash, null, 'an ACTIVE device made by an administrator has no pairing code');
});

test('create SMS: each spelling of reference §5 is accepted and stored as +15125201234', async () => {
  const u = await newUser(server, env);
  for (const phone of ['+1.5125201234', '+15125201234', '+1.512.520.1234', '+1 (512) 520-1234']) {
    const now = server.clock.now();
    const res = await server.request('POST', u.devices, { body: { type: 'SMS', phone } });
    assert.equal(res.status, 201, `${phone}: ${res.text}`);
    const id = res.body.id as string;
    const expected = deviceBody(server, u, { id, type: 'SMS', status: 'ACTIVE', createdAt: now, updatedAt: now, phone: '+15125201234' });
    assert.deepEqual(res.body, expected, phone);
    assert.deepEqual((await server.request('GET', u.device(id))).body, expected, phone);
    server.clock.advance(1000);
  }
});

test('create VOICE answers 201 with the phone in E.164 form and a nickname when given', async () => {
  const u = await newUser(server, env);
  const now = server.clock.now();
  const res = await server.request('POST', u.devices, { body: { type: 'VOICE', phone: '+44 20 7946 0958', nickname: 'Desk phone' } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.body, deviceBody(server, u, { id: res.body.id, type: 'VOICE', status: 'ACTIVE', createdAt: now, updatedAt: now, phone: '+442079460958', nickname: 'Desk phone' }));
});

test('create WHATSAPP is refused under the default policy (WhatsApp off) and nothing is stored', async () => {
  const u = await newUser(server, env);
  const res = await server.request('POST', u.devices, { body: { type: 'WHATSAPP', phone: '+14155552671' } });
  assertInvalidData(res, { code: 'INVALID_VALUE', target: 'policy.id', message: 'The device authentication policy does not allow WHATSAPP devices' });
  assert.equal(await deviceCount(server, u.userId), 0);
});

test('create WHATSAPP answers 201 under a policy with whatsApp enabled', async () => {
  const u = await newUser(server, env);
  const policyId = await createPolicy(server, env, { whatsApp: { enabled: true } });
  const now = server.clock.now();
  const res = await server.request('POST', u.devices, { body: { type: 'WHATSAPP', phone: '+14155552671', policy: { id: policyId } } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.id as string;
  assert.deepEqual(res.body, deviceBody(server, u, { id, type: 'WHATSAPP', status: 'ACTIVE', createdAt: now, updatedAt: now, phone: '+14155552671' }));
  assert.equal((await deviceRow(server, id)).policy_id, policyId);
});

test('create with a policy id the environment does not have is 400 on policy.id and stores nothing', async () => {
  const u = await newUser(server, env);
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'a@example.com', policy: { id: '00000000-0000-4000-8000-000000000000' } } });
  assertInvalidData(res, { code: 'INVALID_VALUE', target: 'policy.id', message: 'No device authentication policy with this ID exists in the environment' });
  assert.equal(await deviceCount(server, u.userId), 0);
});

test('create with a bad phone is 400 INVALID_DATA on phone, for every phone type, and stores nothing', async () => {
  const u = await newUser(server, env);
  const cases: Array<[string, RegExp]> = [
    ['5125201234', /international form/],
    ['+1 512 abc 1234', /only digits/],
    ['+0125201234', /7 to 15 digits/],
    ['+12345', /7 to 15 digits/],
    ['+1234567890123456', /7 to 15 digits/],
  ];
  for (const type of ['SMS', 'VOICE']) {
    for (const [phone, message] of cases) {
      const res = await server.request('POST', u.devices, { body: { type, phone } });
      assertInvalidData(res, { code: 'INVALID_VALUE', target: 'phone', message, innerError: PHONE_PATTERN });
    }
    const missing = await server.request('POST', u.devices, { body: { type } });
    assertInvalidData(missing, { code: 'REQUIRED_VALUE', target: 'phone', message: `phone is required for a ${type} device` });
  }
  assert.equal(await deviceCount(server, u.userId), 0);
});

test('create with a bad email is 400 INVALID_DATA on email and stores nothing', async () => {
  const u = await newUser(server, env);
  for (const email of ['not-an-email', 'a@b', 'two@@example.com', 'space in@example.com', '@example.com']) {
    const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email } });
    assertInvalidData(res, { code: 'INVALID_VALUE', target: 'email', message: 'email is not a valid email address' });
  }
  const missing = await server.request('POST', u.devices, { body: { type: 'EMAIL' } });
  assertInvalidData(missing, { code: 'REQUIRED_VALUE', target: 'email', message: 'email is required for an EMAIL device' });
  assert.equal(await deviceCount(server, u.userId), 0);
});

test('create with a phone extension is refused unless mfaSettings.phoneExtensions.enabled and the type is VOICE', async () => {
  const extEnv = await createEnvironment(server, 'phone extensions');
  const u = await newUser(server, extEnv);
  const refused = { code: 'INVALID_VALUE', target: 'phone', message: 'Phone extensions are allowed only for VOICE devices, and only when mfaSettings.phoneExtensions.enabled is true' };
  // Off (the default): neither SMS nor VOICE.
  for (const type of ['SMS', 'VOICE']) {
    assertInvalidData(await server.request('POST', u.devices, { body: { type, phone: '+1 (512) 520-1234 x123' } }), refused);
  }
  assert.equal(await deviceCount(server, u.userId), 0);

  await putMfaSettings(server, extEnv, { phoneExtensions: { enabled: true } });
  // On: SMS still not (a text message has no extension to dial).
  for (const phone of ['+1 (512) 520-1234 x123', '+15125201234 ext. 123']) {
    assertInvalidData(await server.request('POST', u.devices, { body: { type: 'SMS', phone } }), refused);
  }
  assert.equal(await deviceCount(server, u.userId), 0);
  const now = server.clock.now();
  const res = await server.request('POST', u.devices, { body: { type: 'VOICE', phone: '+1 (512) 520-1234 x123' } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.body, deviceBody(server, u, { id: res.body.id, type: 'VOICE', status: 'ACTIVE', createdAt: now, updatedAt: now, phone: '+15125201234x123' }));
});

test('create with testMode on TOTP or WHATSAPP is 400 on testMode and stores nothing', async () => {
  const u = await newUser(server, env);
  const whatsApp = await createPolicy(server, env, { whatsApp: { enabled: true } });
  const message = 'testMode is available for EMAIL, SMS and VOICE devices only';
  assertInvalidData(await server.request('POST', u.devices, { body: { type: 'TOTP', testMode: true } }), { code: 'INVALID_VALUE', target: 'testMode', message });
  assertInvalidData(await server.request('POST', u.devices, { body: { type: 'WHATSAPP', phone: '+14155552671', testMode: true, policy: { id: whatsApp } } }), { code: 'INVALID_VALUE', target: 'testMode', message });
  assert.equal(await deviceCount(server, u.userId), 0);
});

test('create a test device (EMAIL, SMS, VOICE) pending activation: testMode true, test.otp in the 201 only, and the activate link', async () => {
  const u = await newUser(server, env);
  for (const [type, field, value] of [['EMAIL', 'email', 'test@example.com'], ['SMS', 'phone', '+14135550150'], ['VOICE', 'phone', '+14135550150']] as const) {
    const now = server.clock.now();
    const res = await server.request('POST', u.devices, { body: { type, [field]: value, testMode: true, status: 'ACTIVATION_REQUIRED' } });
    assert.equal(res.status, 201, res.text);
    const otp = res.body.test?.otp as string;
    assert.match(otp, /^\d{6}$/);
    const id = res.body.id as string;
    const base = { id, type, status: 'ACTIVATION_REQUIRED' as const, createdAt: now, updatedAt: now, [field]: value, testMode: true as const };
    assert.deepEqual(res.body, deviceBody(server, u, { ...base, once: { test: { otp } } }));
    const read = await server.request('GET', u.device(id));
    assert.deepEqual(read.body, deviceBody(server, u, base));
    assert.ok(!read.text.includes(otp), 'the code is not in the GET response');
  }
});

test('create without a type is 400 REQUIRED_VALUE on type; an unknown type is 400 on type; nothing is stored', async () => {
  const u = await newUser(server, env);
  assertInvalidData(await server.request('POST', u.devices, { body: { email: 'a@example.com' } }), { code: 'REQUIRED_VALUE', target: 'type', message: 'type is required' });
  const bad = await server.request('POST', u.devices, { body: { type: 'PUSH', email: 'a@example.com' } });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.body.code, 'INVALID_DATA');
  assert.equal(bad.body.details[0].target, 'type');
  assert.equal(await deviceCount(server, u.userId), 0);
});

test('an unknown property on create is 400 on that property and stores nothing', async () => {
  const u = await newUser(server, env);
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'a@example.com', secret: 'x' } });
  assertInvalidData(res, { code: 'INVALID_VALUE', target: 'secret', message: 'secret is not a recognised property here' });
  assert.equal(await deviceCount(server, u.userId), 0);
});

// ---------------------------------------------------------------------------------------------
// Block, unblock (reference §6.4)

test('block with an empty body answers 200: block BLOCKED with blockedAt, status unchanged', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'SMS', phone: '+14135550150' });
  const createdAt = server.clock.now();
  server.clock.advance(5000);
  const now = server.clock.now();
  const res = await action(server, u.device(created.id), CT.block);
  assert.equal(res.status, 200, res.text);
  const expected = deviceBody(server, u, {
    id: created.id, type: 'SMS', status: 'ACTIVE', createdAt, updatedAt: now, phone: '+14135550150', block: { status: 'BLOCKED', blockedAt: iso(now) },
  });
  assert.deepEqual(res.body, expected);
  assert.deepEqual((await server.request('GET', u.device(created.id))).body, expected);

  // Blocking again keeps the first blockedAt and changes nothing.
  server.clock.advance(5000);
  const before = await snapshot(server, u.device(created.id));
  const again = await action(server, u.device(created.id), CT.block);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body, expected);
  await assertUnchanged(server, before);
});

test('block with {} answers 200 like an empty body; a pending device stays ACTIVATION_REQUIRED', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'EMAIL', email: 'b@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' });
  const createdAt = server.clock.now();
  server.clock.advance(1000);
  const now = server.clock.now();
  const res = await action(server, u.device(created.id), CT.block, {});
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, deviceBody(server, u, {
    id: created.id, type: 'EMAIL', status: 'ACTIVATION_REQUIRED', createdAt, updatedAt: now, email: 'b@example.com', testMode: true,
    block: { status: 'BLOCKED', blockedAt: iso(now) },
  }));
});

test('a blocked device cannot be activated, even with the right code, and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'EMAIL', email: 'c@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' });
  const otp = (created.test as { otp: string }).otp;
  assert.equal((await action(server, u.device(created.id), CT.block)).status, 200);
  const before = await snapshot(server, u.device(created.id));
  assertRequestFailed(await activate(server, u.device(created.id), otp), { code: 'INVALID_VALUE', target: 'block.status', message: 'The device is blocked' });
  await assertUnchanged(server, before);
});

test('unblock answers 200 with block {status: UNBLOCKED} and no blockedAt', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'SMS', phone: '+14135550150' });
  const createdAt = server.clock.now();
  assert.equal((await action(server, u.device(created.id), CT.block)).status, 200);
  server.clock.advance(2000);
  const now = server.clock.now();
  const res = await action(server, u.device(created.id), CT.unblock);
  assert.equal(res.status, 200, res.text);
  const expected = deviceBody(server, u, { id: created.id, type: 'SMS', status: 'ACTIVE', createdAt, updatedAt: now, phone: '+14135550150' });
  assert.deepEqual(res.body, expected);
  assert.deepEqual(res.body.block, { status: 'UNBLOCKED' });
  assert.deepEqual((await server.request('GET', u.device(created.id))).body, expected);
  assert.equal((await deviceRow(server, created.id)).blocked_at, null);
});

test('block with a non-empty body is 400 on the unknown property and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'SMS', phone: '+14135550150' });
  const before = await snapshot(server, u.device(created.id));
  server.clock.advance(1000);
  assertInvalidData(await action(server, u.device(created.id), CT.block, { reason: 'x' }), {
    code: 'INVALID_VALUE', target: 'reason', message: 'reason is not a recognised property here; this action takes an empty body',
  });
  await assertUnchanged(server, before);
});

// ---------------------------------------------------------------------------------------------
// Unlock (reference §6.3)

test('unlock after a lock answers 200 UNLOCKED, resets the failure count, and the right code then works', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'EMAIL', email: 'lock@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' });
  const createdAt = server.clock.now();
  const otp = (created.test as { otp: string }).otp;
  for (let i = 0; i < 3; i++) assertInvalidData(await activate(server, u.device(created.id), otherCode(otp, i)), WRONG_OTP);
  const lockedAt = server.clock.now();
  const lockedRead = await server.request('GET', u.device(created.id));
  const base = { id: created.id, type: 'EMAIL', status: 'ACTIVATION_REQUIRED' as const, createdAt, email: 'lock@example.com', testMode: true as const };
  assert.deepEqual(lockedRead.body, deviceBody(server, u, { ...base, updatedAt: lockedAt, lock: { status: 'LOCKED', expiresAt: iso(lockedAt + 600_000) } }));
  assertRequestFailed(await activate(server, u.device(created.id), otp), locked(lockedAt + 600_000));

  server.clock.advance(10_000);
  const now = server.clock.now();
  const res = await action(server, u.device(created.id), CT.unlock);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, deviceBody(server, u, { ...base, updatedAt: now }));
  const row = await deviceRow(server, created.id);
  assert.equal(Number(row.failed_attempts), 0);
  assert.equal(row.locked_until, null);

  const done = await activate(server, u.device(created.id), otp);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body, deviceBody(server, u, { ...base, status: 'ACTIVE', updatedAt: now }));
});

test('unlock of an unlocked device answers 200 with the device and leaves status and block alone', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'VOICE', phone: '+14135550150' });
  const createdAt = server.clock.now();
  assert.equal((await action(server, u.device(created.id), CT.block, {})).status, 200);
  const blockedAt = server.clock.now();
  server.clock.advance(1000);
  const res = await action(server, u.device(created.id), CT.unlock, {});
  assert.equal(res.status, 200, res.text);
  // Whether updatedAt moves when there was nothing to unlock is left open: compare the rest.
  assert.ok([iso(blockedAt), iso(server.clock.now())].includes(res.body.updatedAt), res.body.updatedAt);
  assert.deepEqual({ ...res.body, updatedAt: '<t>' }, {
    ...deviceBody(server, u, { id: created.id, type: 'VOICE', status: 'ACTIVE', createdAt, updatedAt: 0, phone: '+14135550150', block: { status: 'BLOCKED', blockedAt: iso(blockedAt) } }),
    updatedAt: '<t>',
  });
});

// ---------------------------------------------------------------------------------------------
// Nickname (reference §3.3)

test('PUT …/nickname answers 200 with the device and its new nickname', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'EMAIL', email: 'nick@example.com', nickname: 'old' });
  const createdAt = server.clock.now();
  server.clock.advance(3000);
  const res = await server.request('PUT', `${u.device(created.id)}/nickname`, { body: { nickname: 'My phone' } });
  assert.equal(res.status, 200, res.text);
  const expected = deviceBody(server, u, { id: created.id, type: 'EMAIL', status: 'ACTIVE', createdAt, updatedAt: server.clock.now(), email: 'nick@example.com', nickname: 'My phone' });
  assert.deepEqual(res.body, expected);
  assert.deepEqual((await server.request('GET', u.device(created.id))).body, expected);
});

test('PUT …/nickname without a nickname is 400 REQUIRED_VALUE on nickname and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'EMAIL', email: 'nick2@example.com', nickname: 'keep' });
  const before = await snapshot(server, u.device(created.id));
  server.clock.advance(1000);
  assertInvalidData(await server.request('PUT', `${u.device(created.id)}/nickname`, { body: {} }), { code: 'REQUIRED_VALUE', target: 'nickname', message: 'nickname is required' });
  assertInvalidData(await server.request('PUT', `${u.device(created.id)}/nickname`, { body: { nickname: '' } }), { code: 'EMPTY_VALUE', target: 'nickname', message: 'nickname must not be empty' });
  await assertUnchanged(server, before);
});

// ---------------------------------------------------------------------------------------------
// Content-Type dispatch (reference §3.2, §3.6)

test('an unknown application/vnd.pingidentity.device.foo+json on the item is 415 INVALID_REQUEST and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'SMS', phone: '+14135550150' });
  const before = await snapshot(server, u.device(created.id));
  const type = 'application/vnd.pingidentity.device.foo+json';
  assertUnsupported(await action(server, u.device(created.id), type), type);
  assertUnsupported(await action(server, u.device(created.id), type, {}), type);
  // No lock action exists (reference §3.3).
  const lock = 'application/vnd.pingidentity.device.lock+json';
  assertUnsupported(await action(server, u.device(created.id), lock), lock);
  await assertUnchanged(server, before);
});

test('application/json on the item POST is 415 INVALID_REQUEST and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'EMAIL', email: 'ct@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' });
  const before = await snapshot(server, u.device(created.id));
  const res = await server.request('POST', u.device(created.id), { body: { otp: (created.test as { otp: string }).otp } });
  assertUnsupported(res, 'application/json');
  await assertUnchanged(server, before);
});

test('media types are case-insensitive and take parameters (RFC 9110 §8.3.1)', async () => {
  const u = await newUser(server, env);
  const created = await createActive(u, { type: 'SMS', phone: '+14135550150' });
  const res = await action(server, u.device(created.id), 'Application/VND.PingIdentity.Device.Block+JSON; charset=utf-8');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.block.status, 'BLOCKED');
});

// ---------------------------------------------------------------------------------------------
// Links, reads, delete

test('a pending device carries _links.activate; an active one does not, and it goes away on activation', async () => {
  const u = await newUser(server, env);
  const active = await createActive(u, { type: 'EMAIL', email: 'active@example.com' });
  assert.deepEqual(Object.keys(active._links as object).sort(), ['environment', 'self', 'user']);
  const pending = await createActive(u, { type: 'SMS', phone: '+14135550150', testMode: true, status: 'ACTIVATION_REQUIRED' });
  const links = pending._links as Record<string, { href: string }>;
  assert.deepEqual(Object.keys(links).sort(), ['activate', 'environment', 'self', 'user']);
  assert.equal(links.activate!.href, links.self!.href);

  const list = await server.request('GET', u.devices);
  const byId = new Map((list.body._embedded.devices as Array<{ id: string; _links: object }>).map((d) => [d.id, d]));
  assert.ok('activate' in byId.get(pending.id)!._links);
  assert.ok(!('activate' in byId.get(active.id)!._links));

  const done = await activate(server, u.device(pending.id), (pending.test as { otp: string }).otp);
  assert.equal(done.status, 200, done.text);
  assert.ok(!('activate' in done.body._links));
});

test('a device is not found under another user or another environment, and DELETE answers 204 then 404', async () => {
  const u = await newUser(server, env);
  const other = await newUser(server, env);
  const created = await createActive(u, { type: 'SMS', phone: '+14135550150' });
  const before = await snapshot(server, u.device(created.id));
  const notFound = (path: string) => server.request('GET', path).then((r) => assertError(r, 404, 'NOT_FOUND', MSG.NOT_FOUND));
  await notFound(other.device(created.id));
  assertError(await action(server, other.device(created.id), CT.block), 404, 'NOT_FOUND', MSG.NOT_FOUND);
  assertError(await server.request('DELETE', other.device(created.id)), 404, 'NOT_FOUND', MSG.NOT_FOUND);
  await assertUnchanged(server, before);

  const del = await server.request('DELETE', u.device(created.id));
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');
  await notFound(u.device(created.id));
  assertError(await server.request('DELETE', u.device(created.id)), 404, 'NOT_FOUND', MSG.NOT_FOUND);
});
