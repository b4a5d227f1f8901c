/**
 * The one attempt path for every proof a device answers with — an activation code, an otp.check
 * code, a TOTP code, a desktop attestation or assertion, and every proof type added later
 * (reference §6.3, quality bar S1; the rule is written out in docs/attempts.md).
 *
 * The promise is **at most N comparisons per lock window, whatever the concurrency**, where N
 * is the device's failure count (policies/model.ts failureRule). Counting failures after the
 * comparison cannot keep it: a burst of parallel guesses all pass a "not locked" read before
 * the first failure is written. So the order is reversed:
 *
 *  1. **Reserve** (`reserveAttempt`): before a proof is compared, one conditional UPDATE on the
 *     device row counts the attempt and — at the Nth — starts the lock. It matches only while
 *     the device is unlocked (or its lock has ended, which starts a new window at 1) and still
 *     waits for the proof the caller read. It runs where it sees every earlier write: on
 *     SQLite the writing connection (group commit orders it after every write before it and
 *     resolves it after its COMMIT), on PostgreSQL the row lock of UPDATE … RETURNING. No row
 *     back means no reservation: the caller answers "locked" (or what the state now is) and
 *     compares nothing.
 *  2. **Compare** the proof.
 *  3. **Settle**:
 *     - success — the final write (activation, the TOTP step, the flow's completion) is
 *       conditional on `unlockedOrMine`: the device is unlocked, or locked by this very
 *       attempt (the Nth may be the right one). It sets the count back to 0 and ends that lock;
 *     - a wrong proof — nothing: the reservation is the counted failure;
 *     - a right proof that could not be used (a race lost to another request with the same
 *       proof, a TOTP step already used) — `releaseAttempt` gives the reservation back, so a
 *       user's own double submit never locks the device. It only undoes this reservation's +1,
 *       and only inside the same window (same lock, same `updated_at`); otherwise the attempt
 *       stays counted. Releasing never lets a wrong proof go uncounted.
 *
 * A lock ends by itself at `locked_until` (or by unlock). Every write that changes the lock —
 * the Nth reservation, and the first reservation after a lock ended — moves `updated_at`, so a
 * reservation's `updatedAt` names its window.
 */
import { sql, type Expression, type SqlBool } from 'kysely';
import type { Db, Store } from '../store/db.js';
import { CLEARED, unlockedOrMine, usable, type DeviceExpressions } from './store.js';

export interface AttemptRule {
  /** Comparisons allowed per lock window (the Nth starts the lock). */
  count: number;
  lockMs: number;
}

/** A reserved attempt: what the device row said right after the reservation. */
export interface Attempt {
  deviceId: string;
  /** The count including this attempt (1…N). */
  number: number;
  /** The lock this attempt started (it was the Nth), else null. */
  lockedUntil: number | null;
  /** The row's updated_at after the reservation: names the window. */
  updatedAt: number;
}

/**
 * Reserves one attempt on the device, or answers undefined: the device does not take a proof
 * for `status` (store.ts `usable`: in that status, unblocked, unlocked), or no longer waits for
 * this proof — `stillWaiting` adds the caller's condition, e.g. the pairing challenge it read or
 * that the flow is still open, so a request that arrives after the proof was used counts nothing.
 */
export async function reserveAttempt(
  db: Db,
  deviceId: string,
  now: number,
  rule: AttemptRule,
  status: string,
  stillWaiting?: (eb: DeviceExpressions) => Expression<SqlBool>,
): Promise<Attempt | undefined> {
  const ended = sql<boolean>`(locked_until is not null and locked_until <= ${now})`;
  const next = sql<number>`(case when ${ended} then 1 else failed_attempts + 1 end)`;
  const locks = sql<boolean>`(${next} >= ${rule.count})`;
  const row = await db.updateTable('devices')
    .set({
      failed_attempts: next,
      locked_until: sql<number | null>`(case when ${locks} then ${now + rule.lockMs} when ${ended} then null else locked_until end)`,
      // The resource changes only when its lock does: at the Nth attempt, and when a new window
      // starts after a lock ended. A counted attempt below N is invisible in the resource.
      updated_at: sql<number>`(case when ${locks} or ${ended} then ${now} else updated_at end)`,
    })
    .where('id', '=', deviceId)
    .where((eb) => (stillWaiting ? eb.and([usable(eb, status, now), stillWaiting(eb)]) : usable(eb, status, now)))
    .returning(['failed_attempts', 'locked_until', 'updated_at'])
    .executeTakeFirst();
  if (!row) return undefined;
  return { deviceId, number: Number(row.failed_attempts), lockedUntil: row.locked_until === null ? null : Number(row.locked_until), updatedAt: Number(row.updated_at) };
}

/**
 * `reserveAttempt` whose condition reads another row — a flow still waiting for this proof.
 * On PostgreSQL a statement that waits for the device row's lock re-checks its WHERE on the
 * row's new version but reads every other table as of the moment it started (EvalPlanQual):
 * a reservation queued behind the winner's `clearAttempts` would still see the flow waiting,
 * count an attempt after the flow completed, and — when enough of them pile up to start a
 * lock — keep it counted. Taking the device row lock first, in its own statement, makes the
 * reservation's snapshot begin after every write that held that lock, and so after the flow
 * completion that preceded them. SQLite runs every write on one connection, in order.
 */
export async function reserveAttemptWhile(
  store: Store,
  deviceId: string,
  now: number,
  rule: AttemptRule,
  status: string,
  stillWaiting: (eb: DeviceExpressions) => Expression<SqlBool>,
): Promise<Attempt | undefined> {
  if (store.dialect !== 'postgres') return reserveAttempt(store.db, deviceId, now, rule, status, stillWaiting);
  return store.transaction(async (trx) => {
    await trx.selectFrom('devices').select('id').where('id', '=', deviceId).forUpdate().execute();
    return reserveAttempt(trx, deviceId, now, rule, status, stillWaiting);
  });
}

/**
 * Gives back a reservation whose proof was right but could not be used. Only this
 * reservation's +1 is undone, and only in its own window (the lock and `updated_at` it left);
 * a lock it started ends with it. Anything else since — another lock, a new window, another
 * change of the device — leaves the attempt counted.
 */
export async function releaseAttempt(db: Db, attempt: Attempt): Promise<void> {
  await db.updateTable('devices')
    .set({ failed_attempts: sql<number>`failed_attempts - 1`, locked_until: null })
    .where('id', '=', attempt.deviceId)
    .where('failed_attempts', '>=', 1)
    .where('updated_at', '=', attempt.updatedAt)
    .where((eb) => (attempt.lockedUntil === null ? eb('locked_until', 'is', null) : eb('locked_until', '=', attempt.lockedUntil)))
    .execute();
}

/** After a success whose final write was on another row (a flow): the count goes back to 0. */
export async function clearAttempts(db: Db, attempt: Attempt, now: number): Promise<void> {
  await db.updateTable('devices').set(CLEARED)
    .where('id', '=', attempt.deviceId)
    .where((eb) => eb.and([eb.or([eb('failed_attempts', '>', 0), eb('locked_until', 'is not', null)]), unlockedOrMine(eb, attempt.lockedUntil, now)]))
    .execute();
}
