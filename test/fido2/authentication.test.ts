/**
 * FIDO2 authentication (wave-2 reference §1.5, §7): a FIDO2 device selected in a device
 * authentication answers ASSERTION_REQUIRED with `publicKeyCredentialRequestOptions` in PingOne's
 * encoding; assertion.check verifies the software authenticator's assertion. Every refusal is
 * named after its threat, is a 4xx, and changes nothing but the one counted attempt — the flow
 * keeps its challenge, and the right assertion still completes it afterwards.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iso } from '../../src/clock.js';
import { SoftwareAuthenticator, bytesOf } from '../../src/testing/fido2-authenticator.js';
import { useTestServer, type Response, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { fido2PolicyBody } from '../fuzz/openapi.js';
import {
  CT, UNLOCKED, act, checkAssertion, createPolicy, emailDevice, emailSummary, flowBody, flowRow, deviceRow, lockState, newTenant, newUser, readFlow, startFlow, type Tenant,
} from '../authentication/support.js';
import { ORIGIN, RP, anyCredential, fido2Summary, forger, registerFido2, signed, tamper, type Fido2Device } from './support.js';

let server: TestServer;
let t: Tenant;
let other: Tenant;
useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'fido2 authentication');
  other = await newTenant(server, 'fido2 other environment');
});

const FIDO2_LOCK_MS = 2 * 60_000;

interface Fido2Flow {
  userId: string;
  device: Fido2Device;
  flowId: string;
  options: string;
  started: Response;
}

/** A user with one FIDO2 device and a flow waiting for its assertion (the device chosen automatically). */
async function fido2Flow(): Promise<Fido2Flow> {
  const user = await newUser(t);
  const device = await registerFido2(t, user.id);
  const started = await startFlow(t, user.id);
  assert.equal(started.status, 200, started.text);
  assert.equal(started.body.status, 'ASSERTION_REQUIRED', started.text);
  return { userId: user.id, device, flowId: started.body.id, options: started.body.publicKeyCredentialRequestOptions, started };
}

const assertionFor = (f: Fido2Flow, options = f.options, origin = ORIGIN) => f.device.authenticator.authenticate(options, origin);

/** The flow's row is as it was and it still waits; the device counted `failures`. */
async function unchanged(f: Fido2Flow, before: Awaited<ReturnType<typeof flowRow>>, failures: number): Promise<void> {
  assert.deepEqual(await flowRow(server, f.flowId), before, 'the flow did not change');
  const state = await lockState(t, f.userId, f.device.deviceId);
  assert.equal(state.failedAttempts, failures, 'failed attempts');
  assert.deepEqual(state.lock, UNLOCKED);
}

