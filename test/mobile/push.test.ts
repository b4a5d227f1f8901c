/**
 * Push, offline OTP and logs (protocol §2–§4; wave-2 reference §3.3–§3.4), both dialects: the
 * happy paths asserted whole, each threat named and answered 4xx with nothing changed, and 20
 * concurrent answers to one push completing the flow exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { DEVICE_AUTH_SCHEME } from '../../src/protocol/mobile.js';
import { MobileAuthenticator } from '../../src/testing/mobile-authenticator.js';
import { totpCode } from '../support/rfc6238.js';
import { APP_ENTRY, CT, answerRaw, flowAction, mobileTenant, pairedUser, pushFor, readFlow, setEntry, startFlow, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'mobile push'); });

const matching = (on: boolean, extra: Record<string, unknown> = {}) => setEntry(t, APP_ENTRY(t.appId, { push: { enabled: true, numberMatching: { enabled: on } }, ...extra }));
const outboxPushes = async (deviceId: string) => (await server.request('GET', `/v1/environments/${t.env}/outbox?channel=PUSH&deviceId=${deviceId}`)).body;

test('push approved without number matching: PUSH_CONFIRMATION_REQUIRED, the push on the channel and in the outbox (no challenge), COMPLETED with authenticators mobile', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'approve');
  const flow = await startFlow(t, userId);
  assert.equal(flow.status, 200, flow.text);
  assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED');
  assert.deepEqual(flow.body.selectedDevice, { id: deviceId });
  assert.equal(flow.body.numberMatching, undefined);
  assert.deepEqual(Object.keys(flow.body._links), ['self', 'device.select']);
  const push = await pushFor(t, deviceId, flow.body.id);
  assert.equal(push.numberChoices, undefined);
  assert.deepEqual(push.application, { id: t.appId });
  assert.equal(Date.parse(push.expiresAt) - server.clock.now(), 40_000);
  const outbox = await outboxPushes(deviceId);
  assert.equal(JSON.stringify(outbox).includes(push.challenge), false);
  assert.equal(outbox._embedded.messages.length, 1);
  assert.equal(outbox._embedded.messages[0].channel, 'PUSH');
  assert.deepEqual(await t.phone.approve(push.id), { id: push.id, status: 'APPROVED' });
  const done = await readFlow(t, flow.body.id);
  assert.equal(done.body.status, 'COMPLETED');
  assert.deepEqual(done.body.authenticators, ['mobile', 'mfa', 'user']);
  assert.equal((await t.phone.poll(deviceId, 0)).pushes.length, 0);
});

test('push with number matching: the flow shows the number, the device gets it among three choices, the right number completes', async () => {
  await matching(true);
  const { userId, deviceId } = await pairedUser(t, 'number');
  const flow = await startFlow(t, userId);
  const number = flow.body.numberMatching?.number as string;
  assert.match(number, /^[1-9][0-9]$/);
  assert.deepEqual((await readFlow(t, flow.body.id)).body.numberMatching, { number });
  const push = await pushFor(t, deviceId, flow.body.id);
  assert.equal(push.numberChoices?.length, 3);
  assert.ok(push.numberChoices?.includes(number));
  await t.phone.approve(push.id, number);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'COMPLETED');
});

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

test('push denied: FAILED with PUSH_REJECTED', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'deny');
  const flow = await startFlow(t, userId);
  const push = await pushFor(t, deviceId, flow.body.id);
  assert.deepEqual(await t.phone.deny(push.id), { id: push.id, status: 'DENIED' });
  const done = await readFlow(t, flow.body.id);
  assert.equal(done.body.status, 'FAILED');
  assert.deepEqual(done.body.error, { code: 'PUSH_REJECTED', message: 'The user rejected the push' });
});

test('timeout by the injected clock: PUSH_CONFIRMATION_TIMED_OUT, the channel stops offering it, an answer after it is refused; pushLimit locks the device after its count', async () => {
  await matching(false, { pushTimeout: { duration: 40, timeUnit: 'SECONDS' }, pushLimit: { count: 2, timePeriod: { duration: 10, timeUnit: 'MINUTES' }, lockDuration: { duration: 5, timeUnit: 'MINUTES' } } });
  const { userId, deviceId } = await pairedUser(t, 'timeout');
  const flow = await startFlow(t, userId);
  const push = await pushFor(t, deviceId, flow.body.id);
  server.clock.advance(40_000);
  const late = await readFlow(t, flow.body.id);
  assert.equal(late.body.status, 'PUSH_CONFIRMATION_TIMED_OUT');
  assert.deepEqual(Object.keys(late.body._links), ['self', 'device.select']);
  assert.equal((await t.phone.poll(deviceId, 0)).pushes.length, 0);
  expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE')), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'status' }]);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'PUSH_CONFIRMATION_TIMED_OUT');
  const device = await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`);
  assert.equal(device.body.pushFails.length, 1);
  // A second push, denied: the limit of 2 locks the device.
  const again = await flowAction(t, flow.body.id, CT.select, { device: { id: deviceId } });
  assert.equal(again.body.status, 'PUSH_CONFIRMATION_REQUIRED');
  await t.phone.deny((await pushFor(t, deviceId, flow.body.id)).id);
  const locked = await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`);
  assert.equal(locked.body.lock.status, 'LOCKED');
  assert.equal(Date.parse(locked.body.lock.expiresAt), server.clock.now() + 5 * 60_000);
  assert.deepEqual(locked.body.pushFails, []);
  await matching(false);
});

test('cancel.push.authentication: DEVICE_SELECTION_REQUIRED, selectedDevice kept, the push withdrawn and its answer refused', async () => {
  await matching(false);
  const { userId, deviceId } = await pairedUser(t, 'cancel');
  const flow = await startFlow(t, userId);
  const push = await pushFor(t, deviceId, flow.body.id);
  const cancelled = await flowAction(t, flow.body.id, CT.cancelPush, { reason: 'CHANGE_DEVICE' });
  assert.equal(cancelled.status, 200, cancelled.text);
  assert.equal(cancelled.body.status, 'DEVICE_SELECTION_REQUIRED');
  assert.deepEqual(cancelled.body.selectedDevice, { id: deviceId });
  assert.deepEqual(Object.keys(cancelled.body._links), ['self', 'device.select']);
  assert.equal((await t.phone.poll(deviceId, 0)).pushes.length, 0);
  expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE')), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'status' }]);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'DEVICE_SELECTION_REQUIRED');
});

test('offline OTP: with push off the flow is OTP_REQUIRED and the app\'s code (RFC 6238 from the seed) completes it; with push on, otp.check is taken too and the push withdrawn; a replayed code is refused', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: false } }));
  const { userId, deviceId } = await pairedUser(t, 'offline');
  const flow = await startFlow(t, userId);
  assert.equal(flow.body.status, 'OTP_REQUIRED');
  const code = t.phone.otp(deviceId);
  assert.equal(code, totpCode(t.phone.device(deviceId).otpSeed, server.clock.now()));
  const done = await flowAction(t, flow.body.id, CT.otpCheck, { otp: code });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
  const replay = await startFlow(t, userId);
  expectError(await flowAction(t, replay.body.id, CT.otpCheck, { otp: code }), 400, 'INVALID_DATA', [{ code: 'INVALID_OTP', target: 'otp' }]);

  await matching(false);
  const withPush = await startFlow(t, userId);
  assert.equal(withPush.body.status, 'PUSH_CONFIRMATION_REQUIRED');
  server.clock.advance(30_000);
  const typed = await flowAction(t, withPush.body.id, CT.otpCheck, { otp: t.phone.otp(deviceId) });
  assert.equal(typed.body.status, 'COMPLETED', typed.text);
  assert.equal((await t.phone.poll(deviceId, 0)).pushes.length, 0);
});

test('threat: a burst of wrong offline codes with the right one last — no success, the device locked after the failure count, the right code refused as a wrong one', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: false } }));
  const { userId, deviceId } = await pairedUser(t, 'burst');
  const flow = await startFlow(t, userId);
  const right = t.phone.otp(deviceId);
  const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
  const answers = await Promise.all([...Array.from({ length: 30 }, () => flowAction(t, flow.body.id, CT.otpCheck, { otp: wrong })), flowAction(t, flow.body.id, CT.otpCheck, { otp: right })]);
  assert.equal(answers.filter((a) => a.status === 200).length, 0);
  assert.ok(answers.every((a) => a.status === 400));
  const device = await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`);
  assert.equal(device.body.lock.status, 'LOCKED');
  assert.notEqual((await readFlow(t, flow.body.id)).body.status, 'COMPLETED');
  await matching(false);
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

test('logs: PUT {status: PENDING} (MOBILE only), LOGS_REQUESTED on the channel, the device uploads, RECEIVED', async () => {
  const { userId, deviceId } = await pairedUser(t, 'logs');
  const url = `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}/logs`;
  const put = await server.request('PUT', url, { body: { status: 'PENDING' } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.status, 'PENDING');
  assert.equal(Date.parse(put.body.expiresAt) - server.clock.now(), 24 * 3_600_000);
  const channel = await t.phone.poll(deviceId, 0);
  assert.deepEqual(channel.requests, [{ type: 'LOGS_REQUESTED', expiresAt: put.body.expiresAt }]);
  assert.deepEqual(await t.phone.uploadLogs(deviceId, 'line 1\nline 2\n'), { status: 'RECEIVED' });
  const read = await server.request('GET', url);
  assert.equal(read.body.status, 'RECEIVED');
  assert.equal(read.body.size, 14);
  assert.deepEqual((await t.phone.poll(deviceId, 0)).requests, []);
  expectError(await server.request('PUT', url, { body: { status: 'RECEIVED' } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'status' }]);
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
