/**
 * TOTP devices (reference §2.3, §5, §6.2): create answers the shared secret and an otpauth://
 * key URI once; activation takes a code of the current step or a neighbour (±30 s), never one
 * two steps away, never after the 30-minute pairing window. Codes are computed from the secret
 * by an RFC 6238 oracle independent of the server's code (test/support/rfc6238.ts) at the
 * injected clock's time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base32Decode, totpCode } from '../support/rfc6238.js';
import { useTestServer, type TestServer } from '../helper.js';
import {
  WRONG_OTP, activate, assertInvalidData, assertRequestFailed, assertUnchanged, createPolicy, deviceBody, deviceRow, newUser, snapshot,
  type UserDevices,
} from './otp-support.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const EXPIRED = { code: 'INVALID_OTP', target: 'otp', message: 'The TOTP secret expired 30 minutes after creation; delete the device and create it again' };

async function pendingTotp(u: UserDevices, body: Record<string, unknown> = {}) {
  const res = await server.request('POST', u.devices, { body: { type: 'TOTP', ...body } });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, secret: res.body.secret as string, keyUri: res.body.keyUri as string, createdAt: server.clock.now(), body: res.body };
}

test('create TOTP answers 201 ACTIVATION_REQUIRED with a 160-bit base32 secret and a keyUri naming the policy issuer', async () => {
  const username = 'totp.alice';
  const u = await newUser(server, env, username);
  const policyId = await createPolicy(server, env, { totp: { enabled: true, uriParameters: { issuer: 'Acme Corp' } } });
  const d = await pendingTotp(u, { policy: { id: policyId } });
  assert.match(d.secret, /^[A-Z2-7]{32}$/);
  assert.equal(base32Decode(d.secret).length, 20);
  // RFC 3986 encoding, as the Google Authenticator key URI format asks (a space is %20, not +).
  assert.equal(d.keyUri, `otpauth://totp/Acme%20Corp:${username}?secret=${d.secret}&issuer=Acme%20Corp&algorithm=SHA1&digits=6&period=30`);
  const uri = new URL(d.keyUri);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname.slice(1)), `Acme Corp:${username}`);
  assert.equal(uri.searchParams.get('secret'), d.secret);
  assert.equal(uri.searchParams.get('issuer'), 'Acme Corp');
  assert.deepEqual(d.body, deviceBody(server, u, {
    id: d.id, type: 'TOTP', status: 'ACTIVATION_REQUIRED', createdAt: d.createdAt, updatedAt: d.createdAt, once: { secret: d.secret, keyUri: d.keyUri },
  }));
});

test('under the default policy the keyUri issuer is OpenMFA, and the account name is URI-encoded', async () => {
  const u = await newUser(server, env, 'bob@example.com', { email: 'bob@example.com' });
  const d = await pendingTotp(u);
  assert.equal(d.keyUri, `otpauth://totp/OpenMFA:bob%40example.com?secret=${d.secret}&issuer=OpenMFA&algorithm=SHA1&digits=6&period=30`);
});

test('GET and the list never show secret or keyUri again, and the stored secret is sealed', async () => {
  const u = await newUser(server, env);
  const d = await pendingTotp(u);
  const read = await server.request('GET', u.device(d.id));
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, deviceBody(server, u, { id: d.id, type: 'TOTP', status: 'ACTIVATION_REQUIRED', createdAt: d.createdAt, updatedAt: d.createdAt }));
  const list = await server.request('GET', u.devices);
  for (const text of [read.text, list.text]) {
    assert.ok(!text.includes(d.secret), 'no secret');
    assert.ok(!text.includes('keyUri') && !text.includes('"secret"'), 'no secret fields');
  }
  const row = await deviceRow(server, d.id);
  assert.ok(row.secret_sealed);
  assert.ok(!row.secret_sealed.includes(d.secret));
  assert.ok(!row.secret_sealed.includes(base32Decode(d.secret).toString('base64')));
  assert.ok(!row.secret_sealed.includes(base32Decode(d.secret).toString('hex')));

  const done = await activate(server, u.device(d.id), totpCode(d.secret, server.clock.now()));
  assert.equal(done.status, 200, done.text);
  assert.ok(!done.text.includes(d.secret), 'activation does not show the secret either');
});

for (const [label, offset] of [['now', 0], ['now − 30 s', -30_000], ['now + 30 s', 30_000]] as const) {
  test(`activation with the code of ${label} answers 200 ACTIVE`, async () => {
    const u = await newUser(server, env);
    const d = await pendingTotp(u);
    server.clock.advance(45_000);
    const now = server.clock.now();
    const res = await activate(server, u.device(d.id), totpCode(d.secret, now + offset));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, deviceBody(server, u, { id: d.id, type: 'TOTP', status: 'ACTIVE', createdAt: d.createdAt, updatedAt: now }));
    const row = await deviceRow(server, d.id);
    assert.equal(row.activated_at, now);
    assert.equal(Number(row.failed_attempts), 0);
  });
}

for (const [label, offset] of [['now − 60 s', -60_000], ['now + 60 s', 60_000], ['now − 90 s', -90_000]] as const) {
  test(`activation with the code of ${label} is 400 INVALID_OTP and the device stays pending`, async () => {
    const u = await newUser(server, env);
    const d = await pendingTotp(u);
    server.clock.advance(120_000);
    const now = server.clock.now();
    const code = totpCode(d.secret, now + offset);
    // A code that happens to equal one inside the window would be accepted rightly: skip it.
    if ([-30_000, 0, 30_000].some((o) => totpCode(d.secret, now + o) === code)) return;
    const before = await snapshot(server, u.device(d.id));
    assertInvalidData(await activate(server, u.device(d.id), code), WRONG_OTP);
    await assertUnchanged(server, before, 1);
  });
}

test('the same code twice: the first activates, the second fails and changes nothing', async () => {
  const u = await newUser(server, env);
  const d = await pendingTotp(u);
  const code = totpCode(d.secret, server.clock.now());
  const first = await activate(server, u.device(d.id), code);
  assert.equal(first.status, 200, first.text);
  const before = await snapshot(server, u.device(d.id));
  assertRequestFailed(await activate(server, u.device(d.id), code), {
    code: 'INVALID_VALUE', target: 'status', message: 'The device is ACTIVE; only a device in ACTIVATION_REQUIRED can be activated',
  });
  await assertUnchanged(server, before);
});

test('activation after the 30-minute pairing window is 400 INVALID_OTP, even with a current code', async () => {
  const u = await newUser(server, env);
  const d = await pendingTotp(u);
  server.clock.advance(30 * 60_000 + 1000);
  const before = await snapshot(server, u.device(d.id));
  assertInvalidData(await activate(server, u.device(d.id), totpCode(d.secret, server.clock.now())), EXPIRED);
  await assertUnchanged(server, before, 1);
});

test('activation just inside the 30-minute pairing window works', async () => {
  const u = await newUser(server, env);
  const d = await pendingTotp(u);
  server.clock.advance(30 * 60_000 - 1000);
  const res = await activate(server, u.device(d.id), totpCode(d.secret, server.clock.now()));
  assert.equal(res.status, 200, res.text);
});

test('create TOTP is 400 on policy.id under a policy with TOTP off, and nothing is stored', async () => {
  const u = await newUser(server, env);
  const policyId = await createPolicy(server, env, { totp: { enabled: false } });
  assertInvalidData(await server.request('POST', u.devices, { body: { type: 'TOTP', policy: { id: policyId } } }), {
    code: 'INVALID_VALUE', target: 'policy.id', message: 'The device authentication policy does not allow TOTP devices',
  });
  assert.equal((await server.request('GET', u.devices)).body._embedded.devices.length, 0);
});

test('two TOTP devices get different secrets', async () => {
  const u = await newUser(server, env);
  const a = await pendingTotp(u);
  const b = await pendingTotp(u);
  assert.notEqual(a.secret, b.secret);
});
