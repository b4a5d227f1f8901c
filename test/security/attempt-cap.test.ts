/**
 * Threat: brute force in one burst (quality bar S1). An attacker sends many guesses in
 * parallel — with the right proof last, the best case for them — hoping that all of them pass
 * the "not locked" check before the first failure is written. The promise is **at most N
 * comparisons per lock window, whatever the concurrency** (devices/attempts.ts,
 * docs/attempts.md): an attempt is reserved in the store before its proof is compared.
 *
 * What the attacker sees is the oracle: a compared wrong proof answers 400 INVALID_DATA on the
 * proof's target; an attempt refused its reservation answers the lock, compares nothing and
 * tells nothing. So "compared" is counted from the answers, for every proof type: activation
 * codes, TOTP activation, desktop and FIDO2 attestations, otp.check (EMAIL and TOTP), assertion.check.
 * Runs on SQLite in-process and on PostgreSQL (test/multiprocess/races.test.ts does the same
 * across two processes).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { useTestServer, type Response, type TestServer } from '../helper.js';
import { attest, newCredential, pendingDesktop } from '../devices/desktop-fixtures.js';
import { wrongCodes } from '../devices/otp-support.js';
import { CT, DESKTOP_LOCK_MS, EMAIL_LOCK_MS, TOTP_LOCK_MS, handAssertion, newTenant, newUser, startFlow, type Tenant } from '../authentication/support.js';
import { hotp, totpCode } from '../support/rfc6238.js';
import { SoftwareAuthenticator } from '../../src/testing/fido2-authenticator.js';

/** The default policy's FIDO2 cool-down (policies/defaults.ts). */
const FIDO2_LOCK_MS = 2 * 60_000;

/** Parallel wrong proofs per burst (the trial used 60; `npm run test:stress` sends 1,000 across processes). */
const BURST = 60;
/** The default policies' failure count for every method (the lower of it and lockout.failureCount). */
const N = 3;

let server: TestServer;
let t: Tenant;

useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'attempt cap');
});

interface Target {
  /** Where the proof goes, and how. */
  path: string;
  contentType: string;
  right: unknown;
  wrong: unknown[];
  deviceId: string;
  userId: string;
  /** The detail target of a compared wrong proof, and of the locked answer. */
  proofTarget: string;
  lockTarget: string;
  lockMessage: string;
  lockMs: number;
}

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const deviceLock = { lockTarget: 'lock.status', lockMessage: 'The device is locked after too many failed attempts' };
const flowLock = { lockTarget: 'selectedDevice', lockMessage: 'The selected device is locked after too many failed attempts' };
/** Every TOTP code a guess must avoid: the ±1 steps the server accepts. */
const nearTotp = (secret: string) => [-1, 0, 1].map((k) => totpCode(secret, server.clock.now() + k * 30_000));

