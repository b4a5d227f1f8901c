/**
 * Attacks on a PingID Desktop authentication (protocol §2 step 3, §3; quality bar S1, S2, S4).
 * Devices are paired through the REAL agent; where the agent would refuse to make an assertion
 * it is built here, signed with the private key the agent stored in its key store file (or a
 * fresh key). Every refusal is a 4xx that names its target, and leaves the flow waiting and
 * the device's lock as the policy says (one failure counted per refused proof, none for a
 * refusal on the flow's or the device's state).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import type { Response, TestServer } from '../helper.js';
import { hs256, rawToken } from '../agent/helpers.js';
import { newCredential } from '../devices/desktop-fixtures.js';
import { assertError, assertRequestFailed, MSG } from '../devices/otp-support.js';
import {
  CT, DESKTOP_LOCK_MS, EXPIRED_ERROR, FLOW_LIFETIME_MS, OPTIONS_LIFETIME_MS, ORIGIN, UNLOCKED, act, agentAssertion, assertFlowStatus, b64u, blockDevice, checkAssertion, desktopSummary, flowBody, flowRow, handAssertion, headerOf, lockState, newUser, pairDesktop, readFlow, selectDevice, startFlow, unlockDevice, type PairedDesktop, type RealAgent, type Tenant, useDesktopStack,
} from './support.js';

let server: TestServer;
let t: Tenant;
let agent: RealAgent;
useDesktopStack('desktop threats', (stack) => ({ server, t, agent } = stack));

interface DesktopFlow {
  userId: string;
  paired: PairedDesktop;
  flowId: string;
  options: string;
  credential: ReturnType<RealAgent['credential']>;
}

/** A user with one paired desktop device and a flow waiting for its assertion. */
async function desktopFlow(): Promise<DesktopFlow> {
  const user = await newUser(t);
  const paired = await pairDesktop(t, agent, user.id);
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'ASSERTION_REQUIRED');
  return { userId: user.id, paired, flowId: res.body.id, options: res.body.pingIdDesktopCredentialRequestOptions, credential: agent.credential(paired.credentialId) };
}

/** 400 INVALID_DATA on `assertion` (a refused proof), with the detail code when given. */
function refusedAssertion(res: Response, code?: string, message?: RegExp): void {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.code, 'INVALID_DATA', res.text);
  assert.equal(res.body.message, MSG.INVALID_DATA);
  assert.equal(res.body.details?.length, 1, res.text);
  assert.equal(res.body.details[0].target, 'assertion', res.text);
  if (code !== undefined) assert.equal(res.body.details[0].code, code, res.text);
  if (message !== undefined) assert.match(res.body.details[0].message, message, res.text);
}

/** The flow still waits for an assertion and its challenge is still there; the device counted `failures`. */
async function unchanged(f: DesktopFlow, rowBefore: Awaited<ReturnType<typeof flowRow>>, failures: number): Promise<void> {
  assert.deepEqual(await flowRow(server, f.flowId), rowBefore, 'the flow did not change');
  await assertFlowStatus(t, f.flowId, 'ASSERTION_REQUIRED', f.paired.deviceId);
  const state = await lockState(t, f.userId, f.paired.deviceId);
  assert.equal(state.failedAttempts, failures, 'failed attempts');
  if (failures < 3) assert.deepEqual(state.lock, UNLOCKED);
}

