/**
 * FIDO2 registration (wave-2 reference §1.2–§1.4, §1.6) with the software authenticator
 * (src/testing/fido2-authenticator.ts) as the oracle: it shares only the WebAuthn specification
 * with the server. Create answers the options string in PingOne's encoding; activation verifies
 * the attestation; every refusal below is named after its threat, is a 4xx, and changes nothing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { SoftwareAuthenticator, bytesOf } from '../../src/testing/fido2-authenticator.js';
import { createEnvironment, createUser, useTestServer, type TestServer } from '../helper.js';
import { assertUnchanged, snapshot } from '../devices/expect.js';
import { expectError } from '../support/errors.js';
import { fido2PolicyBody } from '../fuzz/openapi.js';

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const ORIGIN = 'http://localhost:8080';
const RP = { id: 'localhost', name: 'OpenMFA' };
const ALLOWED_AAGUID = 'ee882879-721c-4913-9775-3dfcce97072a';

let server: TestServer;
let env: string;
useTestServer(async (s) => {
  server = s;
  env = await createEnvironment(server, 'fido2 registration');
});

const devicesOf = (userId: string) => `/v1/environments/${env}/users/${userId}/devices`;
const signed = (b: Buffer) => Array.from(b, (x) => (x > 127 ? x - 256 : x));

async function pending(userId: string, body: Record<string, unknown> = {}) {
  const res = await server.request('POST', devicesOf(userId), { body: { type: 'FIDO2', rp: RP, ...body } });
  assert.equal(res.status, 201, res.text);
  return { res, path: `${devicesOf(userId)}/${res.body.id as string}`, options: res.body.publicKeyCredentialCreationOptions as string };
}
const activate = (path: string, body: unknown) => server.request('POST', path, { contentType: ACTIVATE, body });

test('create → 201 ACTIVATION_REQUIRED with the creation options as a JSON string in PingOne\'s encoding; a read never shows them', async () => {
  const userId = await createUser(server, env, 'ada', { name: { given: 'Ada', family: 'Lovelace' } });
  const at = iso(server.clock.now());
  const { res, path, options } = await pending(userId);
  const id = res.body.id as string;
  const self = `${server.config.apiPath}/environments/${env}/users/${userId}/devices/${id}`;
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.deepEqual(res.body, {
    _links: { self: { href: self }, environment: { href: `${server.config.apiPath}/environments/${env}` }, user: { href: `${server.config.apiPath}/environments/${env}/users/${userId}` }, activate: { href: self } },
    rp: RP, id, environment: { id: env }, user: { id: userId }, type: 'FIDO2', status: 'ACTIVATION_REQUIRED',
    lock: { status: 'UNLOCKED' }, block: { status: 'UNBLOCKED' }, createdAt: at, updatedAt: at, displayName: 'Passkey',
    publicKeyCredentialCreationOptions: options,
  });
  const o = JSON.parse(options);
  assert.equal(o.challenge.length, 32);
  assert.ok(o.challenge.every((b: number) => Number.isInteger(b) && b >= -128 && b <= 127));
  // The default FIDO2 policy: display name from username first, ES256/PS256/RS256 as strings, 2 minutes, passkeys with UV.
  assert.deepEqual(o, {
    rp: RP,
    user: { id: signed(createHash('sha256').update(`${env}:${userId}`).digest()), displayName: 'ada', name: 'ada' },
    challenge: o.challenge,
    pubKeyCredParams: [{ type: 'public-key', alg: '-7' }, { type: 'public-key', alg: '-37' }, { type: 'public-key', alg: '-257' }],
    timeout: 120000,
    excludeCredentials: [],
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    attestation: 'none',
  });
  const read = await server.request('GET', path);
  assert.equal(read.status, 200, read.text);
  const { publicKeyCredentialCreationOptions, ...shown } = res.body;
  void publicKeyCredentialCreationOptions;
  assert.deepEqual(read.body, shown);
});

test('activation with the software authenticator → 200 ACTIVE with the §1.6 members, never the public key; the next create excludes the credential', async () => {
  const userId = await createUser(server, env);
  const { res, path, options } = await pending(userId);
  const authenticator = new SoftwareAuthenticator();
  server.clock.advance(1000);
  const done = await activate(path, { origin: ORIGIN, attestation: authenticator.register(options, ORIGIN) });
  assert.equal(done.status, 200, done.text);
  const credentialId = authenticator.credentials[0]!.id.toString('base64url');
  const { _links, publicKeyCredentialCreationOptions, ...created } = res.body;
  void publicKeyCredentialCreationOptions;
  const { activate: _activate, ...links } = _links;
  void _activate;
  assert.deepEqual(done.body, {
    ...created, _links: links, status: 'ACTIVE', updatedAt: iso(server.clock.now()),
    credentialId, backup: { backupEligibility: false, backupState: false }, fidoRegistrationArtifacts: { attestationType: 'NONE' },
  });
  const row = await server.store.db.selectFrom('devices').selectAll().where('id', '=', res.body.id).executeTakeFirstOrThrow();
  assert.equal(row.challenge_hash, null);
  assert.ok(row.public_key_cose && !JSON.stringify(done.body).includes(row.public_key_cose));
  const next = await pending(userId);
  assert.deepEqual(JSON.parse(next.options).excludeCredentials, [{ type: 'public-key', id: signed(authenticator.credentials[0]!.id) }]);
});

describe('a FIDO2 policy with direct attestation and an AAGUID allow-list', () => {
  let userId: string;
  before(async () => {
    const fido2 = await server.request('POST', `/v1/environments/${env}/fido2Policies`, {
      body: { ...fido2PolicyBody('keys'), relyingPartyId: 'localhost', attestationRequirements: 'DIRECT', userVerification: { option: 'REQUIRED', enforceDuringAuthentication: true },
        backupEligibility: { allow: false, enforceDuringAuthentication: true },
        mdsAuthenticatorsRequirements: { option: 'SPECIFIC', enforceDuringAuthentication: true, allowedAuthenticators: [{ id: ALLOWED_AAGUID }] } },
    });
    assert.equal(fido2.status, 201, fido2.text);
    const dap = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, { body: { name: 'keys', fido2: { enabled: true, fido2PolicyId: fido2.body.id } } });
    assert.equal(dap.status, 201, dap.text);
    userId = await createUser(server, env);
    policyId = dap.body.id as string;
  });
  let policyId: string;

  test('packed self attestation of an allowed authenticator → ACTIVE with its AAGUID as mdsIdentifier', async () => {
    const { path, options } = await pending(userId, { policy: { id: policyId } });
    assert.equal(JSON.parse(options).attestation, 'direct');
    const done = await activate(path, { origin: ORIGIN, attestation: new SoftwareAuthenticator({ attestation: 'packed', aaguid: ALLOWED_AAGUID }).register(options, ORIGIN) });
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.body.fidoDeviceMetadata, { mdsIdentifier: ALLOWED_AAGUID });
    assert.deepEqual(done.body.fidoRegistrationArtifacts, { attestationType: 'PACKED' });
  });

  const refusals: Array<[string, () => SoftwareAuthenticator]> = [
    ['an AAGUID outside the allow-list', () => new SoftwareAuthenticator({ attestation: 'packed', aaguid: '11111111-2222-3333-4444-555555555555' })],
    ['no attestation where the policy requires one', () => new SoftwareAuthenticator({ attestation: 'none', aaguid: ALLOWED_AAGUID })],
    ['a synced (backup-eligible) credential the policy does not allow', () => new SoftwareAuthenticator({ attestation: 'packed', aaguid: ALLOWED_AAGUID, backupEligible: true })],
  ];
  for (const [threat, make] of refusals) {
    test(`threat: ${threat} → 400 INVALID_DATA on attestation; nothing changes`, async () => {
      const { path, options } = await pending(userId, { policy: { id: policyId } });
      const before = await snapshot(server, path);
      expectError(await activate(path, { origin: ORIGIN, attestation: make().register(options, ORIGIN) }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation' });
      await assertUnchanged(server, before, 1);
    });
  }
});

describe('threats to a registration: each a 4xx that changes nothing but the counted attempt', () => {
  const cases: Array<[string, (o: { options: string; other: string }) => unknown, { status?: number; code: string; target: string; detail?: string }]> = [
    ['another origin', ({ options }) => ({ origin: 'https://evil.example', attestation: new SoftwareAuthenticator().register(options, 'https://evil.example') }), { code: 'INVALID_DATA', target: 'origin' }],
    ['clientData of another origin than the body names', ({ options }) => ({ origin: ORIGIN, attestation: new SoftwareAuthenticator().register(options, 'http://localhost:9999') }), { code: 'INVALID_DATA', target: 'attestation' }],
    ["another device's challenge", ({ other }) => ({ origin: ORIGIN, attestation: new SoftwareAuthenticator().register(other, ORIGIN) }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['another RP ID hash', ({ options }) => ({ origin: ORIGIN, attestation: new SoftwareAuthenticator().register(options, ORIGIN, { rpIdForHash: 'evil.example' }) }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['user verification missing where the policy requires it', ({ options }) => ({ origin: ORIGIN, attestation: new SoftwareAuthenticator({ userVerified: false }).register(options, ORIGIN) }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['an assertion type in clientData', ({ options }) => ({ origin: ORIGIN, attestation: new SoftwareAuthenticator().register(options, ORIGIN, { type: 'webauthn.get' }) }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['malformed JSON', () => ({ origin: ORIGIN, attestation: '{"id":' }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['malformed base64', ({ options }) => {
      const a = JSON.parse(new SoftwareAuthenticator().register(options, ORIGIN));
      a.response.attestationObject = `*${a.response.attestationObject as string}`;
      return { origin: ORIGIN, attestation: JSON.stringify(a) };
    }, { code: 'INVALID_DATA', target: 'attestation' }],
    ['malformed CBOR', ({ options }) => {
      const a = JSON.parse(new SoftwareAuthenticator().register(options, ORIGIN));
      a.response.attestationObject = Buffer.from([0xa3, 0x63, 0x66, 0x6d, 0xff, 0x00]).toString('base64');
      return { origin: ORIGIN, attestation: JSON.stringify(a) };
    }, { code: 'INVALID_DATA', target: 'attestation' }],
    ['id and rawId of different credentials', ({ options }) => {
      const a = JSON.parse(new SoftwareAuthenticator().register(options, ORIGIN));
      a.id = randomBytes(32).toString('base64url');
      return { origin: ORIGIN, attestation: JSON.stringify(a) };
    }, { code: 'INVALID_DATA', target: 'attestation' }],
    ['an oversized attestation', () => ({ origin: ORIGIN, attestation: 'x'.repeat(40_000) }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['an extra member', ({ options }) => ({ origin: ORIGIN, attestation: new SoftwareAuthenticator().register(options, ORIGIN), status: 'ACTIVE' }), { code: 'INVALID_DATA', target: 'attestation' }],
    ['no origin', ({ options }) => ({ attestation: new SoftwareAuthenticator().register(options, ORIGIN) }), { code: 'INVALID_DATA', target: 'origin' }],
  ];
  for (const [threat, body, expected] of cases) {
    test(`threat: ${threat} → 400 ${expected.code} on ${expected.target}`, async () => {
      const userId = await createUser(server, env);
      const { path, options } = await pending(userId);
      const other = (await pending(await createUser(server, env))).options;
      const before = await snapshot(server, path);
      const res = await activate(path, body({ options, other }));
      expectError(res, 400, expected.code, { target: expected.target });
      await assertUnchanged(server, before, 1);
    });
  }

  test('threat: a replayed attestation — on its own device after activation, and on another device → 400; nothing changes', async () => {
    const userId = await createUser(server, env);
    const { path, options } = await pending(userId);
    const attestation = new SoftwareAuthenticator().register(options, ORIGIN);
    assert.equal((await activate(path, { origin: ORIGIN, attestation })).status, 200);
    const active = await snapshot(server, path);
    expectError(await activate(path, { origin: ORIGIN, attestation }), 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'status' });
    await assertUnchanged(server, active);
    const second = await pending(userId);
    const before = await snapshot(server, second.path);
    expectError(await activate(second.path, { origin: ORIGIN, attestation }), 400, 'INVALID_DATA', { target: 'attestation' });
    await assertUnchanged(server, before, 1);
  });

  test('threat: expired registration options (after the policy\'s 2 minutes) → 400 EXPIRED', async () => {
    const userId = await createUser(server, env);
    const { path, options } = await pending(userId);
    const attestation = new SoftwareAuthenticator().register(options, ORIGIN);
    server.clock.advance(120_000);
    const before = await snapshot(server, path);
    expectError(await activate(path, { origin: ORIGIN, attestation }), 400, 'INVALID_DATA', { code: 'EXPIRED', target: 'attestation' });
    await assertUnchanged(server, before, 1);
  });

  test('the options decode as Ping\'s sample does (new Uint8Array(array)): the challenge in clientData is the issued one', async () => {
    const userId = await createUser(server, env);
    const { options } = await pending(userId);
    const o = JSON.parse(options);
    const a = JSON.parse(new SoftwareAuthenticator().register(options, ORIGIN));
    const clientData = JSON.parse(Buffer.from(a.response.clientDataJSON, 'base64').toString());
    assert.equal(clientData.challenge, bytesOf(o.challenge).toString('base64url'));
  });
});

test('create refuses an IP address as rp.id, and a policy that does not take FIDO2 → 400; nothing is made', async () => {
  const userId = await createUser(server, env);
  expectError(await server.request('POST', devicesOf(userId), { body: { type: 'FIDO2', rp: { id: '127.0.0.1', name: 'x' } } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'rp.id' });
  const off = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, { body: { name: 'no fido2', fido2: { enabled: false } } });
  expectError(await server.request('POST', devicesOf(userId), { body: { type: 'FIDO2', rp: RP, policy: { id: off.body.id } } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'policy.id' });
  assert.equal((await server.request('GET', devicesOf(userId))).body.size, 0);
});
