/**
 * Races on one flow (quality bar S1, S2): a flow completes by one conditional UPDATE, so
 * however many requests carry one valid proof at once, exactly one completes it and the
 * others are refused on `status` without counting as failures; concurrent wrong proofs count
 * exactly up to the policy's number. Runs on SQLite and on PostgreSQL (scripts/test.mjs runs
 * every file that starts a test server on both); the desktop race uses the REAL agent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { totpCode } from '../support/rfc6238.js';

import { type Response, type TestServer } from '../helper.js';
import { MSG, wrongCodes } from '../devices/otp-support.js';
import {
  CT, EMAIL_LOCK_MS, UNLOCKED, act, agentAssertion, checkAssertion, checkOtp, emailDevice, flowRow, lockState, newUser, pairDesktop, readFlow, startFlow, totpDevice, type RealAgent, type Tenant, useDesktopStack,
} from './support.js';

let server: TestServer;
let t: Tenant;
let agent: RealAgent;
useDesktopStack('concurrency', (stack) => ({ server, t, agent } = stack));

const N = 20;

/** Exactly one 200 COMPLETED; every other answer a 400 REQUEST_FAILED on `status` (the flow was completed or changed). */
function oneWinner(results: Response[]): Response {
  const winners = results.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, results.map((r) => `${r.status}`).join(','));
  assert.equal(winners[0]!.body.status, 'COMPLETED');
  // Every copy is an attempt (devices/attempts.ts): copies past the policy's count meet the
  // lock the Nth reservation set — until the winner clears it — and answer as any proof would.
  for (const r of results.filter((x) => x.status !== 200)) {
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.code, 'REQUEST_FAILED', r.text);
    assert.equal(r.body.message, MSG.REQUEST_FAILED);
    const [detail] = r.body.details;
    if (detail.target === 'selectedDevice') {
      assert.equal(detail.message, 'The selected device is locked after too many failed attempts', r.text);
      continue;
    }
    assert.equal(detail.target, 'status', r.text);
    assert.match(detail.message, /^The device authentication (is COMPLETED; it takes no more actions|was completed or changed by another request)$/, r.text);
  }
  return winners[0]!;
}

for (let round = 1; round <= 2; round++) {
  test(`a replay race: ${N} concurrent assertion.check calls with ONE valid assertion (the real agent's) → exactly one COMPLETED (round ${round})`, async () => {
    const user = await newUser(t);
    const paired = await pairDesktop(t, agent, user.id);
    const res = await startFlow(t, user.id);
    assert.equal(res.body.status, 'ASSERTION_REQUIRED');
    const assertion = await agentAssertion(agent, res.body.pingIdDesktopCredentialRequestOptions);
    const results = await Promise.all(Array.from({ length: N }, () => checkAssertion(t, res.body.id, assertion)));
    const winner = oneWinner(results);
    assert.deepEqual(winner.body.selectedDevice, { id: paired.deviceId });
    assert.deepEqual((await readFlow(t, res.body.id)).body, winner.body);
    assert.equal((await flowRow(server, res.body.id)).challenge_hash, null);
    assert.deepEqual(await lockState(t, user.id, paired.deviceId), { lock: UNLOCKED, failedAttempts: 0 }, 'losing a race is not a failed attempt');
  });

  test(`a replay race: ${N} concurrent otp.check calls with ONE valid EMAIL code → exactly one COMPLETED (round ${round})`, async () => {
    const user = await newUser(t);
    const deviceId = await emailDevice(t, user.id, `${user.username}@example.com`);
    const res = await startFlow(t, user.id);
    const results = await Promise.all(Array.from({ length: N }, () => checkOtp(t, res.body.id, res.body.test.otp)));
    const winner = oneWinner(results);
    assert.deepEqual((await readFlow(t, res.body.id)).body, winner.body);
    assert.deepEqual(await lockState(t, user.id, deviceId), { lock: UNLOCKED, failedAttempts: 0 }, 'losing a race is not a failed attempt');
  });
}

