/**
 * Device order (reference §6.5, §3.1). Active devices are ordered; the first is the default.
 * AUTO: by activation time, so a newly activated device goes last. EXPLICIT: positions set by
 * a reorder, and devices activated later follow them. NONE: the order was removed — the user
 * has no default device until a reorder, or until deletes leave at most one active device.
 */
import { Type, type Static } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { invalidValue } from '../http/errors.js';
import { link } from '../http/links.js';
import { validateBody } from '../http/validation.js';
import { requireUser } from '../platform/users.js';
import type { Db } from '../store/db.js';
import { expectEmptyBody } from './empty-body.js';
import { ACTIVE } from './model.js';
import { listDevices } from './store.js';

export const ReorderInput = Type.Object({
  order: Type.Array(Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }), { minItems: 1, maxItems: 15 }),
}, { additionalProperties: false });

/** The ordered IDs of the user's active devices; empty when the order was removed. */
export async function orderOf(db: Db, environmentId: string, userId: string, mode: string): Promise<string[]> {
  if (mode === 'NONE') return [];
  return (await listDevices(db, environmentId, userId)).filter((d) => d.status === ACTIVE).map((d) => d.id);
}

type UserRequest = FastifyRequest<{ Params: { envId: string; userId: string } }>;

export async function reorderDevices(ctx: Context, request: UserRequest) {
  const environment = environmentOf(request);
  const user = await requireUser(ctx.store.db, environment.id, request.params.userId);
  const body: Static<typeof ReorderInput> = validateBody(ReorderInput, request.body);
  const now = ctx.clock.now();
  await ctx.store.transaction(async (trx) => {
    await ctx.store.forUpdate(trx.selectFrom('users').select('id').where('id', '=', user.id)).executeTakeFirst();
    const devices = await listDevices(trx, environment.id, user.id);
    const byId = new Map(devices.map((d) => [d.id, d]));
    const seen = new Set<string>();
    body.order.forEach(({ id }, i) => {
      const d = byId.get(id);
      if (!d) throw invalidValue(`order[${i}].id`, 'No device with this ID belongs to the user');
      if (d.status !== ACTIVE) throw invalidValue(`order[${i}].id`, 'Only ACTIVE devices are ordered');
      if (seen.has(id)) throw invalidValue(`order[${i}].id`, 'A device appears twice in the order');
      seen.add(id);
    });
    // Listed devices first, in the given order; active devices left out keep their relative order after them.
    const rest = devices.filter((d) => d.status === ACTIVE && !seen.has(d.id)).map((d) => d.id);
    const ids = [...body.order.map((o) => o.id), ...rest];
    for (const [position, id] of ids.entries()) {
      await trx.updateTable('devices').set({ order_position: position, updated_at: now }).where('id', '=', id).execute();
    }
    await trx.updateTable('users').set({ device_order: 'EXPLICIT', updated_at: now }).where('id', '=', user.id).execute();
  });
  const self = ctx.links.devices(environment.id, user.id);
  return { _links: { self: link(self) }, order: (await orderOf(ctx.store.db, environment.id, user.id, 'EXPLICIT')).map((id) => ({ id })) };
}

export async function removeOrder(ctx: Context, request: UserRequest): Promise<void> {
  expectEmptyBody(request.body);
  const environment = environmentOf(request);
  const user = await requireUser(ctx.store.db, environment.id, request.params.userId);
  const now = ctx.clock.now();
  await ctx.store.transaction(async (trx) => {
    await trx.updateTable('devices').set({ order_position: null }).where('user_id', '=', user.id).execute();
    await trx.updateTable('users').set({ device_order: 'NONE', updated_at: now }).where('id', '=', user.id).execute();
  });
}

/** After a delete: with no order and at most one active device left, ordering is automatic again. */
export async function afterDelete(db: Db, userId: string, now: number): Promise<void> {
  const { n } = await db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId).where('status', '=', ACTIVE).executeTakeFirstOrThrow();
  if (Number(n) <= 1) {
    await db.updateTable('users').set({ device_order: 'AUTO', updated_at: now }).where('id', '=', userId).where('device_order', '=', 'NONE').execute();
  }
}
