/**
 * Unlock (reference §6.3, §3.2): ends a lock before it expires and resets the failed-attempt
 * counter. Unlocking an unlocked device is harmless; `status` never changes.
 */
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import type { DeviceParams } from './activate.js';
import { expectEmptyBody } from './empty-body.js';
import { presentDevice } from './model.js';
import { requireDevice } from './store.js';

export async function unlockDevice(ctx: Context, request: FastifyRequest<{ Params: DeviceParams }>) {
  expectEmptyBody(request.body);
  const environment = environmentOf(request);
  const device = await requireDevice(ctx.store.db, environment.id, request.params.userId, request.params.deviceId);
  const now = ctx.clock.now();
  // Only a device with a lock or a failure count changes; unlocking an unlocked device is a no-op.
  const row = await ctx.store.db.updateTable('devices').set({ locked_until: null, failed_attempts: 0, updated_at: now })
    .where('id', '=', device.id)
    .where((eb) => eb.or([eb('locked_until', 'is not', null), eb('failed_attempts', '>', 0)]))
    .returningAll().executeTakeFirst();
  return presentDevice(ctx, row ?? device);
}
