/**
 * FIDO2 policies (wave-2 reference §2.1, §2.2): one default per environment, CRUD with whole
 * bodies, PingOne's limits, the `fido2` section of device authentication policies naming a
 * FIDO2 policy (§2.5), and the fido2.migrate action (§2.6). Each test works in an environment
 * of its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { useTestServer, createEnvironment, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
useTestServer(async (s) => {
  server = s;
});

const fido2Of = (env: string) => `/v1/environments/${env}/fido2Policies`;
const dapsOf = (env: string) => `/v1/environments/${env}/deviceAuthenticationPolicies`;
const MIGRATE = 'application/vnd.pingidentity.deviceAuthenticationPolicy.fido2.migrate+json';

/** The request of Ping's "Create FIDO Policy - all FIDO-certified authenticators" (wave-2 reference §2.2), as sent. */
const REFERENCE_REQUEST = {
  name: 'FIDO Policy - allow only FIDO-certified authenticators',
  description: 'FIDO Policy that specifies that only FIDO-certified authenticators can be used',
  deviceDisplayName: 'Fido2 device',
  discoverableCredentials: 'REQUIRED',
  authenticatorAttachment: 'BOTH',
  userVerification: { enforceDuringAuthentication: true, option: 'REQUIRED' },
  userPresenceTimeout: { duration: 4, timeUnit: 'MINUTES' },
  backupEligibility: { enforceDuringAuthentication: true, allow: true },
  userDisplayNameAttributes: { attributes: [{ name: 'username' }, { name: 'email' }] },
  attestationRequirements: 'DIRECT',
  mdsAuthenticatorsRequirements: { allowedAuthenticators: null, enforceDuringAuthentication: true, option: 'CERTIFIED' },
  relyingPartyId: 'relyingpartydomain.example.com',
  publicKeyCredentialHints: ['SECURITY_KEY', 'CLIENT_DEVICE', 'HYBRID'],
};

/** The reference's 201 body without what is volatile; the timeout is the one sent (the reference's 2 is its own inconsistency, §2.2 notes). */
function referenceResponse(env: string, id: string, at: string) {
  const { mdsAuthenticatorsRequirements: { allowedAuthenticators, ...mds }, ...rest } = REFERENCE_REQUEST;
  void allowedAuthenticators;
  return {
    _links: { self: { href: `${server.config.apiPath}/environments/${env}/fido2Policies/${id}` }, environment: { href: `${server.config.apiPath}/environments/${env}` } },
    id,
    environment: { id: env },
    updatedAt: at,
    createdAt: at,
    ...rest,
    mdsAuthenticatorsRequirements: mds,
    aggregateDevices: false,
    default: false,
  };
}

async function list(env: string): Promise<Array<Record<string, any>>> {
  const res = await server.request('GET', fido2Of(env));
  assert.equal(res.status, 200, res.text);
  return res.body._embedded.fido2Policies;
}

test('every environment starts with one default FIDO2 policy, "Passkeys" (relying party localhost: the server\'s RP ID is an IP address)', async () => {
  const env = await createEnvironment(server, 'fido2: default');
  const res = await server.request('GET', fido2Of(env));
  assert.equal(res.status, 200, res.text);
  const p = res.body._embedded.fido2Policies[0];
  const at = p.createdAt as string;
  assert.deepEqual(res.body, {
    _links: { self: { href: `${server.config.apiPath}/environments/${env}/fido2Policies` } },
    _embedded: {
      fido2Policies: [{
        _links: { self: { href: `${server.config.apiPath}/environments/${env}/fido2Policies/${p.id as string}` }, environment: { href: `${server.config.apiPath}/environments/${env}` } },
        id: p.id,
        environment: { id: env },
        createdAt: at,
        updatedAt: at,
        name: 'Passkeys',
        description: 'Passkeys and security keys (the environment default)',
        relyingPartyId: 'localhost',
        deviceDisplayName: 'Passkey',
        discoverableCredentials: 'REQUIRED',
        authenticatorAttachment: 'BOTH',
        userVerification: { enforceDuringAuthentication: true, option: 'REQUIRED' },
        userPresenceTimeout: { duration: 2, timeUnit: 'MINUTES' },
        backupEligibility: { enforceDuringAuthentication: false, allow: true },
        userDisplayNameAttributes: { attributes: [{ name: 'username' }, { name: 'email' }] },
        attestationRequirements: 'NONE',
        mdsAuthenticatorsRequirements: { enforceDuringAuthentication: false, option: 'NONE' },
        aggregateDevices: false,
        default: true,
      }],
    },
    count: 1,
    size: 1,
  });
  // The default device authentication policy takes FIDO2, with PingOne's failure limits.
  const dap = (await server.request('GET', dapsOf(env))).body._embedded.deviceAuthenticationPolicies[0];
  assert.deepEqual(dap.fido2, { enabled: true, pairingDisabled: false, promptForNicknameOnPairing: false, failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } });
});

