/**
 * OATH threats (issue 18; quality bar S1, S2, S5), each named after what it blocks and tried
 * as an attacker would: a reused code, a code outside the window, an HOTP counter moved back,
 * a resync with two codes that are each right but not consecutive, a burst of wrong codes with
 * the right one sent last, one valid code sent many times at once, and a token of another
 * environment. Codes come from the RFC oracle (test/support/rfc4226.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import { checkOtp, newTenant, newUser, startFlow, type Tenant } from '../authentication/support.js';
import { expectError } from '../support/errors.js';
import { hotpCode, totpCodeAt } from '../support/rfc4226.js';
import { CT, activate, importToken, oathDevice, token, tokenRow, type Imported } from './support.js';

let server: TestServer;
let t: Tenant;
useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'oath threats');
});

/** A user with an ACTIVE OATH_TOKEN device; HOTP tokens start at counter 0 and activate with it. */
async function active(type: 'HOTP' | 'TOTP'): Promise<{ userId: string; deviceId: string; tok: Imported }> {
  const user = await newUser(t);
  const tok = await importToken(t, { type });
  const created = await oathDevice(t, user.id, tok.serialNumber);
  assert.equal(created.status, 201, created.text);
  const otp = type === 'HOTP' ? hotpCode(tok.secret, 0) : totpCodeAt(tok.secret, server.clock.now());
  const done = await activate(t, user.id, created.body.id, { otp });
  assert.equal(done.status, 200, done.text);
  if (type === 'TOTP') server.clock.advance(30_000);
  return { userId: user.id, deviceId: created.body.id, tok };
}

async function openFlow(userId: string): Promise<string> {
  const flow = await startFlow(t, userId);
  assert.equal(flow.status, 200, flow.text);
  assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
  return flow.body.id as string;
}

const failedAttempts = async (deviceId: string) => Number((await t.server.store.db.selectFrom('devices').select('failed_attempts').where('id', '=', deviceId).executeTakeFirstOrThrow()).failed_attempts);

for (const type of ['HOTP', 'TOTP'] as const) {
  test(`a reused code (${type}): a code that completed one flow is refused by the next, which stays open`, async () => {
    const { userId, tok } = await active(type);
    const code = type === 'HOTP' ? hotpCode(tok.secret, 1) : totpCodeAt(tok.secret, server.clock.now());
    const first = await openFlow(userId);
    assert.equal((await checkOtp(t, first, code)).status, 200);
    const second = await openFlow(userId);
    expectError(await checkOtp(t, second, code), 400, 'INVALID_DATA', { code: 'INVALID_OTP', target: 'otp' });
    assert.equal((await t.call('GET', t.flow(second))).body.status, 'OTP_REQUIRED');
  });
}

test('a code outside the window (HOTP): counter + 11 is past the default look-ahead of 10 and refused; + 10 is taken', async () => {
  const { userId, tok, deviceId } = await active('HOTP');
  const flow = await openFlow(userId);
  expectError(await checkOtp(t, flow, hotpCode(tok.secret, 1 + 11)), 400, 'INVALID_DATA', { code: 'INVALID_OTP', target: 'otp' });
  assert.equal(await failedAttempts(deviceId), 1, 'a wrong code counts');
  assert.equal((await checkOtp(t, flow, hotpCode(tok.secret, 1 + 10))).status, 200);
});

test('a code outside the window (TOTP): the codes of two steps before and after now are refused, without changing the token', async () => {
  const { userId, tok } = await active('TOTP');
  const before = await tokenRow(t, tok.id);
  const now = server.clock.now();
  for (const offset of [-60_000, 60_000]) {
    const code = totpCodeAt(tok.secret, now + offset);
    if ([-30_000, 0, 30_000].some((o) => totpCodeAt(tok.secret, now + o) === code)) continue;
    const flow = await openFlow(userId);
    expectError(await checkOtp(t, flow, code), 400, 'INVALID_DATA', { code: 'INVALID_OTP', target: 'otp' });
  }
  assert.deepEqual(await tokenRow(t, tok.id), before);
});

test('an HOTP counter moved back: after counter 5 is used, the codes of 2, 3 and 4 (never used) are refused', async () => {
  const { userId, tok } = await active('HOTP');
  assert.equal((await checkOtp(t, await openFlow(userId), hotpCode(tok.secret, 5))).status, 200);
  for (const c of [2, 3, 4]) {
    expectError(await checkOtp(t, await openFlow(userId), hotpCode(tok.secret, c)), 400, 'INVALID_DATA', { code: 'INVALID_OTP', target: 'otp' });
    // Unlock between tries: this test is about the counter, not the lock.
    await t.call('POST', t.device(userId, (await t.call('GET', t.devices(userId))).body._embedded.devices[0].id), { contentType: 'application/vnd.pingidentity.device.unlock+json' });
  }
  assert.equal(Number((await tokenRow(t, tok.id)).counter), 6);
});

test('a resync with two non-consecutive codes: each is a right code of the token (counter 200 and 202), the pair is refused and the token does not move', async () => {
  const tok = await importToken(t, { type: 'HOTP' });
  const before = await tokenRow(t, tok.id);
  const res = await t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps: [hotpCode(tok.secret, 200), hotpCode(tok.secret, 202)] } });
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_OTP', target: 'otps' });
  const reversed = await t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps: [hotpCode(tok.secret, 201), hotpCode(tok.secret, 200)] } });
  expectError(reversed, 400, 'INVALID_DATA', { code: 'INVALID_OTP', target: 'otps' });
  assert.deepEqual(await tokenRow(t, tok.id), before);
});

