/**
 * Quality bar S5, generated from /openapi.json: environment A's worker token (an application of
 * A, not the administrator) against environment B's IDs on every route and method.
 *   B's environment id                → 403, the very body a nonexistent environment gets
 *   A's environment, one id of B      → 404 (user, device, flow, policy, population, application)
 *   A's environment, another user's device → 404
 *   every list of A                   → no row of B
 * Writes carry a valid body, so a 404 is never hidden behind a 400.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../helper.js';
import { totpCodeAt } from '../support/rfc4226.js';
import { fido2PolicyBody, fillPath, operations, primary, seedEnvironment, type EnvWorld, type Operation, type Schema } from '../fuzz/openapi.js';

const BLOCK = 'application/vnd.pingidentity.device.block+json';
const CANCEL = 'application/vnd.pingidentity.authentication.cancel+json';
const ORDER_REMOVE = 'application/vnd.pingidentity.devices.order.remove+json';

let server: TestServer;
let ops: Operation[];
let A: EnvWorld;
let B: EnvWorld;
let combinations = 0;
const perCase: Record<string, number> = {};

before(async () => {
  server = await startTestServer();
  // Not a worker's: the token endpoints, and the mobile SDK surface, which a paired device's own
  // signature authenticates (its cross-environment refusals are in test/mobile).
  ops = (await operations(server)).filter((op) => !op.path.endsWith('/as/token') && !op.path.endsWith('/as/jwks') && !op.path.startsWith('/{envId}/mobile/'));
  A = await seedEnvironment(server, 'isolation A');
  B = await seedEnvironment(server, 'isolation B');
});
after(async () => {
  console.log(`isolation matrix: ${ops.length} operations, ${combinations} (route × method × case) combinations: ${JSON.stringify(perCase)}`);
  await server?.close();
});

/** The smallest body a schema accepts. */
function exampleOf(schema: Schema | undefined): unknown {
  if (!schema) return undefined;
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return exampleOf(schema.anyOf[0]);
  switch (schema.type) {
    case 'string':
      if (typeof schema.pattern === 'string' && schema.pattern.includes('@')) return 'someone@example.com';
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => exampleOf(schema.items));
    default: {
      const out: Record<string, unknown> = {};
      for (const r of (schema.required ?? []) as string[]) out[r] = exampleOf(schema.properties?.[r]);
      return out;
    }
  }
}

/** A request A's worker would make to this operation: its media type and a valid body. */
function requestFor(op: Operation, w: EnvWorld): { contentType?: string; body?: unknown } {
  if (op.method === 'POST' && op.path.endsWith('/devices/{deviceId}')) return { contentType: BLOCK };
  if (op.method === 'POST' && op.path.endsWith('/deviceAuthentications/{flowId}')) return { contentType: CANCEL };
  if (op.method === 'POST' && op.path.endsWith('/devices')) return { body: { type: 'EMAIL', email: 'iso@example.com' } };
  if (op.method === 'DELETE' && op.path.endsWith('/devices')) return { contentType: ORDER_REMOVE };
  if (op.method === 'POST' && op.path === '/{envId}/deviceAuthentications') return { body: { user: { id: w.users[0] } } };
  if (op.method === 'POST' && op.path.endsWith('/secret')) return {};
  if ((op.method === 'POST' || op.method === 'PUT') && /\/fido2Policies(\/\{fido2PolicyId\})?$/.test(op.path)) return { body: fido2PolicyBody('iso FIDO2 policy') };
  if ((op.method === 'POST' || op.method === 'PUT') && /\/pushCredentials(\/\{credentialId\})?$/.test(op.path)) return { body: { type: 'HMS', clientId: 'iso-client', clientSecret: 'iso-secret' } };
  if (op.method === 'PUT' && op.path.endsWith('/bypassMFA')) return { body: { bypassMFAEnabledUntil: '2030-01-01T00:00:00.000Z' } };
  if (op.method === 'POST' && op.path.endsWith('/oathTokens/{tokenId}')) {
    // Two consecutive codes of the world's TOTP token (the step before now and now).
    const now = server.clock.now();
    return { contentType: 'application/vnd.pingidentity.device.resync+json', body: { otps: [totpCodeAt(w.oathToken.secret, now - 30_000), totpCodeAt(w.oathToken.secret, now)] } };
  }
  if (op.bodySchema) return { body: exampleOf(op.bodySchema) };
  return {};
}

async function send(op: Operation, values: Record<string, string>, w: EnvWorld) {
  const url = fillPath(op.path, values);
  const r = requestFor(op, w);
  return server.request(op.method, url, { token: A.worker.token, ...(r.body !== undefined ? { body: r.body } : {}), ...(r.contentType ? { contentType: r.contentType } : {}) });
}

/** Path parameters that name the same thing in every environment, so no id of B is foreign to A. */
const SHARED_PARAMS = ['fidoDeviceId'];
const count = (name: string) => { combinations++; perCase[name] = (perCase[name] ?? 0) + 1; };
const stable = (body: any) => ({ code: body?.code, message: body?.message, details: body?.details });
/** Destructive operations last, so a leak could not hide behind an earlier delete. */
const ordered = () => [...ops].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));

