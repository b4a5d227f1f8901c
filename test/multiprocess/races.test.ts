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
import { attest, newCredential } from '../devices/desktop-fixtures.js';
import { handAssertion } from '../authentication/support.js';
import { SoftwareAuthenticator } from '../../src/testing/fido2-authenticator.js';
import { forger } from '../fido2/support.js';
import { totpCode } from '../support/rfc6238.js';
import { hotpCode } from '../support/rfc4226.js';
import { wrongCodes } from '../devices/otp-support.js';
import { call, reportFigures, startProcesses, tokenOf, type Processes, type Reply } from '../support/processes.js';
import type { Store } from '../../src/store/db.js';

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const OTP_CHECK = 'application/vnd.pingidentity.otp.check+json';
const ASSERTION_CHECK = 'application/vnd.pingidentity.assertion.check+json';
const FIDO2_ORIGIN = 'http://localhost:8080';
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

  /** A new user with an active OATH HOTP token imported on one process and paired on the other. */
  async function oathHotpDevice(prefix: string) {
    const user = await newUser();
    const secret = randomBytes(20).toString('hex');
    const serialNumber = `${prefix}${randomBytes(4).toString('hex')}`;
    const job = await on(0, 'POST', `/v1/environments/${env}/oathJobs`, {
      contentType: 'application/vnd.pingidentity.job.oathtokens.create+json',
      body: { type: 'CREATE_OATH_TOKENS', tokens: [{ serialNumber, secret, type: 'HOTP', otpLength: 6 }] },
    });
    assert.equal(job.status, 202, job.text);
    const created = await on(1, 'POST', devices(user), { body: { type: 'OATH_TOKEN', serialNumber, status: 'ACTIVE' } });
    assert.equal(created.status, 201, created.text);
    return { user, secret, serialNumber, created };
  }

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
    const attestation = await attest(created.body.pingIdDesktopCredentialCreationOptions as string, { now: Date.now() });
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

  /**
   * S1 across processes: the attacker's best case — every wrong proof in parallel, spread over
   * both processes, the right proof sent last. "Compared" is read from the answers (a compared
   * wrong proof is 400 INVALID_DATA on its target; a refused reservation answers the lock).
   */
  interface Burst { path: string; contentType: string; right: unknown; wrong: unknown[]; deviceId: string; proofTarget: string }
  const nearTotp = (secret: string) => [-1, 0, 1].map((k) => totpCode(secret, Date.now() + k * 30_000));
  const bursts: Record<string, () => Promise<Burst>> = {
    async 'EMAIL activation codes'() {
      const user = await newUser();
      const created = await on(0, 'POST', devices(user), { body: { type: 'EMAIL', email: 'brute@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' } });
      assert.equal(created.status, 201, created.text);
      const otp = created.body.test.otp as string;
      return { path: `${devices(user)}/${created.body.id as string}`, contentType: ACTIVATE, right: { otp }, wrong: wrongCodes(otp, BRUTE).map((o) => ({ otp: o })), deviceId: created.body.id, proofTarget: 'otp' };
    },
    async 'TOTP activation codes'() {
      const user = await newUser();
      const created = await on(0, 'POST', devices(user), { body: { type: 'TOTP' } });
      assert.equal(created.status, 201, created.text);
      const secret = created.body.secret as string;
      return { path: `${devices(user)}/${created.body.id as string}`, contentType: ACTIVATE, right: { otp: totpCode(secret, Date.now()) }, wrong: wrongCodes(nearTotp(secret), BRUTE).map((o) => ({ otp: o })), deviceId: created.body.id, proofTarget: 'otp' };
    },
    async 'desktop attestations'() {
      const user = await newUser();
      const created = await on(0, 'POST', devices(user), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } } });
      assert.equal(created.status, 201, created.text);
      const options = created.body.pingIdDesktopCredentialCreationOptions as string;
      // Each well signed by a fresh key, answering a challenge the server never issued.
      const wrong = await Promise.all(Array.from({ length: BRUTE }, async () => ({ attestation: await attest(options, { now: Date.now(), claims: { challenge: randomBytes(32).toString('base64url') } }) })));
      return { path: `${devices(user)}/${created.body.id as string}`, contentType: ACTIVATE, right: { attestation: await attest(options, { now: Date.now() }) }, wrong, deviceId: created.body.id, proofTarget: 'attestation' };
    },
    async 'EMAIL otp.check codes'() {
      const user = await newUser();
      const created = await on(0, 'POST', devices(user), { body: { type: 'EMAIL', email: 'brute@example.com', testMode: true } });
      assert.equal(created.status, 201, created.text);
      const flow = await on(1, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
      assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
      const otp = flow.body.test.otp as string;
      return { path: `/${env}/deviceAuthentications/${flow.body.id as string}`, contentType: OTP_CHECK, right: { otp }, wrong: wrongCodes(otp, BRUTE).map((o) => ({ otp: o })), deviceId: created.body.id, proofTarget: 'otp' };
    },
    async 'TOTP otp.check codes'() {
      const user = await newUser();
      const created = await on(0, 'POST', devices(user), { body: { type: 'TOTP', status: 'ACTIVE' } });
      assert.equal(created.status, 201, created.text);
      const secret = created.body.secret as string;
      const flow = await on(1, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
      assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
      return { path: `/${env}/deviceAuthentications/${flow.body.id as string}`, contentType: OTP_CHECK, right: { otp: totpCode(secret, Date.now()) }, wrong: wrongCodes(nearTotp(secret), BRUTE).map((o) => ({ otp: o })), deviceId: created.body.id, proofTarget: 'otp' };
    },
    async 'OATH HOTP otp.check codes'() {
      const { user, secret, created } = await oathHotpDevice('RACE');
      const flow = await on(0, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
      assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
      // None of the wrong codes is a code of the look-ahead window (counters 0–10).
      const window = new Set(Array.from({ length: 11 }, (_, c) => hotpCode(secret, c)));
      const wrong = wrongCodes(hotpCode(secret, 0), BRUTE + 20).filter((o) => !window.has(o)).slice(0, BRUTE);
      return { path: `/${env}/deviceAuthentications/${flow.body.id as string}`, contentType: OTP_CHECK, right: { otp: hotpCode(secret, 0) }, wrong: wrong.map((o) => ({ otp: o })), deviceId: created.body.id, proofTarget: 'otp' };
    },
    async 'desktop assertions'() {
      const user = await newUser();
      const created = await on(0, 'POST', devices(user), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } } });
      assert.equal(created.status, 201, created.text);
      const credential = { ...newCredential(), credentialId: `cred-${randomBytes(6).toString('hex')}`, unitId: '4d764d06-6aa5-4c15-ac8c-4df655cbf867' };
      const attestation = await attest(created.body.pingIdDesktopCredentialCreationOptions as string, { now: Date.now(), credential, claims: { credentialId: credential.credentialId } });
      const activated = await on(1, 'POST', `${devices(user)}/${created.body.id as string}`, { contentType: ACTIVATE, body: { attestation } });
      assert.equal(activated.status, 200, activated.text);
      const flow = await on(0, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
      assert.equal(flow.body.status, 'ASSERTION_REQUIRED', flow.text);
      const options = flow.body.pingIdDesktopCredentialRequestOptions as string;
      const origin = 'https://app.pingone.eu';
      // Each signed by a key that is not the device's.
      const wrong = await Promise.all(Array.from({ length: BRUTE }, async () => ({ origin, assertion: await handAssertion(options, credential, Date.now(), { key: newCredential().privateKey }) })));
      return { path: `/${env}/deviceAuthentications/${flow.body.id as string}`, contentType: ASSERTION_CHECK, right: { origin, assertion: await handAssertion(options, credential, Date.now()) }, wrong, deviceId: created.body.id, proofTarget: 'assertion' };
    },
  };

  /** A user with an active FIDO2 device (the software authenticator) and a flow waiting for its assertion. */
  async function fido2Flow(): Promise<{ deviceId: string; deviceCredential: { deviceId: string; credentialId: string; authenticator: SoftwareAuthenticator; activated: Record<string, unknown> }; path: string; options: string }> {
    const user = await newUser();
    const created = await on(0, 'POST', devices(user), { body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' } } });
    assert.equal(created.status, 201, created.text);
    const authenticator = new SoftwareAuthenticator();
    const attestation = authenticator.register(created.body.publicKeyCredentialCreationOptions as string, FIDO2_ORIGIN);
    const activated = await on(1, 'POST', `${devices(user)}/${created.body.id as string}`, { contentType: ACTIVATE, body: { origin: FIDO2_ORIGIN, attestation } });
    assert.equal(activated.status, 200, activated.text);
    const flow = await on(0, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
    assert.equal(flow.body.status, 'ASSERTION_REQUIRED', flow.text);
    return {
      deviceId: created.body.id,
      deviceCredential: { deviceId: created.body.id, credentialId: activated.body.credentialId, authenticator, activated: activated.body },
      path: `/${env}/deviceAuthentications/${flow.body.id as string}`,
      options: flow.body.publicKeyCredentialRequestOptions as string,
    };
  }
  bursts['FIDO2 assertions'] = async () => {
    const f = await fido2Flow();
    // Each well signed, by a key that is not the device's, under the device's credential ID.
    const wrong = Array.from({ length: BRUTE }, () => ({ origin: FIDO2_ORIGIN, assertion: forger(f.deviceCredential).authenticate(f.options, FIDO2_ORIGIN) }));
    return { path: f.path, contentType: ASSERTION_CHECK, right: { origin: FIDO2_ORIGIN, assertion: f.deviceCredential.authenticator.authenticate(f.options, FIDO2_ORIGIN) }, wrong, deviceId: f.deviceId, proofTarget: 'assertion' };
  };

  test(`S2: ${REPLAYS} concurrent assertion.check calls on one flow with ONE valid FIDO2 assertion → one COMPLETED`, async () => {
    const f = await fido2Flow();
    const assertion = f.deviceCredential.authenticator.authenticate(f.options, FIDO2_ORIGIN);
    const results = await Promise.all(Array.from({ length: REPLAYS }, (_, i) => on(i, 'POST', f.path, { contentType: ASSERTION_CHECK, body: { origin: FIDO2_ORIGIN, assertion } })));
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, statuses(results));
    assert.equal(winners[0]!.body.status, 'COMPLETED');
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.status, 400, r.text);
    const row = await store.db.selectFrom('devices').selectAll().where('id', '=', f.deviceId).executeTakeFirstOrThrow();
    assert.equal(Number(row.failed_attempts), 0, 'losing a race is not a failed attempt');
    assert.equal(Number(row.sign_count), 1);
  });

  for (const [name, make] of Object.entries(bursts)) {
    test(`S1: ${BRUTE} wrong ${name} in parallel across both processes, the right one last → at most the policy's 3 compared, 0 successes, the right one answered as locked`, async (t) => {
      const burst = await make();
      const results = await Promise.all([...burst.wrong, burst.right].map((body, i) => on(i, 'POST', burst.path, { contentType: burst.contentType, body })));
      const successes = results.filter((r) => r.status === 200).length;
      const compared = results.filter((r) => r.status === 400 && r.body.code === 'INVALID_DATA' && r.body.details?.[0]?.target === burst.proofTarget).length;
      await reportFigures(t, 'attempts', { proof: name, burst: BRUTE + 1, compared, policyCount: 3, breaches: successes });
      assert.equal(successes, 0, statuses(results));
      assert.equal(compared, 3, `exactly the policy's 3 compared; ${compared} were`);
      for (const r of results) assert.equal(r.status, 400, r.text);
      const right = results.at(-1)!;
      assert.equal(right.body.code, 'REQUEST_FAILED', right.text);
      assert.match(right.body.details[0].message, /locked after too many failed attempts$/, right.text);
      const row = await store.db.selectFrom('devices').selectAll().where('id', '=', burst.deviceId).executeTakeFirstOrThrow();
      assert.equal(Number(row.failed_attempts), 3, 'exactly the policy failure count');
      assert.notEqual(row.locked_until, null);
    });
  }

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

  // The race this found: the token's position was taken before the flow completed, and a third
  // copy's reservation starting the lock in between left the code spent and no flow completed
  // (20 × 400). The position is now taken in the completion's transaction (ProofSpend).
  test('S2: one OATH HOTP code on 20 flows across both processes → exactly one COMPLETED, the counter moved once', async () => {
    const { user, secret, serialNumber } = await oathHotpDevice('REPLAY');
    const flows = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } })));
    const otp = hotpCode(secret, 0);
    const results = await Promise.all(flows.map((f, i) => on(i + 1, 'POST', `/${env}/deviceAuthentications/${f.body.id as string}`, { contentType: OTP_CHECK, body: { otp } })));
    assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.text).join("\n"));
    const token = await store.db.selectFrom('oath_tokens').selectAll().where('serial_number', '=', serialNumber).executeTakeFirstOrThrow();
    assert.equal(Number(token.counter), 1);
  });
});
