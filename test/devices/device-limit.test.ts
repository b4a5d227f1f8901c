/**
 * The device limit (reference §8.1, §7.3) holds under parallel creates: the count and the
 * insert share one transaction that holds the user's row, so 50 racing creates make exactly
 * `maxAllowedDevices` devices and the rest get the documented LIMIT_EXCEEDED body.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, createUser, withoutVolatile, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const LIMIT_BODY = (maximumAllowed: number) => ({
  id: '<id>',
  code: 'REQUEST_FAILED',
  message: 'The request could not be completed. There was an issue processing the request.',
  details: [{ code: 'LIMIT_EXCEEDED', message: 'Maximum allowed devices has been reached', innerError: { maximumAllowed } }],
});

const countDevices = async (userId: string): Promise<number> => {
  const { n } = await server.store.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(n);
};

test('a create flood past the limit: 50 parallel desktop creates with maxAllowedDevices 5 make exactly 5 devices; 45 answer the §7.3 body', async () => {
  const put = await server.request('PUT', `/v1/environments/${env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 5 } } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.pairing.maxAllowedDevices, 5);
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const results = await Promise.all(Array.from({ length: 50 }, () =>
    server.request('POST', devices, { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' } })));
  const created = results.filter((r) => r.status === 201);
  const refused = results.filter((r) => r.status !== 201);
  assert.equal(created.length, 5, results.map((r) => r.status).join(','));
  assert.equal(refused.length, 45);
  for (const r of refused) {
    expectError(r, 400, 'REQUEST_FAILED', { code: 'LIMIT_EXCEEDED' });
    assert.deepEqual(withoutVolatile(r.body), LIMIT_BODY(5));
    assert.match(r.body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  }
  assert.equal(new Set(refused.map((r) => r.body.id)).size, 45, 'each error has its own id');
  assert.equal(await countDevices(userId), 5);
  const list = await server.request('GET', devices);
  assert.equal(list.body._embedded.devices.length, 5);
  assert.deepEqual(new Set(list.body._embedded.devices.map((d: { id: string }) => d.id)), new Set(created.map((r) => r.body.id)));

  // Deleting one makes room for exactly one more.
  assert.equal((await server.request('DELETE', `${devices}/${created[0]!.body.id as string}`)).status, 204);
  const again = await Promise.all(Array.from({ length: 5 }, () =>
    server.request('POST', devices, { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' } })));
  assert.equal(again.filter((r) => r.status === 201).length, 1);
  for (const r of again.filter((x) => x.status !== 201)) assert.deepEqual(withoutVolatile(r.body), LIMIT_BODY(5));
  assert.equal(await countDevices(userId), 5);
});

test("the limit is per user: another user's devices do not count, and a lower limit blocks new ones but keeps existing ones", async () => {
  const put = await server.request('PUT', `/v1/environments/${env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 2 } } });
  assert.equal(put.status, 200, put.text);
  const a = await createUser(server, env);
  const b = await createUser(server, env);
  const create = (u: string) => server.request('POST', `/v1/environments/${env}/users/${u}/devices`, { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED' } });
  assert.equal((await create(a)).status, 201);
  assert.equal((await create(a)).status, 201);
  assert.deepEqual(withoutVolatile((await create(a)).body), LIMIT_BODY(2));
  assert.equal((await create(b)).status, 201);

  const lower = await server.request('PUT', `/v1/environments/${env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 1 } } });
  assert.equal(lower.status, 200, lower.text);
  assert.equal(await countDevices(a), 2, 'existing devices are kept');
  assert.deepEqual(withoutVolatile((await create(a)).body), LIMIT_BODY(1));
  assert.deepEqual(withoutVolatile((await create(b)).body), LIMIT_BODY(1));
  assert.equal(await countDevices(b), 1);
});
