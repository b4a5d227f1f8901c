/**
 * Push, offline OTP and logs (protocol §2–§4; wave-2 reference §3.3–§3.4), both dialects: each
 * threat named and answered 4xx with the state after it checked, the channel's long poll, and
 * 20 concurrent answers to one push completing the flow exactly once. The happy paths,
 * asserted whole, are in happy-paths.test.ts; pushFails and pushLimit in push-limit.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { DEVICE_AUTH_SCHEME } from '../../src/protocol/mobile.js';
import { MobileAuthenticator } from '../../src/testing/mobile-authenticator.js';
import { totpCode } from '../support/rfc6238.js';
import { wrongCodes } from '../devices/otp-support.js';
import { APP_ENTRY, CT, answerRaw, flowAction, mobileTenant, pairedUser, pushFor, readFlow, setEntry, startFlow, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'mobile push'); });

const matching = (on: boolean, extra: Record<string, unknown> = {}) => setEntry(t, APP_ENTRY(t.appId, { push: { enabled: true, numberMatching: { enabled: on } }, ...extra }));

test('threat: a push answered with the wrong number — refused, and the flow fails (PUSH_NUMBER_MISMATCH) as the protocol says; pushFails records it', async () => {
  await matching(true);
  const { userId, deviceId } = await pairedUser(t, 'wrong number');
  const flow = await startFlow(t, userId);
  const number = flow.body.numberMatching.number as string;
  const push = await pushFor(t, deviceId, flow.body.id);
  const wrong = push.numberChoices!.find((n) => n !== number)!;
  expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE', wrong)), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'number' }]);
  const failed = await readFlow(t, flow.body.id);
  assert.equal(failed.body.status, 'FAILED');
  assert.equal(failed.body.error.code, 'PUSH_NUMBER_MISMATCH');
  const device = await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`);
  assert.deepEqual(device.body.pushFails, [server.clock.now()]);
  // The right number afterwards changes nothing.
  expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE', number)), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'status' }]);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'FAILED');
});

test('threat: a push answer signed by another device\'s key, replayed, or for another flow — refused, the flow still waits', async () => {
  await matching(false);
  const a = await pairedUser(t, 'signer a');
  const b = await pairedUser(t, 'signer b');
  const flowA = await startFlow(t, a.userId);
  const flowB = await startFlow(t, b.userId);
  const pushA = await pushFor(t, a.deviceId, flowA.body.id);
  const pushB = await pushFor(t, b.deviceId, flowB.body.id);
  expectError(await answerRaw(t, pushA.id, t.phone.answerJwt(pushA.id, 'APPROVE', undefined, { signWith: b.deviceId })), 400, 'INVALID_DATA', [{ code: 'INVALID_SIGNATURE', target: 'answer' }]);
  // Push B's answer sent to push A (another flow): its subject names B.
  expectError(await answerRaw(t, pushA.id, t.phone.answerJwt(pushB.id, 'APPROVE')), 400, 'INVALID_DATA', [{ code: 'INVALID_SIGNATURE', target: 'answer' }]);
  expectError(await answerRaw(t, pushA.id, t.phone.answerJwt(pushA.id, 'APPROVE', undefined, { challenge: pushB.challenge })), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'challenge' }]);
  assert.equal((await readFlow(t, flowA.body.id)).body.status, 'PUSH_CONFIRMATION_REQUIRED');
  // Nothing changed: no failure counted, the push still offered to its device.
  assert.deepEqual((await deviceOf(a.userId, a.deviceId)).pushFails, []);
  assert.deepEqual((await t.phone.poll(a.deviceId, 0)).pushes.map((p) => p.id), [pushA.id]);
  const jwt = t.phone.answerJwt(pushA.id, 'DENY');
  const first = await answerRaw(t, pushA.id, jwt);
  assert.equal(first.status, 200);
  expectError(await answerRaw(t, pushA.id, jwt), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'answer' }]);
  expectError(await answerRaw(t, pushA.id, t.phone.answerJwt(pushA.id, 'APPROVE')), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'status' }]);
  assert.equal((await readFlow(t, flowA.body.id)).body.status, 'FAILED');
  assert.equal((await readFlow(t, flowB.body.id)).body.status, 'PUSH_CONFIRMATION_REQUIRED');
});

test('threat: a forged device request on the push channel — another key, another device\'s subject, a replay, none — 401, no push handed out', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'forged');
  const other = MobileAuthenticator.newKey();
  await startFlow(t, userId);
  const channel = `/${t.env}/mobile/devices/${deviceId}/pushes?wait=0`;
  const get = (authorization?: string) => server.request('GET', channel, { token: null, ...(authorization ? { headers: { authorization } } : {}) });
  expectError(await get(`${DEVICE_AUTH_SCHEME} ${t.phone.requestJwt(deviceId, { signWith: other.privateJwk })}`), 401, 'ACCESS_FAILED', [{ code: 'INVALID_TOKEN' }]);
  expectError(await get(`${DEVICE_AUTH_SCHEME} ${t.phone.requestJwt(deviceId, { sub: '00000000-0000-4000-8000-000000000000' })}`), 401, 'ACCESS_FAILED', [{ code: 'INVALID_TOKEN' }]);
  expectError(await get(), 401, 'ACCESS_FAILED', [{ code: 'INVALID_TOKEN' }]);
  const once = `${DEVICE_AUTH_SCHEME} ${t.phone.requestJwt(deviceId)}`;
  const ok = await get(once);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.pushes.length, 1);
  expectError(await get(once), 401, 'ACCESS_FAILED', [{ code: 'INVALID_TOKEN' }]);
});

test('the channel holds until a push arrives (long poll), woken by the commit that writes it', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'long poll');
  const waiting = server.ctx.notifier.arrivals.next('waiting');
  const held = t.phone.poll(deviceId, 25);
  await waiting;
  const flow = await startFlow(t, userId);
  const got = await held;
  assert.equal(got.pushes.length, 1);
  assert.equal(got.pushes[0]!.flowId, flow.body.id);
});

test('race: 20 concurrent answers to one push give exactly one COMPLETED', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'race');
  const flow = await startFlow(t, userId);
  const push = await pushFor(t, deviceId, flow.body.id);
  const answers = await Promise.all(Array.from({ length: 20 }, () => answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE'))));
  assert.equal(answers.filter((a) => a.status === 200).length, 1);
  assert.ok(answers.every((a) => a.status === 200 || a.status === 400));
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'COMPLETED');
});

const deviceOf = async (userId: string, deviceId: string) => (await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`)).body;

test('threat: a push answered after its timeout (an approval the user gave too late, or one held back and replayed) — refused, the flow stays PUSH_CONFIRMATION_TIMED_OUT, the push counted once in pushFails', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'late answer');
  const flow = await startFlow(t, userId);
  const push = await pushFor(t, deviceId, flow.body.id);
  const early = t.phone.answerJwt(push.id, 'APPROVE');
  server.clock.advance(40_000);
  // Signed before the timeout, sent after it; then a fresh one.
  expectError(await answerRaw(t, push.id, early), 400, 'INVALID_DATA', [{ code: 'EXPIRED', target: 'answer' }]);
  expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE')), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'status' }]);
  const after = await readFlow(t, flow.body.id);
  assert.equal(after.body.status, 'PUSH_CONFIRMATION_TIMED_OUT');
  assert.equal(after.body.authenticators, undefined);
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, [server.clock.now()]);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
});

test('threat: a replayed offline code — the code that completed one flow is refused in the next (no step at or before the last accepted one), nothing completes', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: false } }));
  const { userId, deviceId } = await pairedUser(t, 'offline replay');
  const code = t.phone.otp(deviceId);
  const first = await startFlow(t, userId);
  assert.equal((await flowAction(t, first.body.id, CT.otpCheck, { otp: code })).body.status, 'COMPLETED');
  const replay = await startFlow(t, userId);
  expectError(await flowAction(t, replay.body.id, CT.otpCheck, { otp: code }), 400, 'INVALID_DATA', [{ code: 'INVALID_OTP', target: 'otp', message: /already been used/ }]);
  assert.equal((await readFlow(t, replay.body.id)).body.status, 'OTP_REQUIRED');
  // A replay is not a guess: the device keeps its attempts.
  assert.deepEqual((await deviceOf(userId, deviceId)).lock, { status: 'UNLOCKED' });
  await matching(false);
});

test('an offline code while the push waits: otp.check completes the flow and withdraws the push, whose answer is then refused', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'typed instead');
  const flow = await startFlow(t, userId);
  assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED');
  const push = await pushFor(t, deviceId, flow.body.id);
  const typed = await flowAction(t, flow.body.id, CT.otpCheck, { otp: t.phone.otp(deviceId) });
  assert.equal(typed.status, 200, typed.text);
  assert.equal(typed.body.status, 'COMPLETED');
  assert.deepEqual(typed.body.authenticators, ['mobile', 'mfa', 'user']);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
  expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'DENY')), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'status' }]);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'COMPLETED');
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, []);
});

/** The policy's mobile.otp.failure (support.ts setEntry): 3 failures, 2 minutes' cool-down. */
const OFFLINE_FAILURES = 3;
const OFFLINE_COOL_DOWN_MS = 2 * 60_000;
const BURST = 60;

