/**
 * OATH_TOKEN devices (wave-2 reference §4.3): created by the `serialNumber` of an imported,
 * unpaired token — one device per token — activated with a code (HOTP within the policy's
 * look-ahead, TOTP within its steps), with `oathResync` answering EXTRA_OTP_REQUIRED and then
 * taking the next code; the inventory resync with two consecutive codes or one per call; the
 * policy's `oathToken` section. Codes come from the RFC oracle (test/support/rfc4226.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { useTestServer, type TestServer } from '../helper.js';
import { createPolicy, newTenant, newUser, type Tenant } from '../authentication/support.js';
import { assertError, expectError, MSG } from '../support/errors.js';
import { hotpCode, totpCodeAt } from '../support/rfc4226.js';
import { CT, activate, importToken, oathDevice, oathDeviceBody, token, tokenBody } from './support.js';

let server: TestServer;
let t: Tenant;
useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'oath devices');
});

const EXTRA = [{ code: 'EXTRA_OTP_REQUIRED', target: 'otp', message: 'An extra OTP is required' }];
const WRONG = [{ code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' }];
const invalid = (res: Parameters<typeof assertError>[0], details: Array<{ code: string; target: string; message: string }>) =>
  assertError(res, 400, { code: 'INVALID_DATA', message: MSG.INVALID_DATA, details });

async function pending(type: 'HOTP' | 'TOTP', spec: Record<string, unknown> = {}) {
  const user = await newUser(t);
  const tok = await importToken(t, { type, ...spec });
  const created = await oathDevice(t, user.id, tok.serialNumber);
  assert.equal(created.status, 201, created.text);
  return { user, tok, deviceId: created.body.id as string, created };
}

test('create: 201 ACTIVATION_REQUIRED with the serial number, whole body; the token lists its device', async () => {
  const now = server.clock.now();
  const { user, tok, deviceId, created } = await pending('HOTP', { hotp: { counter: 42 } });
  assert.deepEqual(created.body, oathDeviceBody(t, user.id, { id: deviceId, serialNumber: tok.serialNumber, status: 'ACTIVATION_REQUIRED', createdAt: now, updatedAt: now }));
  const read = await t.call('GET', token(t, tok.id));
  assert.deepEqual(read.body, tokenBody(t, {
    id: tok.id, serialNumber: tok.serialNumber, type: 'HOTP', otpLength: 6, counter: 42, devices: [{ id: deviceId, user: { id: user.id } }], createdAt: now, updatedAt: now,
  }));
});

test('create: no serialNumber, an unknown one, or a token paired already → 400 naming serialNumber, and no device is made', async () => {
  const user = await newUser(t);
  expectError(await t.call('POST', t.devices(user.id), { body: { type: 'OATH_TOKEN' } }), 400, 'INVALID_DATA', { code: 'REQUIRED_VALUE', target: 'serialNumber' });
  expectError(await oathDevice(t, user.id, 'NOSUCHTOKEN1'), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'serialNumber', message: /No OATH token/ });
  const { tok } = await pending('HOTP');
  expectError(await oathDevice(t, user.id, tok.serialNumber), 400, 'INVALID_DATA', { code: 'UNIQUENESS_VIOLATION', target: 'serialNumber' });
  assert.deepEqual((await t.call('GET', t.devices(user.id))).body._embedded.devices, []);
});

test('one device per token: 10 parallel creates with one serial number (10 users) make exactly one device', async () => {
  const tok = await importToken(t, { type: 'TOTP' });
  const users = await Promise.all(Array.from({ length: 10 }, () => newUser(t)));
  const results = await Promise.all(users.map((u) => oathDevice(t, u.id, tok.serialNumber)));
  assert.equal(results.filter((r) => r.status === 201).length, 1, results.map((r) => r.status).join(','));
  for (const r of results.filter((x) => x.status !== 201)) expectError(r, 400, 'INVALID_DATA', { code: 'UNIQUENESS_VIOLATION', target: 'serialNumber' });
  assert.equal((await t.call('GET', token(t, tok.id))).body.devices.length, 1);
});

test('deleting the device unpairs the token, which another user can then pair', async () => {
  const { user, tok, deviceId } = await pending('HOTP');
  assert.equal((await t.call('DELETE', t.device(user.id, deviceId))).status, 204);
  assert.deepEqual((await t.call('GET', token(t, tok.id))).body.devices, []);
  const other = await newUser(t);
  assert.equal((await oathDevice(t, other.id, tok.serialNumber)).status, 201);
});

test('policy: the default policy has the oathToken section with its defaults; disabled or pairingDisabled refuses create on policy.id', async () => {
  const policies = await t.call('GET', `/v1/environments/${t.env}/deviceAuthenticationPolicies/${t.defaultPolicyId}`);
  assert.deepEqual(policies.body.oathToken, {
    enabled: true, pairingDisabled: false, promptForNicknameOnPairing: false,
    otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } }, window: { hotpLookAhead: 10, totpSteps: 1 } },
  });
  const user = await newUser(t);
  const tok = await importToken(t, { type: 'HOTP' });
  for (const [section, message] of [[{ enabled: false }, /does not allow OATH_TOKEN devices/], [{ enabled: true, pairingDisabled: true }, /new OATH_TOKEN pairings/]] as const) {
    const policyId = await createPolicy(t, { oathToken: section });
    expectError(await oathDevice(t, user.id, tok.serialNumber, { policy: { id: policyId } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'policy.id', message });
  }
  expectError(await t.call('POST', `/v1/environments/${t.env}/deviceAuthenticationPolicies`, { body: { name: 'bad window', oathToken: { enabled: true, otp: { window: { hotpLookAhead: 101 } } } } }),
    400, 'INVALID_DATA', { code: 'OUT_OF_RANGE', target: 'oathToken.otp.window.hotpLookAhead' });
});

test('HOTP activation: a code within the look-ahead (counter + 3) → 200 ACTIVE whole body, the counter moves past it', async () => {
  const { user, tok, deviceId } = await pending('HOTP', { hotp: { counter: 100 } });
  server.clock.advance(1000);
  const now = server.clock.now();
  const res = await activate(t, user.id, deviceId, { otp: hotpCode(tok.secret, 103) });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, oathDeviceBody(t, user.id, { id: deviceId, serialNumber: tok.serialNumber, status: 'ACTIVE', createdAt: now - 1000, updatedAt: now }));
  assert.equal((await t.call('GET', token(t, tok.id))).body.hotp.counter, 104);
});

test('HOTP activation with oathResync: a drifted code → 400 EXTRA_OTP_REQUIRED (reference §6.2 body), then the next code → ACTIVE', async () => {
  const { user, tok, deviceId } = await pending('HOTP');
  invalid(await activate(t, user.id, deviceId, { otp: hotpCode(tok.secret, 500), oathResync: true }), EXTRA);
  assert.equal((await t.call('GET', t.device(user.id, deviceId))).body.status, 'ACTIVATION_REQUIRED');
  const done = await activate(t, user.id, deviceId, { otp: hotpCode(tok.secret, 501), oathResync: true });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'ACTIVE');
  assert.equal((await t.call('GET', token(t, tok.id))).body.hotp.counter, 502);
  assert.deepEqual((await t.call('GET', t.device(user.id, deviceId))).body.lock, { status: 'UNLOCKED' });
});

test('HOTP activation without oathResync: a drifted code is 400 INVALID_OTP, nothing is kept for a resync', async () => {
  const { user, tok, deviceId } = await pending('HOTP');
  invalid(await activate(t, user.id, deviceId, { otp: hotpCode(tok.secret, 500) }), WRONG);
  invalid(await activate(t, user.id, deviceId, { otp: hotpCode(tok.secret, 501), oathResync: true }), EXTRA);
});

test('TOTP activation: a token 10 steps ahead → EXTRA_OTP_REQUIRED, the next step → ACTIVE; the token shows drift 10, and later codes are checked around it', async () => {
  const { user, tok, deviceId } = await pending('TOTP');
  const ahead = (ms: number) => totpCodeAt(tok.secret, ms + 300_000);
  invalid(await activate(t, user.id, deviceId, { otp: ahead(server.clock.now()), oathResync: true }), EXTRA);
  server.clock.advance(30_000);
  const done = await activate(t, user.id, deviceId, { otp: ahead(server.clock.now()), oathResync: true });
  assert.equal(done.status, 200, done.text);
  const read = await t.call('GET', token(t, tok.id));
  assert.equal(read.body.totp.drift, 10, read.text);
});

test('TOTP with a 60-second step and 8 digits: the code of the step activates', async () => {
  const { user, tok, deviceId } = await pending('TOTP', { totp: { timeStep: 60 }, otpLength: 8 });
  const res = await activate(t, user.id, deviceId, { otp: totpCodeAt(tok.secret, server.clock.now(), 60, 8) });
  assert.equal(res.status, 200, res.text);
});

test('inventory resync with two consecutive codes → 200 whole token body, the counter after the second', async () => {
  const { tok, deviceId, user } = await pending('HOTP');
  server.clock.advance(5000);
  const now = server.clock.now();
  const res = await t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps: [hotpCode(tok.secret, 700), hotpCode(tok.secret, 701)] } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, tokenBody(t, {
    id: tok.id, serialNumber: tok.serialNumber, type: 'HOTP', otpLength: 6, counter: 702, devices: [{ id: deviceId, user: { id: user.id } }], createdAt: now - 5000, updatedAt: now,
  }));
  // The device now activates with the code after them.
  assert.equal((await activate(t, user.id, deviceId, { otp: hotpCode(tok.secret, 702) })).status, 200);
});

test('inventory resync with one code per call: the first → 400 EXTRA_OTP_REQUIRED on otps, the next → 200 (an unpaired TOTP token)', async () => {
  const tok = await importToken(t, { type: 'TOTP' });
  const behind = (ms: number) => totpCodeAt(tok.secret, ms - 600_000);
  invalid(await t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps: [behind(server.clock.now())] } }),
    [{ code: 'EXTRA_OTP_REQUIRED', target: 'otps', message: 'An extra OTP is required' }]);
  server.clock.advance(30_000);
  const res = await t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps: [behind(server.clock.now())] } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.totp.drift, -20);
  assert.equal(res.body.updatedAt, iso(server.clock.now()));
});

test('inventory resync: a malformed body (three codes, letters, another member) is 400 naming it; another media type is 415', async () => {
  const tok = await importToken(t, { type: 'HOTP' });
  const post = (body: unknown, contentType: string = CT.resync) => t.call('POST', token(t, tok.id), { contentType, body });
  expectError(await post({ otps: ['111111', '222222', '333333'] }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'otps' });
  expectError(await post({ otps: ['abcdef'] }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'otps[0]' });
  expectError(await post({ otps: ['123456'], force: true }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'force' });
  expectError(await post({ otps: ['123456'] }, 'application/json'), 415, 'INVALID_REQUEST', { code: 'INVALID_VALUE', target: 'Content-Type' });
  assert.equal((await t.call('GET', token(t, tok.id))).body.hotp.counter, 0);
});

test('policy read-modify-write: GET → change oathToken → PUT keeps the section as sent, window included', async () => {
  const id = await createPolicy(t, {});
  const path = `/v1/environments/${t.env}/deviceAuthenticationPolicies/${id}`;
  const { _links, id: _id, environment, createdAt, updatedAt, ...policy } = (await t.call('GET', path)).body;
  const oathToken = { enabled: true, pairingDisabled: true, promptForNicknameOnPairing: true, otp: { failure: { count: 5, coolDown: { duration: 30, timeUnit: 'SECONDS' } }, window: { hotpLookAhead: 3, totpSteps: 0 } } };
  const put = await t.call('PUT', path, { body: { ...policy, oathToken } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body.oathToken, oathToken);
  assert.deepEqual((await t.call('GET', path)).body.oathToken, oathToken);
});

test('the policy window decides: with hotpLookAhead 2 a code 3 past the counter is refused and one 2 past is taken; with totpSteps 0 only the current step', async () => {
  const policyId = await createPolicy(t, { oathToken: { enabled: true, otp: { window: { hotpLookAhead: 2, totpSteps: 0 } } } });
  const user = await newUser(t);
  const h = await importToken(t, { type: 'HOTP' });
  const hd = await oathDevice(t, user.id, h.serialNumber, { policy: { id: policyId } });
  invalid(await activate(t, user.id, hd.body.id, { otp: hotpCode(h.secret, 3) }), WRONG);
  assert.equal((await activate(t, user.id, hd.body.id, { otp: hotpCode(h.secret, 2) })).status, 200);
  const s = await importToken(t, { type: 'TOTP' });
  const sd = await oathDevice(t, user.id, s.serialNumber, { policy: { id: policyId } });
  const now = server.clock.now();
  const previous = totpCodeAt(s.secret, now - 30_000);
  if (previous !== totpCodeAt(s.secret, now)) invalid(await activate(t, user.id, sd.body.id, { otp: previous }), WRONG);
  assert.equal((await activate(t, user.id, sd.body.id, { otp: totpCodeAt(s.secret, now) })).status, 200);
});