/** The right assertion still completes the flow: nothing refused before consumed its challenge. */
async function stillCompletes(f: Fido2Flow): Promise<void> {
  const done = await checkAssertion(t, f.flowId, assertionFor(f), ORIGIN);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
  assert.deepEqual(await lockState(t, f.userId, f.device.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
}

test('a FIDO2 device chosen automatically → ASSERTION_REQUIRED with the request options as a JSON string in PingOne\'s encoding, shown once; the assertion → COMPLETED', async () => {
  const user = await newUser(t);
  const device = await registerFido2(t, user.id);
  const createdAt = server.clock.now();
  const started = await startFlow(t, user.id);
  assert.equal(started.status, 200, started.text);
  const options = started.body.publicKeyCredentialRequestOptions as string;
  assert.equal(typeof options, 'string');
  const expected = {
    id: started.body.id, userId: user.id, policyId: t.defaultPolicyId, selectedDevice: device.deviceId,
    devices: [fido2Summary(device)], createdAt, updatedAt: createdAt,
  };
  assert.deepEqual(started.body, flowBody(t, { ...expected, status: 'ASSERTION_REQUIRED', once: { publicKeyCredentialRequestOptions: options } }));
  // §1.6's member order inside the flow's device summary.
  assert.deepEqual(Object.keys(started.body._embedded.devices[0]), ['id', 'type', 'status', 'usableStatus', 'rp', 'credentialId', 'backup', 'displayName']);

  const o = JSON.parse(options);
  assert.deepEqual(Object.keys(o), ['challenge', 'timeout', 'rpId', 'allowCredentials', 'userVerification'], 'the members in FV\'s order');
  assert.equal(o.challenge.length, 32);
  assert.ok(o.challenge.every((b: number) => Number.isInteger(b) && b >= -128 && b <= 127));
  assert.deepEqual(o, {
    challenge: o.challenge,
    timeout: 120000,
    rpId: 'localhost',
    allowCredentials: [{ type: 'public-key', id: signed(Buffer.from(device.credentialId, 'base64url')) }],
    userVerification: 'required',
  });
  // Only SHA-256 of the challenge is kept; a read never shows the options again.
  const row = await flowRow(server, started.body.id);
  assert.ok(row.challenge_hash && !row.challenge_hash.includes(bytesOf(o.challenge).toString('base64url')));
  assert.equal(row.challenge_expires_at, row.expires_at, 'the challenge lives as long as the flow');
  const read = await readFlow(t, started.body.id);
  assert.deepEqual(read.body, flowBody(t, { ...expected, status: 'ASSERTION_REQUIRED' }));

  server.clock.advance(1000);
  const assertion = device.authenticator.authenticate(options, ORIGIN);
  const done = await act(t, started.body.id, CT.assertionCheck, { origin: ORIGIN, assertion, compatibility: 'FULL' });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.headers['cache-control'], 'no-store');
  const completed = flowBody(t, { ...expected, status: 'COMPLETED', authenticators: ['fido2', 'mfa', 'user'], updatedAt: server.clock.now() });
  assert.deepEqual(done.body, completed);
  assert.deepEqual((await readFlow(t, started.body.id)).body, completed);
  assert.equal((await flowRow(server, started.body.id)).challenge_hash, null);
  assert.equal(Number((await deviceRow(server, device.deviceId)).sign_count), 1, 'the new signature counter is stored');
});

test('device.select of a FIDO2 device (with compatibility SECURITY_KEY_ONLY) → ASSERTION_REQUIRED; the assertion completes the flow', async () => {
  const user = await newUser(t);
  const email = await emailDevice(t, user.id, `${user.username}@example.com`);
  server.clock.advance(1000); // the device order goes by activation time
  const device = await registerFido2(t, user.id);
  const policyId = await createPolicy(t, { authentication: { deviceSelection: 'ALWAYS_DISPLAY_DEVICES' } });
  const started = await startFlow(t, user.id, { policy: { id: policyId } });
  assert.equal(started.body.status, 'DEVICE_SELECTION_REQUIRED', started.text);
  assert.deepEqual(started.body._embedded.devices, [emailSummary(email, `${user.username}@example.com`), fido2Summary(device)]);
  const selected = await act(t, started.body.id, CT.select, { device: { id: device.deviceId }, compatibility: 'SECURITY_KEY_ONLY' });
  assert.equal(selected.status, 200, selected.text);
  assert.equal(selected.body.status, 'ASSERTION_REQUIRED');
  assert.deepEqual(selected.body.selectedDevice, { id: device.deviceId });
  assert.deepEqual(selected.body._links['assertion.check'], { href: `${server.config.authPath}/${t.env}/deviceAuthentications/${started.body.id as string}` });
  const done = await checkAssertion(t, started.body.id, device.authenticator.authenticate(selected.body.publicKeyCredentialRequestOptions, ORIGIN), ORIGIN);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.body.status, 'COMPLETED');
});

