/**
 * Races across two real server processes on one PostgreSQL schema (quality bar R4, S1, S2):
 * requests alternate between the processes, so the only thing that can serialise them is the
 * database. PostgreSQL only: SQLite is one file owned by one process (the same races run
 * in-process on SQLite in test/devices and test/authentication). Uses startProcesses.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DIALECT, freshStore, type Dialect } from '../helper.js';
import { attest } from '../devices/desktop-fixtures.js';
import { wrongCodes } from '../devices/otp-support.js';
import { call, startProcesses, tokenOf, type Processes, type Reply } from '../support/processes.js';
import type { Store } from '../../src/store/db.js';

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const OTP_CHECK = 'application/vnd.pingidentity.otp.check+json';
const dialect: Dialect = DIALECT;
/** S2's 100 concurrent submissions of one valid secret; S1's parallel wrong codes (1,000 in `npm run test:stress`). */
const REPLAYS = Number(process.env.OPENMFA_STRESS_REPLAYS ?? 100);
const BRUTE = Number(process.env.OPENMFA_STRESS_BRUTE ?? 200);

describe('races across 2 processes on one PostgreSQL schema', { skip: dialect !== 'postgres' ? 'PostgreSQL only: two processes cannot share one SQLite store (the in-process races run on SQLite in test/devices and test/authentication)' : false }, () => {
  let procs: Processes;
  let store: Store;
  let dispose: () => Promise<void>;
  let tokens: string[];
  let env: string;

  before(async () => {
    const fresh = await freshStore('postgres');
    store = fresh.store;
    dispose = fresh.dispose;
    procs = await startProcesses({ count: 2, databaseUrl: fresh.databaseUrl! });
    env = procs.bootstrap.environmentId;
    tokens = await Promise.all(procs.urls.map((u) => tokenOf(u, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret)));
  });
  after(async () => {
    await procs?.stopAll();
    await dispose?.();
  });

  /** Request `i` goes to process i % 2. */
  const on = <T = any>(i: number, method: string, url: string, o: { body?: unknown; contentType?: string } = {}): Promise<Reply<T>> =>
    call<T>(procs.urls[i % 2]!, method, url, { token: tokens[i % 2]!, ...o });
  const statuses = (rs: Reply[]) => rs.map((r) => r.status).join(',');

  async function newUser(): Promise<string> {
    const name = `u-${Math.random().toString(16).slice(2, 10)}`;
    const res = await on(0, 'POST', `/v1/environments/${env}/users`, { body: { username: name, email: `${name}@example.com` } });
    assert.equal(res.status, 201, res.text);
    return res.body.id as string;
  }
  const devices = (u: string) => `/v1/environments/${env}/users/${u}/devices`;

  test('R4: 50 parallel creates (desktop and EMAIL) with maxAllowedDevices 5 → exactly 5 devices', async () => {
    const put = await on(1, 'PUT', `/v1/environments/${env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 5 } } });
    assert.equal(put.status, 200, put.text);
    const user = await newUser();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => on(i, 'POST', devices(user), {
      body: i % 2 === 0
        ? { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } }
        : { type: 'EMAIL', email: `d${i}@example.com`, testMode: true },
    })));
    assert.equal(results.filter((r) => r.status === 201).length, 5, statuses(results));
    for (const r of results.filter((x) => x.status !== 201)) {
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.details[0].code, 'LIMIT_EXCEEDED', r.text);
    }
    const { n } = await store.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', user).executeTakeFirstOrThrow();
    assert.equal(Number(n), 5);
    // Put the limit back for the other races.
    assert.equal((await on(0, 'PUT', `/v1/environments/${env}/mfaSettings`, { body: { pairing: { maxAllowedDevices: 15 } } })).status, 200);
  });

  test(`S2: ${REPLAYS} concurrent activations with ONE valid desktop attestation → exactly one 200`, async () => {
    const user = await newUser();
    const created = await on(0, 'POST', devices(user), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } } });
    assert.equal(created.status, 201, created.text);
    const attestation = attest(created.body.pingIdDesktopCredentialCreationOptions as string, { now: Date.now() });
    const path = `${devices(user)}/${created.body.id as string}`;
    const results = await Promise.all(Array.from({ length: REPLAYS }, (_, i) => on(i, 'POST', path, { contentType: ACTIVATE, body: { attestation } })));
    assert.equal(results.filter((r) => r.status === 200).length, 1, statuses(results));
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.status, 400, r.text);
    const row = await store.db.selectFrom('devices').selectAll().where('id', '=', created.body.id as string).executeTakeFirstOrThrow();
    assert.equal(row.status, 'ACTIVE');
    assert.equal(Number(row.failed_attempts), 0, `losing a race is not a failed attempt: ${results.filter((x) => x.status !== 200).map((r) => r.text).join('\n')}`);
    assert.equal(row.challenge_hash, null);
  });

  test(`S2: ${REPLAYS} concurrent activations with ONE valid EMAIL code → exactly one 200`, async () => {
    const user = await newUser();
    const created = await on(1, 'POST', devices(user), { body: { type: 'EMAIL', email: 'once@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' } });
    assert.equal(created.status, 201, created.text);
    const otp = created.body.test.otp as string;
    const path = `${devices(user)}/${created.body.id as string}`;
    const results = await Promise.all(Array.from({ length: REPLAYS }, (_, i) => on(i, 'POST', path, { contentType: ACTIVATE, body: { otp } })));
    assert.equal(results.filter((r) => r.status === 200).length, 1, statuses(results));
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.status, 400, r.text);
    const row = await store.db.selectFrom('devices').selectAll().where('id', '=', created.body.id as string).executeTakeFirstOrThrow();
    assert.equal(row.status, 'ACTIVE');
    assert.equal(Number(row.failed_attempts), 0);
  });

  test(`S1: ${BRUTE} concurrent wrong OTPs across both processes → exactly the policy's 3 failures recorded, 0 successes`, async () => {
    const user = await newUser();
    const created = await on(0, 'POST', devices(user), { body: { type: 'EMAIL', email: 'brute@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' } });
    assert.equal(created.status, 201, created.text);
    const path = `${devices(user)}/${created.body.id as string}`;
    const results = await Promise.all(wrongCodes(created.body.test.otp as string, BRUTE).map((otp, i) => on(i, 'POST', path, { contentType: ACTIVATE, body: { otp } })));
    assert.equal(results.filter((r) => r.status === 200).length, 0);
    for (const r of results) assert.equal(r.status, 400, r.text);
    const row = await store.db.selectFrom('devices').selectAll().where('id', '=', created.body.id as string).executeTakeFirstOrThrow();
    assert.equal(Number(row.failed_attempts), 3, 'exactly the policy failure count');
    assert.notEqual(row.locked_until, null);
    assert.equal(row.status, 'ACTIVATION_REQUIRED');
    // The right code is refused while locked.
    const right = await on(1, 'POST', path, { contentType: ACTIVATE, body: { otp: created.body.test.otp } });
    assert.equal(right.status, 400, right.text);
  });

  test(`S1: ${BRUTE} concurrent wrong attestations across both processes → exactly the policy's 3 failures recorded, 0 successes`, async () => {
    const user = await newUser();
    const created = await on(0, 'POST', devices(user), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } } });
    assert.equal(created.status, 201, created.text);
    const options = created.body.pingIdDesktopCredentialCreationOptions as string;
    const path = `${devices(user)}/${created.body.id as string}`;
    // Each is well signed by a fresh key but answers a challenge the server never issued.
    const attempts = Array.from({ length: BRUTE }, () => attest(options, { now: Date.now(), claims: { challenge: randomBytes(32).toString('base64url') } }));
    const results = await Promise.all(attempts.map((attestation, i) => on(i, 'POST', path, { contentType: ACTIVATE, body: { attestation } })));
    assert.equal(results.filter((r) => r.status === 200).length, 0);
    for (const r of results) assert.equal(r.status, 400, r.text);
    const row = await store.db.selectFrom('devices').selectAll().where('id', '=', created.body.id as string).executeTakeFirstOrThrow();
    assert.equal(Number(row.failed_attempts), 3, 'exactly the policy failure count');
    assert.notEqual(row.locked_until, null);
    assert.equal(row.status, 'ACTIVATION_REQUIRED');
    assert.equal(row.public_jwk, null);
    // The right attestation is refused while locked.
    const right = await on(1, 'POST', path, { contentType: ACTIVATE, body: { attestation: attest(options, { now: Date.now() }) } });
    assert.equal(right.status, 400, right.text);
  });

  test(`S2: ${REPLAYS} concurrent otp.check calls on one flow with ONE valid code → one COMPLETED`, async () => {
    const user = await newUser();
    const created = await on(0, 'POST', devices(user), { body: { type: 'EMAIL', email: 'flow@example.com', testMode: true } });
    assert.equal(created.status, 201, created.text);
    const flow = await on(1, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
    assert.equal(flow.status, 200, flow.text);
    assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
    const otp = flow.body.test.otp as string;
    const results = await Promise.all(Array.from({ length: REPLAYS }, (_, i) => on(i, 'POST', `/${env}/deviceAuthentications/${flow.body.id as string}`, { contentType: OTP_CHECK, body: { otp } })));
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, statuses(results));
    assert.equal(winners[0]!.body.status, 'COMPLETED');
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.status, 400, r.text);
    const row = await store.db.selectFrom('devices').selectAll().where('id', '=', created.body.id as string).executeTakeFirstOrThrow();
    assert.equal(Number(row.failed_attempts), 0, 'losing a race is not a failed attempt');
  });
});
