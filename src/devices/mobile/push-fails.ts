/**
 * `pushFails` and the push limit (wave-2 reference §3.3, §3.5): a push the user rejected, let
 * time out or answered with the wrong number is a failure; `pushLimit.count` of them within
 * `pushLimit.timePeriod` lock the device for `pushLimit.lockDuration` (the device's lock,
 * shown as `lock` and ending by itself); an approved push ends the run. Each change is made in
 * a transaction holding the device's row, so parallel failures are all counted.
 */
import type { Context } from '../../context.js';
import { policyForDevice } from '../../policies/model.js';
import type { DevicesTable } from '../../store/schema.js';
import { pushFailsOf, extraOf } from '../model.js';
import { entryFor, pushLimitOf } from './policy.js';

/** Inside the caller's transaction: appends failures at `times` and locks the device past the limit. */
export async function recordPushFailures(ctx: Context, deviceId: string, times: readonly number[], now: number): Promise<void> {
  if (times.length === 0) return;
  const { store } = ctx;
  const device = await store.forUpdate(store.db.selectFrom('devices').selectAll().where('id', '=', deviceId)).executeTakeFirst();
  if (!device) return;
  const policy = await policyForDevice(store.db, device.environment_id, device.policy_id);
  const entry = entryFor(policy.body, extraOf(device).application?.id ?? '');
  const limit = pushLimitOf(entry ?? { id: '' });
  const fails = [...pushFailsOf(device).filter((t) => t > now - limit.periodMs), ...times].sort((a, b) => a - b);
  if (fails.length >= limit.count) {
    await store.db.updateTable('devices').set({ push_fails: '[]', locked_until: now + limit.lockMs, updated_at: now }).where('id', '=', deviceId).execute();
    return;
  }
  await store.db.updateTable('devices').set({ push_fails: JSON.stringify(fails) }).where('id', '=', deviceId).execute();
}

/** An approved push ends the run of failures. */
export async function clearPushFailures(ctx: Context, device: Pick<DevicesTable, 'id'>): Promise<void> {
  await ctx.store.db.updateTable('devices').set({ push_fails: '[]' }).where('id', '=', device.id).where('push_fails', '!=', '[]').execute();
}

/**
 * Pushes past their timeout become TIMED_OUT, each counted once (the conditional UPDATE takes
 * each row once, whichever request sees it first). Called where a device's pushes are looked
 * at: a new push, the push channel, a flow read.
 */
export async function settleTimedOut(ctx: Context, deviceId: string, now: number): Promise<void> {
  await ctx.store.transaction(async () => {
    const rows = await ctx.store.db.updateTable('mobile_pushes').set({ status: 'TIMED_OUT', answered_at: now })
      .where('device_id', '=', deviceId).where('status', '=', 'PENDING').where('expires_at', '<=', now)
      .returning(['expires_at']).execute();
    await recordPushFailures(ctx, deviceId, rows.map((r) => Number(r.expires_at)), now);
  });
}