test(`threat: a burst of ${BURST} wrong offline codes in parallel with the right one last (quality bar S1) — at most ${OFFLINE_FAILURES} compared per lock window, none succeeds, the right one answered exactly as the locked wrong ones`, async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: false } }));
  const { userId, deviceId } = await pairedUser(t, 'burst');
  const flow = await startFlow(t, userId);
  const seed = t.phone.device(deviceId).otpSeed;
  const now = server.clock.now();
  const right = totpCode(seed, now);
  const wrong = wrongCodes([-1, 0, 1].map((k) => totpCode(seed, now + k * 30_000)), BURST);
  const answers = await Promise.all([...wrong, right].map((otp) => flowAction(t, flow.body.id, CT.otpCheck, { otp })));
  assert.equal(answers.filter((a) => a.status === 200).length, 0);
  // The oracle: a compared code answers INVALID_DATA on otp; a refused reservation answers the lock, having compared nothing.
  const compared = answers.filter((a) => a.status === 400 && a.body.code === 'INVALID_DATA' && a.body.details[0].target === 'otp');
  assert.equal(compared.length, OFFLINE_FAILURES);
  const locked = answers.filter((a) => !compared.includes(a));
  assert.equal(locked.length, BURST + 1 - OFFLINE_FAILURES);
  const lockBody = (r: typeof answers[number]) => {
    expectError(r, 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'selectedDevice' }]);
    const { id: _id, ...rest } = r.body;
    return rest;
  };
  const expectedLock = {
    code: 'REQUEST_FAILED', message: 'The request could not be completed. There was an issue processing the request.',
    details: [{ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is locked after too many failed attempts', innerError: { lock: { status: 'LOCKED', expiresAt: new Date(now + OFFLINE_COOL_DOWN_MS).toISOString() } } }],
  };
  for (const r of locked) assert.deepEqual(lockBody(r), expectedLock);
  assert.deepEqual(lockBody(answers.at(-1)!), expectedLock, 'the right code, sent last, is told nothing more');

  const device = await deviceOf(userId, deviceId);
  assert.deepEqual(device.lock, { status: 'LOCKED', expiresAt: new Date(now + OFFLINE_COOL_DOWN_MS).toISOString() });
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'OTP_REQUIRED');
  // Still locked a moment before the window ends: the right code is the lock's answer again.
  server.clock.advance(OFFLINE_COOL_DOWN_MS - 1);
  assert.deepEqual(lockBody(await flowAction(t, flow.body.id, CT.otpCheck, { otp: t.phone.otp(deviceId) })), expectedLock);
  // After the window the right code of the moment completes the flow.
  server.clock.advance(1);
  const done = await flowAction(t, flow.body.id, CT.otpCheck, { otp: t.phone.otp(deviceId) });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
  await matching(false);
});

