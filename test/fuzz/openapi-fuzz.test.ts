/**
 * Quality bar S6: every operation of /openapi.json fuzzed with generated paths, queries,
 * headers and bodies. Never a 5xx; every error in the envelope (or the operation's own declared
 * error schema, e.g. OAuth errors on the token endpoint); every 2xx valid against the
 * operation's own response schema; read-only fields never taken from input.
 *
 *   OPENMFA_FUZZ_RUNS=1000   cases per operation (default 100)
 *   OPENMFA_FUZZ_SEED=n      the base seed (default fixed; operation i uses seed + i)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startTestServer, type TestServer } from '../helper.js';
import { ERROR_ENVELOPE, arbitraryOf, check, operations, primary, seedEnvironment, type EnvWorld, type Operation, type Schema } from './openapi.js';

const RUNS = Number(process.env.OPENMFA_FUZZ_RUNS ?? 100);
const SEED = Number(process.env.OPENMFA_FUZZ_SEED ?? 20260217);

const VND = [
  'application/vnd.pingidentity.device.activate+json',
  'application/vnd.pingidentity.device.block+json',
  'application/vnd.pingidentity.device.unblock+json',
  'application/vnd.pingidentity.device.unlock+json',
  'application/vnd.pingidentity.device.sendActivationCode+json',
  'application/vnd.pingidentity.devices.reorder+json',
  'application/vnd.pingidentity.devices.order.remove+json',
  'application/vnd.pingidentity.device.select+json',
  'application/vnd.pingidentity.otp.check+json',
  'application/vnd.pingidentity.assertion.check+json',
  'application/vnd.pingidentity.authentication.cancel+json',
  'application/vnd.pingidentity.cancel.push.authentication+json',
];

/** Marker values of read-only fields smuggled into bodies. */
const RO = {
  id: '00000000-0000-4000-8000-00000000f022',
  createdAt: '2001-02-03T04:05:06.000Z',
  lock: { status: 'LOCKED', expiresAt: '2099-01-01T00:00:00.000Z' },
  block: { status: 'BLOCKED', blockedAt: '2001-02-03T04:05:06.000Z' },
};

let server: TestServer;
let ops: Operation[];
let A: EnvWorld;
let B: EnvWorld;
let admin: string;
const fiveXX: string[] = [];
/** Per operation: how many answers of each status class, and 2xx that carried smuggled read-only fields. */
const stats = new Map<string, { ok: number; client: number; readOnlyChecked: number }>();

async function seed(): Promise<void> {
  A = await seedEnvironment(server, 'fuzz A');
  B = await seedEnvironment(server, 'fuzz B');
}

before(async () => {
  server = await startTestServer();
  ops = await operations(server);
  admin = await server.adminToken();
  await seed();
});
after(async () => {
  for (const [op, s] of stats) console.log(`  ${op}: ${s.ok} × 2xx, ${s.client} × 4xx, ${s.readOnlyChecked} × read-only checked`);
  console.log(`openapi fuzz: ${ops.length} operations × ${RUNS} cases, ${fiveXX.length} × 5xx, seed ${SEED}`);
  await server?.close();
});

/** encodeURIComponent, with lone surrogates (which it refuses) made U+FFFD. */
const enc = (v: string): string => {
  try { return encodeURIComponent(v); } catch { return encodeURIComponent(v.replace(/[\ud800-\udfff]/g, '\ufffd')); }
};

// ─── generators ────────────────────────────────────────────────────────────────────────────────

const hostileString = fc.constantFrom(
  '', '..', '../..', '%2e%2e%2f', '%00', 'null', 'undefined', '0', '-1', '1e999', '__proto__', 'constructor', 'prototype',
  "' OR 1=1 --", '"; drop table users; --', '😀😀', 'Ωmega\u0000', '\u202e', 'x'.repeat(199), 'é'.repeat(60),
  '00000000-0000-0000-0000-000000000000', 'a\u0000b', 'NaN', '{}', '[]', '$where', 'a/b', 'a?b', 'a#b', 'a b',
);

