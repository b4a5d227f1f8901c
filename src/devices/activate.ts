/**
 * POST …/devices/{deviceID}, `application/vnd.pingidentity.device.activate+json`.
 * The order of checks (protocol §1.3): caller and environment (the access hook); the device
 * exists under this environment and user (404); it is waiting for activation, not blocked, not
 * locked (400 REQUEST_FAILED naming which); an attempt is reserved (attempts.ts: no reservation,
 * no comparison); then the type checks the body and its proof, and settles the attempt.
 */
import type { Context } from '../context.js';
import { requestFailed } from '../http/errors.js';
import { failureRule, policyForDevice } from '../policies/model.js';
import type { DevicesTable } from '../store/schema.js';
import { releaseAttempt, reserveAttempt } from './attempts.js';
import { kinds } from './kinds.js';
import { ACTIVATION_REQUIRED, isLocked, lockOf, presentDevice, type DeviceType } from './model.js';
import type { DeviceInput } from './operation.js';
import { requireDevice, unusable } from './store.js';

/** The state checks, in order (store.ts `unusable`); the same answer whether they run before or after a refused reservation. */
function requireActivatable(device: DevicesTable, now: number): void {
  switch (unusable(device, ACTIVATION_REQUIRED, now)) {
    case 'status':
      throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device is ${device.status}; only a device in ACTIVATION_REQUIRED can be activated` });
    case 'blocked':
      throw requestFailed({ code: 'INVALID_VALUE', target: 'block.status', message: 'The device is blocked' });
    case 'locked':
      throw requestFailed({ code: 'INVALID_VALUE', target: 'lock.status', message: 'The device is locked after too many failed attempts', innerError: { lock: lockOf(device, now) } });
    case undefined:
  }
}

export async function activateDevice(ctx: Context, { environment, userId, deviceId, body, now }: DeviceInput) {
  const { store } = ctx;
  let device = await requireDevice(store.db, environment.id, userId, deviceId);
  requireActivatable(device, now);
  const kind = kinds[device.type as DeviceType];
  const policy = await policyForDevice(store.db, environment.id, device.policy_id);
  const rule = await failureRule(store.db, environment.id, kind.failure(policy.body));
  // Only while the device still waits for the pairing this request read (its challenge): a
  // request that arrives after the activation, or after a new code, counts nothing.
  const challenge = device.challenge_hash;
  const attempt = await reserveAttempt(store.db, device.id, now, rule, ACTIVATION_REQUIRED, (eb) =>
    challenge === null ? eb('challenge_hash', 'is', null) : eb('challenge_hash', '=', challenge));
  if (!attempt) {
    // Locked meanwhile, activated, blocked or re-coded: answer what the device is now.
    device = await requireDevice(store.db, environment.id, userId, deviceId);
    requireActivatable(device, now);
    throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device is no longer waiting for this activation' });
  }
  const outcome = await kind.activate({ ctx, environment, device, policy, body, now, attempt });
  if (!outcome.ok) {
    if (!outcome.countsAsFailure) {
      // A right proof that could not be used gives its attempt back; if other attempts locked
      // the device meanwhile, the answer is the lock, as it would be for a wrong proof.
      await releaseAttempt(store.db, attempt);
      device = await requireDevice(store.db, environment.id, userId, deviceId);
      if (isLocked(device, now)) requireActivatable(device, now);
    }
    throw outcome.error;
  }
  return presentDevice(ctx, outcome.row);
}
