/**
 * Block and unblock (reference §6.4): an administrator's switch beside `status`, which it never
 * changes. Both are idempotent: blocking a blocked device keeps its first `blockedAt`.
 */
import type { Context } from '../context.js';
import { expectEmptyBody } from './empty-body.js';
import { presentDevice } from './model.js';
import type { DeviceInput } from './operation.js';
import { requireDevice, setBlocked } from './store.js';

async function switchBlock(ctx: Context, { environment, userId, deviceId, body, now }: DeviceInput, blocked: boolean) {
  expectEmptyBody(body);
  const device = await requireDevice(ctx.store.db, environment.id, userId, deviceId);
  // Nothing changes when it is already in the asked state: then the device as read is the answer.
  return presentDevice(ctx, (await setBlocked(ctx.store.db, device.id, blocked, now)) ?? device);
}

export const blockDevice = (ctx: Context, input: DeviceInput) => switchBlock(ctx, input, true);
export const unblockDevice = (ctx: Context, input: DeviceInput) => switchBlock(ctx, input, false);
