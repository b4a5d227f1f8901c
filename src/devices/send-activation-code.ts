/**
 * sendActivationCode (reference §3.2): a new pairing code for a device still in
 * ACTIVATION_REQUIRED; the old code stops working. Only types that send codes have one.
 */
import type { Context } from '../context.js';
import { requestFailed } from '../http/errors.js';
import { policyForDevice } from '../policies/model.js';
import { expectEmptyBody } from './empty-body.js';
import { kinds } from './kinds.js';
import { ACTIVATION_REQUIRED, presentDevice, type DeviceType } from './model.js';
import type { DeviceInput } from './operation.js';
import { requireDevice, unusable } from './store.js';

export async function sendActivationCode(ctx: Context, { environment, userId, deviceId, body, now }: DeviceInput) {
  expectEmptyBody(body);
  const device = await requireDevice(ctx.store.db, environment.id, userId, deviceId);
  const kind = kinds[device.type as DeviceType];
  if (!kind.resendCode) throw requestFailed({ code: 'INVALID_VALUE', target: 'type', message: `A ${device.type} device has no activation code to send` });
  // A blocked device cannot be activated, so it gets no code to activate with; a locked one
  // does (its new code waits for the lock to end).
  const problem = unusable(device, ACTIVATION_REQUIRED, now);
  if (problem === 'status') throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device is ${device.status}; only a device in ACTIVATION_REQUIRED gets an activation code` });
  if (problem === 'blocked') throw requestFailed({ code: 'INVALID_VALUE', target: 'block.status', message: 'The device is blocked' });
  const policy = await policyForDevice(ctx.store.db, environment.id, device.policy_id);
  // The new code and its queued message commit together: past a daily limit the old code stays.
  const { row, shownOnce } = await ctx.store.transaction(() => kind.resendCode!({ ctx, environment, device, policy, now }));
  return { ...presentDevice(ctx, row), ...(shownOnce ?? {}) };
}
