/**
 * The MOBILE happy paths of issue #17, each answer asserted whole (wave-2 reference §3.3–§3.4;
 * protocol docs/mobile-protocol.md §2–§4), both dialects: push approved without and with
 * number matching, denied, timed out by the injected clock, cancelled and the device changed,
 * an offline code, logs requested and received. The expected bodies are written here from
 * the reference's shapes (the verbatim cancel answer of §3.4), not taken from the server.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { DEFAULT_METADATA } from '../../src/testing/mobile-authenticator.js';
import { useTestServer, type TestServer } from '../helper.js';
import { totpCode } from '../support/rfc6238.js';
import { APP_ENTRY, CT, flowAction, mobileTenant, pairedUser, pushFor, readFlow, setEntry, startFlow, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'mobile happy paths'); });

const FLOW_LIFETIME_MS = 5 * 60_000;
const PUSH_TIMEOUT_MS = 40_000;

/** The MOBILE device as a flow's `_embedded.devices` lists it: the summary members of the flow's schema (id, type, status, usableStatus, os, model.name, application). */
const summary = (deviceId: string) => ({
  id: deviceId, type: 'MOBILE', status: 'ACTIVE', usableStatus: { status: 'ENABLED' },
  os: DEFAULT_METADATA.os, model: { name: DEFAULT_METADATA.model!.name }, application: { id: t.appId },
});

interface Expect {
  flowId: string;
  userId: string;
  status: string;
  links: string[];
  devices: unknown[];
  createdAt: number;
  updatedAt: number;
  extra?: Record<string, unknown>;
}
/** A device authentication in PingOne's shape (reference §3.5, wave-2 §3.4). */
function flowBody(e: Expect) {
  const self = `${server.config.authPath}/${t.env}/deviceAuthentications/${e.flowId}`;
  return {
    _links: Object.fromEntries(e.links.map((l) => [l, { href: self }])),
    id: e.flowId,
    environment: { id: t.env },
    user: { id: e.userId },
    policy: { id: t.policyId },
    status: e.status,
    bypassAllowed: false,
    userBypassEnabled: false,
    ...e.extra,
    _embedded: { devices: e.devices, blockedDevices: [] },
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
    expiresAt: iso(e.createdAt + FLOW_LIFETIME_MS),
  };
}

const outboxOf = async (deviceId: string) => (await server.request('GET', `/v1/environments/${t.env}/outbox?channel=PUSH&deviceId=${deviceId}`)).body._embedded.messages as unknown[];
const deviceOf = async (userId: string, deviceId: string) => (await server.request('GET', `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}`)).body;

test('push approved without number matching: the flow, the push on the channel and in the outbox, the answer and the COMPLETED flow, each whole', async () => {
  await setEntry(t, APP_ENTRY(t.appId));
  const { userId, deviceId } = await pairedUser(t, 'approve');
  const started = server.clock.now();
  const flow = await startFlow(t, userId);
  assert.equal(flow.status, 200, flow.text);
  const flowId = flow.body.id as string;
  const waiting = flowBody({ flowId, userId, status: 'PUSH_CONFIRMATION_REQUIRED', links: ['self', 'device.select'], devices: [summary(deviceId)], createdAt: started, updatedAt: started, extra: { selectedDevice: { id: deviceId } } });
  assert.deepEqual(flow.body, waiting);
  assert.deepEqual((await readFlow(t, flowId)).body, waiting);

  const channel = await t.phone.poll(deviceId, 0);
  const push = channel.pushes[0]!;
  assert.match(push.challenge, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(channel, {
    pushes: [{ id: push.id, flowId, challenge: push.challenge, expiresAt: iso(started + PUSH_TIMEOUT_MS), application: { id: t.appId }, message: 'Sign in? Approve or deny.' }],
    requests: [],
  });
  const [message] = await outboxOf(deviceId) as Array<{ id: string }>;
  assert.deepEqual(await outboxOf(deviceId), [{
    id: message!.id, channel: 'PUSH', recipient: deviceId, body: 'Sign in? Approve on your phone.', userId, deviceId, flowId, purpose: 'AUTHENTICATION', createdAt: iso(started),
  }]);

  server.clock.advance(1000);
  assert.deepEqual(await t.phone.approve(push.id), { id: push.id, status: 'APPROVED' });
  assert.deepEqual((await readFlow(t, flowId)).body, flowBody({
    flowId, userId, status: 'COMPLETED', links: ['self'], devices: [summary(deviceId)], createdAt: started, updatedAt: started + 1000,
    extra: { selectedDevice: { id: deviceId }, authenticators: ['mobile', 'mfa', 'user'] },
  }));
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, []);
});

