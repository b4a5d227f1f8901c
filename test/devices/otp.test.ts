/**
 * Pairing an OTP device (reference §5, §6.2, §3.2 sendActivationCode): the code goes out on
 * create (to the outbox, or as `test.otp` for a test device), activating with it answers the
 * ACTIVE device, a wrong or expired code is 400 INVALID_DATA / INVALID_OTP on `otp`, and a new
 * code replaces the old one. Policy defaults: lifetime 10 minutes, 6 digits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import {
  CT, WRONG_OTP, action, activate, assertInvalidData, assertRequestFailed, assertUnchanged, createPolicy, deviceBody, deviceRow,
  latestCode, newUser, otherCode, outbox, snapshot, type UserDevices,
} from './otp-support.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const EXPIRED = { code: 'INVALID_OTP', target: 'otp', message: 'The passcode has expired; ask for a new one with sendActivationCode' };

async function pendingTest(u: UserDevices, body: Record<string, unknown> = { type: 'EMAIL', email: 'pending@example.com' }) {
  const res = await server.request('POST', u.devices, { body: { ...body, testMode: true, status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, otp: res.body.test.otp as string, createdAt: server.clock.now() };
}

// ---------------------------------------------------------------------------------------------
// Through the outbox (the notifier)

test('ACTIVATION_REQUIRED EMAIL: the code arrives in the outbox, and activating with it answers 200 ACTIVE', async () => {
  const u = await newUser(server, env);
  const email = 'outbox.alice@example.com';
  const createdAt = server.clock.now();
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email, status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.id as string;
  const base = { id, type: 'EMAIL', createdAt, email };
  assert.deepEqual(res.body, deviceBody(server, u, { ...base, status: 'ACTIVATION_REQUIRED', updatedAt: createdAt }), 'no code in the response of a real device');

  const messages = await outbox(server, env, email);
  assert.equal(messages.length, 1);
  assert.equal(messages[0]!.channel, 'EMAIL');
  assert.equal(messages[0]!.recipient, email);
  const code = await latestCode(server, env, email);
  assert.match(code, /^\d{6}$/);
  assert.ok(!res.text.includes(code));

  server.clock.advance(30_000);
  const done = await activate(server, u.device(id), code);
  assert.equal(done.status, 200, done.text);
  const expected = deviceBody(server, u, { ...base, status: 'ACTIVE', updatedAt: server.clock.now() });
  assert.deepEqual(done.body, expected);
  assert.deepEqual((await server.request('GET', u.device(id))).body, expected);
  const row = await deviceRow(server, id);
  assert.equal(row.challenge_hash, null, 'the used code is gone');
  assert.equal(row.activated_at, server.clock.now());
});

test('ACTIVATION_REQUIRED SMS: the code goes to the E.164 number, and it activates the device', async () => {
  const u = await newUser(server, env);
  const res = await server.request('POST', u.devices, { body: { type: 'SMS', phone: '+1 (512) 555-0199', status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  const [message] = await outbox(server, env, '+15125550199');
  assert.equal(message?.channel, 'SMS');
  const done = await activate(server, u.device(res.body.id), await latestCode(server, env, '+15125550199'));
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'ACTIVE');
});

test('an ACTIVE device made by an administrator sends no code', async () => {
  const u = await newUser(server, env);
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'quiet@example.com' } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(await outbox(server, env, 'quiet@example.com'), []);
});

test('sendActivationCode sends a new code to the outbox; the old one stops working and the new one activates', async () => {
  const u = await newUser(server, env);
  const email = 'resend@example.com';
  const createdAt = server.clock.now();
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email, status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.id as string;
  const first = await latestCode(server, env, email);

  server.clock.advance(60_000);
  const resent = await action(server, u.device(id), CT.sendActivationCode);
  assert.equal(resent.status, 200, resent.text);
  const base = { id, type: 'EMAIL', createdAt, email };
  assert.deepEqual(resent.body, deviceBody(server, u, { ...base, status: 'ACTIVATION_REQUIRED', updatedAt: server.clock.now() }));
  const messages = await outbox(server, env, email);
  assert.equal(messages.length, 2);
  const second = await latestCode(server, env, email);

  if (first !== second) assertInvalidData(await activate(server, u.device(id), first), WRONG_OTP);
  const done = await activate(server, u.device(id), second);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'ACTIVE');
});

// ---------------------------------------------------------------------------------------------
// Test devices (test.otp) — the same rules, without delivery

test('a test device delivers nothing: its code is in test.otp only', async () => {
  const u = await newUser(server, env);
  await pendingTest(u, { type: 'EMAIL', email: 'testmode@example.com' });
  assert.deepEqual(await outbox(server, env, 'testmode@example.com'), []);
});

test('activate with test.otp answers 200 with the whole ACTIVE device', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u, { type: 'SMS', phone: '+14135550150' });
  server.clock.advance(5000);
  const res = await activate(server, u.device(d.id), d.otp);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, deviceBody(server, u, {
    id: d.id, type: 'SMS', status: 'ACTIVE', createdAt: d.createdAt, updatedAt: server.clock.now(), phone: '+14135550150', testMode: true,
  }));
});

test('a wrong OTP is 400 INVALID_DATA with detail INVALID_OTP on otp; the device stays pending, one failure counted', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u);
  const before = await snapshot(server, u.device(d.id));
  server.clock.advance(1000);
  assertInvalidData(await activate(server, u.device(d.id), otherCode(d.otp, 1)), WRONG_OTP);
  await assertUnchanged(server, before, 1);
  // The right code still works afterwards.
  const res = await activate(server, u.device(d.id), d.otp);
  assert.equal(res.status, 200, res.text);
  assert.equal((await deviceRow(server, d.id)).failed_attempts, 0);
});

test('a malformed otp is 400 INVALID_DATA on otp, counts as a failure, and the device stays pending', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u);
  const before = await snapshot(server, u.device(d.id));
  assertInvalidData(await activate(server, u.device(d.id), '12ab56'), { code: 'INVALID_VALUE', target: 'otp', message: 'otp has an invalid format', innerError: { allowedPattern: '^[0-9]{6,10}$' } });
  assertInvalidData(await activate(server, u.device(d.id), 123456), { code: 'INVALID_VALUE', target: 'otp', message: /^otp / });
  await assertUnchanged(server, before, 2);
});

test('a missing otp is 400 REQUIRED_VALUE on otp and the device stays pending', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u);
  const before = await snapshot(server, u.device(d.id));
  assertInvalidData(await server.request('POST', u.device(d.id), { contentType: CT.activate, body: {} }), { code: 'REQUIRED_VALUE', target: 'otp', message: 'otp is required' });
  await assertUnchanged(server, before, 1);
});

test('sendActivationCode on a test device answers 200 with a new test.otp; the old code stops working', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u, { type: 'VOICE', phone: '+14135550150' });
  server.clock.advance(2000);
  const res = await action(server, u.device(d.id), CT.sendActivationCode);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['cache-control'], 'no-store', 'a response carrying a code is never cached');
  const fresh = res.body.test?.otp as string;
  assert.match(fresh, /^\d{6}$/);
  const base = { id: d.id, type: 'VOICE', createdAt: d.createdAt, phone: '+14135550150', testMode: true as const };
  assert.deepEqual(res.body, deviceBody(server, u, { ...base, status: 'ACTIVATION_REQUIRED', updatedAt: server.clock.now(), once: { test: { otp: fresh } } }));
  if (fresh !== d.otp) assertInvalidData(await activate(server, u.device(d.id), d.otp), WRONG_OTP);
  const done = await activate(server, u.device(d.id), fresh);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'ACTIVE');
});

test('an expired code (10 minutes + 1 s) fails with INVALID_OTP; a resent code then works', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u);
  server.clock.advance(10 * 60_000 + 1000);
  const before = await snapshot(server, u.device(d.id));
  assertInvalidData(await activate(server, u.device(d.id), d.otp), EXPIRED);
  await assertUnchanged(server, before, 1);

  const res = await action(server, u.device(d.id), CT.sendActivationCode, {});
  assert.equal(res.status, 200, res.text);
  const done = await activate(server, u.device(d.id), res.body.test.otp);
  assert.equal(done.status, 200, done.text);
});

test('a code is still good one second before its 10 minutes end', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u);
  server.clock.advance(10 * 60_000 - 1000);
  const res = await activate(server, u.device(d.id), d.otp);
  assert.equal(res.status, 200, res.text);
});

test('the policy sets the code length and lifetime (otpLength 8, lifeTime 2 minutes)', async () => {
  const u = await newUser(server, env);
  const policyId = await createPolicy(server, env, { email: { enabled: true, otp: { otpLength: 8, lifeTime: { duration: 2, timeUnit: 'MINUTES' } } } });
  const d = await pendingTest(u, { type: 'EMAIL', email: 'eight@example.com', policy: { id: policyId } });
  assert.match(d.otp, /^\d{8}$/);
  server.clock.advance(2 * 60_000 + 1000);
  assertInvalidData(await activate(server, u.device(d.id), d.otp), EXPIRED);
});

test('activating an ACTIVE device is 400 REQUEST_FAILED on status and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'already@example.com' } });
  const before = await snapshot(server, u.device(created.body.id));
  assertRequestFailed(await activate(server, u.device(created.body.id), '123456'), {
    code: 'INVALID_VALUE', target: 'status', message: 'The device is ACTIVE; only a device in ACTIVATION_REQUIRED can be activated',
  });
  await assertUnchanged(server, before);
});

test('sendActivationCode on an ACTIVE device is 400 REQUEST_FAILED on status and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await server.request('POST', u.devices, { body: { type: 'SMS', phone: '+14135550150' } });
  const before = await snapshot(server, u.device(created.body.id));
  server.clock.advance(1000);
  assertRequestFailed(await action(server, u.device(created.body.id), CT.sendActivationCode), {
    code: 'INVALID_VALUE', target: 'status', message: 'The device is ACTIVE; only a device in ACTIVATION_REQUIRED gets an activation code',
  });
  await assertUnchanged(server, before);
});

test('sendActivationCode on a TOTP device is 400 REQUEST_FAILED on type and nothing changes', async () => {
  const u = await newUser(server, env);
  const created = await server.request('POST', u.devices, { body: { type: 'TOTP' } });
  assert.equal(created.status, 201, created.text);
  const before = await snapshot(server, u.device(created.body.id));
  assertRequestFailed(await action(server, u.device(created.body.id), CT.sendActivationCode), {
    code: 'INVALID_VALUE', target: 'type', message: 'A TOTP device has no activation code to send',
  });
  await assertUnchanged(server, before);
});

test('sendActivationCode takes an empty body or {}; anything else is 400 and no code is issued', async () => {
  const u = await newUser(server, env);
  const d = await pendingTest(u);
  const before = await snapshot(server, u.device(d.id));
  assertInvalidData(await action(server, u.device(d.id), CT.sendActivationCode, { otp: '123456' }), {
    code: 'INVALID_VALUE', target: 'otp', message: 'otp is not a recognised property here; this action takes an empty body',
  });
  await assertUnchanged(server, before);
  const res = await activate(server, u.device(d.id), d.otp);
  assert.equal(res.status, 200, res.text);
});
