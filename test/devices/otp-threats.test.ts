/**
 * Threats against OTP and TOTP pairing (reference §6.3, §7.3, §8.1): brute force is bounded by
 * the policy's failure count even under concurrency, and the lock holds until it ends; a code
 * is single use under concurrency; codes never leave the server except to their recipient and
 * are not stored in a form that gives them back; the device limit holds under parallel creates.
 * Default policy: offline OTP failure count 3, coolDown 0 → lockout.durationSeconds (600 s);
 * TOTP failure count 3, coolDown 2 minutes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { totpCode } from '../support/rfc6238.js';
import { useTestServer, createEnvironment, type Response, type TestServer } from '../helper.js';
import {
  CT, MSG, WRONG_OTP, action, activate, assertError, assertInvalidData, assertRequestFailed, assertUnchanged, count, createPolicy,
  deviceBody, deviceCount, deviceRow, latestCode, limitExceeded, locked, newUser, putMfaSettings, snapshot, wrongCodes, type UserDevices,
} from './otp-support.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const OTP_LOCK_MS = 600_000;
const TOTP_LOCK_MS = 120_000;

async function pendingEmail(u: UserDevices, extra: Record<string, unknown> = {}) {
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'victim@example.com', testMode: true, status: 'ACTIVATION_REQUIRED', ...extra } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, otp: res.body.test.otp as string, createdAt: server.clock.now() };
}

async function pendingTotp(u: UserDevices) {
  const res = await server.request('POST', u.devices, { body: { type: 'TOTP' } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, secret: res.body.secret as string, createdAt: server.clock.now() };
}

const isLockedRefusal = (r: Response) => r.status === 400 && r.body.code === 'REQUEST_FAILED' && r.body.details?.[0]?.target === 'lock.status';
const isWrongOtp = (r: Response) => r.status === 400 && r.body.code === 'INVALID_DATA' && r.body.details?.[0]?.code === 'INVALID_OTP';

// ---------------------------------------------------------------------------------------------
// Brute force

test('brute force: 200 concurrent wrong OTPs against one pending EMAIL device count exactly 3 failures, lock it, and none succeeds', async () => {
  const u = await newUser(server, env);
  // A 30-minute code outlives the 10-minute lock, so the same code works once the lock ends.
  const policyId = await createPolicy(server, env, { email: { enabled: true, otp: { lifeTime: { duration: 30, timeUnit: 'MINUTES' } } } });
  const d = await pendingEmail(u, { policy: { id: policyId } });
  const lockedAt = server.clock.now();

  const results = await Promise.all(wrongCodes(d.otp, 200).map((code) => activate(server, u.device(d.id), code)));
  assert.equal(count(results, (r) => r.status === 200), 0, 'no wrong code succeeds');
  assert.equal(count(results, (r) => r.status >= 500), 0, 'no server error');
  assert.equal(count(results, (r) => isWrongOtp(r) || isLockedRefusal(r)), 200, 'every answer is a wrong-code or a locked refusal');
  assert.ok(count(results, isWrongOtp) >= 3);

  const row = await deviceRow(server, d.id);
  assert.equal(Number(row.failed_attempts), 3, 'exactly the policy failure count');
  assert.equal(row.locked_until, lockedAt + OTP_LOCK_MS);
  assert.equal(row.status, 'ACTIVATION_REQUIRED');
  const read = await server.request('GET', u.device(d.id));
  assert.deepEqual(read.body.lock, { status: 'LOCKED', expiresAt: iso(lockedAt + OTP_LOCK_MS) });
  assert.equal(read.body.status, 'ACTIVATION_REQUIRED');

  // The right code while locked is refused, and nothing changes.
  server.clock.advance(OTP_LOCK_MS - 1000);
  const before = await snapshot(server, u.device(d.id));
  assertRequestFailed(await activate(server, u.device(d.id), d.otp), locked(lockedAt + OTP_LOCK_MS));
  await assertUnchanged(server, before);

  // Once the lock (lockout.durationSeconds, the default coolDown being 0) has ended, the right code works.
  server.clock.advance(1000);
  const done = await activate(server, u.device(d.id), d.otp);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body, deviceBody(server, u, {
    id: d.id, type: 'EMAIL', status: 'ACTIVE', createdAt: d.createdAt, updatedAt: server.clock.now(), email: 'victim@example.com', testMode: true,
  }));
  const after = await deviceRow(server, d.id);
  assert.equal(Number(after.failed_attempts), 0);
  assert.equal(after.locked_until, null);
});

test('brute force: the lock length follows mfaSettings.lockout.durationSeconds when the policy coolDown is 0', async () => {
  const lockEnv = await createEnvironment(server, 'short lockout');
  await putMfaSettings(server, lockEnv, { lockout: { failureCount: 5, durationSeconds: 90 } });
  const u = await newUser(server, lockEnv);
  const d = await pendingEmail(u);
  const at = server.clock.now();
  for (const code of wrongCodes(d.otp, 3)) assertInvalidData(await activate(server, u.device(d.id), code), WRONG_OTP);
  assertRequestFailed(await activate(server, u.device(d.id), d.otp), locked(at + 90_000));
  server.clock.advance(90_000);
  const done = await activate(server, u.device(d.id), d.otp);
  assert.equal(done.status, 200, done.text);
});

test('brute force: after a lock ends, the count starts again and three more failures lock again', async () => {
  const u = await newUser(server, env);
  const policyId = await createPolicy(server, env, { email: { enabled: true, otp: { lifeTime: { duration: 30, timeUnit: 'MINUTES' } } } });
  const d = await pendingEmail(u, { policy: { id: policyId } });
  const codes = wrongCodes(d.otp, 6);
  for (const code of codes.slice(0, 3)) assertInvalidData(await activate(server, u.device(d.id), code), WRONG_OTP);
  server.clock.advance(OTP_LOCK_MS);
  assertInvalidData(await activate(server, u.device(d.id), codes[3]), WRONG_OTP);
  const row = await deviceRow(server, d.id);
  assert.equal(Number(row.failed_attempts), 1, 'a new count');
  assert.equal((await server.request('GET', u.device(d.id))).body.lock.status, 'UNLOCKED');
  assertInvalidData(await activate(server, u.device(d.id), codes[4]), WRONG_OTP);
  assertInvalidData(await activate(server, u.device(d.id), codes[5]), WRONG_OTP);
  assertRequestFailed(await activate(server, u.device(d.id), d.otp), locked(server.clock.now() + OTP_LOCK_MS));
});

test('brute force: resending the activation code neither unlocks the device nor resets its failure count', async () => {
  const u = await newUser(server, env);
  const d = await pendingEmail(u);
  const at = server.clock.now();
  for (const code of wrongCodes(d.otp, 2)) assertInvalidData(await activate(server, u.device(d.id), code), WRONG_OTP);
  const resent = await action(server, u.device(d.id), CT.sendActivationCode);
  assert.equal(resent.status, 200, resent.text);
  const fresh = resent.body.test.otp as string;
  assertInvalidData(await activate(server, u.device(d.id), wrongCodes([d.otp, fresh], 1)[0]), WRONG_OTP);
  assert.equal(Number((await deviceRow(server, d.id)).failed_attempts), 3);
  const again = await action(server, u.device(d.id), CT.sendActivationCode);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body.lock, { status: 'LOCKED', expiresAt: iso(at + OTP_LOCK_MS) });
  assertRequestFailed(await activate(server, u.device(d.id), again.body.test.otp), locked(at + OTP_LOCK_MS));
});

test('brute force: 200 concurrent wrong TOTP codes count exactly 3 failures and lock the device for 2 minutes', async () => {
  const u = await newUser(server, env);
  const d = await pendingTotp(u);
  const now = server.clock.now();
  const valid = [-30_000, 0, 30_000].map((o) => totpCode(d.secret, now + o));
  // wrongCodes avoids the three codes the RFC 6238 oracle says are accepted (±1 step).
  const codes = wrongCodes(valid, 200);

  const results = await Promise.all(codes.map((code) => activate(server, u.device(d.id), code)));
  assert.equal(count(results, (r) => r.status === 200), 0, 'no wrong code succeeds');
  assert.equal(count(results, (r) => isWrongOtp(r) || isLockedRefusal(r)), codes.length);
  const row = await deviceRow(server, d.id);
  assert.equal(Number(row.failed_attempts), 3);
  assert.equal(row.locked_until, now + TOTP_LOCK_MS);
  assert.deepEqual((await server.request('GET', u.device(d.id))).body.lock, { status: 'LOCKED', expiresAt: iso(now + TOTP_LOCK_MS) });

  // A right code while locked is refused, and nothing changes.
  server.clock.advance(TOTP_LOCK_MS - 1000);
  const before = await snapshot(server, u.device(d.id));
  assertRequestFailed(await activate(server, u.device(d.id), totpCode(d.secret, server.clock.now())), locked(now + TOTP_LOCK_MS));
  await assertUnchanged(server, before);

  server.clock.advance(1000);
  const done = await activate(server, u.device(d.id), totpCode(d.secret, server.clock.now()));
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'ACTIVE');
  assert.deepEqual(done.body.lock, { status: 'UNLOCKED' });
});

// ---------------------------------------------------------------------------------------------
// Replay

test('replay: 50 concurrent submissions of one valid OTP give exactly one 200', async () => {
  const u = await newUser(server, env);
  const d = await pendingEmail(u);
  const results = await Promise.all(Array.from({ length: 50 }, () => activate(server, u.device(d.id), d.otp)));
  assert.equal(count(results, (r) => r.status === 200), 1, results.filter((r) => r.status !== 200 && r.status !== 400).map((r) => r.text).join('\n'));
  for (const r of results.filter((x) => x.status !== 200)) {
    // Copies past the policy's count meet the lock the Nth reservation set (devices/attempts.ts).
    if (isLockedRefusal(r)) assertRequestFailed(r, locked(server.clock.now() + OTP_LOCK_MS));
    else assertRequestFailed(r, { code: 'INVALID_VALUE', target: 'status', message: /^The device is (ACTIVE; only a device in ACTIVATION_REQUIRED can be activated|no longer waiting for (this passcode|this activation))$/ });
  }
  const row = await deviceRow(server, d.id);
  assert.equal(row.status, 'ACTIVE');
  assert.equal(Number(row.failed_attempts), 0, 'a replay of the right code is not a guess');
  assert.equal(row.challenge_hash, null);
});

test('replay: 50 concurrent submissions of one valid TOTP code give exactly one 200', async () => {
  const u = await newUser(server, env);
  const d = await pendingTotp(u);
  const code = totpCode(d.secret, server.clock.now());
  const results = await Promise.all(Array.from({ length: 50 }, () => activate(server, u.device(d.id), code)));
  assert.equal(count(results, (r) => r.status === 200), 1);
  for (const r of results.filter((x) => x.status !== 200)) {
    // Copies past the policy's count meet the lock the Nth reservation set (devices/attempts.ts).
    if (isLockedRefusal(r)) assertRequestFailed(r, locked(server.clock.now() + TOTP_LOCK_MS));
    else assertRequestFailed(r, { code: 'INVALID_VALUE', target: 'status', message: /^The device is (ACTIVE; only a device in ACTIVATION_REQUIRED can be activated|no longer waiting for (this passcode|this activation))$/ });
  }
  const row = await deviceRow(server, d.id);
  assert.equal(row.status, 'ACTIVE');
  assert.equal(Number(row.failed_attempts), 0);
  assert.ok(row.last_otp_step !== null);
});

test('replay: an old activation code, once replaced by sendActivationCode, is refused', async () => {
  const u = await newUser(server, env);
  const d = await pendingEmail(u);
  const resent = await action(server, u.device(d.id), CT.sendActivationCode);
  assert.equal(resent.status, 200, resent.text);
  const fresh = resent.body.test.otp as string;
  if (fresh === d.otp) return; // one chance in a million: the same digits again
  const before = await snapshot(server, u.device(d.id));
  assertInvalidData(await activate(server, u.device(d.id), d.otp), WRONG_OTP);
  await assertUnchanged(server, before, 1);
});

// ---------------------------------------------------------------------------------------------
// Disclosure

test('disclosure: OTPs are never in any GET response (the device, the list, with expand=order)', async () => {
  const u = await newUser(server, env);
  const testDevice = await pendingEmail(u);
  const reads = async () => [
    await server.request('GET', u.device(testDevice.id)),
    await server.request('GET', u.devices),
    await server.request('GET', `${u.devices}?expand=order`),
  ];
  for (const r of await reads()) {
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.text.includes(testDevice.otp), `the test OTP is not in ${r.text}`);
    assert.ok(!r.text.includes('"test"'), 'no test field after the create response');
  }
  const resent = await action(server, u.device(testDevice.id), CT.sendActivationCode);
  for (const r of await reads()) assert.ok(!r.text.includes(resent.body.test.otp as string));
});

test('disclosure: a delivered OTP is in the outbox only, never in the create response or any GET', async () => {
  const u = await newUser(server, env);
  const email = 'delivered@example.com';
  const res = await server.request('POST', u.devices, { body: { type: 'EMAIL', email, status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  const code = await latestCode(server, env, email);
  assert.ok(!res.text.includes(code));
  assert.equal(res.body.test, undefined);
  for (const path of [u.device(res.body.id), u.devices, `${u.devices}?expand=order`]) {
    const r = await server.request('GET', path);
    assert.ok(!r.text.includes(code), `the code is not in GET ${path}`);
  }
});

test('disclosure: the stored challenge_hash is neither the code nor its plain SHA-256', async () => {
  const u = await newUser(server, env);
  const d = await pendingEmail(u);
  const row = await deviceRow(server, d.id);
  const stored = row.challenge_hash;
  assert.ok(stored);
  assert.ok(!stored.includes(d.otp), 'not the code');
  const sha = createHash('sha256').update(d.otp).digest();
  for (const form of [sha.toString('hex'), sha.toString('base64'), sha.toString('base64url')]) {
    assert.notEqual(stored, form);
    assert.ok(!stored.includes(form));
  }
  // Nor the code under the device's id, as a plain SHA-256 of either order.
  for (const text of [`${d.id}${d.otp}`, `${d.otp}${d.id}`, `${d.id}:${d.otp}`]) {
    const h = createHash('sha256').update(text).digest();
    assert.ok(![h.toString('hex'), h.toString('base64'), h.toString('base64url')].includes(stored));
  }
  // Two devices with the same code would still store different hashes (bound to the device): the
  // same code is checked against the other device and is refused.
  const other = await pendingEmail(u);
  if (other.otp !== d.otp) assertInvalidData(await activate(server, u.device(other.id), d.otp), WRONG_OTP);
});

test('disclosure: one device\'s code does not activate another device of the same user', async () => {
  const u = await newUser(server, env);
  const a = await pendingEmail(u);
  const b = await pendingEmail(u);
  if (a.otp === b.otp) return;
  const before = await snapshot(server, u.device(b.id));
  assertInvalidData(await activate(server, u.device(b.id), a.otp), WRONG_OTP);
  await assertUnchanged(server, before, 1);
});

// ---------------------------------------------------------------------------------------------
// Device limit (reference §7.3, §8.1)

test('max-devices race: 50 parallel EMAIL creates with maxAllowedDevices 5 make exactly 5; the rest get the LIMIT_EXCEEDED body', async () => {
  const limitEnv = await createEnvironment(server, 'device limit');
  await putMfaSettings(server, limitEnv, { pairing: { maxAllowedDevices: 5 } });
  const u = await newUser(server, limitEnv);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => server.request('POST', u.devices, { body: { type: 'EMAIL', email: `race${i}@example.com` } })));
  assert.equal(count(results, (r) => r.status === 201), 5);
  for (const r of results.filter((x) => x.status !== 201)) assertError(r, 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, limitExceeded(5));
  assert.equal(await deviceCount(server, u.userId), 5);
  const list = await server.request('GET', u.devices);
  assert.equal(list.body._embedded.devices.length, 5);
});

test('max-devices race: 50 parallel pending test creates of mixed OTP types with maxAllowedDevices 3 make exactly 3', async () => {
  const limitEnv = await createEnvironment(server, 'device limit mixed');
  await putMfaSettings(server, limitEnv, { pairing: { maxAllowedDevices: 3 } });
  const u = await newUser(server, limitEnv);
  const bodies = [
    { type: 'EMAIL', email: 'mixed@example.com' },
    { type: 'SMS', phone: '+15125201234' },
    { type: 'VOICE', phone: '+15125201234' },
  ];
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    server.request('POST', u.devices, { body: { ...bodies[i % 3], testMode: true, status: 'ACTIVATION_REQUIRED' } })));
  assert.equal(count(results, (r) => r.status === 201), 3);
  for (const r of results.filter((x) => x.status !== 201)) assertError(r, 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, limitExceeded(3));
  assert.equal(await deviceCount(server, u.userId), 3);
});

test('max-devices: a blocked device still counts, and deleting one makes room again', async () => {
  const limitEnv = await createEnvironment(server, 'device limit blocked');
  await putMfaSettings(server, limitEnv, { pairing: { maxAllowedDevices: 2 } });
  const u = await newUser(server, limitEnv);
  const a = await server.request('POST', u.devices, { body: { type: 'SMS', phone: '+15125201234' } });
  const b = await server.request('POST', u.devices, { body: { type: 'SMS', phone: '+15125201235' } });
  assert.equal((await action(server, u.device(b.body.id), CT.block)).status, 200);
  assertError(await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'x@example.com' } }), 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, limitExceeded(2));
  assert.equal(await deviceCount(server, u.userId), 2);
  assert.equal((await server.request('DELETE', u.device(a.body.id))).status, 204);
  assert.equal((await server.request('POST', u.devices, { body: { type: 'EMAIL', email: 'x@example.com' } })).status, 201);
});
