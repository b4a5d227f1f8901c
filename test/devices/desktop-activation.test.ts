/**
 * Pairing a PingID Desktop device, the way it should go (protocol §1, reference §4): create
 * answers the creation options JWT, activation with the agent's attestation answers the seed
 * document's 200 body, and the device reads, lists and deletes like any other.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { decode as b64uDecode } from '../../src/crypto/base64url.js';
import { compactVerify, importJWK, type JWK } from 'jose';
import { useTestServer, createUser, startTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { SEED, attest, claimsOf, headerOf, pendingDesktop, seedFor } from './desktop-fixtures.js';
import { activate, assertUnchanged, deviceRow, snapshot } from './expect.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const devicesOf = (userId: string) => `/v1/environments/${env}/users/${userId}/devices`;

test('create answers 201 with the pending device and creation options signed as protocol §1.1 says', async () => {
  const userId = await createUser(server, env, 'alice.desktop');
  const now = server.clock.now();
  const res = await server.request('POST', devicesOf(userId), {
    body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } },
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.headers['cache-control'], 'no-store');
  const deviceId = res.body.id as string;
  const options = res.body.pingIdDesktopCredentialCreationOptions as string;
  const self = `${server.config.apiPath}/environments/${env}/users/${userId}/devices/${deviceId}`;
  assert.deepEqual(res.body, {
    _links: {
      self: { href: self },
      environment: { href: `${server.config.apiPath}/environments/${env}` },
      user: { href: `${server.config.apiPath}/environments/${env}/users/${userId}` },
      activate: { href: self },
    },
    rp: { id: 'pingone.eu', name: 'pingone.eu' },
    id: deviceId,
    environment: { id: env },
    user: { id: userId },
    type: 'PINGID_DESKTOP_GEN2',
    lock: { status: 'UNLOCKED' },
    block: { status: 'UNBLOCKED' },
    status: 'ACTIVATION_REQUIRED',
    createdAt: iso(now),
    updatedAt: iso(now),
    pingIdDesktopCredentialCreationOptions: options,
  });
  assert.match(deviceId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

  // The JWKS of the environment verifies it.
  const jwks = await server.request('GET', `/${env}/as/jwks`, { token: null });
  assert.equal(jwks.status, 200, jwks.text);
  const keys = jwks.body.keys as Array<Record<string, unknown>>;
  assert.equal(keys.length, 1);
  const header = headerOf(options);
  assert.deepEqual(header, { kid: keys[0]!.kid, typ: 'pingid-desktop-creation+jwt', alg: 'RS256' });
  // jose verifies it: an implementation independent of the server's.
  const publicKey = await importJWK(keys[0] as JWK, 'RS256');
  await compactVerify(options, publicKey, { algorithms: ['RS256'] });
  const [h, , s] = options.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claimsOf(options), sub: 'other' })).toString('base64url')}.${s}`;
  await assert.rejects(compactVerify(tampered, publicKey, { algorithms: ['RS256'] }), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });

  const claims = claimsOf(options);
  const iat = Math.floor(now / 1000);
  assert.deepEqual(Object.keys(claims).sort(), ['aud', 'challenge', 'env', 'exp', 'iat', 'iss', 'jti', 'rp', 'sub', 'user']);
  assert.deepEqual({ ...claims, challenge: '<challenge>', jti: '<jti>' }, {
    iss: `${server.config.authPath}/${env}/as`,
    aud: 'pingid-desktop',
    sub: deviceId,
    env,
    user: { id: userId, name: 'alice.desktop' },
    rp: { id: 'pingone.eu', name: 'pingone.eu' },
    challenge: '<challenge>',
    iat,
    exp: iat + 600,
    jti: '<jti>',
  });
  assert.match(claims.challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(b64uDecode(claims.challenge)?.length, 32);
  assert.equal(typeof claims.jti, 'string');
  assert.ok(claims.jti.length >= 16);

  // Only the challenge's hash is kept, with the pairing's expiry.
  const row = await deviceRow(server, deviceId);
  assert.ok(row);
  assert.equal(row.challenge_hash, createHash('sha256').update(claims.challenge).digest('hex'));
  assert.equal(row.challenge_expires_at, (iat + 600) * 1000);
  assert.doesNotMatch(JSON.stringify(row), new RegExp(claims.challenge));

  // Each create has its own challenge and jti.
  const second = await server.request('POST', devicesOf(userId), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' } });
  assert.equal(second.status, 201, second.text);
  const c2 = claimsOf(second.body.pingIdDesktopCredentialCreationOptions);
  assert.notEqual(c2.challenge, claims.challenge);
  assert.notEqual(c2.jti, claims.jti);
});

test("THE SEED TEST: activation answers the seed document's 200 body, ids and times aside", async () => {
  // A server of its own: its clock starts at the seed's createdAt.
  const seedServer = await startTestServer();
  try {
    const seedEnv = seedServer.boot.environmentId;
    const created = seedServer.clock.now();
    assert.equal(iso(created), SEED.createdAt);
    const p = await pendingDesktop(seedServer, seedEnv);
    seedServer.clock.advance(Date.parse(SEED.updatedAt) - Date.parse(SEED.createdAt));
    const res = await activate(seedServer, p.path, await attest(p.options, { now: seedServer.clock.now() }));
    assert.equal(res.status, 200, res.text);

    // Ids and times aside, the seed's body; then exactly the seed's body with our IDs.
    assert.deepEqual(withoutVolatile(res.body), withoutVolatile(seedFor(seedServer, { env: SEED.environment.id, user: SEED.user.id, device: SEED.id })));
    const expected = seedFor(seedServer, { env: seedEnv, user: p.userId, device: p.deviceId });
    assert.deepEqual(res.body, expected);
    assert.deepEqual(Object.keys(res.body).sort(), Object.keys(SEED).sort(), 'exactly the seed\'s keys');
    assert.ok(Date.parse(res.body.updatedAt) > Date.parse(res.body.createdAt));
    assert.equal(res.body.createdAt, iso(created));
    for (const secret of ['publicKey', 'publicJwk', 'challenge', 'credentialId', 'pingIdDesktopCredentialCreationOptions']) {
      assert.equal(secret in res.body, false, secret);
    }
    assert.equal('activate' in res.body._links, false, 'no activate link once active');

    // GET shows the same device.
    const read = await seedServer.request('GET', p.path);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, expected);
  } finally {
    await seedServer.close();
  }
});

test('an active device reads back alone and in the list; DELETE answers 204 and then 404', async () => {
  const p = await pendingDesktop(server, env);
  const activated = await activate(server, p.path, await attest(p.options, { now: server.clock.now() }));
  assert.equal(activated.status, 200, activated.text);

  const one = await server.request('GET', p.path);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.body, activated.body);
  assert.equal(one.body.status, 'ACTIVE');

  const list = await server.request('GET', devicesOf(p.userId));
  assert.equal(list.status, 200, list.text);
  const collection = `${server.config.apiPath}/environments/${env}/users/${p.userId}/devices`;
  assert.deepEqual(list.body._links, { self: { href: collection }, 'devices.reorder': { href: collection } });
  assert.deepEqual(list.body._embedded.devices, [activated.body]);

  const del = await server.request('DELETE', p.path);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');
  expectError(await server.request('GET', p.path), 404, 'NOT_FOUND');
  expectError(await server.request('DELETE', p.path), 404, 'NOT_FOUND');
  const after = await server.request('GET', devicesOf(p.userId));
  assert.deepEqual(after.body._embedded.devices, []);
  assert.equal(await deviceRow(server, p.deviceId), undefined);
});

test("without rp the device's relying party is the server's configured one (host of the public URL)", async () => {
  const userId = await createUser(server, env);
  const res = await server.request('POST', devicesOf(userId), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.body.rp, { id: '127.0.0.1', name: '127.0.0.1' });
  assert.deepEqual(claimsOf(res.body.pingIdDesktopCredentialCreationOptions).rp, { id: '127.0.0.1', name: '127.0.0.1' });

  const hosted = await startTestServer({ publicUrl: 'https://mfa.example.org:8443' });
  try {
    const hostedEnv = hosted.boot.environmentId;
    const user = await createUser(hosted, hostedEnv);
    const created = await hosted.request('POST', `/v1/environments/${hostedEnv}/users/${user}/devices`, { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.rp, { id: 'mfa.example.org', name: 'mfa.example.org' });
    const options = created.body.pingIdDesktopCredentialCreationOptions as string;
    assert.deepEqual(claimsOf(options).rp, { id: 'mfa.example.org', name: 'mfa.example.org' });
    assert.equal(claimsOf(options).iss, `https://mfa.example.org:8443/${hostedEnv}/as`);
    const path = `/v1/environments/${hostedEnv}/users/${user}/devices/${created.body.id as string}`;
    const res2 = await activate(hosted, path, await attest(options, { now: hosted.clock.now(), origin: 'https://mfa.example.org:8443' }));
    assert.equal(res2.status, 200, res2.text);
    assert.deepEqual(res2.body.rp, { id: 'mfa.example.org', name: 'mfa.example.org' });
  } finally {
    await hosted.close();
  }
});

async function assertNoDevices(userId: string): Promise<void> {
  const list = await server.request('GET', devicesOf(userId));
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.body._embedded.devices, []);
}

test('a desktop device created without status is refused: 400 INVALID_DATA REQUIRED_VALUE on status, nothing created', async () => {
  const userId = await createUser(server, env);
  const res = await server.request('POST', devicesOf(userId), { body: { type: 'PINGID_DESKTOP_GEN2' } });
  expectError(res, 400, 'INVALID_DATA', { code: 'REQUIRED_VALUE', target: 'status' });
  await assertNoDevices(userId);
});

test('a pre-paired (status ACTIVE) desktop device, which would skip the attestation, is refused: 400 INVALID_VALUE on status', async () => {
  const userId = await createUser(server, env);
  const res = await server.request('POST', devicesOf(userId), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVE' } });
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'status' });
  await assertNoDevices(userId);
});

test('a desktop device under a policy that disables PingID Desktop is refused: 400 on policy.id', async () => {
  const policy = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, {
    body: { name: 'desktop off', pingIdDesktopGen2: { enabled: false } },
  });
  assert.equal(policy.status, 201, policy.text);
  const paused = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, {
    body: { name: 'desktop pairing paused', pingIdDesktopGen2: { enabled: true, pairingDisabled: true } },
  });
  assert.equal(paused.status, 201, paused.text);
  const userId = await createUser(server, env);
  for (const id of [policy.body.id, paused.body.id]) {
    const res = await server.request('POST', devicesOf(userId), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', policy: { id } } });
    expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'policy.id' });
  }
  await assertNoDevices(userId);
});

test('a desktop device under a policy that does not exist (or is of another environment) is refused: 400 on policy.id', async () => {
  const userId = await createUser(server, env);
  const res = await server.request('POST', devicesOf(userId), {
    body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', policy: { id: '6f1c1f62-6b4c-4d8e-9a59-2f1e4c0b9d11' } },
  });
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'policy.id' });
  await assertNoDevices(userId);
});

test('a create smuggling an unknown property is refused: 400 INVALID_DATA naming it', async () => {
  const userId = await createUser(server, env);
  const res = await server.request('POST', devicesOf(userId), {
    body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', publicJwk: { kty: 'EC' } },
  });
  expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'publicJwk' });
  await assertNoDevices(userId);
});

test('a nickname given at create survives activation (the attestation does not override it)', async () => {
  const p = await pendingDesktop(server, env, { nickname: 'Work laptop' });
  assert.equal(p.created.nickname, 'Work laptop');
  const res = await activate(server, p.path, await attest(p.options, { now: server.clock.now(), claims: { nickname: 'Desktop Mac 7' } }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.nickname, 'Work laptop');
  assert.equal((await server.request('GET', p.path)).body.nickname, 'Work laptop');
});

test("without a nickname at create the attestation's nickname is taken", async () => {
  const p = await pendingDesktop(server, env);
  assert.equal('nickname' in p.created, false);
  const before = await snapshot(server, p.path);
  assert.equal(before.row.nickname, null);
  const res = await activate(server, p.path, await attest(p.options, { now: server.clock.now(), claims: { nickname: 'Desktop Linux 2', os: { type: 'LINUX', version: '6.8' } } }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.nickname, 'Desktop Linux 2');
  assert.deepEqual(res.body.os, { version: '6.8', type: 'LINUX' });
  // Re-reading changes nothing.
  await assertUnchanged(server, await snapshot(server, p.path));
});