test('push approved with number matching: the flow shows the number, the push offers it among three, the answer with it completes — whole bodies', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: true, numberMatching: { enabled: true } } }));
  const { userId, deviceId } = await pairedUser(t, 'number');
  const started = server.clock.now();
  const flow = await startFlow(t, userId);
  const flowId = flow.body.id as string;
  const number = flow.body.numberMatching?.number as string;
  assert.match(number, /^[1-9][0-9]$/);
  const waiting = flowBody({ flowId, userId, status: 'PUSH_CONFIRMATION_REQUIRED', links: ['self', 'device.select'], devices: [summary(deviceId)], createdAt: started, updatedAt: started, extra: { selectedDevice: { id: deviceId }, numberMatching: { number } } });
  assert.deepEqual(flow.body, waiting);
  assert.deepEqual((await readFlow(t, flowId)).body, waiting);

  const push = await pushFor(t, deviceId, flowId);
  const choices = push.numberChoices!;
  assert.equal(choices.length, 3);
  assert.equal(new Set(choices).size, 3);
  assert.ok(choices.includes(number));
  assert.ok(choices.every((c) => /^[1-9][0-9]$/.test(c)));
  assert.deepEqual(push, {
    id: push.id, flowId, challenge: push.challenge, expiresAt: iso(started + PUSH_TIMEOUT_MS), numberChoices: choices,
    application: { id: t.appId }, message: 'Sign in? Pick the number shown on the signing-in device.',
  });
  const [message] = await outboxOf(deviceId) as Array<{ id: string }>;
  assert.deepEqual(await outboxOf(deviceId), [{
    id: message!.id, channel: 'PUSH', recipient: deviceId, body: `Sign in? Pick ${number} on your phone.`, otp: number, userId, deviceId, flowId, purpose: 'AUTHENTICATION', createdAt: iso(started),
  }]);

  assert.deepEqual(await t.phone.approve(push.id, number), { id: push.id, status: 'APPROVED' });
  assert.deepEqual((await readFlow(t, flowId)).body, flowBody({
    flowId, userId, status: 'COMPLETED', links: ['self'], devices: [summary(deviceId)], createdAt: started, updatedAt: started,
    extra: { selectedDevice: { id: deviceId }, authenticators: ['mobile', 'mfa', 'user'] },
  }));
});

test('push denied: the answer DENIED, the flow FAILED with PUSH_REJECTED, the denial in pushFails — whole bodies', async () => {
  await setEntry(t, APP_ENTRY(t.appId));
  const { userId, deviceId } = await pairedUser(t, 'deny');
  const started = server.clock.now();
  const flow = await startFlow(t, userId);
  const push = await pushFor(t, deviceId, flow.body.id);
  server.clock.advance(2000);
  assert.deepEqual(await t.phone.deny(push.id), { id: push.id, status: 'DENIED' });
  assert.deepEqual((await readFlow(t, flow.body.id)).body, flowBody({
    flowId: flow.body.id, userId, status: 'FAILED', links: ['self'], devices: [summary(deviceId)], createdAt: started, updatedAt: started + 2000,
    extra: { selectedDevice: { id: deviceId }, error: { code: 'PUSH_REJECTED', message: 'The user rejected the push' } },
  }));
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, [started + 2000]);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
});

test('timeout by the injected clock: at pushTimeout the flow reads PUSH_CONFIRMATION_TIMED_OUT, the channel offers nothing, pushFails holds the push\'s expiry; selecting the device again sends a new push', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { pushTimeout: { duration: 60, timeUnit: 'SECONDS' } }));
  const { userId, deviceId } = await pairedUser(t, 'timeout');
  const started = server.clock.now();
  const flow = await startFlow(t, userId);
  const first = await pushFor(t, deviceId, flow.body.id);
  assert.equal(first.expiresAt, iso(started + 60_000));
  server.clock.advance(59_999);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'PUSH_CONFIRMATION_REQUIRED');
  server.clock.advance(1);
  const late = flowBody({ flowId: flow.body.id, userId, status: 'PUSH_CONFIRMATION_TIMED_OUT', links: ['self', 'device.select'], devices: [summary(deviceId)], createdAt: started, updatedAt: started, extra: { selectedDevice: { id: deviceId } } });
  assert.deepEqual((await readFlow(t, flow.body.id)).body, late);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, [started + 60_000]);

  const again = await flowAction(t, flow.body.id, CT.select, { device: { id: deviceId } });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body, flowBody({ flowId: flow.body.id, userId, status: 'PUSH_CONFIRMATION_REQUIRED', links: ['self', 'device.select'], devices: [summary(deviceId)], createdAt: started, updatedAt: started + 60_000, extra: { selectedDevice: { id: deviceId } } }));
  const second = await pushFor(t, deviceId, flow.body.id);
  assert.notEqual(second.id, first.id);
  assert.equal(second.expiresAt, iso(started + 120_000));
  await t.phone.approve(second.id);
  assert.equal((await readFlow(t, flow.body.id)).body.status, 'COMPLETED');
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, []);
  await setEntry(t, APP_ENTRY(t.appId));
});

