/**
 * Attacks on OTP authentications (reference §3.5, §6.3; quality bar S1–S3): wrong, expired,
 * replayed and foreign codes, canceled and finished flows. EMAIL devices are testMode, so the
 * flow's code arrives as test.otp; TOTP codes come from the secret at the injected clock.
 * Every refusal names its target and leaves the flow waiting; wrong proofs count toward the
 * device's lock, refusals on the flow's state do not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { totpCode } from '../support/rfc6238.js';
import { useTestServer, type Response, type TestServer } from '../helper.js';
import { assertError, assertRequestFailed, MSG, wrongCodes } from '../devices/otp-support.js';
import {
  CT, EMAIL_LOCK_MS, EXPIRED_ERROR, FLOW_LIFETIME_MS, UNLOCKED, act, assertFlowStatus, blockDevice, checkOtp, createPolicy, emailDevice, emailSummary,
  flowBody, flowRow, lockState, newTenant, newUser, readFlow, selectDevice, startFlow, totpDevice, unlockDevice, type Tenant,
} from './support.js';

let server: TestServer;
let t: Tenant;

useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'otp threats');
});

const WRONG = { code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' };
const wrongOtp = (res: Response) => assertError(res, 400, 'INVALID_DATA', MSG.INVALID_DATA, [WRONG]);
const gone = (status: string) => ({ code: 'INVALID_VALUE', target: 'status', message: `The device authentication is ${status}; it takes no more actions` });

interface EmailFlow { userId: string; deviceId: string; flowId: string; otp: string; email: string }

async function emailFlow(extra: Record<string, unknown> = {}): Promise<EmailFlow> {
  const user = await newUser(t);
  const email = `${user.username}@example.com`;
  const deviceId = await emailDevice(t, user.id, email);
  const res = await startFlow(t, user.id, extra);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'OTP_REQUIRED');
  return { userId: user.id, deviceId, flowId: res.body.id, otp: res.body.test.otp, email };
}

async function waiting(f: { flowId: string; userId: string; deviceId: string }, rowBefore: Awaited<ReturnType<typeof flowRow>>, failures: number) {
  assert.deepEqual(await flowRow(server, f.flowId), rowBefore, 'the flow did not change');
  await assertFlowStatus(t, f.flowId, 'OTP_REQUIRED', f.deviceId);
  assert.equal((await lockState(t, f.userId, f.deviceId)).failedAttempts, failures, 'failed attempts');
}

test('a wrong OTP → 400 INVALID_DATA INVALID_OTP on otp, counted; the flow still waits and the right code completes it', async () => {
  const f = await emailFlow();
  const rowBefore = await flowRow(server, f.flowId);
  const [wrong] = wrongCodes(f.otp, 1);
  wrongOtp(await checkOtp(t, f.flowId, wrong!));
  await waiting(f, rowBefore, 1);
  assert.deepEqual((await lockState(t, f.userId, f.deviceId)).lock, UNLOCKED);
  const done = await checkOtp(t, f.flowId, f.otp);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(await lockState(t, f.userId, f.deviceId), { lock: UNLOCKED, failedAttempts: 0 }, 'a success ends the run of failures');
});

test('brute force: 3 wrong OTPs lock the EMAIL device (the environment\'s 600 s, as its cool-down is 0); the right code then → 400 selectedDevice', async () => {
  const f = await emailFlow();
  const rowBefore = await flowRow(server, f.flowId);
  const now = server.clock.now();
  const lock = { status: 'LOCKED', expiresAt: iso(now + EMAIL_LOCK_MS) };
  for (const [i, wrong] of wrongCodes(f.otp, 3).entries()) {
    wrongOtp(await checkOtp(t, f.flowId, wrong));
    assert.deepEqual(await lockState(t, f.userId, f.deviceId), { lock: i < 2 ? UNLOCKED : lock, failedAttempts: i + 1 });
  }
  const refusal = [{ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is locked after too many failed attempts', innerError: { lock } }];
  assertError(await checkOtp(t, f.flowId, f.otp), 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, refusal);
  assertError(await checkOtp(t, f.flowId, wrongCodes(f.otp, 4)[3]!), 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, refusal);
  await waiting(f, rowBefore, 3);
  assert.deepEqual((await lockState(t, f.userId, f.deviceId)).lock, lock);
  // The lock outlasts the flow: when the flow has expired, the code is of no use either.
  server.clock.advance(FLOW_LIFETIME_MS + 1_000);
  assertRequestFailed(await checkOtp(t, f.flowId, f.otp), gone('FAILED'));
  assert.deepEqual(await lockState(t, f.userId, f.deviceId), { lock, failedAttempts: 3 });
});

test('an expired OTP (the policy\'s lifeTime, here 1 min, + 1 s) → 400 INVALID_OTP, counted; selecting again sends a new code', async () => {
  const shortLived = await createPolicy(t, { email: { enabled: true, otp: { lifeTime: { duration: 1, timeUnit: 'MINUTES' } } } });
  const f = await emailFlow({ policy: { id: shortLived } });
  const rowBefore = await flowRow(server, f.flowId);
  server.clock.advance(59_000);
  // 1 s before the end it is still good — checked on a twin flow so this one stays open.
  const twin = await emailFlow({ policy: { id: shortLived } });
  server.clock.advance(2_000);
  assertError(await checkOtp(t, f.flowId, f.otp), 400, 'INVALID_DATA', MSG.INVALID_DATA, [
    { code: 'INVALID_OTP', target: 'otp', message: 'The passcode has expired; select the device again for a new one' },
  ]);
  await waiting(f, rowBefore, 1);
  assert.equal((await checkOtp(t, twin.flowId, twin.otp)).status, 200, 'the twin\'s code, 2 s old, is good');

  const again = await selectDevice(t, f.flowId, f.deviceId);
  assert.equal(again.status, 200, again.text);
  const fresh = again.body.test.otp as string;
  if (fresh !== f.otp) wrongOtp(await checkOtp(t, f.flowId, f.otp));
  const done = await checkOtp(t, f.flowId, fresh);
  assert.equal(done.status, 200, done.text);
});

test('an OTP outlived by its flow (default: code 10 min, flow 5 min): at 5 min + 1 s the flow is FAILED/EXPIRED and otp.check → 400 status, uncounted', async () => {
  const f = await emailFlow();
  const started = server.clock.now();
  server.clock.advance(FLOW_LIFETIME_MS + 1_000);
  const read = await readFlow(t, f.flowId);
  assert.deepEqual(read.body, flowBody(t, {
    id: f.flowId, userId: f.userId, policyId: t.defaultPolicyId, status: 'FAILED', selectedDevice: f.deviceId, error: EXPIRED_ERROR,
    devices: [emailSummary(f.deviceId, f.email)], createdAt: started, updatedAt: started,
  }));
  assertRequestFailed(await checkOtp(t, f.flowId, f.otp), gone('FAILED'));
  assertRequestFailed(await checkOtp(t, f.flowId, wrongCodes(f.otp, 1)[0]!), gone('FAILED'));
  assert.deepEqual((await readFlow(t, f.flowId)).body, read.body);
  assert.deepEqual(await lockState(t, f.userId, f.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
});

test('cancel: the flow ends FAILED with error CANCELED, then otp.check with the right code → 400 status, uncounted; a second cancel → 400', async () => {
  const f = await emailFlow();
  const canceled = await act(t, f.flowId, CT.cancel);
  assert.equal(canceled.status, 200, canceled.text);
  assert.equal(canceled.body.status, 'FAILED');
  assert.deepEqual(canceled.body.error, { code: 'CANCELED', message: 'The device authentication was canceled (CANCELED)' });
  const rowAfter = await flowRow(server, f.flowId);
  assert.equal(rowAfter.challenge_hash, null, 'the code died with the flow');
  assertRequestFailed(await checkOtp(t, f.flowId, f.otp), gone('FAILED'));
  assertRequestFailed(await act(t, f.flowId, CT.cancel), gone('FAILED'));
  assertRequestFailed(await selectDevice(t, f.flowId, f.deviceId), gone('FAILED'));
  assert.deepEqual(await flowRow(server, f.flowId), rowAfter);
  assert.deepEqual(await lockState(t, f.userId, f.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
  // A completed flow cannot be canceled either.
  const g = await emailFlow();
  assert.equal((await checkOtp(t, g.flowId, g.otp)).status, 200);
  assertRequestFailed(await act(t, g.flowId, CT.cancelPush, { reason: 'CHANGE_DEVICE' }), gone('COMPLETED'));
  assert.equal((await readFlow(t, g.flowId)).body.status, 'COMPLETED');
});

test('replay: a code that completed its flow → 400 status on that flow; a code of one flow is wrong in another flow of the same device', async () => {
  const f = await emailFlow();
  const second = await startFlow(t, f.userId);
  assert.equal(second.status, 200, second.text);
  const rowSecond = await flowRow(server, second.body.id);
  assert.equal((await checkOtp(t, f.flowId, f.otp)).status, 200);
  assertRequestFailed(await checkOtp(t, f.flowId, f.otp), gone('COMPLETED'));
  // Codes are bound to their flow: the first flow's code is a wrong guess in the second.
  if (f.otp !== second.body.test.otp) {
    wrongOtp(await checkOtp(t, second.body.id, f.otp));
    await waiting({ ...f, flowId: second.body.id }, rowSecond, 1);
  }
  assert.equal((await checkOtp(t, second.body.id, second.body.test.otp)).status, 200);
});

test('TOTP replay: a code that completed one flow → 400 INVALID_OTP (already used) in the next, not counted; a wrong code is counted', async () => {
  const user = await newUser(t);
  const d = await totpDevice(t, user.id);
  const first = await startFlow(t, user.id);
  const code = totpCode(d.secret, server.clock.now());
  assert.equal((await checkOtp(t, first.body.id, code)).status, 200);
  const next = await startFlow(t, user.id);
  const rowBefore = await flowRow(server, next.body.id);
  const f = { flowId: next.body.id as string, userId: user.id, deviceId: d.id };
  const used = [{ code: 'INVALID_OTP', target: 'otp', message: 'The passcode has already been used; wait for the next one' }];
  assertError(await checkOtp(t, f.flowId, code), 400, 'INVALID_DATA', MSG.INVALID_DATA, used);
  await waiting(f, rowBefore, 0);
  // Still refused 29 s later, within the same step's window (±1 step).
  server.clock.advance(29_000);
  assertError(await checkOtp(t, f.flowId, code), 400, 'INVALID_DATA', MSG.INVALID_DATA, used);
  await waiting(f, rowBefore, 0);
  const near = [-1, 0, 1].map((k) => totpCode(d.secret, server.clock.now() + k * 30_000));
  wrongOtp(await checkOtp(t, f.flowId, wrongCodes(near, 1)[0]!));
  await waiting(f, rowBefore, 1);
  server.clock.advance(30_000);
  const done = await checkOtp(t, f.flowId, totpCode(d.secret, server.clock.now()));
  assert.equal(done.status, 200, done.text);
});

test('malformed otp.check bodies → 400 INVALID_DATA on otp (or the body), each counted like a wrong code', async () => {
  const f = await emailFlow();
  const rowBefore = await flowRow(server, f.flowId);
  const cases: Array<[unknown, { code: string; target: string }]> = [
    [{ otp: 'abcdef' }, { code: 'INVALID_VALUE', target: 'otp' }],
    [{ otp: '123' }, { code: 'INVALID_VALUE', target: 'otp' }],
    [{ otp: 123456 }, { code: 'INVALID_VALUE', target: 'otp' }],
    [{}, { code: 'REQUIRED_VALUE', target: 'otp' }],
    [{ otp: f.otp, extra: true }, { code: 'INVALID_VALUE', target: 'extra' }],
  ];
  for (const [body, detail] of cases) {
    const res = await act(t, f.flowId, CT.otpCheck, body);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'INVALID_DATA', res.text);
    assert.equal(res.body.details[0].code, detail.code, res.text);
    assert.equal(res.body.details[0].target, detail.target, res.text);
    await waiting(f, rowBefore, 1);
    await unlockDevice(t, f.userId, f.deviceId);
  }
  const invalidJson = await t.call('POST', t.flow(f.flowId), { contentType: CT.otpCheck, raw: '{"otp":' });
  assert.equal(invalidJson.status, 400, invalidJson.text);
  assert.equal(invalidJson.body.code, 'INVALID_REQUEST');
  assert.equal((await checkOtp(t, f.flowId, f.otp)).status, 200);
});

test('a proof of the wrong kind, or for a blocked device: assertion.check on an OTP flow → 400 status; a blocked device → 400 selectedDevice; neither counted', async () => {
  const f = await emailFlow();
  const rowBefore = await flowRow(server, f.flowId);
  assertRequestFailed(await act(t, f.flowId, CT.assertionCheck, { origin: 'https://app.pingone.eu', assertion: 'a.b.c' }), {
    code: 'INVALID_VALUE', target: 'status', message: 'The device authentication is OTP_REQUIRED, not ASSERTION_REQUIRED',
  });
  await waiting(f, rowBefore, 0);
  await blockDevice(t, f.userId, f.deviceId);
  assertRequestFailed(await checkOtp(t, f.flowId, f.otp), { code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is blocked' });
  await waiting(f, rowBefore, 0);
  // Deleting the device: the flow's proof is refused on selectedDevice too.
  const del = await t.call('DELETE', t.device(f.userId, f.deviceId));
  assert.equal(del.status, 204, del.text);
  assertRequestFailed(await checkOtp(t, f.flowId, f.otp), { code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is no longer active' });
  assert.equal((await readFlow(t, f.flowId)).body.status, 'OTP_REQUIRED');
});

test('select with the device already selected issues a new code; the old one dies (no two live codes per flow)', async () => {
  const f = await emailFlow();
  const again = await selectDevice(t, f.flowId, f.deviceId);
  assert.equal(again.status, 200, again.text);
  const fresh = again.body.test.otp as string;
  if (fresh !== f.otp) {
    wrongOtp(await checkOtp(t, f.flowId, f.otp));
  }
  assert.equal((await checkOtp(t, f.flowId, fresh)).status, 200);
});