test(`a replay race on TOTP: ${N} concurrent otp.check calls with ONE valid code → exactly one COMPLETED, and the device is not locked by the losers`, async () => {
  const user = await newUser(t);
  const d = await totpDevice(t, user.id);
  const res = await startFlow(t, user.id);
  const code = totpCode(d.secret, server.clock.now());
  const results = await Promise.all(Array.from({ length: N }, () => checkOtp(t, res.body.id, code)));
  const winners = results.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, results.map((r) => `${r.status}`).join(','));
  for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.status, 400, r.text);
  assert.equal((await readFlow(t, res.body.id)).body.status, 'COMPLETED');
  assert.deepEqual(await lockState(t, user.id, d.id), { lock: UNLOCKED, failedAttempts: 0 }, 'the user\'s own double submit must not lock the device');
});

// Threat: one TOTP code spent without completing any flow. The step is spent only with the
// flow it completes (ProofSpend), so when a third copy's reservation starts the lock between
// one copy's check and its completion, the code is still there for a copy that can complete.
test(`one TOTP code on ${N} flows at once → exactly one COMPLETED, the step taken once`, async () => {
  const user = await newUser(t);
  const d = await totpDevice(t, user.id);
  const flows = await Promise.all(Array.from({ length: N }, () => startFlow(t, user.id)));
  const code = totpCode(d.secret, server.clock.now());
  const results = await Promise.all(flows.map((f) => checkOtp(t, f.body.id, code)));
  const winners = results.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, results.map((r) => `${r.status}`).join(','));
  assert.equal(winners[0]!.body.status, 'COMPLETED');
  for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.status, 400, r.text);
  const states = await Promise.all(flows.map((f) => readFlow(t, f.body.id)));
  assert.equal(states.filter((r) => r.body.status === 'COMPLETED').length, 1);
  assert.equal(await server.store.db.selectFrom('devices').select('last_otp_step').where('id', '=', d.id).executeTakeFirstOrThrow().then((r) => Number(r.last_otp_step)), Math.floor(server.clock.now() / 30_000));
});

test(`brute force in parallel: ${N} concurrent wrong OTPs count exactly the policy's 3 and lock the device; 0 successes; the right code is then refused`, async () => {
  const user = await newUser(t);
  const deviceId = await emailDevice(t, user.id, `${user.username}@example.com`);
  const res = await startFlow(t, user.id);
  const now = server.clock.now();
  const results = await Promise.all(wrongCodes(res.body.test.otp, N).map((otp) => checkOtp(t, res.body.id, otp)));
  assert.equal(results.filter((r) => r.status === 200).length, 0);
  for (const r of results) {
    assert.equal(r.status, 400, r.text);
    assert.ok(['otp', 'selectedDevice'].includes(r.body.details[0].target), r.text);
  }
  // Some requests were already past the lock check when the lock landed; they are still refused and not counted.
  assert.ok(results.filter((r) => r.body.details[0].target === 'otp').length >= 3);
  const lock = { status: 'LOCKED', expiresAt: iso(now + EMAIL_LOCK_MS) };
  assert.deepEqual(await lockState(t, user.id, deviceId), { lock, failedAttempts: 3 });
  const right = await checkOtp(t, res.body.id, res.body.test.otp);
  assert.equal(right.status, 400, right.text);
  assert.equal(right.body.details[0].target, 'selectedDevice');
  assert.equal((await readFlow(t, res.body.id)).body.status, 'OTP_REQUIRED');
});

test(`${N} concurrent cancels → exactly one 200 FAILED/CANCELED, the rest 400 status`, async () => {
  const user = await newUser(t);
  await emailDevice(t, user.id, `${user.username}@example.com`);
  const res = await startFlow(t, user.id);
  const results = await Promise.all(Array.from({ length: N }, () => act(t, res.body.id, CT.cancel)));
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, results.map((r) => `${r.status}`).join(','));
  assert.equal(ok[0]!.body.status, 'FAILED');
  assert.equal(ok[0]!.body.error.code, 'CANCELED');
  for (const r of results.filter((x) => x.status !== 200)) {
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.details[0].target, 'status', r.text);
  }
});

test(`a race between cancel and a valid code: the flow ends once — either COMPLETED or FAILED, never both`, async () => {
  const user = await newUser(t);
  await emailDevice(t, user.id, `${user.username}@example.com`);
  const res = await startFlow(t, user.id);
  const results = await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 === 0 ? act(t, res.body.id, CT.cancel) : checkOtp(t, res.body.id, res.body.test.otp))));
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, results.map((r) => `${r.status}`).join(','));
  const final = await readFlow(t, res.body.id);
  assert.equal(final.body.status, ok[0]!.body.status);
  assert.ok(['COMPLETED', 'FAILED'].includes(final.body.status));
});