const targets: Record<string, () => Promise<Target>> = {
  async 'an EMAIL activation code'() {
    const user = await newUser(t);
    const res = await t.call('POST', t.devices(user.id), { body: { type: 'EMAIL', email: 'victim@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' } });
    assert.equal(res.status, 201, res.text);
    const otp = res.body.test.otp as string;
    return {
      path: t.device(user.id, res.body.id), contentType: ACTIVATE, right: { otp }, wrong: wrongCodes(otp, BURST).map((o) => ({ otp: o })),
      deviceId: res.body.id, userId: user.id, proofTarget: 'otp', ...deviceLock, lockMs: EMAIL_LOCK_MS,
    };
  },
  async 'a TOTP activation code'() {
    const user = await newUser(t);
    const res = await t.call('POST', t.devices(user.id), { body: { type: 'TOTP' } });
    assert.equal(res.status, 201, res.text);
    const secret = res.body.secret as string;
    return {
      path: t.device(user.id, res.body.id), contentType: ACTIVATE, right: { otp: totpCode(secret, server.clock.now()) },
      wrong: wrongCodes(nearTotp(secret), BURST).map((o) => ({ otp: o })),
      deviceId: res.body.id, userId: user.id, proofTarget: 'otp', ...deviceLock, lockMs: TOTP_LOCK_MS,
    };
  },
  async 'a desktop attestation'() {
    const p = await pendingDesktop(server, t.env);
    const now = server.clock.now();
    return {
      path: p.path, contentType: ACTIVATE, right: { attestation: await attest(p.options, { now }) },
      // Well signed by fresh keys, answering challenges the server never issued.
      wrong: await Promise.all(Array.from({ length: BURST }, async () => ({ attestation: await attest(p.options, { now, claims: { challenge: randomBytes(32).toString('base64url') } }) }))),
      deviceId: p.deviceId, userId: p.userId, proofTarget: 'attestation', ...deviceLock, lockMs: DESKTOP_LOCK_MS,
    };
  },
  async 'a FIDO2 attestation'() {
    const user = await newUser(t);
    const res = await t.call('POST', t.devices(user.id), { body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' } } });
    assert.equal(res.status, 201, res.text);
    const options = res.body.publicKeyCredentialCreationOptions as string;
    const origin = 'http://localhost:8080';
    // Well formed and signed, by fresh authenticators, answering challenges the server never issued.
    const forged = () => JSON.stringify({ ...JSON.parse(options), challenge: [...randomBytes(32)] });
    return {
      path: t.device(user.id, res.body.id), contentType: ACTIVATE, right: { origin, attestation: new SoftwareAuthenticator().register(options, origin) },
      wrong: Array.from({ length: BURST }, () => ({ origin, attestation: new SoftwareAuthenticator().register(forged(), origin) })),
      deviceId: res.body.id, userId: user.id, proofTarget: 'attestation', ...deviceLock, lockMs: FIDO2_LOCK_MS,
    };
  },
  async 'an EMAIL otp.check code'() {
    const user = await newUser(t);
    const created = await t.call('POST', t.devices(user.id), { body: { type: 'EMAIL', email: 'victim@example.com', testMode: true } });
    assert.equal(created.status, 201, created.text);
    const flow = await startFlow(t, user.id);
    assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
    const otp = flow.body.test.otp as string;
    return {
      path: t.flow(flow.body.id), contentType: CT.otpCheck, right: { otp }, wrong: wrongCodes(otp, BURST).map((o) => ({ otp: o })),
      deviceId: created.body.id, userId: user.id, proofTarget: 'otp', ...flowLock, lockMs: EMAIL_LOCK_MS,
    };
  },
  async 'a TOTP otp.check code'() {
    const user = await newUser(t);
    const created = await t.call('POST', t.devices(user.id), { body: { type: 'TOTP', status: 'ACTIVE' } });
    assert.equal(created.status, 201, created.text);
    const secret = created.body.secret as string;
    const flow = await startFlow(t, user.id);
    assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
    return {
      path: t.flow(flow.body.id), contentType: CT.otpCheck, right: { otp: totpCode(secret, server.clock.now()) },
      wrong: wrongCodes(nearTotp(secret), BURST).map((o) => ({ otp: o })),
      deviceId: created.body.id, userId: user.id, proofTarget: 'otp', ...flowLock, lockMs: TOTP_LOCK_MS,
    };
  },
  async 'a desktop assertion'() {
    const p = await pendingDesktop(server, t.env);
    const credential = { ...newCredential(), credentialId: `cred-${randomBytes(6).toString('hex')}`, unitId: '4d764d06-6aa5-4c15-ac8c-4df655cbf867' };
    const activated = await server.request('POST', p.path, {
      contentType: ACTIVATE,
      body: { attestation: await attest(p.options, { now: server.clock.now(), credential, claims: { credentialId: credential.credentialId } }) },
    });
    assert.equal(activated.status, 200, activated.text);
    const flow = await server.request('POST', `/${t.env}/deviceAuthentications`, { body: { user: { id: p.userId } } });
    assert.equal(flow.body.status, 'ASSERTION_REQUIRED', flow.text);
    const options = flow.body.pingIdDesktopCredentialRequestOptions as string;
    const now = server.clock.now();
    return {
      path: `/${t.env}/deviceAuthentications/${flow.body.id as string}`, contentType: CT.assertionCheck,
      right: { origin: 'https://app.pingone.eu', assertion: await handAssertion(options, credential, now) },
      // Each signed by a key that is not the device's.
      wrong: await Promise.all(Array.from({ length: BURST }, async () => ({ origin: 'https://app.pingone.eu', assertion: await handAssertion(options, credential, now, { key: newCredential().privateKey }) }))),
      deviceId: p.deviceId, userId: p.userId, proofTarget: 'assertion', ...flowLock, lockMs: DESKTOP_LOCK_MS,
    };
  },
};

const send = (target: Target, body: unknown, token?: string): Promise<Response> =>
  server.request('POST', target.path, { contentType: target.contentType, body, ...(token !== undefined ? { token } : {}) });
const compared = (target: Target, r: Response): boolean =>
  r.status === 400 && r.body.code === 'INVALID_DATA' && r.body.details?.[0]?.target === target.proofTarget;
/** The locked answer without its per-response id. */
const lockedAnswer = (target: Target, r: Response) => {
  assert.equal(r.status, 400, r.text);
  const { id, ...rest } = r.body;
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(rest.code, 'REQUEST_FAILED', r.text);
  assert.equal(rest.details[0].target, target.lockTarget, r.text);
  assert.equal(rest.details[0].message, target.lockMessage, r.text);
  return rest;
};

test('the TOTP oracle matches RFC 6238 Appendix B (SHA-1) and RFC 4226 Appendix D', () => {
  const key = Buffer.from('12345678901234567890');
  assert.equal(hotp(key, Math.floor(59 / 30), 8), '94287082');
  assert.equal(hotp(key, Math.floor(1111111109 / 30), 8), '07081804');
  assert.equal(hotp(key, Math.floor(20000000000 / 30), 8), '65353130');
  assert.deepEqual([0, 1, 2, 3].map((c) => hotp(key, c)), ['755224', '287082', '359152', '969429']);
});

for (const [name, make] of Object.entries(targets)) {
  describe(`S1 ${name}`, () => {
    test(`${BURST} wrong proofs in parallel with the right one sent last: at most ${N} compared, 0 successes, the right one answered exactly as the locked wrong ones`, async () => {
      const target = await make();
      const token = await t.token();
      const startedAt = server.clock.now();
      // All sent at once; the right proof is the last request of the burst.
      const results = await Promise.all([...target.wrong, target.right].map((b) => send(target, b, token)));
      const right = results.at(-1)!;
      assert.equal(results.filter((r) => r.status === 200).length, 0, 'no proof succeeds in the burst');
      const comparedCount = results.filter((r) => compared(target, r)).length;
      assert.equal(comparedCount, N, `exactly the policy's ${N} proofs are compared; ${comparedCount} were`);
      // Every other answer is the lock, one body for all of them, the right proof's included.
      const locked = results.filter((r) => !compared(target, r));
      assert.equal(locked.length, BURST + 1 - N);
      const lockBody = lockedAnswer(target, locked[0]!);
      assert.deepEqual(lockBody.details[0].innerError, { lock: { status: 'LOCKED', expiresAt: iso(startedAt + target.lockMs) } });
      for (const r of locked) assert.deepEqual(lockedAnswer(target, r), lockBody);
      assert.deepEqual(lockedAnswer(target, right), lockBody, 'the right proof, sent last, is told nothing more');

      const device = await server.store.db.selectFrom('devices').select(['failed_attempts', 'locked_until', 'status']).where('id', '=', target.deviceId).executeTakeFirstOrThrow();
      assert.equal(Number(device.failed_attempts), N);
      assert.equal(Number(device.locked_until), startedAt + target.lockMs);
    });

    test('sequentially: a locked device answers the right proof exactly as a wrong one; the Nth attempt, if right, succeeds and clears the count', async () => {
      const target = await make();
      for (const b of target.wrong.slice(0, N - 1)) assert.ok(compared(target, await send(target, b)));
      // The Nth attempt starts the lock when it is reserved — and, being right, ends it.
      const nth = await send(target, target.right);
      assert.equal(nth.status, 200, nth.text);
      const device = await server.store.db.selectFrom('devices').select(['failed_attempts', 'locked_until']).where('id', '=', target.deviceId).executeTakeFirstOrThrow();
      assert.deepEqual({ failed: Number(device.failed_attempts), lockedUntil: device.locked_until }, { failed: 0, lockedUntil: null });
    });
  });
}

test('S1 the lock window: after a lock ends by itself a new window allows N more comparisons, no more', async () => {
  const target = await targets['an EMAIL activation code']!();
  const first = await Promise.all(target.wrong.slice(0, 20).map((b) => send(target, b)));
  assert.equal(first.filter((r) => compared(target, r)).length, N);
  server.clock.advance(target.lockMs);
  const second = await Promise.all(target.wrong.slice(20, 40).map((b) => send(target, b)));
  assert.equal(second.filter((r) => compared(target, r)).length, N, 'a new window, the same bound');
  // Unlocked by an administrator, the same.
  assert.equal((await t.call('POST', `${target.path}`, { contentType: 'application/vnd.pingidentity.device.unlock+json' })).status, 200);
  const third = await Promise.all([...target.wrong.slice(40, 50), target.right].map((b) => send(target, b)));
  assert.equal(third.filter((r) => compared(target, r)).length, N);
  assert.equal(third.filter((r) => r.status === 200).length, 0);
});

test('S1 one device, many flows: bursts spread over several flows of the same device share one bound', async () => {
  const user = await newUser(t);
  const created = await t.call('POST', t.devices(user.id), { body: { type: 'EMAIL', email: 'spread@example.com', testMode: true } });
  assert.equal(created.status, 201, created.text);
  const flows = await Promise.all(Array.from({ length: 5 }, () => startFlow(t, user.id)));
  const results = await Promise.all(flows.flatMap((f) => wrongCodes(f.body.test.otp as string, 12).map((otp) => t.call('POST', t.flow(f.body.id), { contentType: CT.otpCheck, body: { otp } }))));
  const comparedCount = results.filter((r) => r.status === 400 && r.body.code === 'INVALID_DATA').length;
  assert.equal(comparedCount, N, 'the count is the device\'s, not the flow\'s');
});

test('S1 with Idempotency-Key: a distinct key on every guess neither lifts the bound nor undoes a counted failure', async () => {
  // Threat: idempotent requests run in their own transaction; if a refused proof rolled its
  // reservation back, a fresh key per guess would make guessing free.
  for (const make of [targets['an EMAIL activation code']!, targets['an EMAIL otp.check code']!]) {
    const target = await make();
    const token = await t.token();
    const results = await Promise.all([...target.wrong, target.right].map((body, i) => server.request('POST', target.path, {
      contentType: target.contentType, body, token, headers: { 'idempotency-key': `guess-${i}-${randomBytes(4).toString('hex')}` },
    })));
    assert.equal(results.filter((r) => r.status === 200).length, 0);
    assert.equal(results.filter((r) => compared(target, r)).length, N);
    lockedAnswer(target, results.at(-1)!);
    const device = await server.store.db.selectFrom('devices').select(['failed_attempts', 'locked_until']).where('id', '=', target.deviceId).executeTakeFirstOrThrow();
    assert.equal(Number(device.failed_attempts), N, 'every compared guess stays counted');
    assert.notEqual(device.locked_until, null);
  }
});
