/**
 * Read-modify-write (issue #18): what SDKs and Terraform do — GET a resource, change a field,
 * PUT (or PATCH) the whole object back, `_links`, `id`, `environment`, `createdAt`,
 * `updatedAt` and the resource's other read-only members included. They are ignored, never
 * taken (the id, environment and creation time stay the server's) and never refused; a member
 * the resource does not have is still 400 naming it. One round trip per resource.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvironment, createUser, useTestServer, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;

useTestServer(async (s) => {
  server = s;
  env = await createEnvironment(server, 'read-modify-write');
});

const e = (path = '') => `/v1/environments/${env}${path}`;
const FOREIGN = { id: '00000000-0000-4000-8000-000000000000', environment: { id: '00000000-0000-4000-8000-000000000001' }, createdAt: '2000-01-01T00:00:00.000Z' };

/**
 * GET path, change it with `modify`, send it back with `method`; the answer is the GET with the
 * change and a new `updatedAt`, and so is the next GET. Then the same body with the read-only
 * members set to someone else's values changes nothing they name, and one unknown member is 400.
 */
async function roundTrip(path: string, modify: (body: Record<string, any>) => void, method: 'PUT' | 'PATCH' = 'PUT', unknown = 'colour') {
  const read = await server.request('GET', path);
  assert.equal(read.status, 200, read.text);
  const body = structuredClone(read.body);
  modify(body);
  server.clock.advance(1000);
  const written = await server.request(method, path, { body });
  assert.equal(written.status, 200, `${method} ${path}: ${written.text}`);
  const { updatedAt, ...rest } = written.body;
  assert.notEqual(updatedAt, read.body.updatedAt, path);
  const { updatedAt: _u, ...expected } = body;
  void _u;
  assert.deepEqual(rest, expected, path);
  assert.deepEqual((await server.request('GET', path)).body, written.body, path);
  // Someone else's id, environment and creation time in the body: ignored as well.
  const hostile = await server.request(method, path, { body: { ...written.body, ...FOREIGN } });
  assert.equal(hostile.status, 200, hostile.text);
  for (const k of ['id', 'environment', 'createdAt'] as const) assert.deepEqual(hostile.body[k], written.body[k], `${path} ${k}`);
  server.clock.advance(1000);
  const refused = await server.request(method, path, { body: { ...written.body, [unknown]: 'blue' } });
  expectError(refused, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: unknown });
  assert.deepEqual((await server.request('GET', path)).body.updatedAt, hostile.body.updatedAt, `${path}: a refused write changed it`);
}

test('MFA settings: GET → pairing.maxAllowedDevices 7 → PUT', async () => {
  await roundTrip(e('/mfaSettings'), (b) => { b.pairing.maxAllowedDevices = 7; });
});

test('the default device authentication policy: GET → sms disabled, forSignOnPolicy true → PUT', async () => {
  const list = await server.request('GET', e('/deviceAuthenticationPolicies'));
  const id = list.body._embedded.deviceAuthenticationPolicies[0].id as string;
  await roundTrip(e(`/deviceAuthenticationPolicies/${id}`), (b) => { b.sms.enabled = false; b.forSignOnPolicy = true; });
});

test('a policy made by POST: GET → totp.uriParameters gains a key → PUT', async () => {
  const made = await server.request('POST', e('/deviceAuthenticationPolicies'), { body: { name: 'rmw policy' } });
  assert.equal(made.status, 201, made.text);
  await roundTrip(e(`/deviceAuthenticationPolicies/${made.body.id as string}`), (b) => { b.totp.uriParameters.image = 'https://example.com/logo.png'; });
});

test('a FIDO2 policy: GET → deviceDisplayName changed → PUT', async () => {
  const list = await server.request('GET', e('/fido2Policies'));
  const id = list.body._embedded.fido2Policies[0].id as string;
  await roundTrip(e(`/fido2Policies/${id}`), (b) => { b.deviceDisplayName = 'Security key'; });
});

test('a user: GET → title changed → PUT, and → nickname changed → PATCH (account, lifecycle, verifyStatus, identityProvider ignored)', async () => {
  const id = await createUser(server, env, 'rmw-user', { title: 'Dr' });
  await roundTrip(e(`/users/${id}`), (b) => { b.title = 'Prof'; });
  await roundTrip(e(`/users/${id}`), (b) => { b.nickname = 'rmw'; }, 'PATCH');
});

test('a population: GET → description changed → PUT (userCount ignored)', async () => {
  const made = await server.request('POST', e('/populations'), { body: { name: 'rmw population' } });
  assert.equal(made.status, 201, made.text);
  await roundTrip(e(`/populations/${made.body.id as string}`), (b) => { b.description = 'changed'; });
  const counted = await server.request('GET', e(`/populations/${made.body.id as string}`));
  const res = await server.request('PUT', e(`/populations/${made.body.id as string}`), { body: { ...counted.body, userCount: 1000 } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.userCount, 0);
});

test('an environment: GET → description changed → PUT (organization and status ignored)', async () => {
  await roundTrip(e(), (b) => { b.description = 'changed'; });
  const res = await server.request('PUT', e(), { body: { ...(await server.request('GET', e())).body, status: 'DELETE_PENDING', organization: { id: 'someone-else' } } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'ACTIVE');
});

test('an application: GET → name and tokenEndpointAuthMethod changed → PUT …/applications/{appID}', async () => {
  const made = await server.request('POST', e('/applications'), { body: { name: 'rmw app', type: 'WORKER' } });
  assert.equal(made.status, 201, made.text);
  await roundTrip(e(`/applications/${made.body.id as string}`), (b) => { b.name = 'renamed app'; b.tokenEndpointAuthMethod = 'CLIENT_SECRET_POST'; });
});

test('a read-only member is ignored only where it is read-only: nested, or on a POST, it is still 400 naming it', async () => {
  const nested = await server.request('PUT', e('/mfaSettings'), { body: { pairing: { maxAllowedDevices: 5, id: 'x' } } });
  expectError(nested, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'pairing.id' });
  const post = await server.request('POST', e('/populations'), { body: { name: 'with id', id: FOREIGN.id } });
  expectError(post, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'id' });
});
