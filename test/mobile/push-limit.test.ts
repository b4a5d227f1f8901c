/**
 * `pushFails` and `pushLimit` (wave-2 reference §3.3, §3.5; protocol §2 step 4), both dialects,
 * time moved by the injected clock only. Threat: push bombing — an attacker who knows the
 * password starts flow after flow hoping the user approves one by mistake. A denied, timed-out
 * or wrong-number push is a failure; `pushLimit.count` failures within `pushLimit.timePeriod`
 * lock the device for `pushLimit.lockDuration`, during which no push is sent; an approval ends
 * the run; failures older than the period no longer count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { APP_ENTRY, CT, answerRaw, flowAction, mobileTenant, pairedUser, pushFor, readFlow, setEntry, startFlow, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'mobile push limit'); });

const MIN = 60_000;
const limit = (count: number, periodMin: number, lockMin: number, numberMatching = false) => setEntry(t, APP_ENTRY(t.appId, {
  push: { enabled: true, numberMatching: { enabled: numberMatching } },
  pushLimit: { count, timePeriod: { duration: periodMin, timeUnit: 'MINUTES' }, lockDuration: { duration: lockMin, timeUnit: 'MINUTES' } },
}));
const deviceOf = async (userId: string, deviceId: string) => (await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`)).body;
const pushes = async (deviceId: string) => (await server.request('GET', `/v1/environments/${t.env}/outbox?channel=PUSH&deviceId=${deviceId}`)).body.count as number;

/** Starts a flow and answers its push with `how`; the flow's ID. */
async function failOnce(userId: string, deviceId: string, how: 'deny' | 'timeout' | 'wrong number'): Promise<string> {
  const flow = await startFlow(t, userId);
  assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED', flow.text);
  const push = await pushFor(t, deviceId, flow.body.id);
  if (how === 'deny') await t.phone.deny(push.id);
  else if (how === 'timeout') {
    server.clock.advance(40_000);
    assert.equal((await readFlow(t, flow.body.id)).body.status, 'PUSH_CONFIRMATION_TIMED_OUT');
  } else {
    const wrong = push.numberChoices!.find((n) => n !== flow.body.numberMatching.number)!;
    expectError(await answerRaw(t, push.id, t.phone.answerJwt(push.id, 'APPROVE', wrong)), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'number' }]);
  }
  return flow.body.id as string;
}

test('threat: push bombing — a denial, a timeout and a wrong number reach pushLimit.count 3: the device is LOCKED for lockDuration, pushFails emptied, no push sent while locked; after the lock a push goes out again', async () => {
  await limit(3, 10, 5, true);
  const { userId, deviceId } = await pairedUser(t, 'bombed');
  const t0 = server.clock.now();
  await failOnce(userId, deviceId, 'deny');
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, [t0]);
  await failOnce(userId, deviceId, 'timeout');
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, [t0, t0 + 40_000]);
  assert.deepEqual((await deviceOf(userId, deviceId)).lock, { status: 'UNLOCKED' });
  await failOnce(userId, deviceId, 'wrong number');
  const lockedAt = server.clock.now();
  const locked = await deviceOf(userId, deviceId);
  assert.deepEqual(locked.lock, { status: 'LOCKED', expiresAt: iso(lockedAt + 5 * MIN) });
  assert.deepEqual(locked.pushFails, []);

  // While locked: a new flow waits for a device choice, shows the device DISABLED (LOCKED) and sends no push; choosing it is refused.
  const sent = await pushes(deviceId);
  const blocked = await startFlow(t, userId);
  assert.equal(blocked.status, 200, blocked.text);
  assert.equal(blocked.body.status, 'DEVICE_SELECTION_REQUIRED');
  assert.deepEqual(blocked.body._embedded.devices.map((d: { usableStatus: unknown }) => d.usableStatus), [{ status: 'DISABLED', reason: 'LOCKED' }]);
  const choose = () => flowAction(t, blocked.body.id, CT.select, { device: { id: deviceId } });
  expectError(await choose(), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'device.id', message: /locked/ }]);
  assert.equal(await pushes(deviceId), sent);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });

  server.clock.advance(5 * MIN - 1);
  expectError(await choose(), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'device.id' }]);
  server.clock.advance(1);
  assert.deepEqual((await deviceOf(userId, deviceId)).lock, { status: 'UNLOCKED' });
  const after = await startFlow(t, userId);
  assert.equal(after.body.status, 'PUSH_CONFIRMATION_REQUIRED', after.text);
  const push = await pushFor(t, deviceId, after.body.id);
  await t.phone.approve(push.id, after.body.numberMatching.number);
  assert.equal((await readFlow(t, after.body.id)).body.status, 'COMPLETED');
});

test('pushLimit.timePeriod: failures older than the period no longer count — two denials 10 minutes and 1 ms apart with count 2 lock nothing', async () => {
  await limit(2, 10, 30);
  const { userId, deviceId } = await pairedUser(t, 'spread');
  const t0 = server.clock.now();
  await failOnce(userId, deviceId, 'deny');
  server.clock.advance(10 * MIN + 1);
  await failOnce(userId, deviceId, 'deny');
  const device = await deviceOf(userId, deviceId);
  assert.deepEqual(device.lock, { status: 'UNLOCKED' });
  assert.deepEqual(device.pushFails, [t0 + 10 * MIN + 1]);
  // A third within the period locks (count 2).
  await failOnce(userId, deviceId, 'deny');
  assert.deepEqual((await deviceOf(userId, deviceId)).lock, { status: 'LOCKED', expiresAt: iso(server.clock.now() + 30 * MIN) });
});

test('an approved push ends the run: pushFails emptied, the count starts again', async () => {
  await limit(2, 10, 30);
  const { userId, deviceId } = await pairedUser(t, 'approved between');
  await failOnce(userId, deviceId, 'deny');
  assert.equal((await deviceOf(userId, deviceId)).pushFails.length, 1);
  const ok = await startFlow(t, userId);
  await t.phone.approve((await pushFor(t, deviceId, ok.body.id)).id);
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, []);
  await failOnce(userId, deviceId, 'deny');
  const device = await deviceOf(userId, deviceId);
  assert.deepEqual(device.lock, { status: 'UNLOCKED' });
  assert.deepEqual(device.pushFails, [server.clock.now()]);
});

test('defaults without pushLimit: count 5 in 10 minutes, locked 30 minutes', async () => {
  await setEntry(t, APP_ENTRY(t.appId));
  const { userId, deviceId } = await pairedUser(t, 'defaults');
  for (let i = 0; i < 4; i++) await failOnce(userId, deviceId, 'deny');
  assert.equal((await deviceOf(userId, deviceId)).pushFails.length, 4);
  assert.deepEqual((await deviceOf(userId, deviceId)).lock, { status: 'UNLOCKED' });
  await failOnce(userId, deviceId, 'deny');
  assert.deepEqual((await deviceOf(userId, deviceId)).lock, { status: 'LOCKED', expiresAt: iso(server.clock.now() + 30 * MIN) });
});
