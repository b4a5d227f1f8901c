/**
 * The bundled FIDO metadata set behind `…/fidoDevicesMetadata` (wave-2 reference §2.4): whole
 * bodies of the list and of a read, checked against the published AAGUIDs written out here;
 * 404 for an unknown or malformed id; 403 for another environment's token; POST and DELETE
 * refused with nothing changed; and a FIDO2 allow-list naming a listed AAGUID admits that
 * authenticator (the software authenticator of src/testing as the oracle).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { SoftwareAuthenticator } from '../../src/testing/fido2-authenticator.js';
import { createEnvironment, createUser, createWorker, useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { fido2PolicyBody } from '../fuzz/openapi.js';

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const ORIGIN = 'http://localhost:8080';
const AT = '2026-12-01T00:00:00.000Z';
const YUBIKEY_5_NFC = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const YUBIKEY_5CI = 'c5ef55ff-ad9a-4b9f-b580-adebafe026d0';
/** Published AAGUIDs and names, in AAGUID order (the list order). */
const KNOWN: Array<[string, string]> = [
  ['08987058-cadc-4b81-b6e1-30de50dcbe96', 'Windows Hello'],
  ['adce0002-35bc-c60a-648b-0b25f1f05503', 'Chrome on Mac'],
  ['bada5566-a7aa-401f-bd96-45619a55120d', '1Password'],
  [YUBIKEY_5CI, 'YubiKey 5Ci'],
  [YUBIKEY_5_NFC, 'YubiKey 5 Series with NFC'],
  ['ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4', 'Google Password Manager'],
  ['fbfc3007-154e-4ecc-8c0b-6e020557d7bd', 'iCloud Keychain'],
];

let server: TestServer;
let env: string;
let base: string;
useTestServer(async (s) => {
  server = s;
  env = await createEnvironment(server, 'fido metadata');
  base = `/v1/environments/${env}/fidoDevicesMetadata`;
});

const entry = (aaguid: string, description: string) => ({
  environment: { id: env }, aaguid, metadataStatement: { aaguid, description, protocolFamily: 'fido2', schema: 3 }, createdAt: AT, updatedAt: AT,
});
const listUrl = (query = '') => `${server.config.publicUrl}${base}${query}`;

test('list → 200 with every bundled entry in the §2.4 shape, _links.self, count and size', async () => {
  const res = await server.request('GET', base);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, {
    _links: { self: { href: listUrl() } },
    _embedded: { fidoDevicesMetadata: KNOWN.map(([a, d]) => entry(a, d)) },
    count: 7, size: 7,
  });
  assert.deepEqual(Object.keys(res.body._embedded.fidoDevicesMetadata[0]), ['environment', 'aaguid', 'metadataStatement', 'createdAt', 'updatedAt']);
});

test('list pages with limit and the next/prev cursors like every collection', async () => {
  const first = await server.request('GET', `${base}?limit=3`);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.body._embedded.fidoDevicesMetadata.map((e: any) => e.aaguid), KNOWN.slice(0, 3).map(([a]) => a));
  assert.equal(first.body.count, 7);
  assert.equal(first.body.size, 3);
  assert.equal(first.body._links.prev, undefined);
  const second = await server.request('GET', new URL(first.body._links.next.href).pathname + new URL(first.body._links.next.href).search);
  assert.equal(second.status, 200, second.text);
  assert.deepEqual(second.body._embedded.fidoDevicesMetadata.map((e: any) => e.aaguid), KNOWN.slice(3, 6).map(([a]) => a));
  assert.ok(second.body._links.prev && second.body._links.next);
  expectError(await server.request('GET', `${base}?limit=0`), 400, 'INVALID_DATA', { code: 'INVALID_PARAMETER', target: 'limit' });
  expectError(await server.request('GET', `${base}?cursor=bm90LWEtY3Vyc29y`), 400, 'INVALID_DATA', { code: 'INVALID_PARAMETER', target: 'cursor' });
});

test('read by AAGUID → 200 with the whole entry, in any letter case', async () => {
  const res = await server.request('GET', `${base}/${YUBIKEY_5_NFC}`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, entry(YUBIKEY_5_NFC, 'YubiKey 5 Series with NFC'));
  const upper = await server.request('GET', `${base}/${YUBIKEY_5_NFC.toUpperCase()}`);
  assert.deepEqual(upper.body, res.body);
});

