/**
 * Idempotency-Key (quality bar R3) on device create, device actions and device
 * authentications: replay, reuse with another request (422), in flight (409), scope per
 * environment and caller, 24-hour expiry on the ManualClock, malformed keys, sealed storage.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, createEnvironment, createUser, createWorker, type Response, type TestServer } from '../helper.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const devicesOf = (e: string, u: string) => `/v1/environments/${e}/users/${u}/devices`;
const BLOCK = 'application/vnd.pingidentity.device.block+json';

async function deviceCount(userId: string): Promise<number> {
  const rows = await server.store.db.selectFrom('devices').select('id').where('user_id', '=', userId).execute();
  return rows.length;
}

const withKey = (key: string, extra: Record<string, string> = {}) => ({ 'idempotency-key': key, ...extra });

function assertSameResponse(first: Response, again: Response): void {
  assert.equal(again.status, first.status);
  assert.equal(again.text, first.text, 'the body is replayed byte for byte');
  assert.equal(again.headers['content-type'], first.headers['content-type']);
  assert.equal(again.headers['cache-control'], first.headers['cache-control']);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(first.headers['idempotent-replayed'], undefined);
}

test('same key and body twice: the first response again, one device, and the secret is stored sealed', async () => {
  const user = await createUser(server, env);
  const first = await server.request('POST', devicesOf(env, user), { body: { type: 'TOTP' }, headers: withKey('create-1') });
  assert.equal(first.status, 201, first.text);
  assert.equal(typeof first.body.secret, 'string');
  const again = await server.request('POST', devicesOf(env, user), { body: { type: 'TOTP' }, headers: withKey('create-1') });
  assertSameResponse(first, again);
  assert.equal(await deviceCount(user), 1);

  const rows = await server.store.db.selectFrom('idempotency_keys').selectAll().where('environment_id', '=', env).execute();
  const sealed = rows.map((r) => `${r.body_sealed} ${r.headers} ${r.scope}`).join('\n');
  assert.ok(!sealed.includes(first.body.secret as string), 'the TOTP secret is never stored in plain text');
  assert.ok(!sealed.includes(first.body.id as string), 'nothing of the body is stored in plain text');
  assert.ok(!rows.some((r) => r.scope.includes('create-1')), 'the key itself is hashed into the scope');
});

test('same key with another body → 422 IDEMPOTENCY_KEY_REUSED, nothing made', async () => {
  const user = await createUser(server, env);
  const first = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'a@example.com' }, headers: withKey('k-reuse') });
  assert.equal(first.status, 201, first.text);
  const other = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'b@example.com' }, headers: withKey('k-reuse') });
  assert.equal(other.status, 422, other.text);
  assert.equal(typeof other.body.id, 'string');
  assert.deepEqual({ ...other.body, id: '<id>' }, {
    id: '<id>',
    code: 'REQUEST_FAILED',
    message: 'The request could not be completed. There was an issue processing the request.',
    details: [{ code: 'IDEMPOTENCY_KEY_REUSED', target: 'Idempotency-Key', message: 'This Idempotency-Key was used with a different request' }],
  });
  // The same body with another Content-Type parameter is another request too.
  const ct = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'a@example.com' }, contentType: 'application/json; charset=utf-8', headers: withKey('k-reuse') });
  assert.equal(ct.status, 422, ct.text);
  assert.equal(await deviceCount(user), 1);
});

test('10 parallel requests with one key: exactly one device; the others replay it or answer 409 in flight', async () => {
  const user = await createUser(server, env);
  const results = await Promise.all(Array.from({ length: 10 }, () =>
    server.request('POST', devicesOf(env, user), { body: { type: 'SMS', phone: '+15125201234' }, headers: withKey('parallel') })));
  assert.equal(await deviceCount(user), 1);
  const created = results.filter((r) => r.status === 201);
  const inFlight = results.filter((r) => r.status === 409);
  assert.equal(created.length + inFlight.length, 10, results.map((r) => `${r.status} ${r.text}`).join('\n'));
  assert.ok(created.length >= 1);
  assert.equal(created.filter((r) => r.headers['idempotent-replayed'] === undefined).length, 1, 'one original response');
  for (const r of created) assert.equal(r.text, created[0]!.text);
  for (const r of inFlight) {
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.body.code, 'REQUEST_FAILED');
    assert.deepEqual(r.body.details.map((d: { code: string; target: string }) => [d.code, d.target]), [['IDEMPOTENCY_KEY_IN_FLIGHT', 'Idempotency-Key']]);
  }
  // After the dust settles, the key replays.
  const later = await server.request('POST', devicesOf(env, user), { body: { type: 'SMS', phone: '+15125201234' }, headers: withKey('parallel') });
  assert.equal(later.status, 201);
  assert.equal(later.headers['idempotent-replayed'], 'true');
  assert.equal(later.body.id, created[0]!.body.id);
});

test('a key is scoped to its environment and caller: another environment never replays it', async () => {
  const envA = await createEnvironment(server, 'idem A');
  const envB = await createEnvironment(server, 'idem B');
  const a = await createWorker(server, envA);
  const b = await createWorker(server, envB);
  const userA = await createUser(server, envA);
  const userB = await createUser(server, envB);
  const body = { type: 'EMAIL', email: 'x@example.com' };
  const inA = await server.request('POST', devicesOf(envA, userA), { body, token: a.token, headers: withKey('shared') });
  assert.equal(inA.status, 201, inA.text);
  // B's worker on A's path is refused before any key is looked at.
  const cross = await server.request('POST', devicesOf(envA, userA), { body, token: b.token, headers: withKey('shared') });
  assert.equal(cross.status, 403, cross.text);
  assert.equal(cross.headers['idempotent-replayed'], undefined);
  // The same key in B makes B's own device.
  const inB = await server.request('POST', devicesOf(envB, userB), { body, token: b.token, headers: withKey('shared') });
  assert.equal(inB.status, 201, inB.text);
  assert.equal(inB.headers['idempotent-replayed'], undefined);
  assert.notEqual(inB.body.id, inA.body.id);
  // Another caller in A (the administrator) with the same key and request is not a replay either.
  const admin = await server.request('POST', devicesOf(envA, userA), { body, headers: withKey('shared') });
  assert.equal(admin.status, 201, admin.text);
  assert.equal(admin.headers['idempotent-replayed'], undefined);
  assert.equal(await deviceCount(userA), 2);
  assert.equal(await deviceCount(userB), 1);
});

test('a key lives 24 hours: replayed just before, a fresh request just after', async () => {
  const user = await createUser(server, env);
  const body = { type: 'EMAIL', email: 'ttl@example.com' };
  const first = await server.request('POST', devicesOf(env, user), { body, headers: withKey('ttl') });
  assert.equal(first.status, 201, first.text);
  server.clock.advance(24 * 3600_000 - 1);
  const before24 = await server.request('POST', devicesOf(env, user), { body, headers: withKey('ttl') });
  assert.equal(before24.headers['idempotent-replayed'], 'true');
  assert.equal(before24.body.id, first.body.id);
  server.clock.advance(1);
  const after24 = await server.request('POST', devicesOf(env, user), { body, headers: withKey('ttl') });
  assert.equal(after24.status, 201, after24.text);
  assert.equal(after24.headers['idempotent-replayed'], undefined);
  assert.notEqual(after24.body.id, first.body.id);
  assert.equal(await deviceCount(user), 2);
  // Expired rows are purged as keys are claimed.
  server.clock.advance(25 * 3600_000);
  await server.request('POST', devicesOf(env, user), { body, headers: withKey('ttl-purge') });
  const left = await server.store.db.selectFrom('idempotency_keys').select('id').where('expires_at', '<=', server.clock.now()).execute();
  assert.equal(left.length, 0);
});

test('a malformed key → 400 INVALID_DATA target Idempotency-Key; a bad token never touches keys', async () => {
  const user = await createUser(server, env);
  for (const key of ['a'.repeat(256), 'tab\there', 'caf\u00e9']) {
    const res = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'k@example.com' }, headers: withKey(key) });
    assert.equal(res.status, 400, `${JSON.stringify(key)}: ${res.text}`);
    assert.equal(res.body.code, 'INVALID_DATA');
    assert.equal(res.body.details[0].target, 'Idempotency-Key');
  }
  const longest = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'k@example.com' }, headers: withKey('~'.repeat(255)) });
  assert.equal(longest.status, 201, longest.text);
  const before = (await server.store.db.selectFrom('idempotency_keys').select('id').execute()).length;
  const bad = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'k@example.com' }, token: 'not-a-token', headers: withKey('bad-token') });
  assert.equal(bad.status, 401);
  assert.equal((await server.store.db.selectFrom('idempotency_keys').select('id').execute()).length, before);
  assert.equal(await deviceCount(user), 1);
});

test('4xx answers of the handler are stored and replayed; device actions honour keys', async () => {
  const user = await createUser(server, env);
  const missing = `${devicesOf(env, user)}/00000000-0000-4000-8000-000000000000`;
  const first = await server.request('POST', missing, { contentType: BLOCK, headers: withKey('block-missing') });
  assert.equal(first.status, 404, first.text);
  const again = await server.request('POST', missing, { contentType: BLOCK, headers: withKey('block-missing') });
  assertSameResponse(first, again);
  assert.equal(again.body.id, first.body.id, 'the error id is replayed too');

  const dev = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'blk@example.com' } });
  assert.equal(dev.status, 201, dev.text);
  const blocked = await server.request('POST', `${devicesOf(env, user)}/${dev.body.id}`, { contentType: BLOCK, headers: withKey('block') });
  assert.equal(blocked.status, 200, blocked.text);
  server.clock.advance(5000);
  const replay = await server.request('POST', `${devicesOf(env, user)}/${dev.body.id}`, { contentType: BLOCK, headers: withKey('block') });
  assertSameResponse(blocked, replay);
});

test('device authentication create with a key: one flow, replayed', async () => {
  const user = await createUser(server, env);
  const dev = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'flow@example.com' } });
  assert.equal(dev.status, 201, dev.text);
  const body = { user: { id: user } };
  const first = await server.request('POST', `/${env}/deviceAuthentications`, { body, headers: withKey('flow') });
  assert.ok(first.status === 200 || first.status === 201, first.text);
  const again = await server.request('POST', `/${env}/deviceAuthentications`, { body, headers: withKey('flow') });
  assertSameResponse(first, again);
  const flows = await server.store.db.selectFrom('device_authentications').select('id').where('user_id', '=', user).execute();
  assert.equal(flows.length, 1);
});

test('without a key nothing changes: two requests make two devices', async () => {
  const user = await createUser(server, env);
  for (let i = 0; i < 2; i++) {
    const res = await server.request('POST', devicesOf(env, user), { body: { type: 'EMAIL', email: 'n@example.com' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers['idempotent-replayed'], undefined);
  }
  assert.equal(await deviceCount(user), 2);
});

test('a 5xx answer releases the key: the retry runs again and succeeds', async () => {
  const user = await createUser(server, env);
  const box = server.ctx.box;
  const seal = box.seal;
  // Creating a TOTP device seals its seed: make that fail once, as a broken disk would.
  box.seal = () => { throw new Error('injected failure'); };
  let failed: Response;
  try {
    failed = await server.request('POST', devicesOf(env, user), { body: { type: 'TOTP' }, headers: withKey('retry-after-500') });
  } finally {
    box.seal = seal;
  }
  assert.equal(failed.status, 500, failed.text);
  assert.equal(await deviceCount(user), 0);
  const retry = await server.request('POST', devicesOf(env, user), { body: { type: 'TOTP' }, headers: withKey('retry-after-500') });
  assert.equal(retry.status, 201, retry.text);
  assert.equal(retry.headers['idempotent-replayed'], undefined);
  const again = await server.request('POST', devicesOf(env, user), { body: { type: 'TOTP' }, headers: withKey('retry-after-500') });
  assertSameResponse(retry, again);
  assert.equal(await deviceCount(user), 1);
});
