/**
 * Bloated policies (issue #13): the `mobile` and `fido2` sections took any content and the list
 * was unpaged, so 3,000 policies stuffed with junk made one GET of 186 MB. Now every section
 * is declared with PingOne's limits (wave-2 reference §2.5, §3.5) and refused member by member
 * otherwise, reads write declared members only, and the list is paged (at most 50 a page).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { newId } from '../../src/crypto/random.js';
import { useTestServer, createEnvironment, DIALECT, type TestServer } from '../helper.js';
import { assertError, invalidDataBody, pathOf, walk } from '../platform/support.js';

let server: TestServer;

useTestServer(async (s) => {
  server = s;
});

const policiesOf = (env: string) => `/v1/environments/${env}/deviceAuthenticationPolicies`;

/** The application entry of a 201 DAP response, verbatim from wave-2 reference §3.5. */
const REFERENCE_APPLICATION = {
  id: '28e07e36-63d2-46d3-8743-dbdd51c58ee0',
  push: { enabled: true, numberMatching: { enabled: true } },
  otp: { enabled: true },
  autoEnrollment: { enabled: true },
  deviceAuthorization: { enabled: true, extraVerification: 'permissive' },
  pushTimeout: { duration: 120, timeUnit: 'SECONDS' },
  pairingKeyLifetime: { duration: 24, timeUnit: 'HOURS' },
  pushLimit: { count: 4, timePeriod: { duration: 20, timeUnit: 'MINUTES' }, lockDuration: { duration: 30, timeUnit: 'MINUTES' } },
  integrityDetection: 'permissive',
};
/** The fido2 fragment of wave-2 reference §2.5 (its `count` is sent as a number here). */
const REFERENCE_FIDO2 = { enabled: true, failure: { count: 4, coolDown: { timeUnit: 'SECONDS', duration: 150 } }, promptForNicknameOnPairing: true };

async function rowCount(env: string): Promise<number> {
  const { n } = await server.store.db.selectFrom('device_authentication_policies').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('environment_id', '=', env).executeTakeFirstOrThrow();
  return Number(n);
}

