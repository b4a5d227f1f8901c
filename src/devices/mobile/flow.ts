/** What a device authentication shows and does of its push (mobile-protocol §2). */
import type { Context } from '../../context.js';
import type { DeviceAuthenticationsTable } from '../../store/schema.js';
import { settleTimedOut } from './push-fails.js';

/**
 * The number to show while the flow's push waits (number matching), or undefined. A push past
 * its timeout is settled here (counted in pushFails) the first time its flow is looked at.
 */
export async function pushNumberOf(ctx: Context, row: DeviceAuthenticationsTable, now: number): Promise<string | undefined> {
  if (row.status !== 'PUSH_CONFIRMATION_REQUIRED' || row.selected_device_id === null) return undefined;
  if (row.challenge_expires_at !== null && row.challenge_expires_at <= now) {
    await settleTimedOut(ctx, row.selected_device_id, now);
    return undefined;
  }
  const push = await ctx.store.db.selectFrom('mobile_pushes').select('number')
    .where('flow_id', '=', row.id).where('status', '=', 'PENDING').where('challenge_hash', '=', row.challenge_hash ?? '').executeTakeFirst();
  return push?.number ?? undefined;
}
