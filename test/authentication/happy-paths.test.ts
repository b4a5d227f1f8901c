/**
 * Device authentication as it should go (reference §3.5, §4.5; protocol §2), asserted whole:
 * a PingID Desktop device paired through the REAL agent (request options → agent
 * /authenticate → assertion.check), an EMAIL device (test.otp, and the outbox), a TOTP device.
 * The server listens on the port its publicUrl names, so the agent fetches the environment's
 * JWKS from it; the agent runs on the server's ManualClock.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ASSERTION_TYP } from '../../src/agent/server.js';
import { decode as b64uDecode } from '../../src/crypto/base64url.js';
import { totpCode } from '../support/rfc6238.js';

import { withoutVolatile, type TestServer } from '../helper.js';
import { latestCode, outbox } from '../devices/otp-support.js';
import {
  CT, ORIGIN, RP, agentAssertion, checkAssertion, checkOtp, claimsOf, desktopSummary, emailDevice, emailSummary, flowBody, flowRow, headerOf, lockState, newUser, pairDesktop, readFlow, startFlow, totpDevice, totpSummary, verifiedOptions, UNLOCKED, type RealAgent, type Tenant, useDesktopStack,
} from './support.js';

let server: TestServer;
let t: Tenant;
let agent: RealAgent;
useDesktopStack('happy paths', (stack) => ({ server, t, agent } = stack));

test('PingID Desktop through the real agent: ASSERTION_REQUIRED with request options as protocol §2.1 says → /authenticate → assertion.check → COMPLETED', async () => {
  const user = await newUser(t, 'alice.desktop');
  const paired = await pairDesktop(t, agent, user.id);
  assert.equal(paired.nickname, 'Desktop Linux');
  assert.equal(paired.unitId, agent.unitId());
  server.clock.advance(1_000);

  // 1. The flow: the only device is selected, and its request options come once.
  const started = server.clock.now();
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['cache-control'], 'no-store');
  const flowId = res.body.id as string;
  const options = res.body.pingIdDesktopCredentialRequestOptions as string;
  assert.equal(typeof options, 'string');
  assert.deepEqual(res.body, flowBody(t, {
    id: flowId, userId: user.id, policyId: t.defaultPolicyId, status: 'ASSERTION_REQUIRED', selectedDevice: paired.deviceId,
    once: { pingIdDesktopCredentialRequestOptions: options }, devices: [desktopSummary(paired)], createdAt: started, updatedAt: started,
  }));
  // The same body with IDs and times masked: the shape of reference §4.5, literally.
  const base = server.config.authPath;
  assert.deepEqual(withoutVolatile(res.body), {
    _links: {
      self: { href: `${base}/<id>/deviceAuthentications/<id>` },
      'device.select': { href: `${base}/<id>/deviceAuthentications/<id>` },
      'assertion.check': { href: `${base}/<id>/deviceAuthentications/<id>` },
    },
    id: '<id>',
    environment: { id: '<id>' },
    user: { id: '<id>' },
    policy: { id: '<id>' },
    status: 'ASSERTION_REQUIRED',
    selectedDevice: { id: '<id>' },
    bypassAllowed: false,
    userBypassEnabled: false,
    pingIdDesktopCredentialRequestOptions: options,
    _embedded: {
      devices: [{
        id: '<id>', type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVE', usableStatus: { status: 'ENABLED' }, nickname: 'Desktop Linux',
        os: { type: 'LINUX', version: '6.8.0' }, model: {},
        application: { id: '<id>', nativeName: 'PingID Desktop', version: '1.0.0', pushSandbox: false },
        rp: { id: '<id>', name: 'pingone.eu' }, credentialId: paired.credentialId, unitId: paired.unitId,
      }],
      blockedDevices: [],
    },
    createdAt: '<time>',
    updatedAt: '<time>',
    expiresAt: '<time>',
  });

  // 2. The request options: signed by the environment key, claims of protocol §2.1.
  const { header, claims } = await verifiedOptions(t, options);
  assert.equal(header.alg, 'RS256');
  assert.equal(header.typ, 'pingid-desktop-request+jwt');
  assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
  assert.deepEqual(Object.keys(claims).sort(), ['allowCredentials', 'aud', 'challenge', 'env', 'exp', 'iat', 'iss', 'jti', 'rp', 'sub', 'user']);
  const iat = Math.floor(started / 1000);
  assert.deepEqual({ ...claims, challenge: '<challenge>', jti: '<jti>' }, {
    iss: `${server.config.authPath}/${t.env}/as`,
    aud: 'pingid-desktop',
    sub: flowId,
    env: t.env,
    user: { id: user.id, name: 'alice.desktop' },
    rp: RP,
    challenge: '<challenge>',
    allowCredentials: [{ id: paired.credentialId }],
    iat,
    exp: iat + 120,
    jti: '<jti>',
  });
  assert.equal(b64uDecode(claims.challenge)?.length, 32);
  // Only the challenge's hash is kept, with the options' expiry.
  const row = await flowRow(server, flowId);
  assert.equal(row.challenge_hash, createHash('sha256').update(claims.challenge).digest('hex'));
  assert.equal(Number(row.challenge_expires_at), (iat + 120) * 1000);
  assert.doesNotMatch(JSON.stringify(row), new RegExp(claims.challenge));

  // GET shows the flow without the options (they are shown once).
  const read = await readFlow(t, flowId);
  assert.equal(read.status, 200, read.text);
  const { pingIdDesktopCredentialRequestOptions: _shown, ...withoutOptions } = res.body;
  assert.deepEqual(read.body, withoutOptions);

  // 3. The agent answers an assertion for exactly this flow.
  server.clock.advance(5_000);
  const assertion = await agentAssertion(agent, options);
  const ah = headerOf(assertion);
  const ac = claimsOf(assertion);
  assert.deepEqual(ah, { typ: ASSERTION_TYP, kid: paired.credentialId, alg: 'ES256' });
  const aiat = Math.floor(server.clock.now() / 1000);
  assert.deepEqual(ac, {
    iss: 'pingid-desktop', aud: claims.iss, sub: flowId, challenge: claims.challenge, origin: ORIGIN,
    credentialId: paired.credentialId, unitId: paired.unitId, iat: aiat, exp: aiat + 60,
  });

  // 4. assertion.check completes it.
  server.clock.advance(2_000);
  const done = await checkAssertion(t, flowId, assertion);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.headers['cache-control'], 'no-store');
  const expected = flowBody(t, {
    id: flowId, userId: user.id, policyId: t.defaultPolicyId, status: 'COMPLETED', selectedDevice: paired.deviceId,
    authenticators: ['desktop', 'mfa', 'user'], devices: [desktopSummary(paired)], createdAt: started, updatedAt: server.clock.now(),
  });
  assert.deepEqual(done.body, expected);
  assert.deepEqual((await readFlow(t, flowId)).body, expected);
  const after = await flowRow(server, flowId);
  assert.equal(after.challenge_hash, null, 'the challenge is consumed');
  assert.deepEqual(await lockState(t, user.id, paired.deviceId), { lock: UNLOCKED, failedAttempts: 0 });
});

test('EMAIL (testMode): OTP_REQUIRED with test.otp → otp.check → COMPLETED, whole bodies', async () => {
  const user = await newUser(t, 'bob.email');
  const deviceId = await emailDevice(t, user.id, 'bob@example.com');
  server.clock.advance(1_000);
  const started = server.clock.now();
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  const otp = res.body.test?.otp as string;
  assert.match(otp, /^[0-9]{6}$/);
  const devices = [emailSummary(deviceId, 'bob@example.com')];
  assert.deepEqual(res.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'OTP_REQUIRED', selectedDevice: deviceId,
    once: { test: { otp } }, devices, createdAt: started, updatedAt: started,
  }));
  const flowId = res.body.id as string;
  // The code is kept only as a keyed hash, and shown only in the response that issued it.
  assert.doesNotMatch(JSON.stringify(await flowRow(server, flowId)), new RegExp(`"${otp}"`));
  const read = await readFlow(t, flowId);
  const { test: _shown, ...withoutCode } = res.body;
  assert.deepEqual(read.body, withoutCode);

  server.clock.advance(30_000);
  const done = await checkOtp(t, flowId, otp);
  assert.equal(done.status, 200, done.text);
  const expected = flowBody(t, {
    id: flowId, userId: user.id, policyId: t.defaultPolicyId, status: 'COMPLETED', selectedDevice: deviceId,
    authenticators: ['email', 'mfa', 'user'], devices, createdAt: started, updatedAt: server.clock.now(),
  });
  assert.deepEqual(done.body, expected);
  assert.deepEqual((await readFlow(t, flowId)).body, expected);
});

test('EMAIL through the outbox: the code is delivered, not shown, and completes the flow', async () => {
  const user = await newUser(t, 'carol.email');
  const email = 'carol.flow@example.com';
  const deviceId = await emailDevice(t, user.id, email, false);
  const before = (await outbox(server, t.env, email)).length;
  const started = server.clock.now();
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  const devices = [emailSummary(deviceId, email)];
  assert.deepEqual(res.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'OTP_REQUIRED', selectedDevice: deviceId,
    devices, createdAt: started, updatedAt: started,
  }));
  const messages = await outbox(server, t.env, email);
  assert.equal(messages.length, before + 1, 'exactly one message was sent');
  assert.equal(messages[0]!.channel, 'EMAIL');
  assert.equal(messages[0]!.recipient, email);
  assert.match(messages[0]!.body, /^Your passcode is [0-9]{6}\. It expires in 10 minutes\.$/);
  const otp = await latestCode(server, t.env, email);

  server.clock.advance(10_000);
  const done = await checkOtp(t, res.body.id, otp);
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'COMPLETED', selectedDevice: deviceId,
    authenticators: ['email', 'mfa', 'user'], devices, createdAt: started, updatedAt: server.clock.now(),
  }));
});

test('TOTP: OTP_REQUIRED with nothing sent → the code of the secret at the clock\'s time → COMPLETED', async () => {
  const user = await newUser(t, 'dave.totp');
  const d = await totpDevice(t, user.id);
  server.clock.advance(45_000);
  const started = server.clock.now();
  const res = await startFlow(t, user.id);
  assert.equal(res.status, 200, res.text);
  const devices = [totpSummary(d.id)];
  assert.deepEqual(res.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'OTP_REQUIRED', selectedDevice: d.id,
    devices, createdAt: started, updatedAt: started,
  }));
  server.clock.advance(3_000);
  const done = await checkOtp(t, res.body.id, totpCode(d.secret, server.clock.now()));
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body, flowBody(t, {
    id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'COMPLETED', selectedDevice: d.id,
    authenticators: ['totp', 'mfa', 'user'], devices, createdAt: started, updatedAt: server.clock.now(),
  }));
  assert.deepEqual(await lockState(t, user.id, d.id), { lock: UNLOCKED, failedAttempts: 0 });
});

test('cancel: an open flow ends FAILED with error CANCELED, whole body; cancel.push.authentication on a flow not waiting for a push is refused (it returns push flows to selection: test/mobile)', async () => {
  const user = await newUser(t);
  const deviceId = await emailDevice(t, user.id, 'erin@example.com');
  const devices = [emailSummary(deviceId, 'erin@example.com')];
  const otpFlow = await startFlow(t, user.id);
  const refused = await t.call('POST', t.flow(otpFlow.body.id), { contentType: CT.cancelPush, body: { reason: 'CHANGE_DEVICE' } });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.body.details[0].target, 'status');
  assert.equal((await t.call('GET', t.flow(otpFlow.body.id))).body.status, 'OTP_REQUIRED');
  for (const [ct, body, reason] of [[CT.cancel, undefined, 'CANCELED']] as const) {
    const started = server.clock.now();
    const res = await startFlow(t, user.id);
    assert.equal(res.status, 200, res.text);
    server.clock.advance(1_000);
    const canceled = await t.call('POST', t.flow(res.body.id), { contentType: ct, ...(body ? { body } : {}) });
    assert.equal(canceled.status, 200, canceled.text);
    assert.deepEqual(canceled.body, flowBody(t, {
      id: res.body.id, userId: user.id, policyId: t.defaultPolicyId, status: 'FAILED', selectedDevice: deviceId,
      error: { code: 'CANCELED', message: `The device authentication was canceled (${reason})` }, devices, createdAt: started, updatedAt: server.clock.now(),
    }));
  }
});