describe(`bloated policy sections (${DIALECT})`, () => {
  let env: string;
  before(async () => {
    env = await createEnvironment(server, 'bloated sections');
  });

  const app = (extra: Record<string, unknown>) => ({ name: 'p', mobile: { enabled: true, applications: [{ ...REFERENCE_APPLICATION, ...extra }] } });
  const outOfRange = (target: string, innerError: Record<string, number>) => ({ code: 'OUT_OF_RANGE', target, innerError });

  test('junk in mobile or fido2, too many applications, and every limit of PingOne → 400 INVALID_DATA naming the member; nothing is stored', async () => {
    const before = await rowCount(env);
    const cases: Array<[string, Record<string, unknown>, { code: string; target: string; innerError?: Record<string, unknown> }]> = [
      ['junk in mobile', { name: 'p', mobile: { enabled: true, junk: 'x'.repeat(60_000) } }, { code: 'INVALID_VALUE', target: 'mobile.junk' }],
      ['junk in fido2', { name: 'p', fido2: { enabled: true, junk: { a: [1, 2, 3] } } }, { code: 'INVALID_VALUE', target: 'fido2.junk' }],
      ['junk in an application', app({ junk: true }), { code: 'INVALID_VALUE', target: 'mobile.applications[0].junk' }],
      ['a PingID-only member', app({ biometricsEnabled: true }), { code: 'INVALID_VALUE', target: 'mobile.applications[0].biometricsEnabled' }],
      ['21 applications', { name: 'p', mobile: { enabled: true, applications: Array.from({ length: 21 }, (_, i) => ({ id: `app-${i}` })) } }, { code: 'INVALID_VALUE', target: 'mobile.applications' }],
      ['an application without id', { name: 'p', mobile: { enabled: true, applications: [{ otp: { enabled: true } }] } }, { code: 'REQUIRED_VALUE', target: 'mobile.applications[0].id' }],
      ['an id of 65 characters', app({ id: 'a'.repeat(65) }), { code: 'SIZE_LIMIT_EXCEEDED', target: 'mobile.applications[0].id' }],
      ['the same application twice', { name: 'p', mobile: { enabled: true, applications: [{ id: 'same' }, { id: 'same' }] } }, { code: 'UNIQUENESS_VIOLATION', target: 'mobile.applications[1].id' }],
      ['pushTimeout 39 s', app({ pushTimeout: { duration: 39, timeUnit: 'SECONDS' } }), outOfRange('mobile.applications[0].pushTimeout.duration', { rangeMinimumValue: 40 })],
      ['pushTimeout 151 s', app({ pushTimeout: { duration: 151, timeUnit: 'SECONDS' } }), outOfRange('mobile.applications[0].pushTimeout.duration', { rangeMaximumValue: 150 })],
      ['pushTimeout in minutes', app({ pushTimeout: { duration: 1, timeUnit: 'MINUTES' } }), { code: 'INVALID_VALUE', target: 'mobile.applications[0].pushTimeout.timeUnit' }],
      ['pushLimit.count 51', app({ pushLimit: { count: 51 } }), outOfRange('mobile.applications[0].pushLimit.count', { rangeMaximumValue: 50 })],
      ['pushLimit.count 0', app({ pushLimit: { count: 0 } }), outOfRange('mobile.applications[0].pushLimit.count', { rangeMinimumValue: 1 })],
      ['a push-limit period of 121 minutes', app({ pushLimit: { count: 5, timePeriod: { duration: 121, timeUnit: 'MINUTES' } } }), outOfRange('mobile.applications[0].pushLimit.timePeriod.duration', { rangeMinimumValue: 1, rangeMaximumValue: 120 })],
      ['a push lock of 30 seconds', app({ pushLimit: { count: 5, lockDuration: { duration: 30, timeUnit: 'SECONDS' } } }), outOfRange('mobile.applications[0].pushLimit.lockDuration.duration', { rangeMinimumValue: 60, rangeMaximumValue: 7200 })],
      ['a pairing window of 49 hours', app({ pairingKeyLifetime: { duration: 49, timeUnit: 'HOURS' } }), outOfRange('mobile.applications[0].pairingKeyLifetime.duration', { rangeMinimumValue: 1, rangeMaximumValue: 48 })],
      ['integrityDetection lenient', app({ integrityDetection: 'lenient' }), { code: 'INVALID_VALUE', target: 'mobile.applications[0].integrityDetection' }],
      ['extraVerification lenient', app({ deviceAuthorization: { enabled: true, extraVerification: 'lenient' } }), { code: 'INVALID_VALUE', target: 'mobile.applications[0].deviceAuthorization.extraVerification' }],
      ['mobile failure count 8', { name: 'p', mobile: { enabled: true, otp: { failure: { count: 8, coolDown: { duration: 2, timeUnit: 'MINUTES' } } } } }, outOfRange('mobile.otp.failure.count', { rangeMaximumValue: 7 })],
      ['a mobile cool-down of 1 minute', { name: 'p', mobile: { enabled: true, otp: { failure: { count: 3, coolDown: { duration: 1, timeUnit: 'MINUTES' } } } } }, outOfRange('mobile.otp.failure.coolDown.duration', { rangeMinimumValue: 2, rangeMaximumValue: 30 })],
      ['a mobile step of 5 s', { name: 'p', mobile: { enabled: true, otp: { window: { stepSize: { duration: 5, timeUnit: 'SECONDS' } } } } }, outOfRange('mobile.otp.window.stepSize.duration', { rangeMinimumValue: 10 })],
      ['mobile without enabled', { name: 'p', mobile: { applications: [] } }, { code: 'REQUIRED_VALUE', target: 'mobile.enabled' }],
      ['fido2 failure count 8', { name: 'p', fido2: { enabled: true, failure: { count: 8, coolDown: { duration: 2, timeUnit: 'MINUTES' } } } }, outOfRange('fido2.failure.count', { rangeMaximumValue: 7 })],
      ['a fido2 cool-down of 31 minutes', { name: 'p', fido2: { enabled: true, failure: { count: 3, coolDown: { duration: 31, timeUnit: 'MINUTES' } } } }, outOfRange('fido2.failure.coolDown.duration', { rangeMinimumValue: 2, rangeMaximumValue: 30 })],
      ['a fido2 cool-down of 60 s', { name: 'p', fido2: { enabled: true, failure: { count: 3, coolDown: { duration: 60, timeUnit: 'SECONDS' } } } }, outOfRange('fido2.failure.coolDown.duration', { rangeMinimumValue: 120, rangeMaximumValue: 1800 })],
      ['a fido2PolicyId of 65 characters', { name: 'p', fido2: { enabled: true, fido2PolicyId: 'f'.repeat(65) } }, { code: 'SIZE_LIMIT_EXCEEDED', target: 'fido2.fido2PolicyId' }],
    ];
    for (const [what, body, detail] of cases) {
      for (const method of ['POST', 'PUT'] as const) {
        const path = method === 'POST' ? policiesOf(env) : `${policiesOf(env)}/${(await server.request('GET', policiesOf(env))).body._embedded.deviceAuthenticationPolicies[0].id as string}`;
        const res = await server.request(method, path, { body });
        assert.equal(res.status, 400, `${what} (${method}): ${res.text}`);
        assert.equal(res.body.code, 'INVALID_DATA', `${what}: ${res.text}`);
        const d = (res.body.details as Array<Record<string, unknown>>).find((x) => x.target === detail.target);
        assert.ok(d, `${what}: no detail on ${detail.target}: ${res.text}`);
        assert.equal(d.code, detail.code, `${what}: ${res.text}`);
        if (detail.innerError) for (const [k, v] of Object.entries(detail.innerError)) assert.equal((d.innerError as Record<string, unknown>)?.[k], v, `${what} ${k}: ${res.text}`);
      }
    }
    assert.equal(await rowCount(env), before);
  });

  test('the reference\'s own mobile application and fido2 section are taken whole and read back, otp.window with them', async () => {
    const res = await server.request('POST', policiesOf(env), {
      body: {
        name: 'mobile and fido2',
        mobile: { enabled: true, promptForNicknameOnPairing: true, otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } }, window: { stepSize: { duration: 30, timeUnit: 'SECONDS' } } }, applications: [REFERENCE_APPLICATION] },
        fido2: { ...REFERENCE_FIDO2, fido2PolicyId: null },
      },
    });
    assert.equal(res.status, 201, res.text);
    const read = await server.request('GET', `${policiesOf(env)}/${res.body.id as string}`);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body.mobile, { enabled: true, promptForNicknameOnPairing: true, otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } }, window: { stepSize: { duration: 30, timeUnit: 'SECONDS' } } }, applications: [REFERENCE_APPLICATION] });
    assert.deepEqual(read.body.fido2, { ...REFERENCE_FIDO2, fido2PolicyId: null, pairingDisabled: false });
    assert.deepEqual(res.body.mobile, read.body.mobile);
  });

  test('a row bloated before the sections were declared reads back with declared members only (the serializer drops the rest), what it lacks as its default', async () => {
    const made = await server.request('POST', policiesOf(env), { body: { name: 'bloated row' } });
    assert.equal(made.status, 201, made.text);
    const row = await server.store.db.selectFrom('device_authentication_policies').select('body').where('id', '=', made.body.id).executeTakeFirstOrThrow();
    const body = JSON.parse(row.body) as Record<string, any>;
    const junk = 'x'.repeat(50_000);
    body.mobile = { enabled: false, junk, otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } }, junk }, applications: [{ id: 'a', junk }, { junk }] };
    body.fido2 = { enabled: false, junk: { deep: [junk] } };
    body.sms.junk = junk;
    body.junk = junk;
    await server.store.db.updateTable('device_authentication_policies').set({ body: JSON.stringify(body) }).where('id', '=', made.body.id).execute();
    for (const path of [`${policiesOf(env)}/${made.body.id as string}`, policiesOf(env)]) {
      const res = await server.request('GET', path);
      assert.equal(res.status, 200, res.text);
      assert.ok(!res.text.includes('junk'), `${path} leaks undeclared members`);
      assert.ok(res.text.length < 20_000, `${path}: ${res.text.length} characters`);
    }
    const read = await server.request('GET', `${policiesOf(env)}/${made.body.id as string}`);
    assert.deepEqual(read.body.mobile, {
      enabled: false,
      otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } }, window: { stepSize: { duration: 30, timeUnit: 'SECONDS' } } },
      promptForNicknameOnPairing: false,
      applications: [{ id: 'a' }, {}],
    });
    assert.deepEqual(read.body.fido2, { enabled: false, pairingDisabled: false, promptForNicknameOnPairing: false, failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } });
  });
});

