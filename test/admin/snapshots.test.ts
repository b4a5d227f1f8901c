/**
 * Reset and snapshots (README "Reset, snapshots and the clock"): a snapshot taken, the state
 * changed every way the API allows, and the restore gives back the very same bodies; reset
 * returns to the state start-up left (the initial snapshot) or, with `{"empty": true}`, to the
 * bootstrap alone. Tokens: the administrator's survives every restore; one whose application
 * the restore removed is refused. On SQLite and PostgreSQL (useAdminServer).
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { test } from 'node:test';
import { assertError, MSG, UUID } from '../support/errors.js';
import { tokenOf } from '../support/processes.js';
import { STATE_TABLES } from '../../src/admin/snapshots.js';
import { useAdminServer, type AdminServer } from './support.js';

let server: AdminServer;
let initial: Record<string, unknown>;
useAdminServer(async (s) => {
  server = s;
  initial = await everything();
});

const ok = async <T = any>(method: string, url: string, body?: unknown, status = method === 'POST' ? 201 : 200): Promise<T> => {
  const res = await server.request<T>(method, url, body === undefined ? {} : { body });
  assert.equal(res.status, status, `${method} ${url}: ${res.text}`);
  return res.body;
};

/** Every body the API shows, for every environment: what a restore must give back unchanged. */
async function everything(): Promise<Record<string, unknown>> {
  const bodies: Record<string, unknown> = {};
  const envs = await ok('GET', '/v1/environments');
  bodies.environments = envs;
  for (const e of envs._embedded.environments as Array<{ id: string }>) {
    const base = `/v1/environments/${e.id}`;
    for (const part of ['populations', 'users', 'applications', 'mfaSettings', 'deviceAuthenticationPolicies', 'fido2Policies', 'outbox']) {
      bodies[`${e.id}/${part}`] = await ok('GET', `${base}/${part}`);
    }
    const users = bodies[`${e.id}/users`] as { _embedded: { users: Array<{ id: string }> } };
    for (const u of users._embedded.users) bodies[`${e.id}/${u.id}/devices`] = await ok('GET', `${base}/users/${u.id}/devices?expand=order`);
  }
  return bodies;
}

/** An environment with a population, two users, an EMAIL code in the outbox, a TOTP and a blocked SMS device. */
async function populate(name: string): Promise<{ env: string; user: string; device: string }> {
  const env = (await ok('POST', '/v1/environments', { name, region: 'EU', type: 'SANDBOX' })).id as string;
  await ok('POST', `/v1/environments/${env}/populations`, { name: 'Staff' });
  const user = (await ok('POST', `/v1/environments/${env}/users`, { username: `${name}-alice`, email: 'alice@example.com' })).id as string;
  await ok('POST', `/v1/environments/${env}/users`, { username: `${name}-bob`, email: 'bob@example.com' });
  const devices = `/v1/environments/${env}/users/${user}/devices`;
  await ok('POST', devices, { type: 'EMAIL', email: 'alice@example.com', status: 'ACTIVATION_REQUIRED' });
  await ok('POST', devices, { type: 'TOTP' });
  const device = (await ok('POST', devices, { type: 'SMS', phone: '+14135550150' })).id as string;
  const block = await server.request('POST', `${devices}/${device}`, { contentType: 'application/vnd.pingidentity.device.block+json' });
  assert.equal(block.status, 200, block.text);
  return { env, user, device };
}

test('a snapshot restored gives back every body as it was, whatever changed in between', async () => {
  const { env, user, device } = await populate('snap');
  const before = await everything();
  const taken = await ok('POST', '/openmfa/v1/snapshots');
  assert.deepEqual(Object.keys(taken).sort(), ['createdAt', 'id']);
  assert.match(taken.id, UUID);

  // Change it every way: a rename, a delete, new users and devices, another environment, settings.
  await ok('PUT', `/v1/environments/${env}`, { name: 'renamed', region: 'EU', type: 'SANDBOX' });
  assert.equal((await server.request('DELETE', `/v1/environments/${env}/users/${user}/devices/${device}`)).status, 204);
  await ok('POST', `/v1/environments/${env}/users`, { username: 'carol' });
  await ok('PUT', `/v1/environments/${env}/mfaSettings`, { pairing: { maxAllowedDevices: 3 } });
  await populate('other');
  assert.notDeepEqual(await everything(), before);

  assert.equal((await server.request('POST', `/openmfa/v1/snapshots/${taken.id}/restore`)).status, 204);
  assert.deepEqual(await everything(), before);
  // Restored twice: the snapshot is kept, and gives the same again.
  await ok('POST', `/v1/environments/${env}/users`, { username: 'dave' });
  assert.equal((await server.request('POST', `/openmfa/v1/snapshots/${taken.id}/restore`)).status, 204);
  assert.deepEqual(await everything(), before);
});

