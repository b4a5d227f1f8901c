/**
 * POST …/devices/{deviceID}, `application/vnd.pingidentity.device.activate+json`.
 * The order of checks (protocol §1.3): caller and environment (the access hook); the device
 * exists under this environment and user (404); it is waiting for activation, not blocked, not
 * locked (400 REQUEST_FAILED naming which); then the type checks the body and its proof, and a
 * failure there counts toward the lock of the device's method.
 */
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { requestFailed } from '../http/errors.js';
import { failureRule, policyForDevice } from '../policies/model.js';
import { recordFailure } from './failures.js';
import { kinds } from './kinds.js';
import { ACTIVATION_REQUIRED, isLocked, lockOf, presentDevice, type DeviceType } from './model.js';
import { requireDevice } from './store.js';

export type DeviceParams = { envId: string; userId: string; deviceId: string };

export async function activateDevice(ctx: Context, request: FastifyRequest<{ Params: DeviceParams }>) {
  const { store, clock } = ctx;
  const environment = environmentOf(request);
  const device = await requireDevice(store.db, environment.id, request.params.userId, request.params.deviceId);
  const now = clock.now();
  if (device.status !== ACTIVATION_REQUIRED) {
    throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device is ${device.status}; only a device in ACTIVATION_REQUIRED can be activated` });
  }
  if (device.blocked_at !== null) throw requestFailed({ code: 'INVALID_VALUE', target: 'block.status', message: 'The device is blocked' });
  if (isLocked(device, now)) {
    throw requestFailed({ code: 'INVALID_VALUE', target: 'lock.status', message: 'The device is locked after too many failed attempts', innerError: { lock: lockOf(device, now) } });
  }
  const kind = kinds[device.type as DeviceType];
  const policy = await policyForDevice(store.db, environment.id, device.policy_id);
  const outcome = await kind.activate({ ctx, environment, device, policy, body: request.body, now });
  if (!outcome.ok) {
    if (outcome.countsAsFailure) {
      const { count, lockMs } = await failureRule(store.db, environment.id, kind.failure(policy.body));
      await recordFailure(store.db, device.id, now, count, lockMs);
    }
    throw outcome.error;
  }
  return presentDevice(ctx, outcome.row);
}