function paramArb(name: string): fc.Arbitrary<{ value: string; raw?: boolean }> {
  const real = [...(A.ids[name] ?? []), ...(B.ids[name] ?? [])];
  const others = Object.values(A.ids).flat().concat(Object.values(B.ids).flat());
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...real).map((value) => ({ value })) },
    { weight: 1, arbitrary: fc.constantFrom(...others).map((value) => ({ value })) },
    { weight: 2, arbitrary: hostileString.map((value) => ({ value })) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map((value) => ({ value })) },
    // Literal `.` and `..` segments are resolved by the client before a request leaves it (WHATWG
    // URL, as light-my-request, fetch and curl without --path-as-is do), so the request would be
    // another operation's — a `/..` reaching `/` is the console's 302. Their encoded forms reach
    // the server as written.
    { weight: 1, arbitrary: fc.constantFrom('%2F', '%00', '%2e%2e', '%25', '%2e', '%2E%2E%2F').map((value) => ({ value, raw: true })) },
  );
}

const queryArb = (names: string[]): fc.Arbitrary<string> => {
  const known = names.length ? fc.constantFrom(...names) : fc.constant('limit');
  const value = fc.oneof(
    fc.constantFrom('1', '0', '-1', '1000000', '1e309', 'abc', '', 'status eq "ACTIVE"', 'type eq "EMAIL" and status eq "ACTIVE"', 'name sw "a"',
      '((((((((((', 'username eq "', 'status eq "ACTIVE" or (', 'username eq "a\u0000b"', 'nul\u0000', 'status eq "\u0000"', 'nickname eq "\ud800"', 'order', 'x'.repeat(5000), '__proto__', 'email co "@"'),
    fc.string({ maxLength: 40 }),
  );
  const pair = fc.tuple(fc.oneof(known, fc.constantFrom('__proto__', 'constructor', 'limit[]', 'a'), fc.string({ maxLength: 8 })), value);
  return fc.array(pair, { maxLength: 4 }).map((pairs) => (pairs.length ? '?' + pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&') : ''));
};

const contentTypeArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=latin1') },
  { weight: 5, arbitrary: fc.constantFrom(...VND, ...VND.map((v) => `${v}; charset=utf-8`), ...VND.map((v) => v.toUpperCase())) },
  { weight: 2, arbitrary: fc.constantFrom(null, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', '*/*', ';;;', 'application/', 'application/json+', 'application/vnd.pingidentity.unknown+json', 'application/json; charset="\u00e9"') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).filter((s) => !/[\r\n\u0000-\u001f\u007f-\uffff]/.test(s)) },
);

const headersArb = fc.record({
  'idempotency-key': fc.oneof(fc.constant(undefined), fc.constantFrom('k1', 'k2', '', 'x'.repeat(300)), fc.uuid()),
  accept: fc.oneof(fc.constant(undefined), fc.constantFrom('application/json', 'text/html', '*/*', 'garbage')),
  'x-forwarded-for': fc.oneof(fc.constant(undefined), fc.ipV4(), fc.constant('garbage, 1.2.3.4')),
}, { requiredKeys: [] });

const tokenArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<'admin' | 'A' | 'B' | string | null>('admin') },
  { weight: 2, arbitrary: fc.constantFrom<'A' | 'B'>('A', 'B') },
  { weight: 1, arbitrary: fc.constantFrom(null, 'garbage', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.') },
);

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'id', 'environment', 'createdAt', 'updatedAt', 'lock', 'block', 'status', '$where', 'toString'];

/** A JSON body with one of several mutations applied. */
function mutate(base: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const key = fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 10 }));
  const junkArb = fc.oneof({ weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('nul\u0000byte', '\u0000', '\ud800', 'a\u202eb', 1e308, -0, 2 ** 53 + 1) });
  return fc.tuple(base, fc.nat(9), key, junkArb).map(([value, kind, k, junk]) => {
    if (kind === 0 || value === null || typeof value !== 'object' || Array.isArray(value)) {
      return kind === 0 ? value : kind < 3 ? junk : value;
    }
    const obj = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(obj);
    switch (kind) {
      case 1: if (keys.length) delete obj[keys[0]!]; return obj;
      case 2: if (keys.length) obj[keys[keys.length - 1]!] = junk; return obj;
      case 3: return { ...obj, ...RO };
      case 4: return { ...obj, [k]: junk };
      case 5: return JSON.parse(`{${[...keys.map((x) => `${JSON.stringify(x)}:${JSON.stringify(obj[x])}`), `"__proto__":{"polluted":true,"admin":true}`].join(',')}}`);
      case 6: return { ...obj, constructor: { prototype: { polluted: true } } };
      case 7: return [obj];
      case 8: if (keys.length) obj[keys[0]!] = { nested: obj[keys[0]!], extra: junk }; return obj;
      default: return { ...obj, ...RO, status: 'ACTIVE' };
    }
  });
}

