/**
 * Activation threats (protocol §1.3, §3): each test is named after the attack it blocks,
 * asserts the exact refusal (a 4xx, never a 5xx), and that the device is as it was.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { forgeJws } from '../support/jws.js';
import { TYP } from '../../src/protocol/desktop.js';
import { useTestServer, createEnvironment, createUser, createWorker, type TestServer } from '../helper.js';
import { ACTIVATE, attest, claimsOf, newCredential, pendingDesktop, type AttestationOptions } from './desktop-fixtures.js';
import { activate, assertUnchanged, deviceRow, snapshot } from './expect.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An attestation for `options`, made now by the server's clock. */
const attestNow = (options: string, o: AttestationOptions = {}): Promise<string> => attest(options, { now: server.clock.now(), ...o });

/**
 * A pending device, the attack against it, and the proof that it failed as a checked
 * attestation does (400 INVALID_DATA on `attestation`, one failed attempt) and changed nothing.
 */
async function refusedAttestation(attack: (options: string) => string | Promise<string>, detail: { code?: string | RegExp; message?: RegExp } = {}) {
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  const res = await activate(server, p.path, await attack(p.options));
  expectError(res, 400, 'INVALID_DATA', { code: detail.code ?? 'INVALID_VALUE', target: 'attestation', ...(detail.message ? { message: detail.message } : {}) });
  await assertUnchanged(server, before, 1);
  return { p, res };
}

test('a replayed attestation (its second use) is refused: 400 REQUEST_FAILED on status, the device stays as the first activation left it', async () => {
  const p = await pendingDesktop(server, env);
  const attestation = await attestNow(p.options);
  const first = await activate(server, p.path, attestation);
  assert.equal(first.status, 200, first.text);
  const afterFirst = await snapshot(server, p.path);
  server.clock.advance(1000);
  const again = await activate(server, p.path, attestation);
  expectError(again, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'status' });
  await assertUnchanged(server, afterFirst, 0);
});

test('an attestation made for another device of the same user (sub) is refused, and neither device changes', async () => {
  const p = await pendingDesktop(server, env);
  const other = await server.request('POST', `/v1/environments/${env}/users/${p.userId}/devices`, {
    body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } },
  });
  assert.equal(other.status, 201, other.text);
  const otherPath = `/v1/environments/${env}/users/${p.userId}/devices/${other.body.id as string}`;
  const before = await snapshot(server, p.path);
  const beforeOther = await snapshot(server, otherPath);
  const res = await activate(server, p.path, await attestNow(other.body.pingIdDesktopCredentialCreationOptions));
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation', message: /another device \(sub\)/ });
  await assertUnchanged(server, before, 1);
  await assertUnchanged(server, beforeOther, 0);
});

test("an attestation made for another user's device (sub) is refused, and neither device changes", async () => {
  const mine = await pendingDesktop(server, env);
  const theirs = await pendingDesktop(server, env);
  const before = await snapshot(server, mine.path);
  const beforeTheirs = await snapshot(server, theirs.path);
  const res = await activate(server, mine.path, await attestNow(theirs.options));
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation', message: /sub/ });
  await assertUnchanged(server, before, 1);
  await assertUnchanged(server, beforeTheirs, 0);
});

test('an attestation made for another environment (aud) is refused', async () => {
  const env2 = await createEnvironment(server, 'other env (aud)');
  await refusedAttestation((options) => attestNow(options, { claims: { aud: `${server.config.authPath}/${env2}/as` } }), { message: /another environment \(aud\)/ });
});

test("an attestation answering another environment's creation options is refused (aud, sub)", async () => {
  const env2 = await createEnvironment(server, 'other env (options)');
  const foreign = await pendingDesktop(server, env2);
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  const res = await activate(server, p.path, await attestNow(foreign.options));
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation', message: /aud/ });
  await assertUnchanged(server, before, 1);
});

test('an expired pairing (more than 10 minutes after create) is refused even with a fresh attestation: 400 EXPIRED on attestation', async () => {
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  server.clock.advance(10 * 60_000 + 1000);
  const res = await activate(server, p.path, await attestNow(p.options));
  expectError(res, 400, 'INVALID_DATA', { code: 'EXPIRED', target: 'attestation', message: /pairing has expired/ });
  await assertUnchanged(server, before, 1);
});

