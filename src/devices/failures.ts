/**
 * Failed attempts and the lock they lead to (reference §6.3, quality bar S1). Counting is one
 * conditional UPDATE, so concurrent wrong answers — across processes too — count exactly up to
 * the policy's number and no further: once the lock is set, the WHERE clause matches nothing
 * until it ends. The attempt after a lock has ended starts a new count.
 */
import { sql } from 'kysely';
import type { Db } from '../store/db.js';

export interface FailureOutcome {
  /** False when the device was already locked (the attempt was not counted). */
  counted: boolean;
  lockedUntil: number | null;
}

export async function recordFailure(db: Db, deviceId: string, now: number, maxFailures: number, lockMs: number): Promise<FailureOutcome> {
  const expired = sql<boolean>`(locked_until is not null and locked_until <= ${now})`;
  const next = sql<number>`(case when ${expired} then 1 else failed_attempts + 1 end)`;
  const row = await db.updateTable('devices')
    .set({
      failed_attempts: next,
      locked_until: sql<number | null>`(case when ${next} >= ${maxFailures} then ${now + lockMs} when ${expired} then null else locked_until end)`,
      // A counted failure is invisible in the resource until it locks the device: only then
      // does the device (its `lock`) change, so only then does `updatedAt` move.
      updated_at: sql<number>`(case when ${next} >= ${maxFailures} then ${now} else updated_at end)`,
    })
    .where('id', '=', deviceId)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
    .returning(['locked_until'])
    .executeTakeFirst();
  return row ? { counted: true, lockedUntil: row.locked_until } : { counted: false, lockedUntil: null };
}