function bodyArb(op: Operation): fc.Arbitrary<{ raw?: string; json?: unknown }> {
  const ids = [...Object.values(A.ids).flat(), ...Object.values(B.ids).flat()];
  const seeds = fc.oneof(
    arbitraryOf(op.bodySchema),
    ...Object.values(op.bodySchemas).map((schema) => arbitraryOf(schema)),
    fc.constantFrom<unknown>(
      { type: 'EMAIL', email: 'f@example.com' }, { type: 'TOTP' }, { type: 'TOTP', status: 'ACTIVE' },
      { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } },
      { type: 'SMS', phone: '+15555550100' }, { attestation: 'a.b.c' }, { otp: '123456' }, { otp: 123456 },
      { assertion: 'a.b.c', origin: 'https://app.pingone.eu' }, { reason: 'x' }, {},
    ),
    fc.constantFrom(...ids).map((id) => ({ device: { id } })),
    fc.constantFrom(...ids).map((id) => ({ user: { id } })),
    fc.array(fc.constantFrom(...ids), { maxLength: 3 }).map((xs) => ({ order: xs.map((id) => ({ id })) })),
  );
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  return fc.oneof(
    { weight: 8, arbitrary: mutate(seeds).map((json) => ({ json })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((json) => ({ json })) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '', ' ', '{', 'null', 'true', '1e999999', '-0', '123456789012345678901234567890', '"str"', '{"a":1,"a":2}',
        deep(5000), `{"a":${deep(2000)}}`, '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}',
        '{"nickname":"\\ud800"}', '\u0000', '<xml/>', 'grant_type=client_credentials', '{"name":' + '"x'.repeat(1) + 'y'.repeat(70_000) + '"}',
      ).map((raw) => ({ raw })),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((raw) => ({ raw })) },
  );
}