test('an expired attestation (exp passed beyond the 60 s skew) is refused: 400 EXPIRED on attestation', async () => {
  await refusedAttestation((options) => attest(options, { now: server.clock.now() - 400_000 }), { code: 'EXPIRED', message: /expired/ });
});

test('an attestation issued in the future (iat beyond the skew) is refused', async () => {
  const t = Math.floor(server.clock.now() / 1000);
  await refusedAttestation((options) => attestNow(options, { claims: { iat: t + 120, exp: t + 300 } }), { message: /iat is in the future/ });
});

test('a forged signature (signed by one key, another key in jwk) is refused: INVALID_SIGNATURE', async () => {
  const signer = newCredential();
  const claimed = newCredential();
  await refusedAttestation((options) => attestNow(options, { credential: signer, header: { jwk: claimed.publicJwk } }), { code: 'INVALID_SIGNATURE' });
});

test('a tampered payload (claims changed after signing) is refused: INVALID_SIGNATURE', async () => {
  await refusedAttestation(async (options) => {
    const [h, , s] = (await attestNow(options)).split('.');
    return `${h}.${b64json({ ...claimsOf(await attestNow(options)), nickname: 'Evil' })}.${s}`;
  }, { code: 'INVALID_SIGNATURE' });
});

test('an unsigned attestation (alg none, empty signature part) is refused', async () => {
  const cred = newCredential();
  await refusedAttestation(async (options) => {
    const [, payload] = (await attestNow(options, { credential: cred })).split('.');
    return `${b64json({ alg: 'none', typ: TYP.attestation, jwk: cred.publicJwk })}.${payload}.`;
  });
});

test('an unsigned attestation (alg none, garbage signature) is refused', async () => {
  const cred = newCredential();
  await refusedAttestation(async (options) => {
    const [, payload] = (await attestNow(options, { credential: cred })).split('.');
    return `${b64json({ alg: 'none', typ: TYP.attestation, jwk: cred.publicJwk })}.${payload}.${randomBytes(64).toString('base64url')}`;
  }, { message: /ES256/ });
});

test('alg confusion: HS256 keyed with the public key (the jwk JSON, the x coordinate) is refused', async () => {
  const cred = newCredential();
  const keys = [
    Buffer.from(JSON.stringify(cred.publicJwk)),
    Buffer.from(cred.publicJwk.kty === 'EC' ? cred.publicJwk.x : '', 'base64url'),
    Buffer.from(cred.publicJwk.kty === 'EC' ? cred.publicJwk.x : ''),
  ];
  for (const key of keys) {
    await refusedAttestation(async (options) => {
      const [, payload] = (await attestNow(options, { credential: cred })).split('.');
      const input = `${b64json({ alg: 'HS256', typ: TYP.attestation, jwk: cred.publicJwk })}.${payload}`;
      return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
    }, { message: /ES256/ });
  }
});

test('a token of another type (wrong typ: JWT, the creation options typ, none) is refused', async () => {
  for (const typ of ['JWT', TYP.creation, TYP.assertion, undefined]) {
    await refusedAttestation((options) => attestNow(options, { header: { typ } }), { message: /typ/ });
  }
});

test('a jwk carrying a private key (d) is refused', async () => {
  const cred = newCredential();
  const { d } = cred.privateKey.export({ format: 'jwk' }) as { d: string };
  await refusedAttestation((options) => attestNow(options, { credential: cred, header: { jwk: { ...cred.publicJwk, d } } }), { message: /private key material/ });
});

test('a key on the wrong curve (P-384) is refused', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const jwk = publicKey.export({ format: 'jwk' });
  // No correct JWS library signs ES256 with a P-384 key; the raw signer does (test/support/jws.ts).
  await refusedAttestation(async (options) => forgeJws('ES256', privateKey, { typ: TYP.attestation, jwk }, claimsOf(await attestNow(options))), { message: /P-256/ });
});

test('a key found through jku, x5u, x5c or kid headers is refused (the key is the jwk header alone)', async () => {
  const hostile: Record<string, unknown>[] = [
    { jku: 'https://evil.example/jwks.json' },
    { x5u: 'https://evil.example/cert.pem' },
    { x5c: [randomBytes(64).toString('base64')] },
    { kid: 'some-credential-id' },
  ];
  for (const header of hostile) {
    await refusedAttestation((options) => attestNow(options, { header }), { message: new RegExp(`must not carry ${Object.keys(header)[0]!}`) });
  }
});