test("A's worker on B's environment: 403, the same body as for a nonexistent environment", async () => {
  for (const op of ordered()) {
    if (!op.params.includes('envId')) continue;
    const foreign = Object.fromEntries(op.params.map((p) => [p, primary(B, p, op.path)]));
    const none = { ...foreign, envId: randomUUID() };
    const res = await send(op, foreign, B);
    const nonexistent = await send(op, none, B);
    count('foreign environment');
    assert.equal(res.status, 403, `${op.method} ${op.path}: ${res.status} ${res.text}`);
    assert.equal(nonexistent.status, 403, `${op.method} ${op.path} (nonexistent): ${nonexistent.status} ${nonexistent.text}`);
    assert.deepEqual(stable(res.body), stable(nonexistent.body), `${op.method} ${op.path}`);
    assert.deepEqual(Object.keys(res.body).sort(), Object.keys(nonexistent.body).sort());
    assert.deepEqual(Object.keys(res.headers).filter((h) => !['date', 'content-length'].includes(h)).sort(), Object.keys(nonexistent.headers).filter((h) => !['date', 'content-length'].includes(h)).sort());
  }
});

test("A's worker on A's environment with one id of B: 404", async () => {
  for (const op of ordered()) {
    // An AAGUID of the bundled FIDO metadata set belongs to no environment (it is the same in each).
    for (const param of op.params.filter((p) => p !== 'envId' && !SHARED_PARAMS.includes(p))) {
      const values = Object.fromEntries(op.params.map((p) => [p, primary(A, p, op.path)]));
      // The user that owns a device travels with it, so the device is foreign and nothing else.
      values[param] = primary(B, param, op.path);
      const res = await send(op, values, A);
      count(`B's ${param}`);
      assert.equal(res.status, 404, `${op.method} ${op.path} with B's ${param}: ${res.status} ${res.text}`);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
    // Control: the same request on A's own ids succeeds, so the 404s above are the foreign id's doing.
    if (op.method !== 'DELETE' && op.params.length > 1) {
      const own = await send(op, Object.fromEntries(op.params.map((p) => [p, primary(A, p, op.path)])), A);
      count('control (own ids)');
      assert.ok(own.status < 300, `control ${op.method} ${op.path}: ${own.status} ${own.text}`);
    }
  }
});

test("A's worker on A's environment with another user's device: 404", async () => {
  const owned = [[A.users[0], A.emailDevice], [A.ids.userId![2]!, A.desktopDevice]] as const;
  const snapshot = async () => Promise.all(owned.map(async ([u, d]) => {
    const res = await server.request('GET', `/v1/environments/${A.envId}/users/${u}/devices/${d}`);
    assert.equal(res.status, 200, res.text);
    return { status: res.body.status, nickname: res.body.nickname, lock: res.body.lock, block: res.body.block, updatedAt: res.body.updatedAt };
  }));
  const before = await snapshot();
  for (const op of ordered()) {
    if (!op.params.includes('deviceId')) continue;
    for (const deviceId of [A.emailDevice, A.desktopDevice]) {
      const values = { envId: A.envId, userId: A.users[1], deviceId };
      const res = await send(op, values, A);
      count("another user's device");
      assert.equal(res.status, 404, `${op.method} ${op.path}: ${res.status} ${res.text}`);
      assert.equal(res.body.code, 'NOT_FOUND');
    }
  }
  // Nothing moved: both devices are still there, as they were.
  assert.deepEqual(await snapshot(), before);
});

/** The ids of the rows of a list body (`_embedded.<name>[].id`), nothing nested deeper. */
function rowIds(body: any): string[] {
  const embedded = body?._embedded ?? {};
  return Object.values(embedded).flatMap((rows) => (Array.isArray(rows) ? rows.map((r: any) => r?.id).filter((id): id is string => typeof id === 'string') : []));
}

test("every list of A holds no row of B", async () => {
  const lists = ops.filter((op) => op.method === 'GET' && JSON.stringify(op.responses['200'] ?? {}).includes('"_embedded"'));
  assert.ok(lists.length >= 8, `${lists.length} list operations`);
  // Send something to B's outbox, so B's lists are never empty.
  await server.request('POST', `/${B.envId}/deviceAuthentications`, { body: { user: { id: B.users[0] } }, token: B.worker.token });
  const bIds = new Set<string>([B.envId, ...Object.values(B.ids).flat()]);
  const aSeen = new Set<string>();
  for (const op of lists) {
    const forB = Object.fromEntries(op.params.map((p) => [p, primary(B, p, op.path)]));
    const bList = await server.request('GET', fillPath(op.path, forB), { token: B.worker.token });
    assert.equal(bList.status, 200, `${op.path} for B: ${bList.text}`);
    for (const id of rowIds(bList.body)) bIds.add(id);
    const forA = Object.fromEntries(op.params.map((p) => [p, primary(A, p, op.path)]));
    const aList = await server.request('GET', fillPath(op.path, forA), { token: A.worker.token });
    count('list');
    assert.equal(aList.status, 200, `${op.path} for A: ${aList.text}`);
    const ids = rowIds(aList.body);
    ids.forEach((id) => aSeen.add(id));
    const leaked = ids.filter((id) => bIds.has(id));
    assert.deepEqual(leaked, [], `${op.path}: rows of B in A's list`);
  }
  assert.ok(aSeen.size > 5, 'the lists of A are not all empty');
  assert.ok(bIds.size > 10, 'B has rows to leak');
});
