/**
 * Device order (reference §6.5, §3.1). Active devices are ordered; the first is the default.
 * AUTO: by activation time, so a newly activated device goes last. EXPLICIT: positions set by
 * a reorder, and devices activated later follow them. NONE: the order was removed — the user
 * has no default device until a reorder, or until deletes leave at most one active device.
 * The writes, each in a transaction holding the user's row, are in store.ts.
 */
import { Type } from 'typebox';
import type { Context } from '../context.js';
import { invalidValue } from '../http/errors.js';
import { link } from '../http/links.js';
import { validateBody } from '../http/validation.js';
import { requireUser } from '../platform/users.js';
import { expectEmptyBody } from './empty-body.js';
import type { UserDevicesInput } from './operation.js';
import { removeOrder as writeNoOrder, reorder } from './store.js';

export const ReorderInput = Type.Object({
  order: Type.Array(Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 15 }),
}, { additionalProperties: false });

const REFUSAL = {
  unknown: 'No device with this ID belongs to the user',
  inactive: 'Only ACTIVE devices are ordered',
  repeated: 'A device appears twice in the order',
} as const;

export async function reorderDevices(ctx: Context, { environment, userId, body: raw, now }: UserDevicesInput) {
  const user = await requireUser(ctx.store.db, environment.id, userId);
  const body = validateBody(ReorderInput, raw);
  const outcome = await reorder(ctx.store, environment.id, user.id, body.order.map((o) => o.id), now);
  if (!outcome.ok) throw invalidValue(`order[${outcome.index}].id`, REFUSAL[outcome.reason]);
  const self = ctx.links.devices(environment.id, user.id);
  return { _links: { self: link(self) }, order: outcome.order.map((id) => ({ id })) };
}

export async function removeOrder(ctx: Context, { environment, userId, body, now }: UserDevicesInput): Promise<void> {
  expectEmptyBody(body);
  const user = await requireUser(ctx.store.db, environment.id, userId);
  await writeNoOrder(ctx.store, user.id, now);
}