test('an origin on another site (https://evil.example, look-alike hosts) is refused', async () => {
  for (const origin of ['https://evil.example', 'https://evilpingone.eu', 'https://pingone.eu.evil.example', 'https://pingone.eu/path', 'null']) {
    await refusedAttestation((options) => attestNow(options, { origin }), { message: /origin is refused/ });
  }
});

test('plain http on a public host (http://pingone.eu) is refused', async () => {
  await refusedAttestation((options) => attestNow(options, { origin: 'http://pingone.eu' }), { message: /plain http/ });
});

test('a subdomain of the RP over https is accepted (the origin rule is not over-strict)', async () => {
  const p = await pendingDesktop(server, env);
  const res = await activate(server, p.path, await attestNow(p.options, { origin: 'https://app.pingone.eu' }));
  assert.equal(res.status, 200, res.text);
});

test('a wrong challenge (an attestation answering another pairing) is refused', async () => {
  await refusedAttestation((options) => attestNow(options, { claims: { challenge: randomBytes(32).toString('base64url') } }), { message: /challenge/ });
});

test('an attestation with the issuer of someone else (iss not pingid-desktop) is refused', async () => {
  await refusedAttestation((options) => attestNow(options, { claims: { iss: 'https://evil.example' } }), { message: /iss/ });
});

test('an oversized attestation (more than 8 KiB) is refused: 400 INVALID_DATA SIZE_LIMIT_EXCEEDED on attestation', async () => {
  await refusedAttestation(() => 'a'.repeat(8193), { code: 'SIZE_LIMIT_EXCEEDED' });
  // A validly signed one, padded past the limit with a claim.
  await refusedAttestation((options) => attestNow(options, { claims: { model: { name: 'x'.repeat(9000) } } }), { code: 'SIZE_LIMIT_EXCEEDED' });
});

test('an oversized body (more than 64 KiB) is refused: 413, not read into a handler', async () => {
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  const res = await activate(server, p.path, 'a'.repeat(70_000));
  expectError(res, 413, 'INVALID_REQUEST');
  await assertUnchanged(server, before, 0);
});