describe('a FIDO2 policy that aggregates devices', () => {
  test('allowCredentials lists every usable FIDO2 credential of the user; an assertion of the second completes the flow and advances that device\'s counter', async () => {
    const fido2 = await t.call('POST', `/v1/environments/${t.env}/fido2Policies`, { body: { ...fido2PolicyBody('aggregate'), relyingPartyId: 'localhost', aggregateDevices: true } });
    assert.equal(fido2.status, 201, fido2.text);
    const policyId = await createPolicy(t, { fido2: { enabled: true, fido2PolicyId: fido2.body.id } });
    const user = await newUser(t);
    const first = await registerFido2(t, user.id, { policyId });
    server.clock.advance(1000); // the device order goes by activation time
    const second = await registerFido2(t, user.id, { policyId });
    const started = await startFlow(t, user.id, { policy: { id: policyId } });
    assert.equal(started.body.status, 'ASSERTION_REQUIRED', started.text);
    assert.deepEqual(started.body.selectedDevice, { id: first.deviceId });
    const o = JSON.parse(started.body.publicKeyCredentialRequestOptions);
    assert.deepEqual(o.allowCredentials, [first, second].map((d) => ({ type: 'public-key', id: signed(Buffer.from(d.credentialId, 'base64url')) })));
    assert.equal(o.userVerification, 'preferred');
    const done = await checkAssertion(t, started.body.id, second.authenticator.authenticate(started.body.publicKeyCredentialRequestOptions, ORIGIN), ORIGIN);
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
    assert.equal(Number((await deviceRow(server, second.deviceId)).sign_count), 1);
    assert.equal(Number((await deviceRow(server, first.deviceId)).sign_count), 0);
  });
});

