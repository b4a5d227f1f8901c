/**
 * Unlock (reference §6.3, §3.2): ends a lock before it expires and resets the failed-attempt
 * counter. Unlocking an unlocked device is harmless; `status` never changes.
 */
import type { Context } from '../context.js';
import { expectEmptyBody } from './empty-body.js';
import { presentDevice } from './model.js';
import type { DeviceInput } from './operation.js';
import { requireDevice, unlock } from './store.js';

export async function unlockDevice(ctx: Context, { environment, userId, deviceId, body, now }: DeviceInput) {
  expectEmptyBody(body);
  const device = await requireDevice(ctx.store.db, environment.id, userId, deviceId);
  // Only a device with a lock or a failure count changes; unlocking an unlocked device is a no-op.
  return presentDevice(ctx, (await unlock(ctx.store.db, device.id, now)) ?? device);
}
