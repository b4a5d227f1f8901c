/** PUT …/devices/{deviceID}/nickname (reference §3.3): the one property a client changes after creation. */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import type { DeviceParams } from './activate.js';
import { presentDevice } from './model.js';
import { requireDevice } from './store.js';

export const NicknameInput = Type.Object({ nickname: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

export async function setNickname(ctx: Context, request: FastifyRequest<{ Params: DeviceParams; Body: { nickname: string } }>) {
  const environment = environmentOf(request);
  const device = await requireDevice(ctx.store.db, environment.id, request.params.userId, request.params.deviceId);
  const row = await ctx.store.db.updateTable('devices').set({ nickname: request.body.nickname, updated_at: ctx.clock.now() })
    .where('id', '=', device.id).returningAll().executeTakeFirst();
  return presentDevice(ctx, row ?? device);
}