describe('threats to an assertion: each a 400 that changes nothing but the counted attempt', () => {
  type Case = [string, (f: Fido2Flow) => Promise<{ origin?: string; assertion?: string; [k: string]: unknown }> | { origin?: string; assertion?: string; [k: string]: unknown }, { code: string; target: string; detail?: string; message?: RegExp }];
  const cases: Case[] = [
    ['the challenge of another flow', async (f) => {
      // The same user's second flow, on the same device: its options carry another challenge.
      const second = await startFlow(t, f.userId);
      assert.equal(second.body.status, 'ASSERTION_REQUIRED');
      return { origin: ORIGIN, assertion: assertionFor(f, second.body.publicKeyCredentialRequestOptions) };
    }, { code: 'INVALID_DATA', target: 'assertion', message: /another challenge/ }],
    ['another origin', (f) => ({ origin: 'https://evil.example', assertion: assertionFor(f, f.options, 'https://evil.example') }), { code: 'INVALID_DATA', target: 'origin' }],
    ['clientData of another origin than the body names', (f) => ({ origin: ORIGIN, assertion: assertionFor(f, f.options, 'http://localhost:9999') }), { code: 'INVALID_DATA', target: 'assertion', message: /origin in clientDataJSON/ }],
    ['another RP ID hash', (f) => ({ origin: ORIGIN, assertion: f.device.authenticator.authenticate(f.options, ORIGIN, { rpIdForHash: 'evil.example' }) }), { code: 'INVALID_DATA', target: 'assertion', message: /RP ID hash/ }],
    ['user verification missing where the policy requires it', (f) => ({ origin: ORIGIN, assertion: f.device.authenticator.authenticate(f.options, ORIGIN, { userVerified: false }) }), { code: 'INVALID_DATA', target: 'assertion', message: /user verification/ }],
    ['a registration type in clientData', (f) => ({ origin: ORIGIN, assertion: f.device.authenticator.authenticate(f.options, ORIGIN, { type: 'webauthn.create' }) }), { code: 'INVALID_DATA', target: 'assertion', message: /webauthn\.get/ }],
    ['a signature by another key under the device\'s credential ID', (f) => ({ origin: ORIGIN, assertion: forger(f.device).authenticate(f.options, ORIGIN) }), { code: 'INVALID_DATA', target: 'assertion', detail: 'INVALID_SIGNATURE' }],
    ['a credential of another user', async (f) => {
      const mallory = await registerFido2(t, (await newUser(t)).id);
      return { origin: ORIGIN, assertion: mallory.authenticator.authenticate(anyCredential(f.options), ORIGIN) };
    }, { code: 'INVALID_DATA', target: 'assertion', message: /not made with a credential this authentication allows/ }],
    ['a credential of another environment', async (f) => {
      const there = await registerFido2(other, (await newUser(other)).id);
      return { origin: ORIGIN, assertion: there.authenticator.authenticate(anyCredential(f.options), ORIGIN) };
    }, { code: 'INVALID_DATA', target: 'assertion', message: /not made with a credential this authentication allows/ }],
    ['the user handle of another user', (f) => ({ origin: ORIGIN, assertion: tamper(assertionFor(f), (a) => { a.response.userHandle = Buffer.alloc(32, 7).toString('base64'); }) }), { code: 'INVALID_DATA', target: 'assertion', message: /user handle/ }],
    ['id and rawId of different credentials', (f) => ({ origin: ORIGIN, assertion: tamper(assertionFor(f), (a) => { a.id = Buffer.alloc(32, 1).toString('base64url'); }) }), { code: 'INVALID_DATA', target: 'assertion' }],
    ['malformed JSON', () => ({ origin: ORIGIN, assertion: '{"id":' }), { code: 'INVALID_DATA', target: 'assertion', message: /not a JSON-serialised PublicKeyCredential/ }],
    ['a JSON value that is not a PublicKeyCredential', () => ({ origin: ORIGIN, assertion: '[1,2,3]' }), { code: 'INVALID_DATA', target: 'assertion' }],
    ['malformed base64', (f) => ({ origin: ORIGIN, assertion: tamper(assertionFor(f), (a) => { a.response.signature = `*${a.response.signature as string}`; }) }), { code: 'INVALID_DATA', target: 'assertion', message: /neither base64 nor base64url/ }],
    ['truncated authenticator data', (f) => ({ origin: ORIGIN, assertion: tamper(assertionFor(f), (a) => { a.response.authenticatorData = Buffer.from(a.response.authenticatorData, 'base64').subarray(0, 20).toString('base64'); }) }), { code: 'INVALID_DATA', target: 'assertion' }],
    ['malformed CBOR extensions in the authenticator data', (f) => ({ origin: ORIGIN, assertion: tamper(assertionFor(f), (a) => {
      const data = Buffer.from(a.response.authenticatorData, 'base64');
      data[32] = data[32]! | 0x80; // ED: extension data follows
      a.response.authenticatorData = Buffer.concat([data, Buffer.from([0xa3, 0x63, 0x66, 0xff, 0x00])]).toString('base64');
    }) }), { code: 'INVALID_DATA', target: 'assertion' }],
    ['malformed clientDataJSON', (f) => ({ origin: ORIGIN, assertion: tamper(assertionFor(f), (a) => { a.response.clientDataJSON = Buffer.from('{"type":').toString('base64'); }) }), { code: 'INVALID_DATA', target: 'assertion' }],
    ['an oversized assertion', () => ({ origin: ORIGIN, assertion: 'x'.repeat(9000) }), { code: 'INVALID_DATA', target: 'assertion' }],
    ['an extra member', (f) => ({ origin: ORIGIN, assertion: assertionFor(f), status: 'COMPLETED' }), { code: 'INVALID_DATA', target: 'status' }],
    ['an unknown compatibility', (f) => ({ origin: ORIGIN, assertion: assertionFor(f), compatibility: 'ANY' }), { code: 'INVALID_DATA', target: 'compatibility' }],
    ['no origin', (f) => ({ assertion: assertionFor(f) }), { code: 'INVALID_DATA', target: 'origin' }],
  ];
  for (const [threat, body, expected] of cases) {
    test(`threat: ${threat} → 400 ${expected.code} on ${expected.target}`, async () => {
      const f = await fido2Flow();
      const made = await body(f);
      const before = await flowRow(server, f.flowId);
      const res = await act(t, f.flowId, CT.assertionCheck, made);
      expectError(res, 400, expected.code, { target: expected.target, ...(expected.detail ? { code: expected.detail } : {}), ...(expected.message ? { message: expected.message } : {}) });
      assert.doesNotMatch(res.text, /challenge":|"challenge/, 'no challenge is echoed');
      await unchanged(f, before, 1);
      await stillCompletes(f);
    });
  }

  test('threat: an oversized body (past the server\'s body limit) → 413; nothing changes', async () => {
    const f = await fido2Flow();
    const before = await flowRow(server, f.flowId);
    const res = await act(t, f.flowId, CT.assertionCheck, { origin: ORIGIN, assertion: 'x'.repeat(2_000_000) });
    expectError(res, 413, 'INVALID_REQUEST');
    await unchanged(f, before, 0);
    await stillCompletes(f);
  });

  test('threat: a replayed assertion — on its completed flow, and in the next flow of the same device → 400; nothing changes', async () => {
    const f = await fido2Flow();
    const assertion = assertionFor(f);
    assert.equal((await checkAssertion(t, f.flowId, assertion, ORIGIN)).status, 200);
    const completed = await flowRow(server, f.flowId);
    expectError(await checkAssertion(t, f.flowId, assertion, ORIGIN), 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'status', message: /COMPLETED; it takes no more actions/ });
    assert.deepEqual(await flowRow(server, f.flowId), completed);
    const next = await startFlow(t, f.userId);
    const g: Fido2Flow = { ...f, flowId: next.body.id, options: next.body.publicKeyCredentialRequestOptions, started: next };
    const before = await flowRow(server, g.flowId);
    expectError(await checkAssertion(t, g.flowId, assertion, ORIGIN), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'assertion', message: /another challenge/ });
    await unchanged(g, before, 1);
    await stillCompletes(g);
  });

  test('threat: a signature counter regression (a cloned authenticator) → 400 on assertion, counted, recorded on the device; the device\'s body does not change', async () => {
    const f = await fido2Flow();
    assert.equal((await checkAssertion(t, f.flowId, assertionFor(f), ORIGIN)).status, 200);
    assert.equal(Number((await deviceRow(server, f.device.deviceId)).sign_count), 1);
    const next = await startFlow(t, f.userId);
    const g: Fido2Flow = { ...f, flowId: next.body.id, options: next.body.publicKeyCredentialRequestOptions, started: next };
    const before = await flowRow(server, g.flowId);
    const shown = await t.call('GET', t.device(f.userId, f.device.deviceId));
    server.clock.advance(1000);
    // A clone of the credential signs with the counter the original already used.
    const res = await checkAssertion(t, g.flowId, f.device.authenticator.authenticate(g.options, ORIGIN, { counter: 1 }), ORIGIN);
    expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'assertion', message: /signature counter did not move forward/ });
    await unchanged(g, before, 1);
    const row = await deviceRow(server, f.device.deviceId);
    assert.equal(Number(row.sign_count), 1, 'the stored counter stays');
    assert.deepEqual(JSON.parse(row.extra).signCounterRegression, { detectedAt: server.clock.now(), storedCounter: 1, receivedCounter: 1, count: 1 });
    assert.deepEqual((await t.call('GET', t.device(f.userId, f.device.deviceId))).body, shown.body, 'the PingOne body has no member for it');
    await stillCompletes(g);
    assert.equal(Number((await deviceRow(server, f.device.deviceId)).sign_count), 2);
  });

  test('threat: two flows answered out of order (the second signed first was held back) → the one with the lower counter is refused as a regression', async () => {
    const f = await fido2Flow();
    const second = await startFlow(t, f.userId);
    const early = assertionFor(f); // counter 1, for the first flow
    const late = f.device.authenticator.authenticate(second.body.publicKeyCredentialRequestOptions, ORIGIN); // counter 2
    assert.equal((await checkAssertion(t, second.body.id, late, ORIGIN)).status, 200);
    const before = await flowRow(server, f.flowId);
    expectError(await checkAssertion(t, f.flowId, early, ORIGIN), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'assertion', message: /signature counter did not move forward/ });
    await unchanged(f, before, 1);
    assert.equal(Number((await deviceRow(server, f.device.deviceId)).sign_count), 2);
    assert.equal(JSON.parse((await deviceRow(server, f.device.deviceId)).extra).signCounterRegression.count, 1);
  });

  test('an authenticator without a counter (always 0) is taken every time', async () => {
    const f = await fido2Flow();
    assert.equal((await checkAssertion(t, f.flowId, f.device.authenticator.authenticate(f.options, ORIGIN, { counter: 0 }), ORIGIN)).status, 200);
    const next = await startFlow(t, f.userId);
    const done = await checkAssertion(t, next.body.id, f.device.authenticator.authenticate(next.body.publicKeyCredentialRequestOptions, ORIGIN, { counter: 0 }), ORIGIN);
    assert.equal(done.status, 200, done.text);
    assert.equal(Number((await deviceRow(server, f.device.deviceId)).sign_count), 0);
  });

  test('threat: an assertion after the flow expired → 400 on status; the flow reads FAILED EXPIRED', async () => {
    const f = await fido2Flow();
    const assertion = assertionFor(f);
    server.clock.advance(5 * 60_000);
    expectError(await checkAssertion(t, f.flowId, assertion, ORIGIN), 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'status' });
    assert.equal((await readFlow(t, f.flowId)).body.status, 'FAILED');
    assert.equal((await lockState(t, f.userId, f.device.deviceId)).failedAttempts, 0);
  });
});