test("the reference's create request → 201 with the reference's body; read, list, PUT and DELETE follow", async () => {
  const env = await createEnvironment(server, 'fido2: crud');
  server.clock.advance(1); // the list is in creation order: after the default
  const at = iso(server.clock.now());
  const created = await server.request('POST', fido2Of(env), { body: REFERENCE_REQUEST });
  assert.equal(created.status, 201, created.text);
  const id = created.body.id as string;
  assert.deepEqual(created.body, referenceResponse(env, id, at));

  const read = await server.request('GET', `${fido2Of(env)}/${id}`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, created.body);
  assert.deepEqual((await list(env)).map((p) => [p.name, p.default]), [['Passkeys', true], [REFERENCE_REQUEST.name, false]]);

  server.clock.advance(1000);
  const replacement = {
    name: 'Security keys only', relyingPartyId: 'example.com', deviceDisplayName: 'fidoPolicy.deviceDisplayName01',
    discoverableCredentials: 'DISCOURAGED', authenticatorAttachment: 'CROSS_PLATFORM',
    userVerification: { enforceDuringAuthentication: false, option: 'DISCOURAGED' },
    backupEligibility: { enforceDuringAuthentication: false, allow: false },
    userDisplayNameAttributes: { attributes: [{ name: 'name', subAttributes: [{ name: 'given' }, { name: 'family' }] }, { name: 'username' }], suffix: 'ORG_NAME_AND_ENV_NAME' },
    attestationRequirements: 'DIRECT',
    mdsAuthenticatorsRequirements: { enforceDuringAuthentication: true, option: 'SPECIFIC', allowedAuthenticators: [{ id: 'ee882879-721c-4913-9775-3dfcce97072a' }] },
  };
  const put = await server.request('PUT', `${fido2Of(env)}/${id}`, { body: replacement });
  assert.equal(put.status, 200, put.text);
  // A full replacement: the description and hints are gone, the timeout is back to its default.
  assert.deepEqual(put.body, {
    _links: created.body._links, id, environment: { id: env }, createdAt: at, updatedAt: iso(server.clock.now()),
    ...replacement, userPresenceTimeout: { duration: 2, timeUnit: 'MINUTES' }, aggregateDevices: false, default: false,
  });

  const del = await server.request('DELETE', `${fido2Of(env)}/${id}`);
  assert.equal(del.status, 204, del.text);
  expectError(await server.request('GET', `${fido2Of(env)}/${id}`), 404, 'NOT_FOUND');
  expectError(await server.request('DELETE', `${fido2Of(env)}/${id}`), 404, 'NOT_FOUND');
  expectError(await server.request('PUT', `${fido2Of(env)}/${id}`, { body: replacement }), 404, 'NOT_FOUND');
  assert.equal((await list(env)).length, 1);
});

test('exactly one default: a new default takes the flag; the default cannot give it up or be deleted', async () => {
  const env = await createEnvironment(server, 'fido2: default moves');
  const [first] = await list(env);
  server.clock.advance(1);
  const made = await server.request('POST', fido2Of(env), { body: { ...REFERENCE_REQUEST, default: true } });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.body.default, true);
  assert.deepEqual((await list(env)).map((p) => [p.id, p.default]), [[first!.id, false], [made.body.id, true]]);
  expectError(await server.request('PUT', `${fido2Of(env)}/${made.body.id as string}`, { body: { ...REFERENCE_REQUEST, default: false } }), 400, 'INVALID_DATA',
    { code: 'CONSTRAINT_VIOLATION', target: 'default' });
  expectError(await server.request('DELETE', `${fido2Of(env)}/${made.body.id as string}`), 400, 'REQUEST_FAILED', { code: 'CONSTRAINT_VIOLATION', target: 'default' });
  // The old default is an ordinary policy now, and goes.
  assert.equal((await server.request('DELETE', `${fido2Of(env)}/${first!.id as string}`)).status, 204);
  assert.deepEqual((await list(env)).map((p) => p.default), [true]);
});