describe(`many policies: a bounded, paged list (${DIALECT})`, () => {
  test('120 policies of the largest size the schema allows → pages of at most 50 with count 120; every policy exactly once through _links.next, and back through prev', async () => {
    const env = await createEnvironment(server, 'many policies');
    // The largest policy: 20 applications with every member, at their longest.
    const applications = Array.from({ length: 20 }, (_, i) => ({ ...REFERENCE_APPLICATION, id: `${String(i).padStart(2, '0')}${'a'.repeat(62)}` }));
    // fido2PolicyId names a FIDO2 policy of the environment (wave-2 reference §2.5): its default.
    const fido2PolicyId = (await server.request('GET', `/v1/environments/${env}/fido2Policies`)).body._embedded.fido2Policies[0].id as string;
    const big = await server.request('POST', policiesOf(env), {
      body: { name: 'n'.repeat(256), mobile: { enabled: true, promptForNicknameOnPairing: true, applications }, fido2: { ...REFERENCE_FIDO2, fido2PolicyId }, totp: { enabled: true, uriParameters: { issuer: 'i'.repeat(128) } } },
    });
    assert.equal(big.status, 201, big.text);
    const stored = await server.store.db.selectFrom('device_authentication_policies').selectAll().where('id', '=', big.body.id).executeTakeFirstOrThrow();
    // 118 more like it, written directly (the API path is the one above); with the default policy, 120.
    const rows = Array.from({ length: 118 }, (_, i) => ({ ...stored, id: newId(), is_default: 0, created_at: stored.created_at + 1 + (i % 7) }));
    for (let i = 0; i < rows.length; i += 50) await server.store.db.insertInto('device_authentication_policies').values(rows.slice(i, i + 50)).execute();

    const first = await server.request('GET', policiesOf(env));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.size, 50);
    assert.equal(first.body.count, 120);
    const bytes = Buffer.byteLength(first.text);
    // A page of 50 of the largest policies is bounded by the schema: under 1 MB (it was unbounded).
    assert.ok(bytes < 1_000_000, `the first page is ${bytes} bytes`);
    console.log(`# figure: a page of 50 maximal policies = ${bytes} bytes (one policy ${Buffer.byteLength(JSON.stringify(big.body))} bytes)`);

    const pages = await walk(server, policiesOf(env), 'next');
    assert.deepEqual(pages.map((p) => p.size), [50, 50, 20]);
    const ids = pages.flatMap((p) => p._embedded.deviceAuthenticationPolicies.map((x: { id: string }) => x.id));
    assert.equal(new Set(ids).size, 120);
    const all = await server.store.db.selectFrom('device_authentication_policies').select('id').where('environment_id', '=', env).execute();
    assert.deepEqual([...ids].sort(), all.map((r) => r.id).sort());
    const back = await walk(server, pathOf(server, pages[2]._links.prev.href), 'prev');
    assert.deepEqual(back.map((p) => p.size), [50, 50]);

    const small = await server.request('GET', `${policiesOf(env)}?limit=2`);
    assert.equal(small.body.size, 2);
    assert.ok(small.body._links.next);
    assertError(await server.request('GET', `${policiesOf(env)}?limit=0`), 400, invalidDataBody({
      code: 'INVALID_PARAMETER', target: 'limit', message: 'limit must be a whole number from 1 to 50', innerError: { rangeMinimumValue: 1, rangeMaximumValue: 50 },
    }));
    const huge = await server.request('GET', `${policiesOf(env)}?limit=5000`);
    assert.equal(huge.body.size, 50, 'a larger limit is capped at 50');
  });
});