const OAUTH_ERROR: Schema = {
  type: 'object', required: ['error'], additionalProperties: false,
  properties: { error: { enum: ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'] }, error_description: { type: 'string' } },
};

/** Media types an operation means, for the well-formed half of the cases. */
function mediaTypesOf(op: Operation): string[] {
  if (op.path.endsWith('/as/token')) return ['application/x-www-form-urlencoded'];
  if (op.method === 'POST' && op.path.endsWith('/devices/{deviceId}')) return VND.slice(0, 5);
  if (op.method === 'POST' && op.path.endsWith('/deviceAuthentications/{flowId}')) return VND.slice(7);
  if (op.method === 'POST' && op.path.endsWith('/devices')) return ['application/json', VND[5]!, VND[6]!];
  if (op.method === 'DELETE' && op.path.endsWith('/devices')) return [VND[6]!];
  return ['application/json', 'application/json; charset=utf-8'];
}

/** Bodies that mean something for `ct` on `op`, from the operation's schema when it has one. */
function meaningfulBody(op: Operation, ct: string, w: EnvWorld): fc.Arbitrary<unknown> {
  if (op.path === '/{envId}/deviceAuthentications') {
    return fc.constantFrom<unknown>({ user: { id: w.users[0] } }, { user: { id: w.users[1] } }, { user: { id: w.users[0] }, policy: { id: w.policyId } });
  }
  const t = ct.split(';')[0]!.toLowerCase();
  // Bodies that name the world's devices, or hand-picked creates, where the schema alone would only miss.
  switch (t) {
    case VND[5]: return fc.constantFrom({ order: [{ id: w.emailDevice }] }, { order: [] }, { order: [{ id: w.emailDevice }, { id: w.emailDevice }] });
    case VND[7]: return fc.constantFrom({ device: { id: w.emailDevice } }, { device: { id: w.desktopDevice } });
    default: break;
  }
  const creates = op.method === 'POST' && op.path.endsWith('/devices') && t === 'application/json';
  // Every other body from its media type's schema in /openapi.json, action bodies included.
  const schema = op.bodySchemas[t];
  if (schema && !creates) return t === 'application/json' ? arbitraryOf(schema) : fc.oneof(arbitraryOf(schema), meaningfulByHand(t));
  return meaningfulByHand(t);
}

function meaningfulByHand(t: string): fc.Arbitrary<unknown> {
  switch (t) {
    case VND[0]: return fc.constantFrom({ attestation: 'a.b.c' }, { attestation: '' }, {});
    case VND[8]: return fc.constantFrom({ otp: '123456' }, { otp: '' });
    case VND[9]: return fc.constant({ assertion: 'a.b.c', origin: 'https://app.pingone.eu' });
    case 'application/json': return fc.constantFrom<unknown>(
      { type: 'EMAIL', email: 'f@example.com' }, { type: 'TOTP' }, { type: 'TOTP', status: 'ACTIVE' }, { type: 'SMS', phone: '+15555550100' },
      { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } },
      { type: 'EMAIL', email: 'g@example.com', status: 'ACTIVATION_REQUIRED' }, { type: 'VOICE', phone: '+15555550100' },
    );
    default: return fc.constant(undefined);
  }
}

/** A case a careful client would send (coherent ids, the admin or own worker token, a meant media type), with read-only fields sometimes smuggled in. */
function wellFormedArb(op: Operation): fc.Arbitrary<Case> {
  return fc.tuple(fc.boolean(), fc.constantFrom(...mediaTypesOf(op)), fc.nat(3), fc.boolean()).chain(([useB, ct, smuggle, ownWorker]) => {
    const w = useB ? B : A;
    const desktop = op.params.includes('deviceId') && smuggle === 0;
    const params: Record<string, { value: string }> = {};
    for (const p of op.params) {
      params[p] = { value: p === 'userId' && desktop ? w.ids.userId![2]! : p === 'deviceId' && desktop ? w.desktopDevice : primary(w, p) };
    }
    const token = ownWorker && op.params.includes('envId') ? (useB ? 'B' : 'A') : 'admin';
    const bodyBase = op.method === 'GET' || op.method === 'DELETE' && ct === 'application/json' ? fc.constant(undefined) : meaningfulBody(op, ct, w);
    return bodyBase.map((json): Case => {
      if (op.path.endsWith('/as/token')) {
        return {
          params, query: '', ct, headers: { authorization: `Basic ${Buffer.from(`${w.worker.clientId}:${w.worker.secret}`).toString('base64')}` },
          token: null, body: { raw: smuggle === 0 ? 'grant_type=client_credentials&id=x' : 'grant_type=client_credentials' },
        };
      }
      const body = json === undefined ? {} : smuggle === 1 && typeof json === 'object' && json !== null && !Array.isArray(json) ? { json: { ...json, ...RO } } : { json };
      return { params, query: '', ct: op.method === 'GET' || (op.method === 'DELETE' && ct === 'application/json') ? null : ct, headers: {}, token, body };
    });
  });
}

interface Case {
  params: Record<string, { value: string; raw?: boolean }>;
  query: string;
  ct: string | null;
  headers: Record<string, string | undefined>;
  token: string | null;
  body: { raw?: string; json?: unknown };
}

// ─── assertions ────────────────────────────────────────────────────────────────────────────────

function responseSchema(op: Operation, status: number): Schema | undefined {
  return op.responses[String(status)];
}

const clip = (s: string, n = 300) => (s.length > n ? s.slice(0, n) + '…' : s);

function assertResponse(op: Operation, req: { url: string; ct: string | null; payload: string | undefined; bodyJson: unknown }, res: { status: number; text: string }): void {
  const label = `${op.method} ${req.url} [${req.ct}] ${clip(req.payload ?? '', 300)} → ${res.status} ${clip(res.text)}`;
  if (res.status >= 500) {
    fiveXX.push(label);
    assert.fail(`5xx: ${label}`);
  }
  let body: unknown;
  if (res.text !== '') {
    try { body = JSON.parse(res.text); } catch { assert.fail(`non-JSON body: ${label}`); }
  }
  const st = stats.get(`${op.method} ${op.path}`) ?? { ok: 0, client: 0, readOnlyChecked: 0 };
  stats.set(`${op.method} ${op.path}`, st);
  if (res.status >= 400) st.client++; else st.ok++;
  if (res.status === 204) {
    assert.equal(res.text, '', `204 with a body: ${label}`);
    return;
  }
  if (res.status >= 400) {
    const declared = responseSchema(op, res.status);
    const errsDeclared = declared ? check(declared, body) : ['none'];
    const errsEnvelope = check(ERROR_ENVELOPE, body);
    // The token endpoint is an OAuth 2.0 endpoint: its errors are RFC 6749 §5.2 bodies.
    const oauth = op.path.endsWith('/as/token') && check(OAUTH_ERROR, body).length === 0;
    assert.ok(oauth || errsDeclared.length === 0 || errsEnvelope.length === 0, `error body breaks the envelope (${errsEnvelope.join('; ')}): ${label}`);
    return;
  }
  const schema = responseSchema(op, res.status);
  assert.ok(op.responses[String(res.status)] !== undefined || schema !== undefined, `undeclared status: ${label}`);
  if (schema) {
    const errs = check(schema, body);
    assert.deepEqual(errs, [], `2xx breaks its schema: ${label}`);
  }
  // Read-only fields are never taken from the input.
  const input = req.bodyJson;
  if (input && typeof input === 'object' && !Array.isArray(input) && body && typeof body === 'object') {
    const i = input as Record<string, any>;
    const o = body as Record<string, any>;
    if (i.id === RO.id || i.lock !== undefined || i.block !== undefined || i.createdAt !== undefined) st.readOnlyChecked++;
    if (i.id === RO.id) assert.notEqual(o.id, RO.id, `id taken from input: ${label}`);
    if (i.createdAt === RO.createdAt) assert.notEqual(o.createdAt, RO.createdAt, `createdAt taken from input: ${label}`);
    if (i.lock !== undefined) assert.notEqual(o.lock?.expiresAt, RO.lock.expiresAt, `lock taken from input: ${label}`);
    if (i.block !== undefined) assert.notEqual(o.block?.blockedAt, RO.block.blockedAt, `block taken from input: ${label}`);
    if (i.environment !== undefined && o.environment?.id !== undefined) {
      const envInPath = /\/environments\/([^/?]+)|^\/([^/?]+)\/deviceAuthentications/.exec(req.url);
      const envId = envInPath ? decodeURIComponent(envInPath[1] ?? envInPath[2]!) : undefined;
      if (envId) assert.equal(o.environment.id, envId, `environment taken from input: ${label}`);
    }
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, `prototype polluted: ${label}`);
}

// ─── the test ──────────────────────────────────────────────────────────────────────────────────

test('/openapi.json documents a body for every action media type, and the fuzzer draws from each', () => {
  const bodiesOf = (method: string, path: string) => Object.keys(ops.find((o) => o.method === method && o.path === path)?.bodySchemas ?? {}).sort();
  const lower = (types: string[]) => types.map((t) => t.toLowerCase()).sort();
  assert.deepEqual(bodiesOf('POST', '/v1/environments/{envId}/users/{userId}/devices/{deviceId}'), lower(VND.slice(0, 5)));
  assert.deepEqual(bodiesOf('POST', '/v1/environments/{envId}/users/{userId}/devices'), lower(['application/json', VND[5]!, VND[6]!]));
  assert.deepEqual(bodiesOf('DELETE', '/v1/environments/{envId}/users/{userId}/devices'), lower([VND[6]!]));
  assert.deepEqual(bodiesOf('POST', '/{envId}/deviceAuthentications/{flowId}'), lower(VND.slice(7)));
  // Each declares its members (an empty body declares none and refuses any).
  const item = ops.find((o) => o.method === 'POST' && o.path.endsWith('/devices/{deviceId}'))!;
  assert.deepEqual(item.bodySchemas[VND[1]!], { type: 'object', additionalProperties: false, properties: {}, description: 'No body, or {}' });
  const flow = ops.find((o) => o.method === 'POST' && o.path.endsWith('/deviceAuthentications/{flowId}'))!;
  assert.deepEqual(Object.keys(flow.bodySchemas[VND[8]!]!.properties), ['otp']);
  assert.deepEqual(Object.keys(flow.bodySchemas[VND[9]!]!.properties).sort(), ['assertion', 'compatibility', 'origin']);
});

test('every operation of /openapi.json survives fuzzing', { timeout: 30 * 60_000 }, async (t) => {
  // Destructive operations last, each on a freshly seeded world.
  const order = [...ops].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  let index = 0;
  for (const op of order) {
    const seed = SEED + index++;
    if (op.method === 'DELETE') await seed_();
    await t.test(`${op.method} ${op.path}`, async () => {
      const params = fc.record(Object.fromEntries(op.params.map((p) => [p, paramArb(p)])) as Record<string, fc.Arbitrary<{ value: string; raw?: boolean }>>);
      const withBody = op.method !== 'GET' && op.method !== 'DELETE';
      const fuzzed: fc.Arbitrary<Case> = fc.record({
        params,
        query: queryArb(op.query),
        ct: contentTypeArb,
        headers: headersArb,
        token: tokenArb,
        body: withBody ? bodyArb(op) : fc.oneof({ weight: 5, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: bodyArb(op) }),
      });
      const arb = fc.oneof({ weight: 2, arbitrary: wellFormedArb(op) }, { weight: 3, arbitrary: fuzzed });
      try {
        await fc.assert(fc.asyncProperty(arb, async (c) => {
          const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
            const p = c.params[name]!;
            return p.raw ? p.value : enc(p.value);
          });
          const url = path + c.query;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(c.headers)) if (v !== undefined) headers[k] = v;
          const token = c.token === 'admin' ? admin : c.token === 'A' ? A.worker.token : c.token === 'B' ? B.worker.token : c.token;
          if (token !== null) headers.authorization = `Bearer ${token}`;
          const payload = c.body.raw !== undefined ? c.body.raw : 'json' in c.body && c.body.json !== undefined ? JSON.stringify(c.body.json) : undefined;
          if (c.ct !== null && (payload !== undefined || withBody)) headers['content-type'] = c.ct;
          const res = await server.app.inject({ method: op.method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
          assertResponse(op, { url, ct: c.ct, payload, bodyJson: c.body.json }, { status: res.statusCode, text: res.body });
        }), { numRuns: RUNS, seed, endOnFailure: true });
      } catch (e) {
        const cause = (e as { cause?: unknown }).cause;
        throw new Error(`${op.method} ${op.path} failed with seed ${seed} (OPENMFA_FUZZ_SEED=${SEED}, runs ${RUNS}):\n${(e as Error).message}${cause instanceof Error ? `\nCause: ${cause.message}` : ''}`);
      }
    });
  }
  assert.equal(fiveXX.length, 0);
});

