/**
 * Block and unblock (reference §6.4): an administrator's switch beside `status`, which it never
 * changes. Both are idempotent: blocking a blocked device keeps its first `blockedAt`.
 */
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import type { DeviceParams } from './activate.js';
import { expectEmptyBody } from './empty-body.js';
import { presentDevice } from './model.js';
import { requireDevice } from './store.js';

async function setBlocked(ctx: Context, request: FastifyRequest<{ Params: DeviceParams }>, blocked: boolean) {
  expectEmptyBody(request.body);
  const environment = environmentOf(request);
  const device = await requireDevice(ctx.store.db, environment.id, request.params.userId, request.params.deviceId);
  const now = ctx.clock.now();
  let q = ctx.store.db.updateTable('devices').set({ blocked_at: blocked ? now : null, updated_at: now }).where('id', '=', device.id);
  q = blocked ? q.where('blocked_at', 'is', null) : q.where('blocked_at', 'is not', null);
  // Nothing matches when it is already in the asked state: then the device as read is the answer.
  const row = await q.returningAll().executeTakeFirst();
  return presentDevice(ctx, row ?? device);
}

export const blockDevice = (ctx: Context, request: FastifyRequest<{ Params: DeviceParams }>) => setBlocked(ctx, request, true);
export const unblockDevice = (ctx: Context, request: FastifyRequest<{ Params: DeviceParams }>) => setBlocked(ctx, request, false);