const N = 20;

test(`brute force in parallel: ${N} forged assertions with the valid one last → 0 successes, exactly the policy's 3 compared, the device locked, the valid one answered as locked`, async () => {
  const f = await fido2Flow();
  const now = server.clock.now();
  const wrong = Array.from({ length: N }, () => forger(f.device).authenticate(f.options, ORIGIN));
  const results = await Promise.all([...wrong, assertionFor(f)].map((assertion) => checkAssertion(t, f.flowId, assertion, ORIGIN)));
  assert.equal(results.filter((r) => r.status === 200).length, 0);
  for (const r of results) assert.equal(r.status, 400, r.text);
  const compared = results.filter((r) => r.body.code === 'INVALID_DATA' && r.body.details[0].target === 'assertion');
  assert.equal(compared.length, 3, 'exactly the policy\'s failure count compared');
  const right = results.at(-1)!;
  expectError(right, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target: 'selectedDevice', message: /locked after too many failed attempts$/ });
  assert.deepEqual(await lockState(t, f.userId, f.device.deviceId), { lock: { status: 'LOCKED', expiresAt: iso(now + FIDO2_LOCK_MS) }, failedAttempts: 3 });
  assert.equal((await readFlow(t, f.flowId)).body.status, 'ASSERTION_REQUIRED');
});