test('refused log requests: a status other than PENDING, a device that is not MOBILE — 400, no request recorded', async () => {
  const { userId, deviceId } = await pairedUser(t, 'logs refused');
  const url = `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}/logs`;
  expectError(await server.request('PUT', url, { body: { status: 'RECEIVED' } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'status' }]);
  expectError(await server.request('GET', url), 404, 'NOT_FOUND');
  const email = await server.request('POST', `/v1/environments/${t.env}/users/${userId}/devices`, { body: { type: 'EMAIL', email: 'logs@example.com' } });
  const emailLogs = `/v1/environments/${t.env}/users/${userId}/devices/${email.body.id}/logs`;
  expectError(await server.request('PUT', emailLogs, { body: { status: 'PENDING' } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'type' }]);
  expectError(await server.request('GET', emailLogs), 404, 'NOT_FOUND');
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
});

test('threat: an offline code where the policy takes none — a push-only application (otp.enabled false) refuses otp.check even with the right code: 400, the flow still waits for the push, no attempt spent', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { otp: { enabled: false } }));
  const { userId, deviceId } = await pairedUser(t, 'push only');
  const flow = await startFlow(t, userId);
  assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED');
  const refused = await flowAction(t, flow.body.id, CT.otpCheck, { otp: t.phone.otp(deviceId) });
  expectError(refused, 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'otp', message: /otp\.enabled/ }]);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'PUSH_CONFIRMATION_REQUIRED');
  assert.equal((await pushFor(t, deviceId, flow.body.id)).flowId, flow.body.id);
  const stored = await server.store.db.selectFrom('devices').select(['failed_attempts', 'last_otp_step']).where('id', '=', deviceId).executeTakeFirstOrThrow();
  assert.deepEqual({ failed: Number(stored.failed_attempts), step: stored.last_otp_step }, { failed: 0, step: null });
  await matching(false);
});
