/**
 * Selecting a device inside a flow: the device's type starts its method (sends a code, or
 * signs request options), the flow records the challenge in one conditional UPDATE, and the
 * code is queued in the same transaction, to be sent once it commits.
 */
import type { Context } from '../context.js';
import type { DeviceKind } from '../devices/kind.js';
import { kinds } from '../devices/kinds.js';
import { withdrawPushes } from '../devices/mobile/kind.js';
import type { DeviceType } from '../devices/model.js';
import { requestFailed } from '../http/errors.js';
import type { PolicyRecord } from '../policies/model.js';
import type { DeviceAuthenticationsTable, DevicesTable, EnvironmentsTable, UsersTable } from '../store/schema.js';
import { TERMINAL } from './model.js';

export async function startMethod(ctx: Context, args: {
  environment: EnvironmentsTable;
  user: UsersTable;
  flow: DeviceAuthenticationsTable;
  device: DevicesTable;
  policy: PolicyRecord;
  now: number;
}): Promise<{ row: DeviceAuthenticationsTable; shownOnce: Record<string, unknown>; kind: DeviceKind }> {
  const { now } = args;
  const kind = kinds[args.device.type as DeviceType];
  const started = await kind.authentication.start({ ctx, environment: args.environment, user: args.user, device: args.device, policy: args.policy, flowId: args.flow.id, flowExpiresAt: args.flow.expires_at, now });
  // The challenge and its queued code commit together (R7).
  return ctx.store.transaction(async () => {
    const row = await ctx.store.db.updateTable('device_authentications').set({
      status: started.status,
      selected_device_id: args.device.id,
      challenge_hash: started.challengeHash,
      challenge_expires_at: started.challengeExpiresAt,
      updated_at: now,
    })
      .where('id', '=', args.flow.id)
      .where('status', 'not in', [...TERMINAL])
      .where('expires_at', '>', now)
      .returningAll().executeTakeFirst();
    if (!row) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device authentication has already ended' });
    // A push the flow made before (another device, or this one again) is no longer offered.
    await withdrawPushes(ctx.store.db, args.flow.id, now);
    if (started.deliver) await started.deliver();
    return { row, shownOnce: started.shownOnce ?? {}, kind };
  });
}