test('cancel.push.authentication and change device: 200 DEVICE_SELECTION_REQUIRED as the reference\'s verbatim answer (selectedDevice kept), the push withdrawn; another device is selected and completes the flow', async () => {
  await setEntry(t, APP_ENTRY(t.appId));
  const { userId, deviceId } = await pairedUser(t, 'change device');
  // Devices are listed (and the first one chosen) by creation time: the phone first.
  server.clock.advance(1);
  const email = await server.request('POST', `/v1/environments/${t.env}/users/${userId}/devices`, { body: { type: 'EMAIL', email: 'change@example.com', testMode: true } });
  assert.equal(email.status, 201, email.text);
  const emailId = email.body.id as string;
  const emailSummary = { id: emailId, type: 'EMAIL', status: 'ACTIVE', usableStatus: { status: 'ENABLED' }, email: 'change@example.com' };
  const started = server.clock.now();
  const flow = await startFlow(t, userId);
  const flowId = flow.body.id as string;
  assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED', flow.text);
  assert.deepEqual(flow.body.selectedDevice, { id: deviceId });
  const push = await pushFor(t, deviceId, flowId);

  server.clock.advance(500);
  const cancelled = await flowAction(t, flowId, CT.cancelPush, { reason: 'CHANGE_DEVICE' });
  assert.equal(cancelled.status, 200, cancelled.text);
  const selection = flowBody({ flowId, userId, status: 'DEVICE_SELECTION_REQUIRED', links: ['self', 'device.select'], devices: [summary(deviceId), emailSummary], createdAt: started, updatedAt: started + 500, extra: { selectedDevice: { id: deviceId } } });
  assert.deepEqual(cancelled.body, selection);
  assert.deepEqual((await readFlow(t, flowId)).body, selection);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
  // A cancelled push is not the user's failure.
  assert.deepEqual((await deviceOf(userId, deviceId)).pushFails, []);
  assert.equal((await t.phone.sendAnswer(push.id, t.phone.answerJwt(push.id, 'APPROVE'))).status, 400);

  const selected = await flowAction(t, flowId, CT.select, { device: { id: emailId } });
  assert.equal(selected.status, 200, selected.text);
  assert.equal(selected.body.status, 'OTP_REQUIRED');
  assert.deepEqual(selected.body.selectedDevice, { id: emailId });
  const done = await flowAction(t, flowId, CT.otpCheck, { otp: selected.body.test.otp });
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body, flowBody({
    flowId, userId, status: 'COMPLETED', links: ['self'], devices: [summary(deviceId), emailSummary], createdAt: started, updatedAt: started + 500,
    extra: { selectedDevice: { id: emailId }, authenticators: ['email', 'mfa', 'user'] },
  }));
});

test('offline OTP: with push off the flow is OTP_REQUIRED with otp.check; the app\'s TOTP (RFC 6238 from the seed, computed here) completes it — whole bodies', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: false } }));
  const { userId, deviceId } = await pairedUser(t, 'offline');
  const started = server.clock.now();
  const flow = await startFlow(t, userId);
  const flowId = flow.body.id as string;
  assert.deepEqual(flow.body, flowBody({ flowId, userId, status: 'OTP_REQUIRED', links: ['self', 'device.select', 'otp.check'], devices: [summary(deviceId)], createdAt: started, updatedAt: started, extra: { selectedDevice: { id: deviceId } } }));
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
  const code = totpCode(t.phone.device(deviceId).otpSeed, server.clock.now());
  assert.equal(t.phone.otp(deviceId), code);
  const done = await flowAction(t, flowId, CT.otpCheck, { otp: code });
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(done.body, flowBody({ flowId, userId, status: 'COMPLETED', links: ['self'], devices: [summary(deviceId)], createdAt: started, updatedAt: started, extra: { selectedDevice: { id: deviceId }, authenticators: ['mobile', 'mfa', 'user'] } }));
  await setEntry(t, APP_ENTRY(t.appId));
});

test('logs requested and received: PUT {status: PENDING}, LOGS_REQUESTED on the channel, the signed upload, GET RECEIVED with its size — whole bodies', async () => {
  const { userId, deviceId } = await pairedUser(t, 'logs');
  const url = `/v1/environments/${t.env}/users/${userId}/devices/${deviceId}/logs`;
  const deviceUrl = `${server.config.apiPath}/environments/${t.env}/users/${userId}/devices/${deviceId}`;
  const asked = server.clock.now();
  const put = await server.request('PUT', url, { body: { status: 'PENDING' } });
  assert.equal(put.status, 200, put.text);
  const pending = {
    _links: { self: { href: `${deviceUrl}/logs` }, device: { href: deviceUrl } }, device: { id: deviceId }, status: 'PENDING',
    createdAt: iso(asked), updatedAt: iso(asked), expiresAt: iso(asked + 24 * 3_600_000),
  };
  assert.deepEqual(put.body, pending);
  assert.deepEqual((await server.request('GET', url)).body, pending);
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [{ type: 'LOGS_REQUESTED', expiresAt: iso(asked + 24 * 3_600_000) }] });

  server.clock.advance(3000);
  assert.deepEqual(await t.phone.uploadLogs(deviceId, 'line 1\nline 2\n'), { status: 'RECEIVED' });
  assert.deepEqual((await server.request('GET', url)).body, {
    ...pending, status: 'RECEIVED', size: 14, updatedAt: iso(asked + 3000), expiresAt: iso(asked + 3000 + 24 * 3_600_000),
  });
  assert.deepEqual(await t.phone.poll(deviceId, 0), { pushes: [], requests: [] });
});