test('a body that is not an attestation (not JSON, an array, a number, empty) is refused', async () => {
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  expectError(await server.request('POST', p.path, { contentType: ACTIVATE, raw: '{"attestation":' }), 400, 'INVALID_REQUEST');
  await assertUnchanged(server, before, 0);
  expectError(await server.request('POST', p.path, { contentType: ACTIVATE, raw: '["x"]' }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation' });
  expectError(await server.request('POST', p.path, { contentType: ACTIVATE, body: { attestation: 42 } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation' });
  await assertUnchanged(server, before, 2);
});

test('the wrong Content-Type (application/json on the item, an unknown vnd action) is refused: 415 INVALID_REQUEST', async () => {
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  const attestation = await attestNow(p.options);
  for (const contentType of ['application/json', 'application/vnd.pingidentity.device.frobnicate+json', 'text/plain', 'application/jwt']) {
    const res = await server.request('POST', p.path, { contentType, raw: JSON.stringify({ attestation }) });
    expectError(res, 415, 'INVALID_REQUEST', { target: 'Content-Type' });
  }
  await assertUnchanged(server, before, 0);
  // The same attestation still works with the right type: nothing was consumed.
  assert.equal((await activate(server, p.path, attestation)).status, 200);
});

test('extra properties in the activation body are refused: 400 INVALID_DATA on attestation', async () => {
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  const attestation = await attestNow(p.options);
  const res = await server.request('POST', p.path, { contentType: ACTIVATE, body: { attestation, origin: 'https://pingone.eu' } });
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation' });
  const missing = await server.request('POST', p.path, { contentType: ACTIVATE, body: { jwt: attestation } });
  expectError(missing, 400, 'INVALID_DATA', [{ code: 'REQUIRED_VALUE', target: 'attestation' }, { code: 'INVALID_VALUE', target: 'jwt' }]);
  await assertUnchanged(server, before, 2);
});

test('activating a device that is already active is refused: 400 REQUEST_FAILED on status', async () => {
  const p = await pendingDesktop(server, env);
  assert.equal((await activate(server, p.path, await attestNow(p.options))).status, 200);
  const before = await snapshot(server, p.path);
  // Even a new, well-formed attestation for the same options (another credential) changes nothing.
  const res = await activate(server, p.path, await attestNow(p.options, { credential: newCredential() }));
  expectError(res, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'status' });
  await assertUnchanged(server, before, 0);
});

test('activating a blocked device is refused: 400 REQUEST_FAILED on block.status', async () => {
  const p = await pendingDesktop(server, env);
  await server.store.db.updateTable('devices').set({ blocked_at: server.clock.now() }).where('id', '=', p.deviceId).execute();
  const before = await snapshot(server, p.path);
  assert.deepEqual((before.body as { block: unknown }).block, { status: 'BLOCKED', blockedAt: iso(server.clock.now()) });
  const res = await activate(server, p.path, await attestNow(p.options));
  expectError(res, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'block.status' });
  await assertUnchanged(server, before, 0);
});

test('activating a locked device is refused: 400 REQUEST_FAILED on lock.status', async () => {
  const p = await pendingDesktop(server, env);
  await server.store.db.updateTable('devices').set({ locked_until: server.clock.now() + 60_000, failed_attempts: 3 }).where('id', '=', p.deviceId).execute();
  const before = await snapshot(server, p.path);
  const res = await activate(server, p.path, await attestNow(p.options));
  expectError(res, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'lock.status' });
  await assertUnchanged(server, before, 3);
});

test('a token of another environment is refused: 403 ACCESS_FAILED; no token: 401', async () => {
  const env2 = await createEnvironment(server, 'other env (token)');
  const worker = await createWorker(server, env2);
  const p = await pendingDesktop(server, env);
  const before = await snapshot(server, p.path);
  const attestation = await attestNow(p.options);
  expectError(await activate(server, p.path, attestation, worker.token), 403, 'ACCESS_FAILED', { code: 'INSUFFICIENT_PERMISSIONS' });
  expectError(await server.request('POST', p.path, { contentType: ACTIVATE, body: { attestation }, token: null }), 401, 'ACCESS_FAILED', { code: 'INVALID_TOKEN' });
  expectError(await server.request('GET', p.path, { token: worker.token }), 403, 'ACCESS_FAILED', { code: 'INSUFFICIENT_PERMISSIONS' });
  await assertUnchanged(server, before, 0);
});

test("a device ID under another user's path is not found: 404, and the device is untouched", async () => {
  const p = await pendingDesktop(server, env);
  const otherUser = await createUser(server, env);
  const before = await snapshot(server, p.path);
  const wrongPath = `/v1/environments/${env}/users/${otherUser}/devices/${p.deviceId}`;
  expectError(await activate(server, wrongPath, await attestNow(p.options)), 404, 'NOT_FOUND');
  expectError(await server.request('GET', wrongPath), 404, 'NOT_FOUND');
  expectError(await server.request('DELETE', wrongPath), 404, 'NOT_FOUND');
  // And under another environment's path.
  const env2 = await createEnvironment(server, 'other env (path)');
  expectError(await activate(server, `/v1/environments/${env2}/users/${p.userId}/devices/${p.deviceId}`, await attestNow(p.options)), 404, 'NOT_FOUND');
  await assertUnchanged(server, before, 0);
});

// ---- The lock (protocol §1.3: failures count; at the policy's count the device locks) ----

test('guessing is bounded: three failed attestations lock the device for the 2-minute cool-down; a correct one is refused until it ends', async () => {
  const p = await pendingDesktop(server, env);
  for (let i = 0; i < 3; i++) {
    server.clock.advance(1000);
    expectError(await activate(server, p.path, await attestNow(p.options, { origin: 'https://evil.example' })), 400, 'INVALID_DATA', { target: 'attestation' });
  }
  const lockedAt = server.clock.now();
  const locked = await server.request('GET', p.path);
  assert.deepEqual(locked.body.lock, { status: 'LOCKED', expiresAt: iso(lockedAt + 120_000) });
  assert.equal(locked.body.status, 'ACTIVATION_REQUIRED');
  assert.equal(locked.body.updatedAt, iso(lockedAt));

  // While locked, even the right attestation is refused, and is not counted.
  const before = await snapshot(server, p.path);
  server.clock.advance(60_000);
  const refused = await activate(server, p.path, await attestNow(p.options));
  expectError(refused, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'lock.status' });
  const still = await server.request('GET', p.path);
  assert.deepEqual(still.body, before.body);
  assert.equal((await deviceRow(server, p.deviceId))?.failed_attempts, 3);

  // After the cool-down: unlocked, and the right attestation activates it.
  server.clock.advance(60_001);
  const unlocked = await server.request('GET', p.path);
  assert.deepEqual(unlocked.body.lock, { status: 'UNLOCKED' });
  const res = await activate(server, p.path, await attestNow(p.options));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'ACTIVE');
  assert.deepEqual(res.body.lock, { status: 'UNLOCKED' });
  const row = await deviceRow(server, p.deviceId);
  assert.equal(row?.failed_attempts, 0);
  assert.equal(row?.locked_until, null);
});

