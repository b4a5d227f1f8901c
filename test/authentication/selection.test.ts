/**
 * Which device a flow takes (reference §3.5, §6.3–§6.5, §8.2 `authentication.deviceSelection`):
 * the first usable device in the user's order by default, the user's choice under
 * PROMPT_TO_SELECT; blocked devices are listed apart and never chosen; a locked device only
 * once its lock has ended; and every ID of another environment is "not found".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { totpCode } from '../support/rfc6238.js';
import { useTestServer, createUser, type TestServer } from '../helper.js';
import { assertError, assertInvalidData, assertRequestFailed, assertUnsupported, wrongCodes } from '../devices/otp-support.js';
import {
  CT, EMAIL_LOCK_MS, TOTP_LOCK_MS, act, assertFlowStatus, blockDevice, checkOtp, createPolicy, emailDevice, emailSummary, flowBody, flowRow,
  lockState, lockedUsable, newTenant, newUser, readFlow, selectDevice, startFlow, totpDevice, totpSummary, UNLOCKED, type Tenant,
} from './support.js';

let server: TestServer;
let t: Tenant;
let other: Tenant;
let prompt: string;

useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'selection');
  other = await newTenant(server, 'other tenant');
  prompt = await createPolicy(t, { authentication: { deviceSelection: 'PROMPT_TO_SELECT' } });
});

const NOT_FOUND = 'The request could not be completed. The requested resource was not found.';

async function twoEmails(userId: string): Promise<[string, string]> {
  const a = await emailDevice(t, userId, 'first@example.com');
  server.clock.advance(1_000); // activation time decides the order (reference §6.5)
  const b = await emailDevice(t, userId, 'second@example.com');
  return [a, b];
}

test('DEFAULT_TO_FIRST (the default policy): two active devices → the first in the user\'s order is selected, and the order decides', async () => {
  const user = await newUser(t);
  const [a, b] = await twoEmails(user.id);
  const started = server.clock.now();
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  const devices = [emailSummary(a, 'first@example.com'), emailSummary(b, 'second@example.com')];
  assert.deepEqual(res.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'OTP_REQUIRED', selectedDevice: a,
    once: { test: { otp: res.body.test.otp } }, devices, createdAt: started, updatedAt: started,
  }));

  // An explicit order puts the second device first (reference §3.1 devices.reorder).
  const reorder = await t.call('POST', t.devices(user.id), { contentType: CT.reorder, body: { order: [{ id: b }, { id: a }] } });
  assert.equal(reorder.status, 200, reorder.text);
  const again = await startFlow(t, user.id);
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body.selectedDevice, { id: b });
  assert.deepEqual(again.body._embedded.devices.map((d: { id: string }) => d.id), [b, a]);
});

test('PROMPT_TO_SELECT: DEVICE_SELECTION_REQUIRED with no device chosen; device.select starts that device\'s method', async () => {
  const user = await newUser(t);
  const [a, b] = await twoEmails(user.id);
  const started = server.clock.now();
  const res = await startFlow(t, user.id, { policy: { id: prompt } });
  assert.equal(res.status, 200, res.text);
  const devices = [emailSummary(a, 'first@example.com'), emailSummary(b, 'second@example.com')];
  assert.deepEqual(res.body, flowBody(t, { id: res.body.id, userId: user.id, policyId: prompt, status: 'DEVICE_SELECTION_REQUIRED', devices, createdAt: started, updatedAt: started }));
  const row = await flowRow(server, res.body.id);
  assert.equal(row.challenge_hash, null, 'nothing was issued before a device was chosen');

  // A proof before a device is chosen is refused and changes nothing.
  assertRequestFailed(await checkOtp(t, res.body.id, '123456'), { code: 'INVALID_VALUE', target: 'status', message: 'The device authentication is DEVICE_SELECTION_REQUIRED, not OTP_REQUIRED' });
  await assertFlowStatus(t, res.body.id, 'DEVICE_SELECTION_REQUIRED');

  server.clock.advance(2_000);
  const selected = await selectDevice(t, res.body.id, b);
  assert.equal(selected.status, 200, selected.text);
  const otp = selected.body.test.otp as string;
  assert.deepEqual(selected.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: prompt, status: 'OTP_REQUIRED', selectedDevice: b,
    once: { test: { otp } }, devices, createdAt: started, updatedAt: server.clock.now(),
  }));
  const done = await checkOtp(t, res.body.id, otp);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
  assert.deepEqual(done.body.selectedDevice, { id: b });
  assert.deepEqual(done.body.authenticators, ['email', 'mfa', 'user']);
});

test('PROMPT_TO_SELECT with one usable device takes it; ALWAYS_DISPLAY_DEVICES always asks', async () => {
  const user = await newUser(t);
  const a = await emailDevice(t, user.id, 'only@example.com');
  const one = await startFlow(t, user.id, { policy: { id: prompt } });
  assert.equal(one.status, 200, one.text);
  assert.equal(one.body.status, 'OTP_REQUIRED');
  assert.deepEqual(one.body.selectedDevice, { id: a });
  const always = await createPolicy(t, { authentication: { deviceSelection: 'ALWAYS_DISPLAY_DEVICES' } });
  const asked = await startFlow(t, user.id, { policy: { id: always } });
  assert.equal(asked.status, 200, asked.text);
  assert.equal(asked.body.status, 'DEVICE_SELECTION_REQUIRED');
  assert.equal(asked.body.selectedDevice, undefined);
});

test('switching devices inside a flow: the first device\'s code dies with its selection', async () => {
  const user = await newUser(t);
  const [a, b] = await twoEmails(user.id);
  const res = await startFlow(t, user.id);
  const codeA = res.body.test.otp as string;
  const switched = await selectDevice(t, res.body.id, b);
  assert.equal(switched.status, 200, switched.text);
  const codeB = switched.body.test.otp as string;
  if (codeA !== codeB) {
    assertError(await checkOtp(t, res.body.id, codeA), 400, 'INVALID_DATA', 'The request could not be completed. One or more validation errors were in the request.', [
      { code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' },
    ]);
  }
  const done = await checkOtp(t, res.body.id, codeB);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body.selectedDevice, { id: b });
  assert.deepEqual((await lockState(t, user.id, a)).failedAttempts, 0, 'the first device was not charged');
});

test('blocked devices: listed under _embedded.blockedDevices, skipped by default selection, and device.select on one → 400 device.id', async () => {
  const user = await newUser(t);
  const [a, b] = await twoEmails(user.id);
  const blocked = await blockDevice(t, user.id, a);
  const started = server.clock.now();
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  const expected = flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'OTP_REQUIRED', selectedDevice: b,
    once: { test: { otp: res.body.test.otp } },
    devices: [emailSummary(b, 'second@example.com')],
    blockedDevices: [emailSummary(a, 'first@example.com', { block: { status: 'BLOCKED', blockedAt: blocked.block.blockedAt } })],
    createdAt: started, updatedAt: started,
  });
  assert.deepEqual(res.body, expected);

  const rowBefore = await flowRow(server, res.body.id);
  server.clock.advance(1_000);
  assertInvalidData(await selectDevice(t, res.body.id, a), { code: 'INVALID_VALUE', target: 'device.id', message: 'The device is blocked' });
  // Nothing changed: the flow still waits for the unblocked device's code.
  assert.deepEqual(await flowRow(server, res.body.id), rowBefore);
  const { test: _once, ...shown } = expected;
  assert.deepEqual((await readFlow(t, res.body.id)).body, shown);
  const done = await checkOtp(t, res.body.id, res.body.test.otp);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body.selectedDevice, { id: b });
});

test('device.select refuses a device that is not the user\'s active device: unknown, another user\'s, pending → 400 device.id', async () => {
  const user = await newUser(t);
  const [a] = await twoEmails(user.id);
  const stranger = await newUser(t);
  const theirs = await emailDevice(t, stranger.id, 'theirs@example.com');
  const pending = await t.call('POST', t.devices(user.id), { body: { type: 'TOTP' } });
  assert.equal(pending.status, 201, pending.text);
  const res = await startFlow(t, user.id, { policy: { id: prompt } });
  assert.equal(res.body.status, 'DEVICE_SELECTION_REQUIRED');
  for (const id of ['00000000-0000-4000-8000-000000000000', theirs, pending.body.id as string]) {
    assertInvalidData(await selectDevice(t, res.body.id, id), { code: 'INVALID_VALUE', target: 'device.id', message: 'No active device with this ID belongs to the user' });
  }
  // A malformed body: INVALID_DATA on the field.
  const bad = await act(t, res.body.id, CT.select, { device: {} });
  assertInvalidData(bad, { code: 'REQUIRED_VALUE', target: 'device.id', message: 'device.id is required' });
  const row = await flowRow(server, res.body.id);
  assert.equal(row.status, 'DEVICE_SELECTION_REQUIRED');
  assert.equal(row.selected_device_id, null);
  assert.deepEqual(await lockState(t, user.id, a), { lock: UNLOCKED, failedAttempts: 0 });
});

test('a locked device cannot be selected until its lock ends (clock advanced past it); DEFAULT_TO_FIRST passes over it meanwhile', async () => {
  const user = await newUser(t);
  const totp = await totpDevice(t, user.id);
  server.clock.advance(1_000);
  const email = await emailDevice(t, user.id, 'fallback@example.com');

  // Three wrong TOTP codes in a flow lock the TOTP device for the policy's cool-down (2 min).
  const res = await startFlow(t, user.id, { policy: { id: prompt } });
  assert.equal(res.body.status, 'DEVICE_SELECTION_REQUIRED');
  const flowId = res.body.id as string;
  assert.equal((await selectDevice(t, flowId, totp.id)).status, 200);
  const now = server.clock.now();
  const near = [-1, 0, 1].map((k) => totpCode(totp.secret, now + k * 30_000));
  for (const wrong of wrongCodes(near, 3)) {
    assertError(await checkOtp(t, flowId, wrong), 400, 'INVALID_DATA', 'The request could not be completed. One or more validation errors were in the request.', [
      { code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' },
    ]);
  }
  const lock = { status: 'LOCKED', expiresAt: iso(now + TOTP_LOCK_MS) };
  assert.deepEqual(await lockState(t, user.id, totp.id), { lock, failedAttempts: 3 });

  // Selecting it again is refused while the lock lasts; the flow and the lock stay as they were.
  const rowBefore = await flowRow(server, flowId);
  assertInvalidData(await selectDevice(t, flowId, totp.id), {
    code: 'INVALID_VALUE', target: 'device.id', message: 'The device is locked after too many failed attempts', innerError: { lock },
  });
  assert.deepEqual(await flowRow(server, flowId), rowBefore);
  assert.deepEqual(await lockState(t, user.id, totp.id), { lock, failedAttempts: 3 });
  const shown = await readFlow(t, flowId);
  assert.deepEqual(shown.body._embedded.devices, [totpSummary(totp.id, { usableStatus: lockedUsable }), emailSummary(email, 'fallback@example.com')]);

  // Meanwhile a default flow takes the next usable device.
  const fallback = await startFlow(t, user.id);
  assert.equal(fallback.status, 200, fallback.text);
  assert.deepEqual(fallback.body.selectedDevice, { id: email });

  // One second before the lock ends: still refused. Past it: selectable, and the right code completes.
  server.clock.advance(TOTP_LOCK_MS - 1_000);
  assert.equal((await selectDevice(t, flowId, totp.id)).status, 400);
  server.clock.advance(1_001);
  const selected = await selectDevice(t, flowId, totp.id);
  assert.equal(selected.status, 200, selected.text);
  assert.equal(selected.body.status, 'OTP_REQUIRED');
  assert.deepEqual(selected.body._embedded.devices[0].usableStatus, { status: 'ENABLED' });
  const done = await checkOtp(t, flowId, totpCode(totp.secret, server.clock.now()));
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
  assert.deepEqual((await lockState(t, user.id, totp.id)).lock, UNLOCKED);
  // The lock is over: the next wrong code starts a new run of failures (1), it does not re-lock.
  const next = await startFlow(t, user.id);
  assert.deepEqual(next.body.selectedDevice, { id: totp.id });
  const later = server.clock.now();
  const [wrong] = wrongCodes([-1, 0, 1].map((k) => totpCode(totp.secret, later + k * 30_000)), 1);
  assert.equal((await checkOtp(t, next.body.id, wrong!)).status, 400);
  assert.deepEqual(await lockState(t, user.id, totp.id), { lock: UNLOCKED, failedAttempts: 1 });
});

test('a user whose only devices are all locked: the flow asks for a device instead of choosing a locked one', async () => {
  const user = await newUser(t);
  const d = await emailDevice(t, user.id, 'locked.only@example.com');
  const res = await startFlow(t, user.id);
  for (let i = 0; i < 3; i++) assert.equal((await checkOtp(t, res.body.id, i === 0 ? '000000' : '999999')).status, 400);
  const lock = { status: 'LOCKED', expiresAt: iso(server.clock.now() + EMAIL_LOCK_MS) };
  assert.deepEqual((await lockState(t, user.id, d)).lock, lock);
  const next = await startFlow(t, user.id);
  assert.equal(next.status, 200, next.text);
  assert.equal(next.body.status, 'DEVICE_SELECTION_REQUIRED');
  assert.deepEqual(next.body._embedded.devices, [emailSummary(d, 'locked.only@example.com', { usableStatus: lockedUsable })]);
});

test('a user with no usable device → 400 REQUEST_FAILED NO_USABLE_DEVICES on user.id, and no flow is stored', async () => {
  const none = await newUser(t);
  const onlyBlocked = await newUser(t);
  await blockDevice(t, onlyBlocked.id, await emailDevice(t, onlyBlocked.id, 'blocked.only@example.com'));
  const onlyPending = await newUser(t);
  assert.equal((await t.call('POST', t.devices(onlyPending.id), { body: { type: 'TOTP' } })).status, 201);
  for (const user of [none, onlyBlocked, onlyPending]) {
    assertRequestFailed(await startFlow(t, user.id), { code: 'NO_USABLE_DEVICES', target: 'user.id', message: 'The user has no active, unblocked device' });
    const stored = await server.store.db.selectFrom('device_authentications').select('id').where('user_id', '=', user.id).execute();
    assert.deepEqual(stored, []);
  }
});

test('unknown user, or another environment\'s user → 404 NOT_FOUND; an unknown or foreign policy → 400 policy.id', async () => {
  const foreign = await createUser(server, other.env, 'foreign.user');
  await emailDevice(other, foreign, 'foreign@example.com');
  for (const id of ['00000000-0000-4000-8000-000000000000', foreign]) {
    assertError(await startFlow(t, id), 404, 'NOT_FOUND', NOT_FOUND);
  }
  const user = await newUser(t);
  await emailDevice(t, user.id, 'policy@example.com');
  const foreignPolicy = await createPolicy(other, {});
  for (const id of ['00000000-0000-4000-8000-000000000000', foreignPolicy]) {
    assertInvalidData(await startFlow(t, user.id, { policy: { id } }), { code: 'INVALID_VALUE', target: 'policy.id', message: 'No device authentication policy with this ID exists in the environment' });
  }
  const stored = await server.store.db.selectFrom('device_authentications').select('id').where('user_id', 'in', [foreign, user.id]).execute();
  assert.deepEqual(stored, []);
});

test('another environment\'s token → 403 ACCESS_FAILED; no token → 401; the flow is untouched', async () => {
  const user = await newUser(t);
  await emailDevice(t, user.id, 'scoped@example.com');
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  const foreignToken = await other.token();
  const forbidden = await startFlow(t, user.id, {}, foreignToken);
  assert.equal(forbidden.status, 403, forbidden.text);
  assert.equal(forbidden.body.code, 'ACCESS_FAILED');
  for (const [method, o] of [['GET', {}], ['POST', { contentType: CT.otpCheck, body: { otp: res.body.test.otp } }], ['POST', { contentType: CT.cancel }]] as const) {
    const r = await t.call(method, t.flow(res.body.id), { ...o, token: foreignToken });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.code, 'ACCESS_FAILED');
    const anonymous = await t.call(method, t.flow(res.body.id), { ...o, token: null });
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.equal(anonymous.body.code, 'ACCESS_FAILED');
  }
  await assertFlowStatus(t, res.body.id, 'OTP_REQUIRED');
  const done = await checkOtp(t, res.body.id, res.body.test.otp);
  assert.equal(done.status, 200, done.text);
});

test('another environment\'s flow ID under one\'s own environment → 404 for GET and every action; the flow is untouched', async () => {
  const user = await newUser(t);
  const d = await emailDevice(t, user.id, 'isolated@example.com');
  const res = await startFlow(t, user.id);
  const id = res.body.id as string;
  const rowBefore = await flowRow(server, id);
  const actions: Array<[string, unknown]> = [
    [CT.select, { device: { id: d } }], [CT.otpCheck, { otp: res.body.test.otp }], [CT.assertionCheck, { origin: 'https://app.pingone.eu', assertion: 'a.b.c' }],
    [CT.cancel, undefined], [CT.cancelPush, { reason: 'CHANGE_DEVICE' }],
  ];
  assertError(await other.call('GET', other.flow(id)), 404, 'NOT_FOUND', NOT_FOUND);
  for (const [ct, body] of actions) {
    assertError(await act(other, id, ct, body), 404, 'NOT_FOUND', NOT_FOUND);
  }
  // An unknown ID, and an over-long one, are as unknown.
  assertError(await readFlow(t, '00000000-0000-4000-8000-000000000000'), 404, 'NOT_FOUND', NOT_FOUND);
  assertError(await readFlow(t, 'x'.repeat(200)), 404, 'NOT_FOUND', NOT_FOUND);
  assert.deepEqual(await flowRow(server, id), rowBefore);
  assert.deepEqual(await lockState(t, user.id, d), { lock: UNLOCKED, failedAttempts: 0 });
  assert.equal((await checkOtp(t, id, res.body.test.otp)).status, 200);
});

test('an action Content-Type the flow does not know → 415 INVALID_REQUEST, and the flow is untouched', async () => {
  const user = await newUser(t);
  await emailDevice(t, user.id, 'media@example.com');
  const res = await startFlow(t, user.id);
  const rowBefore = await flowRow(server, res.body.id);
  for (const ct of ['application/json', 'application/vnd.pingidentity.device.activate+json', 'text/plain']) {
    assertUnsupported(await act(t, res.body.id, ct, { otp: res.body.test.otp }), ct);
  }
  assert.deepEqual(await flowRow(server, res.body.id), rowBefore);
});
