/**
 * A disabled user completes device authentications (issue 13): `enabled: false` must stop a
 * flow from starting and every flow started before the disable from going on — select,
 * otp.check, assertion.check — with 400 REQUEST_FAILED USER_DISABLED on `user.id`, changing
 * nothing (no flow made, the flow still waiting, no failure counted). Re-enabling the user lets
 * the waiting flow finish. The desktop device is paired through the real agent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestServer } from '../helper.js';
import { assertRequestFailed } from '../devices/otp-support.js';
import {
  agentAssertion, assertFlowStatus, checkAssertion, checkOtp, createPolicy, emailDevice, flowRow, lockState, newUser, pairDesktop, readFlow, selectDevice, startFlow, type RealAgent, type Tenant, useDesktopStack,
} from './support.js';

let server: TestServer;
let t: Tenant;
let agent: RealAgent;
useDesktopStack('disabled users', (stack) => ({ server, t, agent } = stack));

const DISABLED = { code: 'USER_DISABLED', target: 'user.id', message: 'The user is disabled (enabled: false) and cannot authenticate' };

async function setEnabled(userId: string, enabled: boolean): Promise<void> {
  const res = await t.call('PATCH', t.users(userId), { body: { enabled } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.enabled, enabled);
  assert.equal(res.body.account.canAuthenticate, enabled);
}

const flowCount = async (userId: string): Promise<number> =>
  (await server.store.db.selectFrom('device_authentications').select('id').where('user_id', '=', userId).execute()).length;

test('a disabled user starting a device authentication → 400 USER_DISABLED on user.id, and no flow is made', async () => {
  const user = await newUser(t);
  await emailDevice(t, user.id, `${user.username}@example.com`);
  await setEnabled(user.id, false);
  assertRequestFailed(await startFlow(t, user.id), DISABLED);
  assert.equal(await flowCount(user.id), 0);
  // Enabled again, the same request starts a flow.
  await setEnabled(user.id, true);
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'OTP_REQUIRED');
});

test('a user disabled after the flow started cannot select a device: 400 USER_DISABLED, the flow still waits for a selection', async () => {
  const user = await newUser(t);
  const first = await emailDevice(t, user.id, `${user.username}@example.com`);
  await emailDevice(t, user.id, `${user.username}.2@example.com`);
  const policy = await createPolicy(t, { authentication: { deviceSelection: 'ALWAYS_DISPLAY_DEVICES' } });
  const started = await startFlow(t, user.id, { policy: { id: policy } });
  assert.equal(started.status, 200, started.text);
  assert.equal(started.body.status, 'DEVICE_SELECTION_REQUIRED');
  const rowBefore = await flowRow(server, started.body.id);

  await setEnabled(user.id, false);
  assertRequestFailed(await selectDevice(t, started.body.id, first), DISABLED);
  assert.deepEqual(await flowRow(server, started.body.id), rowBefore, 'the flow did not change');
  assert.equal((await server.store.db.selectFrom('messages').select('id').where('user_id', '=', user.id).execute()).length, 0, 'no code was sent');

  await setEnabled(user.id, true);
  const selected = await selectDevice(t, started.body.id, first);
  assert.equal(selected.status, 200, selected.text);
  assert.equal(selected.body.status, 'OTP_REQUIRED');
});

test('a user disabled after the code was sent cannot complete otp.check with the right code: 400 USER_DISABLED, nothing counted', async () => {
  const user = await newUser(t);
  const deviceId = await emailDevice(t, user.id, `${user.username}@example.com`);
  const started = await startFlow(t, user.id);
  assert.equal(started.body.status, 'OTP_REQUIRED', started.text);
  const otp = started.body.test.otp as string;
  const rowBefore = await flowRow(server, started.body.id);

  await setEnabled(user.id, false);
  for (let i = 0; i < 5; i++) assertRequestFailed(await checkOtp(t, started.body.id, otp), DISABLED);
  assert.deepEqual(await flowRow(server, started.body.id), rowBefore, 'the flow did not change');
  assert.equal((await lockState(t, user.id, deviceId)).failedAttempts, 0, 'a refused user is not a failed proof');
  await assertFlowStatus(t, started.body.id, 'OTP_REQUIRED', deviceId);

  await setEnabled(user.id, true);
  const done = await checkOtp(t, started.body.id, otp);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
});

test('a user disabled after the request options were issued cannot complete assertion.check with the agent\'s assertion: 400 USER_DISABLED', async () => {
  const user = await newUser(t);
  const paired = await pairDesktop(t, agent, user.id);
  const started = await startFlow(t, user.id);
  assert.equal(started.body.status, 'ASSERTION_REQUIRED', started.text);
  const assertion = await agentAssertion(agent, started.body.pingIdDesktopCredentialRequestOptions as string);
  const rowBefore = await flowRow(server, started.body.id);

  await setEnabled(user.id, false);
  assertRequestFailed(await checkAssertion(t, started.body.id, assertion), DISABLED);
  assert.deepEqual(await flowRow(server, started.body.id), rowBefore, 'the flow did not change (its challenge is still unused)');
  assert.equal((await lockState(t, user.id, paired.deviceId)).failedAttempts, 0);
  // Reading the flow is still allowed; it still waits.
  assert.equal((await readFlow(t, started.body.id)).body.status, 'ASSERTION_REQUIRED');

  await setEnabled(user.id, true);
  const done = await checkAssertion(t, started.body.id, assertion);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
});