test('reset returns to the state start-up left; reset {"empty": true} to the bootstrap alone', async () => {
  await populate('reset');
  const res = await server.request('POST', '/openmfa/v1/reset');
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');
  assert.deepEqual(await everything(), initial);

  await populate('reset-empty');
  await ok('POST', `/v1/environments/${server.boot.environmentId}/users`, { username: 'in-the-admin-env' });
  assert.equal((await server.request('POST', '/openmfa/v1/reset', { body: { empty: true } })).status, 204);
  // Start-up made nothing but the bootstrap here, so both resets give the same bodies.
  assert.deepEqual(await everything(), initial);
  const envs = await ok('GET', '/v1/environments');
  assert.deepEqual(envs._embedded.environments.map((e: { id: string }) => e.id), [server.boot.environmentId]);
  assert.equal((await ok('GET', `/v1/environments/${server.boot.environmentId}/users`)).count, 0);
});

test("tokens across a restore: the administrator's still works, one of an application the restore removed is 401", async () => {
  const taken = await ok('POST', '/openmfa/v1/snapshots');
  const env = (await ok('POST', '/v1/environments', { name: 'tokens', region: 'NA', type: 'SANDBOX' })).id as string;
  const app = await ok('POST', `/v1/environments/${env}/applications`, { name: 'w', type: 'WORKER' });
  const worker = await tokenOf(server.url, env, app.id, app.secret);
  assert.equal((await server.request('GET', `/v1/environments/${env}/users`, { token: worker })).status, 200);

  assert.equal((await server.request('POST', `/openmfa/v1/snapshots/${taken.id}/restore`)).status, 204);
  assertError(await server.request('GET', `/v1/environments/${env}/users`, { token: worker }), 401, {
    code: 'ACCESS_FAILED', message: MSG.UNAUTHORIZED,
    details: [{ code: 'INVALID_TOKEN', message: 'the access token was signed by an unknown key' }],
  });
  assert.equal((await server.request('GET', '/v1/environments')).status, 200, 'the administrator token of before the restore');
});

test('unknown snapshots are 404 and change nothing; a deleted snapshot is gone; bad bodies are 400', async () => {
  const notFound = { code: 'NOT_FOUND', message: MSG.NOT_FOUND };
  const before = await everything();
  for (const id of ['00000000-0000-4000-8000-000000000000', 'initial', 'bootstrap', 'x'.repeat(100)]) {
    assertError(await server.request('POST', `/openmfa/v1/snapshots/${id}/restore`), 404, notFound);
    assertError(await server.request('DELETE', `/openmfa/v1/snapshots/${id}`), 404, notFound);
  }
  const taken = await ok('POST', '/openmfa/v1/snapshots');
  assert.equal((await server.request('DELETE', `/openmfa/v1/snapshots/${taken.id}`)).status, 204);
  assertError(await server.request('POST', `/openmfa/v1/snapshots/${taken.id}/restore`), 404, notFound);

  assertError(await server.request('POST', '/openmfa/v1/reset', { body: { empty: 'yes' } }), 400, {
    code: 'INVALID_DATA', message: MSG.INVALID_DATA, details: [{ code: 'INVALID_VALUE', target: 'empty', message: /^empty / }],
  });
  assertError(await server.request('POST', '/openmfa/v1/reset', { body: { everything: true } }), 400, {
    code: 'INVALID_DATA', message: MSG.INVALID_DATA, details: [{ code: 'INVALID_VALUE', target: 'everything', message: /everything/ }],
  });
  assertError(await server.request('POST', '/openmfa/v1/snapshots', { body: 'x', contentType: 'text/plain' }), 415, {
    code: 'INVALID_REQUEST', message: MSG.UNSUPPORTED_MEDIA_TYPE, details: [{ code: 'INVALID_VALUE', target: 'Content-Type', message: 'Content-Type text/plain is not accepted here' }],
  });
  assert.deepEqual(await everything(), before);
});

test('the administration API is not in /openapi.json', async () => {
  const doc = await ok('GET', '/openapi.json');
  assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/openmfa')), []);
});

/** Tables that are not state a snapshot holds, each for its reason (src/admin/snapshots.ts). */
const NOT_STATE = new Set(['meta', 'snapshots', 'admin_state', 'kysely_migration', 'kysely_migration_lock']);

test('every table of the schema is in a snapshot or named as not state: a table a migration adds is not silently left out of restore', async () => {
  const tables = server.running.store.dialect === 'postgres'
    ? (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(server.running.store.db)).rows
    : (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(server.running.store.db)).rows;
  const missing = tables.map((t) => t.name).filter((t) => !NOT_STATE.has(t) && !(STATE_TABLES as readonly string[]).includes(t));
  assert.deepEqual(missing, []);
});
