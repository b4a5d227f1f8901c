/**
 * The mobile authenticator in-process (issue #17 item 5, library parity): MobileService from
 * `openmfa/testing`'s sources — the same operations `openmfa mobile` serves — on the server's
 * manual clock through inject. What the surface tests cannot reach deterministically: a push the
 * server withdrew reads WITHDRAWN, an answer the server refused reads REFUSED, and a second
 * start on the same state dir answers for the same device.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { MobileService, MobileServiceError, type Transport } from '../../src/testing/index.js';
import { useTestServer, type TestServer } from '../helper.js';
import { APP_ENTRY, CT, flowAction, injectTransport, mobileTenant, newUser, pairingKey, readFlow, setEntry, startFlow, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'mobile service'); });

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** inject, ended by the service's abort (a held channel request would otherwise outlive close). */
const transport = (): Transport => {
  const inject = injectTransport(server);
  return (r) => (r.signal ? Promise.race([inject(r), new Promise<never>((_, reject) => r.signal!.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))]) : inject(r));
};

async function start(o: { stateDir?: string; auto?: 'approve' | 'deny' | 'ignore'; log?: (line: string) => void } = {}) {
  const service = await MobileService.start({ ...o, transport: transport(), now: () => server.clock.now() });
  return service;
}

async function pairNew(service: MobileService, name: string) {
  const userId = await newUser(t, name);
  const key = await pairingKey(t, userId);
  const { deviceId } = await service.pair({ code: key.body.code, server: t.sdk });
  return { userId, deviceId };
}

test('auto approve in-process: the push is received, approved by itself, the flow COMPLETED; the events say so', async () => {
  await setEntry(t, APP_ENTRY(t.appId));
  let approved: (line: string) => void = () => {};
  const seen = new Promise<string>((resolve) => { approved = resolve; });
  const lines: string[] = [];
  const service = await start({ auto: 'approve', log: (line) => { lines.push(line); if (/ approved$/.test(line)) approved(line); } });
  try {
    const { userId, deviceId } = await pairNew(service, 'service auto');
    const flow = await startFlow(t, userId);
    const push = await service.waitForPush(flow.body.id);
    assert.deepEqual(push, { id: push.id, flowId: flow.body.id, deviceId, expiresAt: push.expiresAt, status: push.status });
    assert.equal(await seen, `push ${push.id} approved`);
    assert.equal((await readFlow(t, flow.body.id)).body.status, 'COMPLETED');
    assert.deepEqual(service.pushes().map((p) => p.status), ['APPROVED']);
    assert.deepEqual(lines.slice(0, 3), [
      `paired device ${deviceId} with ${t.sdk}`,
      `push ${push.id} received for flow ${flow.body.id} on device ${deviceId}`,
      `push ${push.id} approved`,
    ]);
  } finally {
    await service.close();
  }
});

test('a push the server withdrew (cancel, CHANGE_DEVICE) reads WITHDRAWN; an answer it refused (a wrong number) reads REFUSED and the error carries its answer', async () => {
  await setEntry(t, APP_ENTRY(t.appId, { push: { enabled: true, numberMatching: { enabled: true } } }));
  const service = await start();
  try {
    const { userId, deviceId } = await pairNew(service, 'service statuses');
    const cancelled = await startFlow(t, userId);
    const first = await service.waitForPush(cancelled.body.id);
    assert.equal((await flowAction(t, cancelled.body.id, CT.cancelPush, { reason: 'CHANGE_DEVICE' })).body.status, 'DEVICE_SELECTION_REQUIRED');
    await service.phone.poll(deviceId, 0);
    assert.equal(service.pushes().find((p) => p.id === first.id)!.status, 'WITHDRAWN');

    const flow = await startFlow(t, userId);
    const push = await service.waitForPush(flow.body.id);
    const wrong = push.numberChoices!.find((n) => n !== flow.body.numberMatching.number)!;
    const refused = await service.approve(push.id, wrong).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof MobileServiceError);
    assert.equal(refused.status, 400);
    assert.equal(refused.code, 'answer_refused');
    assert.equal((refused.details as { body: { code: string } }).body.code, 'INVALID_DATA');
    assert.equal(service.pushes().find((p) => p.id === push.id)!.status, 'REFUSED');
    assert.equal((await readFlow(t, flow.body.id)).body.error.code, 'PUSH_NUMBER_MISMATCH');
  } finally {
    await service.close();
  }
});

test('a second start on the same state dir answers for the same device: its offline code completes a flow', async () => {
  await setEntry(t, APP_ENTRY(t.appId));
  const stateDir = mkdtempSync(path.join(tmpdir(), 'openmfa-mobile-service-'));
  dirs.push(stateDir);
  const first = await start({ stateDir });
  const { userId, deviceId } = await pairNew(first, 'service restart');
  await first.close();
  const second = await start({ stateDir });
  try {
    assert.deepEqual(second.devices().map((d) => d.id), [deviceId]);
    assert.equal(second.stateFile, path.join(stateDir, 'mobile.json'));
    const flow = await startFlow(t, userId);
    const checked = await flowAction(t, flow.body.id, CT.otpCheck, { otp: second.otp(deviceId).otp });
    assert.equal(checked.body.status, 'COMPLETED', checked.text);
    assert.throws(() => second.otp('00000000-0000-4000-8000-000000000000'), (e: unknown) => e instanceof MobileServiceError && e.status === 404);
  } finally {
    await second.close();
  }
});