test("guessing is bounded by the device's policy: failure {count 2, coolDown 30 SECONDS}", async () => {
  const policy = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, {
    body: { name: 'strict desktop', pingIdDesktopGen2: { enabled: true, otp: { failure: { count: 2, coolDown: { duration: 30, timeUnit: 'SECONDS' } } } } },
  });
  assert.equal(policy.status, 201, policy.text);
  const p = await pendingDesktop(server, env, { policy: { id: policy.body.id } });
  expectError(await activate(server, p.path, await attestNow(p.options, { claims: { challenge: 'wrong' } })), 400, 'INVALID_DATA', { target: 'attestation' });
  assert.deepEqual((await server.request('GET', p.path)).body.lock, { status: 'UNLOCKED' });
  expectError(await activate(server, p.path, await attestNow(p.options, { claims: { challenge: 'wrong' } })), 400, 'INVALID_DATA', { target: 'attestation' });
  const lockedAt = server.clock.now();
  assert.deepEqual((await server.request('GET', p.path)).body.lock, { status: 'LOCKED', expiresAt: iso(lockedAt + 30_000) });
  expectError(await activate(server, p.path, await attestNow(p.options)), 400, 'REQUEST_FAILED', { target: 'lock.status' });

  server.clock.advance(29_999);
  expectError(await activate(server, p.path, await attestNow(p.options)), 400, 'REQUEST_FAILED', { target: 'lock.status' });
  server.clock.advance(2);
  assert.deepEqual((await server.request('GET', p.path)).body.lock, { status: 'UNLOCKED' });
  const res = await activate(server, p.path, await attestNow(p.options));
  assert.equal(res.status, 200, res.text);
});

test('a failure after a lock has ended starts a new count (one wrong answer does not re-lock at once)', async () => {
  const p = await pendingDesktop(server, env);
  const wrong = { code: 'INVALID_VALUE', target: 'attestation' };
  for (let i = 0; i < 3; i++) expectError(await activate(server, p.path, await attestNow(p.options, { claims: { challenge: 'wrong' } })), 400, 'INVALID_DATA', wrong);
  server.clock.advance(120_001);
  expectError(await activate(server, p.path, await attestNow(p.options, { claims: { challenge: 'wrong' } })), 400, 'INVALID_DATA', wrong);
  assert.deepEqual((await server.request('GET', p.path)).body.lock, { status: 'UNLOCKED' });
  assert.equal((await deviceRow(server, p.deviceId))?.failed_attempts, 1);
});

test('brute force: 30 concurrent wrong attestations count exactly 3 failures and lock the device; none succeeds, all are 4xx', async () => {
  const p = await pendingDesktop(server, env);
  const attempts = Array.from({ length: 30 }, () => attestNow(p.options, { claims: { challenge: randomBytes(32).toString('base64url') } }));
  const results = await Promise.all(attempts.map((a) => activate(server, p.path, a)));
  for (const r of results) assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
  assert.equal(results.filter((r) => r.status === 200).length, 0);
  for (const r of results) {
    assert.equal(r.status, 400, r.text);
    assert.ok(
      (r.body.code === 'INVALID_DATA' && r.body.details[0].target === 'attestation') || (r.body.code === 'REQUEST_FAILED' && r.body.details[0].target === 'lock.status'),
      r.text,
    );
  }
  const row = await deviceRow(server, p.deviceId);
  assert.equal(row?.failed_attempts, 3);
  assert.equal(row?.locked_until, server.clock.now() + 120_000);
  assert.equal(row?.status, 'ACTIVATION_REQUIRED');
  assert.equal(row?.credential_id, null);
  assert.equal(row?.public_jwk, null);
  const read = await server.request('GET', p.path);
  assert.deepEqual(read.body.lock, { status: 'LOCKED', expiresAt: iso(server.clock.now() + 120_000) });
  // The right answer is refused while the lock lasts.
  expectError(await activate(server, p.path, await attestNow(p.options)), 400, 'REQUEST_FAILED', { target: 'lock.status' });
});
