/** PUT …/devices/{deviceID}/nickname (reference §3.3): the one property a client changes after creation. */
import { Type, type Static } from 'typebox';
import type { Context } from '../context.js';
import { presentDevice } from './model.js';
import type { DeviceInput } from './operation.js';
import { requireDevice, setNickname as writeNickname } from './store.js';

export const NicknameInput = Type.Object({ nickname: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

/** The body was validated by the route's schema. */
export async function setNickname(ctx: Context, { environment, userId, deviceId, body, now }: DeviceInput & { body: Static<typeof NicknameInput> }) {
  const device = await requireDevice(ctx.store.db, environment.id, userId, deviceId);
  return presentDevice(ctx, (await writeNickname(ctx.store.db, device.id, body.nickname, now)) ?? device);
}