test("PingOne's limits and rules → 400 INVALID_DATA naming the member; nothing is stored", async () => {
  const env = await createEnvironment(server, 'fido2: validation');
  const before = await list(env);
  const R = REFERENCE_REQUEST;
  const cases: Array<[string, unknown, { code: string; target: string; innerError?: Record<string, unknown> }]> = [
    ['no relyingPartyId', { ...R, relyingPartyId: undefined }, { code: 'REQUIRED_VALUE', target: 'relyingPartyId' }],
    ['an upper-case relyingPartyId', { ...R, relyingPartyId: 'Example.com' }, { code: 'INVALID_VALUE', target: 'relyingPartyId' }],
    ['a URL as relyingPartyId', { ...R, relyingPartyId: 'https://example.com' }, { code: 'INVALID_VALUE', target: 'relyingPartyId' }],
    ['a name of 257 characters', { ...R, name: 'n'.repeat(257) }, { code: 'SIZE_LIMIT_EXCEEDED', target: 'name' }],
    ['a deviceDisplayName of 101 characters', { ...R, deviceDisplayName: 'd'.repeat(101) }, { code: 'SIZE_LIMIT_EXCEEDED', target: 'deviceDisplayName' }],
    ['an unknown attestation', { ...R, attestationRequirements: 'INDIRECT' }, { code: 'INVALID_VALUE', target: 'attestationRequirements' }],
    ['backupEligibility without enforceDuringAuthentication', { ...R, backupEligibility: { allow: true } }, { code: 'REQUIRED_VALUE', target: 'backupEligibility.enforceDuringAuthentication' }],
    ['display name without username', { ...R, userDisplayNameAttributes: { attributes: [{ name: 'email' }] } }, { code: 'INVALID_VALUE', target: 'userDisplayNameAttributes.attributes' }],
    ['seven display-name attributes', { ...R, userDisplayNameAttributes: { attributes: ['username', 'email', 'nickname', 'title', 'externalId', 'mobilePhone', 'primaryPhone'].map((name) => ({ name })) } },
      { code: 'INVALID_VALUE', target: 'userDisplayNameAttributes.attributes' }],
    ['an enumerated attribute (enabled)', { ...R, userDisplayNameAttributes: { attributes: [{ name: 'username' }, { name: 'enabled' }] } }, { code: 'INVALID_VALUE', target: 'userDisplayNameAttributes.attributes[1].name' }],
    ['username twice', { ...R, userDisplayNameAttributes: { attributes: [{ name: 'username' }, { name: 'username' }] } }, { code: 'UNIQUENESS_VIOLATION', target: 'userDisplayNameAttributes.attributes[1].name' }],
    ['name without its parts', { ...R, userDisplayNameAttributes: { attributes: [{ name: 'name' }, { name: 'username' }] } }, { code: 'INVALID_VALUE', target: 'userDisplayNameAttributes.attributes[0].subAttributes' }],
    ['name with given alone', { ...R, userDisplayNameAttributes: { attributes: [{ name: 'name', subAttributes: [{ name: 'given' }] }, { name: 'username' }] } },
      { code: 'INVALID_VALUE', target: 'userDisplayNameAttributes.attributes[0].subAttributes' }],
    ['a timeout of 11 minutes', { ...R, userPresenceTimeout: { duration: 11, timeUnit: 'MINUTES' } }, { code: 'OUT_OF_RANGE', target: 'userPresenceTimeout.duration', innerError: { rangeMinimumValue: 1, rangeMaximumValue: 10 } }],
    ['a timeout of 59 seconds', { ...R, userPresenceTimeout: { duration: 59, timeUnit: 'SECONDS' } }, { code: 'OUT_OF_RANGE', target: 'userPresenceTimeout.duration', innerError: { rangeMinimumValue: 60, rangeMaximumValue: 600 } }],
    ['SPECIFIC with no authenticator', { ...R, mdsAuthenticatorsRequirements: { enforceDuringAuthentication: true, option: 'SPECIFIC' } }, { code: 'REQUIRED_VALUE', target: 'mdsAuthenticatorsRequirements.allowedAuthenticators' }],
    ['an allow-list with CERTIFIED', { ...R, mdsAuthenticatorsRequirements: { enforceDuringAuthentication: true, option: 'CERTIFIED', allowedAuthenticators: [{ id: 'a' }] } },
      { code: 'INVALID_VALUE', target: 'mdsAuthenticatorsRequirements.allowedAuthenticators' }],
    ['no attestation yet metadata checks', { ...R, attestationRequirements: 'NONE' }, { code: 'INVALID_VALUE', target: 'mdsAuthenticatorsRequirements.option', innerError: { allowedValues: ['NONE'] } }],
    ['a hint twice', { ...R, publicKeyCredentialHints: ['HYBRID', 'HYBRID'] }, { code: 'INVALID_VALUE', target: 'publicKeyCredentialHints' }],
    ['an unknown member', { ...R, junk: 1 }, { code: 'INVALID_VALUE', target: 'junk' }],
  ];
  for (const [what, body, detail] of cases) {
    const res = await server.request('POST', fido2Of(env), { body });
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    expectError(res, 400, 'INVALID_DATA', { code: detail.code, target: detail.target });
    if (detail.innerError) assert.deepEqual(res.body.details[0].innerError, detail.innerError, what);
  }
  assert.deepEqual(await list(env), before);
});

