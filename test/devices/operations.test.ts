/**
 * Device operations take plain values (src/devices/operation.ts), not a request: an activation
 * is run here by calling the operations themselves, with no HTTP between, and each answer is
 * checked against the rule it follows (reference §3.2, §6.3).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { activateDevice } from '../../src/devices/activate.js';
import { createDevice } from '../../src/devices/create.js';
import { ApiError } from '../../src/http/errors.js';
import type { EnvironmentsTable } from '../../src/store/schema.js';
import { startTestServer, type TestServer } from '../helper.js';

let server: TestServer;
let environment: EnvironmentsTable;
let userId: string;

before(async () => {
  server = await startTestServer();
  environment = await server.store.db.selectFrom('environments').selectAll().where('id', '=', server.boot.environmentId).executeTakeFirstOrThrow();
  const user = await server.request('POST', `/v1/environments/${environment.id}/users`, { body: { username: 'plain-values' } });
  assert.equal(user.status, 201);
  userId = user.body.id;
});
after(() => server.close());

test('create and activate called with {environment, userId, deviceId, body, now}: a wrong code is refused, the right one activates', async () => {
  const now = server.clock.now();
  const created = await createDevice(server.ctx, {
    environment, userId, now, body: { type: 'EMAIL', email: 'a@example.com', status: 'ACTIVATION_REQUIRED', testMode: true },
  });
  assert.equal(created.status, 'ACTIVATION_REQUIRED');
  const code = (created as { test?: { otp: string } }).test!.otp;
  const wrong = code === '000000' ? '111111' : '000000';
  const input = { environment, userId, deviceId: created.id, now };
  await assert.rejects(activateDevice(server.ctx, { ...input, body: { otp: wrong } }), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.deepEqual([e.status, e.code, e.details?.[0]?.code, e.details?.[0]?.target], [400, 'INVALID_DATA', 'INVALID_OTP', 'otp']);
    return true;
  });
  const active = await activateDevice(server.ctx, { ...input, body: { otp: code } });
  assert.deepEqual([active.id, active.status, active.lock], [created.id, 'ACTIVE', { status: 'UNLOCKED' }]);
});