test(`a replay race: ${N} concurrent assertion.check calls with ONE valid assertion → exactly one COMPLETED, the rest 400 on status, no failure counted`, async () => {
  const f = await fido2Flow();
  const assertion = assertionFor(f);
  const results = await Promise.all(Array.from({ length: N }, () => checkAssertion(t, f.flowId, assertion, ORIGIN)));
  const winners = results.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, results.map((r) => r.status).join(','));
  assert.equal(winners[0]!.body.status, 'COMPLETED');
  for (const r of results.filter((x) => x.status !== 200)) {
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.code, 'REQUEST_FAILED', r.text);
    assert.ok(['status', 'selectedDevice'].includes(r.body.details[0].target), r.text);
  }
  assert.deepEqual((await readFlow(t, f.flowId)).body, winners[0]!.body);
  assert.deepEqual(await lockState(t, f.userId, f.device.deviceId), { lock: UNLOCKED, failedAttempts: 0 }, 'losing a race is not a failed attempt');
  assert.equal(Number((await deviceRow(server, f.device.deviceId)).sign_count), 1);
});

test('the software authenticator answers with what it was asked: a fresh one holds no allowed credential', () => {
  assert.throws(() => new SoftwareAuthenticator().authenticate(JSON.stringify({ rpId: RP.id, challenge: [1], allowCredentials: [{ id: [1, 2] }] }), ORIGIN), /no credential/);
});
