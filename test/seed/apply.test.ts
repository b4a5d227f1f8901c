/**
 * Seed files (docs/seed.md) applied through POST /openmfa/v1/seed, on the example the docs
 * show: every item is made in one transaction, every device reads back in its status and
 * works — the TOTP seed with codes from the RFC 6238 oracle, the desktop key with assertions
 * signed by jose, the pending devices activate — a second apply changes no row, and a bad
 * file is refused naming the JSON path, with nothing written.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { DIALECT, useTestServer, type TestServer } from '../helper.js';
import { assertError, MSG } from '../support/errors.js';
import { totpCode } from '../support/rfc6238.js';
import { CT, handAssertion, ORIGIN } from '../authentication/support.js';
import { latestCode } from '../devices/otp-support.js';
import { dumpRows, EXAMPLE_DESKTOP_KEY, loadExample } from './support.js';

const SEED = '/openmfa/v1/seed';
const ENV = 'def2dabf-e2c7-4bf3-b374-9bf5588f7f8f';
const ALICE = '26105411-be61-4a85-940c-46f8024ebb37';
const BOB = '39e5d807-21e9-4a31-b5f5-66deb4a038b8';
const CAROL = '7b4a16cd-37d7-4566-a65d-601983a231df';
const ALICE_EMAIL = '9d46f0e3-a475-4c94-8ac3-68008b831662';
const ALICE_TOTP = 'c3915b79-2c11-400d-a8ec-5c509f09abd1';
const ALICE_SMS = 'b27c0358-2c41-4779-b2da-1b18c4a44f51';
const BOB_DESKTOP = '2454ebdf-47eb-480e-88fe-d59fbe0159d6';
const BOB_EMAIL = '48147ae0-df3d-47eb-a996-50c44ff28fbb';
const ALICE_SECRET = 'VWCDTEWZ5AKQAOEDFJDMOKX3ZGQK5QHN';
const CAROL_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const CREDENTIAL = { credentialId: '5d3f9d3e-7a47-4cc2-9f63-2c3a0f3f2b11', privateKey: EXAMPLE_DESKTOP_KEY, unitId: '4d764d06-6aa5-4c15-ac8c-4df655cbf867' };

const api = (p: string) => `/v1/environments/${ENV}${p}`;
const devicesOf = (user: string) => api(`/users/${user}/devices`);

const counts = (c: Partial<Record<string, number>>) => ({ environments: 0, mfaSettings: 0, populations: 0, policies: 0, applications: 0, users: 0, devices: 0, ...c });

describe(`seed files through POST /openmfa/v1/seed (${DIALECT})`, () => {
  let server: TestServer;
  useTestServer((s) => { server = s; });

  /** Starts a flow for `user` and, when asked to select, selects `device`; returns the flow. */
  async function flowOn(user: string, device: string) {
    const start = await server.request('POST', `/${ENV}/deviceAuthentications`, { body: { user: { id: user } } });
    assert.equal(start.status, 200, start.text);
    if (start.body.status !== 'DEVICE_SELECTION_REQUIRED') return start.body;
    const selected = await server.request('POST', `/${ENV}/deviceAuthentications/${start.body.id}`, { contentType: CT.select, body: { device: { id: device } } });
    assert.equal(selected.status, 200, selected.text);
    return selected.body;
  }

  test('the example file is made in one apply: what it lists, and nothing else', async () => {
    const res = await server.request('POST', SEED, { body: loadExample() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.body, {
      written: counts({ environments: 1, mfaSettings: 1, populations: 1, policies: 1, applications: 1, users: 4, devices: 10 }),
      unchanged: counts({}),
    });
    const users = await server.request('GET', api('/users'));
    assert.deepEqual(users.body._embedded.users.map((u: any) => [u.username, u.enabled, u.population.id === '84ea4a6a-d79c-4111-ac97-cc697df00ec0']).sort(),
      [['alice', true, true], ['bob', true, false], ['carol', true, false], ['dave', false, false]]);
    const settings = await server.request('GET', api('/mfaSettings'));
    assert.deepEqual({ pairing: settings.body.pairing, lockout: settings.body.lockout }, { pairing: { maxAllowedDevices: 10, pairingKeyFormat: 'ALPHANUMERIC' }, lockout: { failureCount: 5, durationSeconds: 300 } });
    const policies = await server.request('GET', api('/deviceAuthenticationPolicies'));
    assert.deepEqual(policies.body._embedded.deviceAuthenticationPolicies.map((p: any) => [p.name, p.default, p.whatsApp.enabled, p.authentication.deviceSelection]).sort(),
      [['Default MFA Policy', false, false, 'DEFAULT_TO_FIRST'], ['Seeded default', true, true, 'PROMPT_TO_SELECT']]);
  });

  test('every device reads back with its type, status and public fields; secrets and keys are not shown', async () => {
    const now = iso(server.clock.now());
    const alice = await server.request('GET', devicesOf(ALICE));
    assert.equal(alice.status, 200, alice.text);
    const link = (user: string, id: string) => `${server.config.apiPath}/environments/${ENV}/users/${user}/devices/${id}`;
    const base = (user: string, id: string, type: string, status: string) => ({
      _links: { self: { href: link(user, id) }, environment: { href: `${server.config.apiPath}/environments/${ENV}` }, user: { href: `${server.config.apiPath}/environments/${ENV}/users/${user}` }, ...(status === 'ACTIVATION_REQUIRED' ? { activate: { href: link(user, id) } } : {}) },
      id, environment: { id: ENV }, user: { id: user }, type, lock: { status: 'UNLOCKED' }, block: { status: 'UNBLOCKED' }, status, createdAt: now, updatedAt: now,
    });
    const sortById = (list: any[]) => [...list].sort((a, b) => (a.id < b.id ? -1 : 1));
    assert.deepEqual(sortById(alice.body._embedded.devices), sortById([
      { ...base(ALICE, ALICE_EMAIL, 'EMAIL', 'ACTIVE'), email: 'alice@example.com' },
      { ...base(ALICE, ALICE_TOTP, 'TOTP', 'ACTIVE'), nickname: 'Authenticator app' },
      { ...base(ALICE, ALICE_SMS, 'SMS', 'ACTIVE'), phone: '+15125201234' },
    ]));
    const bob = await server.request('GET', devicesOf(BOB));
    assert.deepEqual(sortById(bob.body._embedded.devices), sortById([
      {
        ...base(BOB, BOB_DESKTOP, 'PINGID_DESKTOP_GEN2', 'ACTIVE'), rp: { id: 'pingone.eu', name: 'pingone.eu' }, nickname: 'Desktop Mac',
        os: { type: 'MAC', version: '15.7.3' }, model: {}, unitId: CREDENTIAL.unitId,
        application: { id: '941d6390-ec3a-4bf4-858a-949c47ccd36e', nativeName: 'PingID Desktop', version: '1.0.0', pushSandbox: false },
      },
      { ...base(BOB, BOB_EMAIL, 'EMAIL', 'ACTIVATION_REQUIRED'), email: 'bob@example.com' },
    ]));
    const carol = await server.request('GET', devicesOf(CAROL));
    assert.deepEqual(carol.body._embedded.devices.map((d: any) => [d.type, d.status, d.phone ?? d.rp?.id ?? null]).sort(), [
      ['PINGID_DESKTOP_GEN2', 'ACTIVATION_REQUIRED', 'pingone.eu'], ['TOTP', 'ACTIVATION_REQUIRED', null], ['VOICE', 'ACTIVE', '+442079460958'], ['WHATSAPP', 'ACTIVE', '+4915123456789'],
    ]);
    // Sealed and stored as the API's own create and activation store them.
    const totp = await server.store.db.selectFrom('devices').select(['secret_sealed', 'credential_id', 'public_jwk']).where('id', '=', ALICE_TOTP).executeTakeFirstOrThrow();
    assert.match(totp.secret_sealed!, /^v1\./);
    assert.ok(!totp.secret_sealed!.includes(ALICE_SECRET));
    const desktop = await server.store.db.selectFrom('devices').select(['credential_id', 'public_jwk', 'challenge_hash']).where('id', '=', BOB_DESKTOP).executeTakeFirstOrThrow();
    assert.deepEqual({ ...desktop, public_jwk: JSON.parse(desktop.public_jwk!) }, {
      credential_id: CREDENTIAL.credentialId, challenge_hash: null,
      public_jwk: { kty: 'EC', crv: 'P-256', x: 'syCIdtblospqcpL7TgFLl7GwGcMgXzkBpsrPiWUEwxU', y: 'Mx8vCj67RnzAJiCjhTScFnQxNafYAAR4H1syghH-gXQ' },
    });
  });

  test('applying the same file again changes no row of any table, and says so', async () => {
    const before = await dumpRows(server.store);
    server.clock.advance(1000);
    const res = await server.request('POST', SEED, { body: loadExample() });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      written: counts({}),
      unchanged: counts({ environments: 1, mfaSettings: 1, populations: 1, policies: 1, applications: 1, users: 4, devices: 10 }),
    });
    assert.deepEqual(await dumpRows(server.store), before);
  });

  test('a bad file is refused naming the JSON path, and nothing is written', async () => {
    const before = await dumpRows(server.store);
    const bad = loadExample();
    bad.environments[0].users[0].devices[1].secret = 'ONE1ONE1ONE1ONE1ONE1ONE1ONE1ONE1'; // 1 is not base32
    assertError(await server.request('POST', SEED, { body: bad }), 400, {
      code: 'INVALID_DATA', message: MSG.INVALID_DATA,
      details: [{ code: 'INVALID_VALUE', target: 'environments[0].users[0].devices[1].secret', message: 'environments[0].users[0].devices[1].secret has an invalid format', innerError: { allowedPattern: '^[A-Za-z2-7]+=*$' } }],
    });

    // Refused deep inside, after a new environment, user and devices were made: all rolled back.
    const late = { environments: [{ name: 'rolled back', region: 'NA', type: 'SANDBOX', users: [
      { username: 'erin', devices: [{ type: 'EMAIL', email: 'erin@example.com' }] },
      { username: 'frank', devices: [{ type: 'SMS', phone: '+15125550100' }, { type: 'PINGID_DESKTOP_GEN2', credentialId: 'c1', publicJwk: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) } }] },
    ] }] };
    assertError(await server.request('POST', SEED, { body: late }), 400, {
      code: 'INVALID_DATA', message: MSG.INVALID_DATA,
      details: [{ code: 'INVALID_VALUE', target: 'environments[0].users[1].devices[1].publicJwk', message: /^publicJwk is not acceptable: / }],
    });

    // A rule of the device create itself, under the item's path.
    const email = loadExample();
    email.environments[0].users[3].devices.push({ type: 'EMAIL', email: 'not an address' });
    assertError(await server.request('POST', SEED, { body: email }), 400, {
      code: 'INVALID_DATA', message: MSG.INVALID_DATA,
      details: [{ code: 'INVALID_VALUE', target: 'environments[0].users[3].devices[1].email', message: 'email is not a valid email address' }],
    });

    // An id that is another environment's.
    const stolen = { environments: [{ name: 'other', region: 'NA', type: 'SANDBOX', users: [{ id: ALICE, username: 'alice' }] }] };
    assertError(await server.request('POST', SEED, { body: stolen }), 400, {
      code: 'INVALID_DATA', message: MSG.INVALID_DATA,
      details: [{ code: 'UNIQUENESS_VIOLATION', target: 'environments[0].users[0].id', message: 'This ID belongs to a user of another environment' }],
    });

    for (const [device, target, message] of [
      [{ type: 'TOTP' }, 'secret', 'A TOTP device in a seed file needs its secret (base32)'],
      [{ type: 'EMAIL', email: 'x@example.com', secret: ALICE_SECRET }, 'secret', 'secret is taken for TOTP and MOBILE devices only'],
      [{ type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVE', credentialId: 'c1' }, 'publicJwk', 'An ACTIVE PINGID_DESKTOP_GEN2 device needs the public key it was paired with'],
    ] as const) {
      const file = { environments: [{ name: 'x', region: 'NA', type: 'SANDBOX', users: [{ username: 'x', devices: [device] }] }] };
      const res = await server.request('POST', SEED, { body: file });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body.details.map((d: any) => [d.target, d.message]), [[`environments[0].users[0].devices[0].${target}`, message]]);
    }
    assert.deepEqual(await dumpRows(server.store), before);
  });

  test("the file's application credentials get a token for its environment", async () => {
    const token = await server.token('0e8e18bd-5b1d-4e98-9b60-668acccbd321', 'seed-example-secret-0123456789-ABCDEFGHIJ', ENV);
    const users = await server.request('GET', api('/users'), { token });
    assert.equal(users.status, 200, users.text);
    // …and only for it: a seed reaches every environment, so only the bootstrap administrator may apply one.
    assertError(await server.request('POST', SEED, { token, body: loadExample() }), 403, {
      code: 'ACCESS_FAILED', message: MSG.FORBIDDEN, details: [{ code: 'INSUFFICIENT_PERMISSIONS', message: 'Only the bootstrap administrator application may use the OpenMFA administration API' }],
    });
    const anonymous = await server.request('POST', SEED, { token: null, body: loadExample() });
    assert.equal(anonymous.status, 401, anonymous.text);
    const openapi = await server.request('GET', '/openapi.json', { token: null });
    assert.ok(!Object.keys(openapi.body.paths).some((p) => p.startsWith('/openmfa/')), 'the administration API is not in /openapi.json');
  });

  test("alice's ACTIVE TOTP authenticates with the oracle's code for the file's secret", async () => {
    const flow = await flowOn(ALICE, ALICE_TOTP);
    assert.equal(flow.status, 'OTP_REQUIRED');
    const done = await server.request('POST', `/${ENV}/deviceAuthentications/${flow.id}`, { contentType: CT.otpCheck, body: { otp: totpCode(ALICE_SECRET, server.clock.now()) } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
  });

  test("alice's ACTIVE EMAIL authenticates with the code sent to the outbox", async () => {
    const flow = await flowOn(ALICE, ALICE_EMAIL);
    assert.equal(flow.status, 'OTP_REQUIRED');
    const otp = await latestCode(server, ENV, 'alice@example.com');
    const done = await server.request('POST', `/${ENV}/deviceAuthentications/${flow.id}`, { contentType: CT.otpCheck, body: { otp } });
    assert.equal(done.body.status, 'COMPLETED', done.text);
  });

  test("bob's paired desktop verifies an assertion signed with the example's key (jose)", async () => {
    const flow = await flowOn(BOB, BOB_DESKTOP);
    assert.equal(flow.status, 'ASSERTION_REQUIRED', JSON.stringify(flow));
    const assertion = await handAssertion(flow.pingIdDesktopCredentialRequestOptions, CREDENTIAL, server.clock.now());
    const done = await server.request('POST', `/${ENV}/deviceAuthentications/${flow.id}`, { contentType: CT.assertionCheck, body: { origin: ORIGIN, assertion } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
  });

  test("the pending devices activate: bob's EMAIL with its queued code, carol's TOTP with the oracle's code", async () => {
    const code = await latestCode(server, ENV, 'bob@example.com');
    const email = await server.request('POST', `${devicesOf(BOB)}/${BOB_EMAIL}`, { contentType: CT.activate, body: { otp: code } });
    assert.equal(email.status, 200, email.text);
    assert.equal(email.body.status, 'ACTIVE');
    const carol = await server.request('GET', devicesOf(CAROL));
    const totp = carol.body._embedded.devices.find((d: any) => d.type === 'TOTP');
    const activated = await server.request('POST', `${devicesOf(CAROL)}/${totp.id}`, { contentType: CT.activate, body: { otp: totpCode(CAROL_SECRET, server.clock.now()) } });
    assert.equal(activated.status, 200, activated.text);
    assert.equal(activated.body.status, 'ACTIVE');
  });
});
