/**
 * Device authentications and the user's MFA flags (wave-2 reference §5, §7.1; the semantics of
 * the policy's two flags are ours, README decisions). The threats: a bypass that outlives its
 * end (the injected clock passes it), a user whose MFA is disabled slipping past a policy that
 * blocks such users, a bypass set in another environment.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { createPolicy, emailDevice, emailSummary, flowBody, newTenant, newUser, readFlow, startFlow, type Tenant } from './support.js';

let server: TestServer;
let t: Tenant;

useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'user mfa flows');
});

const setMfa = async (userId: string, mfaEnabled: boolean) =>
  assert.equal((await t.call('PUT', `${t.users(userId)}/mfaEnabled`, { body: { mfaEnabled } })).status, 200);
const setBypass = async (userId: string, untilMs: number) =>
  assert.equal((await t.call('PUT', `${t.users(userId)}/bypassMFA`, { body: { bypassMFAEnabledUntil: new Date(untilMs).toISOString() } })).status, 200);

test('an active bypass completes the flow at once: COMPLETED, no device selected, nothing sent, bypassAllowed and userBypassEnabled true', async () => {
  const u = await newUser(t);
  const device = await emailDevice(t, u.id, `${u.username}@example.com`);
  await setBypass(u.id, server.clock.now() + 60_000);
  const now = server.clock.now();
  const res = await startFlow(t, u.id);
  assert.equal(res.status, 200, res.text);
  const flowId = res.body.id as string;
  const expected = flowBody(t, { id: flowId, userId: u.id, policyId: t.defaultPolicyId, status: 'COMPLETED', devices: [emailSummary(device, `${u.username}@example.com`)], createdAt: now, updatedAt: now });
  assert.deepEqual(res.body, { ...expected, bypassAllowed: true, userBypassEnabled: true });
  assert.deepEqual((await readFlow(t, flowId)).body, { ...expected, bypassAllowed: true, userBypassEnabled: true });
});

test('a bypass past its end (the clock moved on) bypasses nothing: the flow asks for the device as usual', async () => {
  const u = await newUser(t);
  await emailDevice(t, u.id, `${u.username}@example.com`);
  await setBypass(u.id, server.clock.now() + 60_000);
  server.clock.advance(60_000);
  const res = await startFlow(t, u.id);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'OTP_REQUIRED');
  assert.equal(res.body.bypassAllowed, false);
  assert.equal(res.body.userBypassEnabled, false);
});

test('mfaEnabled false: the default policy lets the user through (COMPLETED, bypassAllowed true, userBypassEnabled false), even with no device', async () => {
  const u = await newUser(t);
  await setMfa(u.id, false);
  const now = server.clock.now();
  const res = await startFlow(t, u.id);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { ...flowBody(t, { id: res.body.id, userId: u.id, policyId: t.defaultPolicyId, status: 'COMPLETED', devices: [], createdAt: now, updatedAt: now }), bypassAllowed: true, userBypassEnabled: false });
});

test('blockUsersWithDisabledMfa: a user whose MFA is disabled is refused (400 ACCOUNT_NOT_USABLE on user.id, no flow made); an active bypass still passes unless bypassBlockedWhenMfaDisabled', async () => {
  const blocking = await createPolicy(t, { blockUsersWithDisabledMfa: true });
  const strict = await createPolicy(t, { blockUsersWithDisabledMfa: true, bypassBlockedWhenMfaDisabled: true });
  const u = await newUser(t);
  await emailDevice(t, u.id, `${u.username}@example.com`);
  await setMfa(u.id, false);
  const flows = async () => (await server.store.db.selectFrom('device_authentications').select('id').where('user_id', '=', u.id).execute()).length;
  for (const policy of [blocking, strict]) {
    expectError(await startFlow(t, u.id, { policy: { id: policy } }), 400, 'REQUEST_FAILED', { code: 'ACCOUNT_NOT_USABLE', target: 'user.id' });
  }
  assert.equal(await flows(), 0);
  await setBypass(u.id, server.clock.now() + 60_000);
  const passed = await startFlow(t, u.id, { policy: { id: blocking } });
  assert.equal(passed.status, 200, passed.text);
  assert.deepEqual([passed.body.status, passed.body.bypassAllowed, passed.body.userBypassEnabled], ['COMPLETED', true, true]);
  expectError(await startFlow(t, u.id, { policy: { id: strict } }), 400, 'REQUEST_FAILED', { code: 'ACCOUNT_NOT_USABLE', target: 'user.id' });
  // Re-enabled, the user authenticates with the device under either policy.
  await setMfa(u.id, true);
  server.clock.advance(60_000);
  const usual = await startFlow(t, u.id, { policy: { id: strict } });
  assert.deepEqual([usual.status, usual.body.status, usual.body.bypassAllowed], [200, 'OTP_REQUIRED', false]);
});

test('a bypass is scoped to its environment: another environment\'s administrator reaching the user is 404, and the user\'s flows still ask for a device', async () => {
  const u = await newUser(t);
  await emailDevice(t, u.id, `${u.username}@example.com`);
  const other = await newTenant(server, 'user mfa flows: other');
  const foreign = await other.call('PUT', `/v1/environments/${other.env}/users/${u.id}/bypassMFA`, { body: { bypassMFAEnabledUntil: new Date(server.clock.now() + 60_000).toISOString() } });
  expectError(foreign, 404, 'NOT_FOUND');
  const cross = await other.call('PUT', `/v1/environments/${t.env}/users/${u.id}/bypassMFA`, { body: { bypassMFAEnabledUntil: new Date(server.clock.now() + 60_000).toISOString() } });
  expectError(cross, 403, 'ACCESS_FAILED', { code: 'INSUFFICIENT_PERMISSIONS' });
  const res = await startFlow(t, u.id);
  assert.equal(res.body.status, 'OTP_REQUIRED');
  assert.equal(res.body.userBypassEnabled, false);
});