for (const [what, id] of [['an unknown AAGUID', '11111111-2222-3333-4444-555555555555'], ['a malformed id', 'not-an-aaguid'], ['the zero AAGUID', '00000000-0000-0000-0000-000000000000']] as const) {
  test(`read of ${what} → 404 NOT_FOUND`, async () => {
    expectError(await server.request('GET', `${base}/${id}`), 404, 'NOT_FOUND');
  });
}

test("threat: another environment's worker reads the set → 403, as for any environment it does not manage", async () => {
  const other = await createEnvironment(server, 'fido metadata other');
  const { token } = await createWorker(server, other);
  expectError(await server.request('GET', base, { token }), 403, 'ACCESS_FAILED', { code: 'INSUFFICIENT_PERMISSIONS' });
  expectError(await server.request('GET', `${base}/${YUBIKEY_5_NFC}`, { token }), 403, 'ACCESS_FAILED', { code: 'INSUFFICIENT_PERMISSIONS' });
  // Its own environment's list is its own: the same entries, under its environment id.
  const own = await server.request('GET', `/v1/environments/${other}/fidoDevicesMetadata/${YUBIKEY_5_NFC}`, { token });
  assert.equal(own.status, 200, own.text);
  assert.deepEqual(own.body.environment, { id: other });
});

test('threat: adding or deleting an entry → 403 ACCESS_FAILED (the set is read-only); nothing changes', async () => {
  const before = await server.request('GET', base);
  const readOnly = { code: 'INSUFFICIENT_PERMISSIONS', message: /read-only/ };
  const custom = { aaguid: '11111111-2222-3333-4444-555555555555', metadataStatement: { aaguid: '11111111-2222-3333-4444-555555555555', description: 'Evil key', protocolFamily: 'fido2', schema: 3 } };
  expectError(await server.request('POST', base, { body: custom }), 403, 'ACCESS_FAILED', readOnly);
  expectError(await server.request('POST', base, { body: { ...custom, aaguid: YUBIKEY_5_NFC } }), 403, 'ACCESS_FAILED', readOnly);
  expectError(await server.request('DELETE', `${base}/${YUBIKEY_5_NFC}`), 403, 'ACCESS_FAILED', readOnly);
  expectError(await server.request('DELETE', `${base}/11111111-2222-3333-4444-555555555555`), 403, 'ACCESS_FAILED', readOnly);
  assert.deepEqual((await server.request('GET', base)).body, before.body);
  expectError(await server.request('GET', `${base}/11111111-2222-3333-4444-555555555555`), 404, 'NOT_FOUND');
});

describe('a FIDO2 allow-list naming an authenticator of the set', () => {
  let userId: string;
  let policyId: string;
  before(async () => {
    const listed = await server.request('GET', `${base}/${YUBIKEY_5_NFC}`);
    assert.equal(listed.status, 200, listed.text);
    const fido2 = await server.request('POST', `/v1/environments/${env}/fido2Policies`, {
      body: { ...fido2PolicyBody('YubiKey 5 only'), relyingPartyId: 'localhost', attestationRequirements: 'DIRECT',
        mdsAuthenticatorsRequirements: { option: 'SPECIFIC', enforceDuringAuthentication: true, allowedAuthenticators: [{ id: listed.body.aaguid }] } },
    });
    assert.equal(fido2.status, 201, fido2.text);
    const dap = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, { body: { name: 'YubiKey 5 only', fido2: { enabled: true, fido2PolicyId: fido2.body.id } } });
    assert.equal(dap.status, 201, dap.text);
    policyId = dap.body.id as string;
    userId = await createUser(server, env);
  });

  async function register(aaguid: string) {
    const devices = `/v1/environments/${env}/users/${userId}/devices`;
    const created = await server.request('POST', devices, { body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' }, policy: { id: policyId } } });
    assert.equal(created.status, 201, created.text);
    const options = created.body.publicKeyCredentialCreationOptions as string;
    const attestation = new SoftwareAuthenticator({ attestation: 'packed', aaguid }).register(options, ORIGIN);
    return server.request('POST', `${devices}/${created.body.id as string}`, { contentType: ACTIVATE, body: { origin: ORIGIN, attestation } });
  }

  test('the listed YubiKey 5 → ACTIVE with its AAGUID as mdsIdentifier', async () => {
    const done = await register(YUBIKEY_5_NFC);
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'ACTIVE');
    assert.deepEqual(done.body.fidoDeviceMetadata, { mdsIdentifier: YUBIKEY_5_NFC });
  });

  test('threat: another authenticator of the set, not on the allow-list → 400 INVALID_DATA on attestation', async () => {
    expectError(await register(YUBIKEY_5CI), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'attestation' });
  });
});