test('a resync with two non-consecutive codes, one per call: after EXTRA_OTP_REQUIRED, a code two positions on is not the next one', async () => {
  const user = await newUser(t);
  const tok = await importToken(t, { type: 'HOTP' });
  const created = await oathDevice(t, user.id, tok.serialNumber);
  const id = created.body.id as string;
  expectError(await activate(t, user.id, id, { otp: hotpCode(tok.secret, 300), oathResync: true }), 400, 'INVALID_DATA', { code: 'EXTRA_OTP_REQUIRED', target: 'otp' });
  // 302 is itself in the resync window: it starts a new resync, it does not finish this one.
  expectError(await activate(t, user.id, id, { otp: hotpCode(tok.secret, 302), oathResync: true }), 400, 'INVALID_DATA', { code: 'EXTRA_OTP_REQUIRED', target: 'otp' });
  assert.equal((await t.call('GET', t.device(user.id, id))).body.status, 'ACTIVATION_REQUIRED');
  assert.equal(Number((await tokenRow(t, tok.id)).counter), 0);
});

test('a burst of wrong codes with the right one last never succeeds: 60 parallel otp.check, at most 3 compared, the device locked, the right code then answered as a locked device', async () => {
  const { userId, tok, deviceId } = await active('HOTP');
  const flow = await openFlow(userId);
  const right = hotpCode(tok.secret, 1);
  const wrong = Array.from({ length: 59 }, (_, i) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0'));
  const results = await Promise.all([...wrong, right].map((otp) => checkOtp(t, flow, otp)));
  assert.equal(results.filter((r) => r.status === 200).length, 0, 'no success');
  assert.ok(results.every((r) => r.status === 400), results.map((r) => r.status).join(','));
  const compared = results.filter((r) => r.body.details?.[0]?.code === 'INVALID_OTP').length;
  assert.ok(compared <= 3, `at most the policy's 3 failures compared, got ${compared}`);
  const device = await t.call('GET', t.device(userId, deviceId));
  assert.equal(device.body.lock.status, 'LOCKED');
  const again = await checkOtp(t, flow, right);
  expectError(again, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'selectedDevice', message: /locked/ });
  assert.equal(Number((await tokenRow(t, tok.id)).counter), 1, 'the token did not move');
});

test('a burst of wrong activation codes with the right one last never activates: 40 parallel, the device locked, still ACTIVATION_REQUIRED', async () => {
  const user = await newUser(t);
  const tok = await importToken(t, { type: 'TOTP' });
  const created = await oathDevice(t, user.id, tok.serialNumber);
  const id = created.body.id as string;
  const right = totpCodeAt(tok.secret, server.clock.now());
  const wrong = Array.from({ length: 39 }, (_, i) => String((Number(right) + 7 + i) % 1_000_000).padStart(6, '0'));
  const results = await Promise.all([...wrong, right].map((otp) => activate(t, user.id, id, { otp, oathResync: true })));
  assert.equal(results.filter((r) => r.status === 200).length, 0);
  const device = await t.call('GET', t.device(user.id, id));
  assert.equal(device.body.status, 'ACTIVATION_REQUIRED');
  assert.equal(device.body.lock.status, 'LOCKED');
});

test('a burst of resyncs against a paired token counts on its device: 30 parallel wrong pairs lock the device, and the right pair is then refused', async () => {
  const { userId, tok, deviceId } = await active('HOTP');
  const pairs = Array.from({ length: 30 }, (_, i) => [String(100000 + i), String(200000 + i)]);
  const results = await Promise.all(pairs.map((otps) => t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps } })));
  assert.equal(results.filter((r) => r.status === 200).length, 0);
  assert.equal((await t.call('GET', t.device(userId, deviceId))).body.lock.status, 'LOCKED');
  const right = await t.call('POST', token(t, tok.id), { contentType: CT.resync, body: { otps: [hotpCode(tok.secret, 50), hotpCode(tok.secret, 51)] } });
  expectError(right, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'lock.status' });
  assert.equal(Number((await tokenRow(t, tok.id)).counter), 1);
});

test('one valid code sent 30 times at once activates once; the other answers change nothing', async () => {
  const user = await newUser(t);
  const tok = await importToken(t, { type: 'HOTP' });
  const created = await oathDevice(t, user.id, tok.serialNumber);
  const id = created.body.id as string;
  const otp = hotpCode(tok.secret, 0);
  const results = await Promise.all(Array.from({ length: 30 }, () => activate(t, user.id, id, { otp })));
  assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
  assert.ok(results.every((r) => r.status === 200 || r.status === 400));
  assert.equal(Number((await tokenRow(t, tok.id)).counter), 1);
});

test('one valid code in 30 parallel otp.check calls on 30 flows completes exactly one', async () => {
  const { userId, tok } = await active('HOTP');
  const flows = await Promise.all(Array.from({ length: 30 }, () => openFlow(userId)));
  const otp = hotpCode(tok.secret, 1);
  const results = await Promise.all(flows.map((f) => checkOtp(t, f, otp)));
  assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
});

test('a token of another environment: its serial number pairs nothing there — the same 400 as a serial number that does not exist', async () => {
  const tok = await importToken(t, { type: 'HOTP' });
  const other = await newTenant(server, 'oath threats other');
  const stranger = await newUser(other);
  const res = await oathDevice(other, stranger.id, tok.serialNumber);
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'serialNumber', message: /^No OATH token with this serial number exists in the environment$/ });
  const unknown = await oathDevice(other, stranger.id, 'NOSUCHSERIAL9');
  assert.equal(unknown.body.details[0].message, res.body.details[0].message);
  assert.deepEqual((await t.call('GET', token(t, tok.id))).body.devices, []);
});