test('fido2.fido2PolicyId of a device authentication policy names a FIDO2 policy of its environment; a named one is not deleted', async () => {
  const env = await createEnvironment(server, 'fido2: dap');
  const other = await createEnvironment(server, 'fido2: dap other');
  const mine = (await server.request('POST', fido2Of(env), { body: REFERENCE_REQUEST })).body.id as string;
  const theirs = (await list(other))[0]!.id as string;
  const fido2 = (fido2PolicyId: string | null) => ({ enabled: true, fido2PolicyId, failure: { count: 4, coolDown: { duration: 150, timeUnit: 'SECONDS' } } });
  for (const id of [theirs, '7c4ab7b4-6e2f-4d26-8e8a-4b8b7fd0e8f1']) {
    expectError(await server.request('POST', dapsOf(env), { body: { name: 'p', fido2: fido2(id) } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'fido2.fido2PolicyId' });
  }
  const made = await server.request('POST', dapsOf(env), { body: { name: 'p', fido2: fido2(mine) } });
  assert.equal(made.status, 201, made.text);
  assert.deepEqual(made.body.fido2, { ...fido2(mine), pairingDisabled: false, promptForNicknameOnPairing: false });
  const inUse = await server.request('DELETE', `${fido2Of(env)}/${mine}`);
  expectError(inUse, 400, 'REQUEST_FAILED', { code: 'CONSTRAINT_VIOLATION', target: 'id' });
  assert.equal((await server.request('GET', `${fido2Of(env)}/${mine}`)).status, 200);
  // Pointed elsewhere (null: the default), it goes.
  assert.equal((await server.request('PUT', `${dapsOf(env)}/${made.body.id as string}`, { body: { name: 'p', fido2: fido2(null) } })).status, 200);
  assert.equal((await server.request('DELETE', `${fido2Of(env)}/${mine}`)).status, 204);
});

test('fido2.migrate → 200 with the migrated policies, each pointed at the FIDO2 policy given or the default; an unknown ID changes nothing', async () => {
  const env = await createEnvironment(server, 'fido2: migrate');
  const [fallback] = await list(env);
  const chosen = (await server.request('POST', fido2Of(env), { body: REFERENCE_REQUEST })).body.id as string;
  const [dflt] = (await server.request('GET', dapsOf(env))).body._embedded.deviceAuthenticationPolicies;
  const second = (await server.request('POST', dapsOf(env), { body: { name: 'second' } })).body;
  server.clock.advance(1000);

  const refused = await server.request('POST', dapsOf(env), {
    contentType: MIGRATE, body: { migrationData: [{ deviceAuthenticationPolicyId: dflt.id }, { deviceAuthenticationPolicyId: 'c0ffee00-0000-4000-8000-000000000000' }] },
  });
  expectError(refused, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'migrationData[1].deviceAuthenticationPolicyId' });
  expectError(await server.request('POST', dapsOf(env), { contentType: MIGRATE, body: { migrationData: [{ deviceAuthenticationPolicyId: dflt.id, fido2PolicyId: 'nope' }] } }),
    400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'migrationData[0].fido2PolicyId' });
  expectError(await server.request('POST', dapsOf(env), { contentType: MIGRATE, body: { migrationData: [] } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'migrationData' });
  assert.deepEqual((await server.request('GET', `${dapsOf(env)}/${dflt.id as string}`)).body, dflt);

  const res = await server.request('POST', dapsOf(env), {
    contentType: MIGRATE, body: { migrationData: [{ deviceAuthenticationPolicyId: dflt.id }, { deviceAuthenticationPolicyId: second.id, fido2PolicyId: chosen }] },
  });
  assert.equal(res.status, 200, res.text);
  const updatedAt = iso(server.clock.now());
  assert.deepEqual(res.body, {
    _links: { self: { href: `${server.config.publicUrl}${dapsOf(env)}` } },
    _embedded: {
      deviceAuthenticationPolicies: [
        { ...dflt, fido2: { ...dflt.fido2, fido2PolicyId: fallback!.id }, updatedAt },
        { ...second, fido2: { ...second.fido2, fido2PolicyId: chosen }, updatedAt },
      ],
    },
    count: 2,
    size: 2,
  });
  assert.deepEqual((await server.request('GET', `${dapsOf(env)}/${second.id as string}`)).body, res.body._embedded.deviceAuthenticationPolicies[1]);
});