/** The real agent's assertion still completes the flow: nothing the refused requests did consumed its challenge. */
async function stillCompletes(f: DesktopFlow): Promise<void> {
  const done = await checkAssertion(t, f.flowId, await agentAssertion(agent, f.options));
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
  assert.deepEqual(done.body.authenticators, ['desktop', 'mfa', 'user']);
  assert.deepEqual(await lockState(t, f.userId, f.paired.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
}

test('replay: a second assertion.check with the same assertion → 400 status (the flow is COMPLETED), and in a new flow → 400 assertion', async () => {
  const f = await desktopFlow();
  const assertion = await agentAssertion(agent, f.options);
  const first = await checkAssertion(t, f.flowId, assertion);
  assert.equal(first.status, 200, first.text);
  const completed = await readFlow(t, f.flowId);

  assertRequestFailed(await checkAssertion(t, f.flowId, assertion), { code: 'INVALID_VALUE', target: 'status', message: 'The device authentication is COMPLETED; it takes no more actions' });
  assert.deepEqual((await readFlow(t, f.flowId)).body, completed.body);
  assert.deepEqual(await lockState(t, f.userId, f.paired.deviceId), { lock: UNLOCKED, failedAttempts: 0 });

  // The same assertion against the user's next flow: bound to the first flow (sub) and its challenge.
  const next = await startFlow(t, f.userId);
  assert.equal(next.body.status, 'ASSERTION_REQUIRED');
  const rowBefore = await flowRow(server, next.body.id);
  refusedAssertion(await checkAssertion(t, next.body.id, assertion), 'INVALID_VALUE', /another device authentication \(sub\)/);
  await unchanged({ ...f, flowId: next.body.id }, rowBefore, 1);
  // Even re-addressed to the new flow (sub rewritten, so the signature breaks), it fails.
  const [h, p, s] = assertion.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  refusedAssertion(await checkAssertion(t, next.body.id, `${h}.${b64u({ ...claims, sub: next.body.id })}.${s}`), 'INVALID_SIGNATURE');
  await unchanged({ ...f, flowId: next.body.id }, rowBefore, 2);
});

test('another device\'s key: an assertion made with the user\'s second desktop credential → 400 assertion, counted on the selected device only', async () => {
  const f = await desktopFlow();
  const second = await pairDesktop(t, agent, f.userId);
  const secondCredential = agent.credential(second.credentialId);
  // The flow still selects the first device and allows only its credential.
  const rowBefore = await flowRow(server, f.flowId);
  assert.equal(rowBefore.selected_device_id, f.paired.deviceId);
  const now = server.clock.now();

  const cases: Array<[string, string, string]> = [
    // The second device's own assertion: its kid and credentialId, its key.
    ['kid/credential of the other device', await handAssertion(f.options, secondCredential, now), 'INVALID_VALUE'],
    // The selected device's kid, the other device's key.
    ['signed by the other device\'s key under this kid', await handAssertion(f.options, f.credential, now, { key: secondCredential.privateKey }), 'INVALID_SIGNATURE'],
    // The selected device's kid, a key the attacker made.
    ['signed by a fresh key under this kid', await handAssertion(f.options, f.credential, now, { key: newCredential().privateKey }), 'INVALID_SIGNATURE'],
    // The selected device's kid and key, but the other credential named in the claims.
    ['credentialId claim of the other device', await handAssertion(f.options, f.credential, now, { claims: { credentialId: second.credentialId } }), 'INVALID_VALUE'],
  ];
  for (const [what, assertion, code] of cases) {
    refusedAssertion(await checkAssertion(t, f.flowId, assertion), code);
    await unchanged(f, rowBefore, 1).catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
    assert.deepEqual(await lockState(t, f.userId, second.deviceId), { lock: UNLOCKED, failedAttempts: 0 }, `${what}: the other device is not charged`);
    await unlockDevice(t, f.userId, f.paired.deviceId);
  }
  // The agent itself answers only with the allowed credential, and that assertion completes the flow.
  const own = await agentAssertion(agent, f.options);
  assert.equal(headerOf(own).kid, f.paired.credentialId);
  const done = await checkAssertion(t, f.flowId, own);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(await lockState(t, f.userId, f.paired.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
});

test('wrong origin: the body\'s origin differs from the assertion\'s, or is on another site, or is plain http → 400 assertion', async () => {
  const f = await desktopFlow();
  const rowBefore = await flowRow(server, f.flowId);
  const genuine = await agentAssertion(agent, f.options);
  const now = server.clock.now();
  const cases: Array<[string, string, string, RegExp]> = [
    ['body origin differs (another subdomain of the RP)', genuine, 'https://other.pingone.eu', /origin differs from the request origin/],
    ['body origin on another site', genuine, 'https://evil.example', /origin differs from the request origin/],
    ['assertion and body from another site', await handAssertion(f.options, f.credential, now, { claims: { origin: 'https://evil.example' } }), 'https://evil.example', /origin is refused/],
    ['a look-alike host that only ends with the RP ID', await handAssertion(f.options, f.credential, now, { claims: { origin: 'https://evilpingone.eu' } }), 'https://evilpingone.eu', /origin is refused/],
    ['plain http on the RP', await handAssertion(f.options, f.credential, now, { claims: { origin: 'http://app.pingone.eu' } }), 'http://app.pingone.eu', /origin is refused/],
    ['an origin with a path', await handAssertion(f.options, f.credential, now, { claims: { origin: `${ORIGIN}/` } }), `${ORIGIN}/`, /origin is refused/],
    ['no origin in the assertion', await handAssertion(f.options, f.credential, now, { omit: ['origin'] }), ORIGIN, /origin differs/],
  ];
  for (const [what, assertion, origin, message] of cases) {
    refusedAssertion(await checkAssertion(t, f.flowId, assertion, origin), 'INVALID_VALUE', message);
    await unchanged(f, rowBefore, 1).catch((e: Error) => { throw new Error(`${what}: ${e.message}`); });
    await unlockDevice(t, f.userId, f.paired.deviceId);
  }
  // The agent refuses a page on another site outright.
  const refused = await agent.post('/authenticate', f.options, 'https://evil.example');
  assert.equal(refused.status, 403, refused.body);
  assert.equal(JSON.parse(refused.body).error, 'origin_refused');
  // And the genuine assertion with its own origin still completes.
  const done = await checkAssertion(t, f.flowId, genuine);
  assert.equal(done.status, 200, done.text);
});

test('an expired device authentication (5 min + 1 s): GET shows FAILED/EXPIRED, and assertion.check → 400 status, uncounted', async () => {
  const f = await desktopFlow();
  const started = server.clock.now();
  const assertion = await agentAssertion(agent, f.options);
  server.clock.advance(FLOW_LIFETIME_MS + 1_000);
  const read = await readFlow(t, f.flowId);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, flowBody(t, {
    id: f.flowId, userId: f.userId, policyId: t.defaultPolicyId, status: 'FAILED', selectedDevice: f.paired.deviceId, error: EXPIRED_ERROR,
    devices: [desktopSummary(f.paired)], createdAt: started, updatedAt: started,
  }));
  const gone = { code: 'INVALID_VALUE', target: 'status', message: 'The device authentication is FAILED; it takes no more actions' };
  assertRequestFailed(await checkAssertion(t, f.flowId, assertion), gone);
  // Nor does an assertion made now, signed with the device's own key.
  assertRequestFailed(await checkAssertion(t, f.flowId, await handAssertion(f.options, f.credential, server.clock.now())), gone);
  assertRequestFailed(await selectDevice(t, f.flowId, f.paired.deviceId), gone);
  assertRequestFailed(await act(t, f.flowId, CT.cancel), gone);
  assert.deepEqual((await readFlow(t, f.flowId)).body, read.body);
  assert.deepEqual(await lockState(t, f.userId, f.paired.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
  // One second earlier it would still have been open.
  const g = await desktopFlow();
  server.clock.advance(FLOW_LIFETIME_MS - 1_000);
  assert.equal((await readFlow(t, g.flowId)).body.status, 'ASSERTION_REQUIRED');
});

test('expired request options (2 min + 1 s): the agent still answers within its skew, the server refuses with EXPIRED; a new selection works', async () => {
  const f = await desktopFlow();
  const rowBefore = await flowRow(server, f.flowId);
  server.clock.advance(OPTIONS_LIFETIME_MS + 1_000);
  const late = await agentAssertion(agent, f.options);
  refusedAssertion(await checkAssertion(t, f.flowId, late), 'EXPIRED', /request options have expired/);
  await unchanged(f, rowBefore, 1);
  // Selecting the device again issues new options, which complete the flow.
  const again = await selectDevice(t, f.flowId, f.paired.deviceId);
  assert.equal(again.status, 200, again.text);
  const options = again.body.pingIdDesktopCredentialRequestOptions as string;
  assert.notEqual(options, f.options);
  // The old late assertion answers the old challenge: refused against the new options.
  refusedAssertion(await checkAssertion(t, f.flowId, late), 'INVALID_VALUE', /another challenge/);
  const done = await checkAssertion(t, f.flowId, await agentAssertion(agent, options));
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
});

test('a device blocked after selection: a valid assertion → 400 selectedDevice, uncounted; unblocked, the same assertion completes', async () => {
  const f = await desktopFlow();
  const assertion = await agentAssertion(agent, f.options);
  const rowBefore = await flowRow(server, f.flowId);
  await blockDevice(t, f.userId, f.paired.deviceId);
  assertRequestFailed(await checkAssertion(t, f.flowId, assertion), { code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is blocked' });
  await unchanged(f, rowBefore, 0);
  const shown = await readFlow(t, f.flowId);
  assert.deepEqual(shown.body._embedded.devices, []);
  assert.equal(shown.body._embedded.blockedDevices.length, 1);
  const unblock = await t.call('POST', t.device(f.userId, f.paired.deviceId), { contentType: CT.unblock });
  assert.equal(unblock.status, 200, unblock.text);
  const done = await checkAssertion(t, f.flowId, assertion);
  assert.equal(done.status, 200, done.text);
});

test('brute force: 3 refused assertions lock the device for 2 min; the 4th, CORRECT assertion → 400 selectedDevice and nothing more is counted', async () => {
  const f = await desktopFlow();
  const rowBefore = await flowRow(server, f.flowId);
  const now = server.clock.now();
  for (let i = 1; i <= 3; i++) {
    const wrong = await handAssertion(f.options, f.credential, now, { claims: { challenge: b64u(`guess ${i}`.padEnd(32, '.')) } });
    refusedAssertion(await checkAssertion(t, f.flowId, wrong), 'INVALID_VALUE', /another challenge/);
    const state = await lockState(t, f.userId, f.paired.deviceId);
    assert.equal(state.failedAttempts, i);
    assert.deepEqual(state.lock, i < 3 ? UNLOCKED : { status: 'LOCKED', expiresAt: iso(now + DESKTOP_LOCK_MS) });
  }
  const lock = { status: 'LOCKED', expiresAt: iso(now + DESKTOP_LOCK_MS) };
  const correct = await agentAssertion(agent, f.options);
  assertError(await checkAssertion(t, f.flowId, correct), 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, [
    { code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is locked after too many failed attempts', innerError: { lock } },
  ]);
  // Further wrong answers during the lock are refused before they are looked at: not counted.
  assertRequestFailed(await checkAssertion(t, f.flowId, 'not.a.jwt'), { code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is locked after too many failed attempts', innerError: { lock } });
  assert.deepEqual(await flowRow(server, f.flowId), rowBefore, 'the flow still waits');
  assert.deepEqual(await lockState(t, f.userId, f.paired.deviceId), { lock, failedAttempts: 3 });
  const device = await t.call('GET', t.device(f.userId, f.paired.deviceId));
  assert.deepEqual(device.body.lock, lock);
  assert.deepEqual((await readFlow(t, f.flowId)).body._embedded.devices, [desktopSummary(f.paired, { usableStatus: { status: 'DISABLED', reason: 'LOCKED' } })]);

  // When the lock ends (the options have expired with it), a new selection completes the flow.
  server.clock.advance(DESKTOP_LOCK_MS + 1_000);
  const again = await selectDevice(t, f.flowId, f.paired.deviceId);
  assert.equal(again.status, 200, again.text);
  const done = await checkAssertion(t, f.flowId, await agentAssertion(agent, again.body.pingIdDesktopCredentialRequestOptions));
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
});

test('hostile JWTs (alg none, HS256, wrong typ, jwk/jku/x5u/x5c headers, crit, bad signatures, wrong claims) → 400 assertion, one failure each, never 5xx', async () => {
  const f = await desktopFlow();
  const rowBefore = await flowRow(server, f.flowId);
  const now = server.clock.now();
  const good = await handAssertion(f.options, f.credential, now);
  const [gh, gp, gs] = good.split('.') as [string, string, string];
  const header = headerOf(good);
  const claims = JSON.parse(Buffer.from(gp, 'base64url').toString()) as Record<string, unknown>;
  const attacker = newCredential();
  const sameKeyJwk = (() => {
    const { kty, crv, x, y } = f.credential.privateKey.export({ format: 'jwk' }) as Record<string, string>;
    return { kty, crv, x, y };
  })();
  // A second flow of the same user and device; the first keeps its own challenge.
  const otherFlow = (await startFlow(t, f.userId)).body.id as string;
  const iat = Math.floor(now / 1000);

  const cases: Array<[string, string, string?]> = [
    ['alg none, no signature', rawToken({ ...header, alg: 'none' }, claims, '')],
    ['alg none, with the real signature', rawToken({ ...header, alg: 'none' }, claims, gs)],
    ['HS256 keyed with the credential ID', hs256({ ...header, alg: 'HS256' }, claims, f.paired.credentialId)],
    ['HS256 keyed with the public key JSON', hs256({ ...header, alg: 'HS256' }, claims, JSON.stringify(sameKeyJwk))],
    ['RS256 named, ES256 signature', `${b64u({ ...header, alg: 'RS256' })}.${gp}.${gs}`],
    ['typ of an attestation', await handAssertion(f.options, f.credential, now, { header: { typ: 'pingid-desktop-attestation+jwt' } })],
    ['typ of request options', await handAssertion(f.options, f.credential, now, { header: { typ: 'pingid-desktop-request+jwt' } })],
    ['typ JWT', await handAssertion(f.options, f.credential, now, { header: { typ: 'JWT' } })],
    ['no typ', await handAssertion(f.options, f.credential, now, { header: { typ: undefined } })],
    ['a jwk header with an attacker key, signed by it', await handAssertion(f.options, f.credential, now, { key: attacker.privateKey, header: { jwk: attacker.publicJwk } })],
    ['a jwk header with the device\'s own key', await handAssertion(f.options, f.credential, now, { header: { jwk: sameKeyJwk } })],
    ['a jku header', await handAssertion(f.options, f.credential, now, { key: attacker.privateKey, header: { jku: 'https://evil.example/jwks' } })],
    ['an x5u header', await handAssertion(f.options, f.credential, now, { header: { x5u: 'https://evil.example/cert' } })],
    ['an x5c header', await handAssertion(f.options, f.credential, now, { header: { x5c: ['MIIB'] } })],
    ['an unknown crit', await handAssertion(f.options, f.credential, now, { header: { crit: ['x-unknown'], 'x-unknown': true } })],
    ['no kid', await handAssertion(f.options, f.credential, now, { header: { kid: undefined } })],
    ['an unknown kid', await handAssertion(f.options, f.credential, now, { header: { kid: randomUUID() } })],
    ['stripped signature', `${gh}.${gp}.`],
    ['truncated signature', `${gh}.${gp}.${gs.slice(0, 40)}`],
    ['tampered payload', `${gh}.${b64u({ ...claims, unitId: randomUUID() })}.${gs}`],
    ['wrong iss', await handAssertion(f.options, f.credential, now, { claims: { iss: 'someone-else' } })],
    ['aud of another environment', await handAssertion(f.options, f.credential, now, { claims: { aud: `${server.config.authPath}/${randomUUID()}/as` } })],
    ['sub of another flow', await handAssertion(f.options, f.credential, now, { claims: { sub: otherFlow } })],
    ['expired (exp + skew passed)', await handAssertion(f.options, f.credential, now, { claims: { iat: iat - 200, exp: iat - 61 } }), 'EXPIRED'],
    ['iat in the future', await handAssertion(f.options, f.credential, now, { claims: { iat: iat + 120, exp: iat + 180 } })],
    ['no exp', await handAssertion(f.options, f.credential, now, { omit: ['exp'] }), 'EXPIRED'],
    ['no challenge', await handAssertion(f.options, f.credential, now, { omit: ['challenge'] })],
    ['not a JWT', 'not-a-jwt'],
    ['two parts', `${gh}.${gp}`],
    ['a 9 KiB assertion', `${gh}.${'A'.repeat(9 * 1024)}.${gs}`],
  ];
  for (const [what, assertion, code] of cases) {
    const res = await checkAssertion(t, f.flowId, assertion);
    try {
      if (what === 'a 9 KiB assertion') {
        assertError(res, 400, 'INVALID_DATA', MSG.INVALID_DATA, [{ code: 'SIZE_LIMIT_EXCEEDED', target: 'assertion', message: 'assertion must be at most 8192 characters', innerError: { maximumValue: 8192 } }]);
      } else {
        refusedAssertion(res, code);
      }
      await unchanged(f, rowBefore, 1);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
    await unlockDevice(t, f.userId, f.paired.deviceId);
  }
  // The same well-formed, correctly signed assertion is accepted: the corpus was refused for what it changed.
  const done = await checkAssertion(t, f.flowId, good);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
});

test('a proof of the wrong kind: otp.check on a flow that waits for an assertion → 400 status, uncounted', async () => {
  const f = await desktopFlow();
  const rowBefore = await flowRow(server, f.flowId);
  assertRequestFailed(await act(t, f.flowId, CT.otpCheck, { otp: '123456' }), { code: 'INVALID_VALUE', target: 'status', message: 'The device authentication is ASSERTION_REQUIRED, not OTP_REQUIRED' });
  await unchanged(f, rowBefore, 0);
  await stillCompletes(f);
});