/** PostgreSQL refuses U+0000 in text: wherever one comes in, the answer is a 4xx in the envelope. */
test('a NUL in a path, a query or a body is refused with a 4xx', async () => {
  const env = A.envId;
  const [u] = A.users;
  const n = 'a\u0000b';
  const probes: Array<[string, string, unknown, string?]> = [
    ['GET', `/v1/environments/${enc(n)}/users`, undefined],
    ['GET', `/${enc(n)}/as/jwks`, undefined],
    ['GET', `/v1/environments/${env}/users/${enc(n)}/devices`, undefined],
    ['DELETE', `/v1/environments/${env}/populations/${enc(n)}`, undefined],
    ['GET', `/v1/environments/${env}/users?filter=${enc(`username eq "${n}"`)}`, undefined],
    ['GET', `/v1/environments/${env}/outbox?recipient=${enc(n)}`, undefined],
    ['POST', `/v1/environments/${env}/users`, { username: n }],
    ['PUT', `/v1/environments/${env}/users/${u}`, { username: 'ok', name: { given: n } }],
    ['POST', `/v1/environments/${env}/populations`, { name: n }],
    ['POST', `/v1/environments/${env}/applications`, { name: n, type: 'WORKER' }],
    ['POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, { name: n }],
    ['PUT', `/v1/environments/${env}`, { name: n, region: 'NA', type: 'SANDBOX' }],
    ['POST', '/v1/environments', { name: 'e', region: 'NA', type: 'SANDBOX', description: n }],
    ['POST', `/v1/environments/${env}/users/${u}/devices`, { type: 'EMAIL', email: 'a@example.com', nickname: n }],
    ['POST', `/v1/environments/${env}/users/${u}/devices`, { order: [{ id: n }] }, VND[5]],
    ['PUT', `/v1/environments/${env}/users/${u}/devices/${A.emailDevice}/nickname`, { nickname: n }],
    ['POST', `/${env}/deviceAuthentications`, { user: { id: n } }],
    ['POST', `/${env}/deviceAuthentications`, { user: { id: u }, policy: { id: n } }],
    ['POST', `/${env}/deviceAuthentications/${A.flowId}`, { device: { id: n } }, VND[7]],
    ['POST', `/${env}/as/token`, 'grant_type=client_credentials&client_id=a%00b&client_secret=x', 'application/x-www-form-urlencoded'],
  ];
  for (const [method, url, body, ct] of probes) {
    const res = await server.request(method, url, {
      token: admin,
      ...(typeof body === 'string' ? { raw: body } : body !== undefined ? { body } : {}),
      ...(ct ? { contentType: ct } : {}),
    });
    assert.ok(res.status >= 400 && res.status < 500, `${method} ${url}: ${res.status} ${res.text}`);
    assert.ok(check(ERROR_ENVELOPE, res.body).length === 0 || check(OAUTH_ERROR, res.body).length === 0, `${method} ${url}: ${res.text}`);
  }
});

/**
 * A path that is not valid percent-encoding never reaches the routes: the router raises
 * FST_ERR_BAD_URL, which src/app.ts's `frameworkErrors` answers in the error envelope.
 */
test('a path that is not valid percent-encoding, or a parameter over 200 characters, is answered in the error envelope', async () => {
  // FST_ERR_BAD_URL, and FST_ERR_MAX_PARAM_LENGTH (a parameter over routerOptions.maxParamLength).
  for (const bad of ['%zz', '%', '%C0%AF', '%E0%A4%A', 'y'.repeat(201), 'z'.repeat(5000)]) {
    const res = await server.app.inject({ method: 'GET', url: `/v1/environments/${bad}/users`, headers: { authorization: `Bearer ${admin}` } });
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${bad}: ${res.statusCode}`);
    assert.deepEqual(check(ERROR_ENVELOPE, JSON.parse(res.body)), [], `${bad}: ${res.body}`);
  }
});

async function seed_(): Promise<void> {
  admin = await server.adminToken();
  await seed();
}

export type { Schema };
