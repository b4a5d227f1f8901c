/**
 * Who may use /openmfa/v1/: the bootstrap administrator application only. The threat: a
 * tenant's own worker application — the administrator of its environment — resetting,
 * rewinding or snapshotting every tenant's data, or moving time to expire others' codes and
 * locks: an escalation from one environment to the whole platform. Each refused call changes
 * nothing (useAdminServer, both dialects).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, MSG } from '../support/errors.js';
import { tokenOf } from '../support/processes.js';
import { useAdminServer, type AdminServer } from './support.js';

let server: AdminServer;
let tenant: { env: string; token: string };
let insider: string;
let snapshotId: string;
useAdminServer(async (s) => {
  server = s;
  const env = (await s.request('POST', '/v1/environments', { body: { name: 'tenant', region: 'EU', type: 'SANDBOX' } })).body.id as string;
  const app = (await s.request('POST', `/v1/environments/${env}/applications`, { body: { name: 'tenant admin', type: 'WORKER' } })).body;
  tenant = { env, token: await tokenOf(s.url, env, app.id, app.secret) };
  // A second worker in the bootstrap environment itself: not the bootstrap administrator either.
  const second = (await s.request('POST', `/v1/environments/${s.boot.environmentId}/applications`, { body: { name: 'helper', type: 'WORKER' } })).body;
  insider = await tokenOf(s.url, s.boot.environmentId, second.id, second.secret);
  snapshotId = (await s.request('POST', '/openmfa/v1/snapshots')).body.id as string;
  await s.request('POST', `/v1/environments/${env}/users`, { body: { username: 'after-the-snapshot' } });
});

const CALLS: ReadonlyArray<[string, () => string, unknown?]> = [
  ['POST', () => '/openmfa/v1/reset'],
  ['POST', () => '/openmfa/v1/reset', { empty: true }],
  ['POST', () => '/openmfa/v1/snapshots'],
  ['POST', () => `/openmfa/v1/snapshots/${snapshotId}/restore`],
  ['DELETE', () => `/openmfa/v1/snapshots/${snapshotId}`],
  ['GET', () => '/openmfa/v1/clock'],
  ['PUT', () => '/openmfa/v1/clock', { now: '2030-01-01T00:00:00Z' }],
  ['POST', () => '/openmfa/v1/clock/advance', { by: 'P1D' }],
];

async function state() {
  const users = await server.request('GET', `/v1/environments/${tenant.env}/users`);
  const envs = await server.request('GET', '/v1/environments');
  const clock = await server.request('GET', '/openmfa/v1/clock');
  const snapshots = (await server.running.store.db.selectFrom('snapshots').select('id').orderBy('id').execute()).map((r) => r.id);
  return { users: users.body, envs: envs.body, clock: clock.body, snapshots };
}

test("another environment's administrator, and a second worker of the bootstrap environment, get 403 on every route; nothing changes", async () => {
  const before = await state();
  assert.equal(before.users.count, 1);
  for (const token of [tenant.token, insider]) {
    for (const [method, url, body] of CALLS) {
      assertError(await server.request(method, url(), { token, ...(body !== undefined ? { body } : {}) }), 403, {
        code: 'ACCESS_FAILED', message: MSG.FORBIDDEN,
        details: [{ code: 'INSUFFICIENT_PERMISSIONS', message: 'Only the bootstrap administrator application may use the OpenMFA administration API' }],
      });
    }
  }
  assert.deepEqual(await state(), before);
});

test('no token, or a bad one, is 401 before anything else, and nothing changes', async () => {
  const before = await state();
  for (const token of [null, 'not-a-jwt', `${tenant.token.slice(0, -4)}AAAA`]) {
    for (const [method, url, body] of CALLS) {
      const res = await server.request(method, url(), { token, ...(body !== undefined ? { body } : {}) });
      assert.equal(res.status, 401, `${method} ${url()}: ${res.text}`);
      assert.equal(res.body.code, 'ACCESS_FAILED');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  }
  assert.deepEqual(await state(), before);
});
