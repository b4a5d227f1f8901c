/**
 * The device repository: every read and write of the `devices` table is a function here (the
 * attempt counter's writes are in attempts.ts, the other half of the repository). Each takes
 * the Db it is given — `store.db`, which inside `store.transaction` is that transaction — or,
 * where an invariant needs a transaction of its own (the device limit, an order change, a
 * delete and its follow-up), the Store, and never holds a connection. Every lookup is scoped
 * to environment and user. test/store/device-repository.test.ts checks the invariants here
 * directly on both databases.
 *
 * The usable-device rule — a device takes a proof while it is in the status the proof is for
 * (ACTIVE for a device authentication, ACTIVATION_REQUIRED for an activation), unblocked and
 * unlocked (reference §6.3, §6.4) — is written twice, once per language: `usable` in SQL for
 * the conditional writes, `unusable` in JS for the checks that name what is wrong.
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Db, Store } from '../store/db.js';
import type { Database, DevicesTable } from '../store/schema.js';
import { notFound } from '../http/errors.js';
import { prepare } from '../store/prepared.js';
import { ACTIVATION_REQUIRED, ACTIVE, SHOWN_COLUMNS, extraOf, isLocked, type DeviceExtra, type ShownDevice } from './model.js';

export type DeviceExpressions = ExpressionBuilder<Database, 'devices'>;

// ---- the usable-device rule -------------------------------------------------------------------

/** True while the device takes attempts at `now`: no lock, or one that has ended (docs/attempts.md). */
export const unlocked = (eb: DeviceExpressions, now: number): Expression<SqlBool> =>
  eb.or([eb('devices.locked_until', 'is', null), eb('devices.locked_until', '<=', now)]);

/**
 * The condition of a success's final write: unlocked, or locked by this attempt itself (the
 * Nth may be the right one; docs/attempts.md, Settle). With `lockedUntil` null the last term is
 * `locked_until = NULL`, never true, so the shape does not depend on the attempt.
 */
export const unlockedOrMine = (eb: DeviceExpressions, lockedUntil: number | null, now: number): Expression<SqlBool> =>
  eb.or([eb('devices.locked_until', 'is', null), eb('devices.locked_until', '<=', now), eb('devices.locked_until', '=', lockedUntil as number)]);

/** What a success writes into the device row, beside its own change: the count back to 0, the lock ended. */
export const CLEARED = { failed_attempts: 0, locked_until: null } as const;

/**
 * SQL: the device is in `status`, unblocked and unlocked at `now` — or, given the lock a
 * reserved attempt started (attempts.ts `unlockedOrMine`; null when it started none), locked
 * by that very attempt. The shape does not depend on the values (prepared statements keep one
 * text).
 */
export function usable(eb: DeviceExpressions, status: string, now: number, attemptLock?: number | null): Expression<SqlBool> {
  return eb.and([
    eb('devices.status', '=', status),
    eb('devices.blocked_at', 'is', null),
    attemptLock === undefined ? unlocked(eb, now) : unlockedOrMine(eb, attemptLock, now),
  ]);
}

/** JS: what keeps the device from taking a proof for `status`, first failing check first; undefined when usable. */
export function unusable(device: Pick<DevicesTable, 'status' | 'blocked_at' | 'locked_until'>, status: string, now: number): 'status' | 'blocked' | 'locked' | undefined {
  if (device.status !== status) return 'status';
  if (device.blocked_at !== null) return 'blocked';
  if (isLocked(device, now)) return 'locked';
  return undefined;
}

// ---- reads ------------------------------------------------------------------------------------

/** Full rows, for the operations that check or change a device (they read its secrets and keys). */
const deviceById = prepare<[string, string, string], DevicesTable>(3, (db, deviceId, environmentId, userId) =>
  db.selectFrom('devices').selectAll().where('id', '=', deviceId).where('environment_id', '=', environmentId).where('user_id', '=', userId));
const devicesOfUser = prepare<[string, string], DevicesTable>(2, (db, environmentId, userId) =>
  db.selectFrom('devices').selectAll().where('environment_id', '=', environmentId).where('user_id', '=', userId).orderBy('created_at').orderBy('id'));

// The two reads behind GET of a device and of a user's list (quality bar P1, P1b): only the
// columns shown (model.ts SHOWN_COLUMNS) — on a 15-device list, reading every column cost
// twice the time of these — and not the environment and user, which are the values asked for.
type Shown = Omit<ShownDevice, 'environment_id' | 'user_id'>;
const shownById = prepare<[string, string, string], Shown>(3, (db, deviceId, environmentId, userId) =>
  db.selectFrom('devices').select(SHOWN_COLUMNS).where('id', '=', deviceId).where('environment_id', '=', environmentId).where('user_id', '=', userId));
const shownOfUser = prepare<[string, string], Shown>(2, (db, environmentId, userId) =>
  db.selectFrom('devices').select(SHOWN_COLUMNS).where('environment_id', '=', environmentId).where('user_id', '=', userId).orderBy('created_at').orderBy('id'));

/** The rows, completed with the environment and user the query was scoped to (equal by the WHERE). */
function scoped(rows: Shown[], environmentId: string, userId: string): ShownDevice[] {
  const scopedRows = rows as ShownDevice[];
  for (const r of scopedRows) {
    r.environment_id = environmentId;
    r.user_id = userId;
  }
  return scopedRows;
}

export async function findDevice(db: Db, environmentId: string, userId: string, deviceId: string): Promise<DevicesTable | undefined> {
  if (deviceId.length > 64 || userId.length > 64) return undefined;
  return deviceById.first(db, deviceId, environmentId, userId);
}

export async function requireDevice(db: Db, environmentId: string, userId: string, deviceId: string): Promise<DevicesTable> {
  const row = await findDevice(db, environmentId, userId, deviceId);
  if (!row) throw notFound();
  return row;
}

/** requireDevice for showing the device (GET): the shown columns only. */
export async function requireShownDevice(db: Db, environmentId: string, userId: string, deviceId: string): Promise<ShownDevice> {
  const row = deviceId.length > 64 || userId.length > 64 ? undefined : await shownById.first(db, deviceId, environmentId, userId);
  if (!row) throw notFound();
  return scoped([row], environmentId, userId)[0]!;
}

/**
 * PingOne's order of a user's devices (reference §6.5): with an explicit order, by position;
 * otherwise active devices by activation time, then pending ones by creation; then by ID.
 */
function byDeviceOrder(a: Pick<DevicesTable, 'id' | 'order_position' | 'activated_at' | 'created_at'>, b: typeof a): number {
  const MAX = Number.MAX_SAFE_INTEGER;
  return ((a.order_position ?? MAX) - (b.order_position ?? MAX)) || ((a.activated_at ?? MAX) - (b.activated_at ?? MAX))
    || (a.created_at - b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A user's devices in PingOne's order (reference §6.5), whole rows. */
export async function listDevices(db: Db, environmentId: string, userId: string): Promise<DevicesTable[]> {
  return (await devicesOfUser.all(db, environmentId, userId)).sort(byDeviceOrder);
}

/** listDevices for showing the list (GET): the shown columns only, in the same order. */
export async function listShownDevices(db: Db, environmentId: string, userId: string): Promise<ShownDevice[]> {
  return scoped(await shownOfUser.all(db, environmentId, userId), environmentId, userId).sort(byDeviceOrder);
}

/** The ordered IDs of the user's active devices; empty when the order was removed (mode NONE). */
export async function orderOf(db: Db, environmentId: string, userId: string, mode: string): Promise<string[]> {
  if (mode === 'NONE') return [];
  return (await listShownDevices(db, environmentId, userId)).filter((d) => d.status === ACTIVE).map((d) => d.id);
}

// ---- create and delete ------------------------------------------------------------------------

/** Holds the user's row for the rest of the transaction (FOR UPDATE on PostgreSQL; SQLite runs one write transaction at a time). */
async function lockUser(store: Store, trx: Db, userId: string): Promise<boolean> {
  return (await store.forUpdate(trx.selectFrom('users').select('id').where('id', '=', userId)).executeTakeFirst()) !== undefined;
}

export type AddOutcome = { ok: true } | { ok: false; reason: 'user-gone' } | { ok: false; reason: 'limit'; max: number };

/**
 * Inserts the device unless its user already holds `max` devices, in one transaction holding
 * the user's row, so parallel creates cannot pass the limit together (quality bar R4).
 * `alongside` runs in the same transaction after the insert (the pairing code's queued
 * message): if it throws, no device is made. OpenMFA counts pending pairings too (PingOne
 * counts ACTIVE and BLOCKED), so the limit also bounds the unfinished pairings a user holds.
 */
export async function addDevice(store: Store, row: DevicesTable, max: number, alongside?: () => Promise<void>): Promise<AddOutcome> {
  return store.transaction(async (trx) => {
    if (!(await lockUser(store, trx, row.user_id))) return { ok: false, reason: 'user-gone' } as const;
    const { n } = await trx.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', row.user_id).executeTakeFirstOrThrow();
    if (Number(n) >= max) return { ok: false, reason: 'limit', max } as const;
    await trx.insertInto('devices').values(row).execute();
    if (alongside) await alongside();
    return { ok: true } as const;
  });
}

/**
 * Deletes the device and, in the same transaction holding the user's row, its follow-up: with
 * the order removed and at most one active device left, ordering is automatic again
 * (reference §6.5). False when there was no such device.
 */
export async function deleteDevice(store: Store, environmentId: string, userId: string, deviceId: string, now: number): Promise<boolean> {
  return store.transaction(async (trx) => {
    await lockUser(store, trx, userId);
    const res = await trx.deleteFrom('devices').where('environment_id', '=', environmentId)
      .where('user_id', '=', userId).where('id', '=', deviceId).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) return false;
    const { n } = await trx.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId).where('status', '=', ACTIVE).executeTakeFirstOrThrow();
    if (Number(n) <= 1) {
      await trx.updateTable('users').set({ device_order: 'AUTO', updated_at: now }).where('id', '=', userId).where('device_order', '=', 'NONE').execute();
    }
    return true;
  });
}

// ---- order ------------------------------------------------------------------------------------

export type ReorderOutcome = { ok: true; order: string[] } | { ok: false; index: number; reason: 'unknown' | 'inactive' | 'repeated' };

/**
 * An explicit order (reference §6.5): the listed devices first, in the given order; active
 * devices left out keep their relative order after them. Checked and written in one
 * transaction holding the user's row, so two reorders never interleave.
 */
export async function reorder(store: Store, environmentId: string, userId: string, ids: readonly string[], now: number): Promise<ReorderOutcome> {
  return store.transaction(async (trx) => {
    await lockUser(store, trx, userId);
    const devices = await listDevices(trx, environmentId, userId);
    const byId = new Map(devices.map((d) => [d.id, d]));
    const seen = new Set<string>();
    for (const [index, id] of ids.entries()) {
      const d = byId.get(id);
      if (!d) return { ok: false, index, reason: 'unknown' } as const;
      if (d.status !== ACTIVE) return { ok: false, index, reason: 'inactive' } as const;
      if (seen.has(id)) return { ok: false, index, reason: 'repeated' } as const;
      seen.add(id);
    }
    const order = [...ids, ...devices.filter((d) => d.status === ACTIVE && !seen.has(d.id)).map((d) => d.id)];
    for (const [position, id] of order.entries()) {
      await trx.updateTable('devices').set({ order_position: position, updated_at: now }).where('id', '=', id).execute();
    }
    await trx.updateTable('users').set({ device_order: 'EXPLICIT', updated_at: now }).where('id', '=', userId).execute();
    return { ok: true, order } as const;
  });
}

/** Removes the order (reference §3.1): no positions, mode NONE, in one transaction holding the user's row. */
export async function removeOrder(store: Store, userId: string, now: number): Promise<void> {
  await store.transaction(async (trx) => {
    await lockUser(store, trx, userId);
    await trx.updateTable('devices').set({ order_position: null }).where('user_id', '=', userId).execute();
    await trx.updateTable('users').set({ device_order: 'NONE', updated_at: now }).where('id', '=', userId).execute();
  });
}

// ---- the administrator's changes --------------------------------------------------------------

/** Block or unblock; undefined when the device is already in the asked state (a block keeps its first `blockedAt`). */
export async function setBlocked(db: Db, deviceId: string, blocked: boolean, now: number): Promise<DevicesTable | undefined> {
  const q = db.updateTable('devices').set({ blocked_at: blocked ? now : null, updated_at: now }).where('id', '=', deviceId);
  return (blocked ? q.where('blocked_at', 'is', null) : q.where('blocked_at', 'is not', null)).returningAll().executeTakeFirst();
}

/** Ends a lock and resets the count; undefined when there was neither. */
export async function unlock(db: Db, deviceId: string, now: number): Promise<DevicesTable | undefined> {
  return db.updateTable('devices').set({ locked_until: null, failed_attempts: 0, updated_at: now })
    .where('id', '=', deviceId)
    .where((eb) => eb.or([eb('locked_until', 'is not', null), eb('failed_attempts', '>', 0)]))
    .returningAll().executeTakeFirst();
}

export async function setNickname(db: Db, deviceId: string, nickname: string, now: number): Promise<DevicesTable | undefined> {
  return db.updateTable('devices').set({ nickname, updated_at: now }).where('id', '=', deviceId).returningAll().executeTakeFirst();
}

/** A new pairing code replaces the old one, which dies with it; undefined when the device no longer waits for activation. */
export async function replaceCode(db: Db, deviceId: string, challengeHash: string, expiresAt: number, now: number): Promise<DevicesTable | undefined> {
  return db.updateTable('devices')
    .set({ challenge_hash: challengeHash, challenge_expires_at: expiresAt, updated_at: now })
    .where('id', '=', deviceId).where('status', '=', ACTIVATION_REQUIRED)
    .returningAll().executeTakeFirst();
}

// ---- the final writes of a proof (attempts.ts, settle) ---------------------------------------

/**
 * An activation by code (quality bar P2): conditional on the code, so a code is used once, and
 * on the device still taking the proof — pending, unblocked, unlocked or locked by this attempt.
 * It clears the count.
 */
const activateByCode = prepare<[string, string, number | null, number], DevicesTable>(4, (db, deviceId, hash, attemptLock, now) =>
  db.updateTable('devices').set({
    status: ACTIVE, challenge_hash: null, challenge_expires_at: null, activated_at: now, ...CLEARED, updated_at: now,
  })
    .where('id', '=', deviceId).where('challenge_hash', '=', hash)
    .where((eb) => usable(eb, ACTIVATION_REQUIRED, now, attemptLock))
    .returningAll());

export const activateWithCode = (db: Db, deviceId: string, challengeHash: string, attemptLock: number | null, now: number): Promise<DevicesTable | undefined> =>
  activateByCode.first(db, deviceId, challengeHash, attemptLock, now);

/** A TOTP activation: the step is recorded, and only a step newer than the last one is taken. */
export async function activateWithStep(db: Db, deviceId: string, step: number, attemptLock: number | null, now: number): Promise<DevicesTable | undefined> {
  return db.updateTable('devices').set({
    status: ACTIVE, challenge_expires_at: null, last_otp_step: step, activated_at: now, ...CLEARED, updated_at: now,
  })
    .where('id', '=', deviceId)
    .where((eb) => eb.or([eb('last_otp_step', 'is', null), eb('last_otp_step', '<', step)]))
    .where((eb) => usable(eb, ACTIVATION_REQUIRED, now, attemptLock))
    .returningAll().executeTakeFirst();
}

/**
 * An activation whose proof was taken on another row in the same transaction (an OATH token's
 * counter, oath/store.ts): conditional on the device still taking this attempt.
 */
export async function activateForProof(db: Db, deviceId: string, attemptLock: number | null, now: number): Promise<DevicesTable | undefined> {
  return db.updateTable('devices').set({ status: ACTIVE, challenge_hash: null, challenge_expires_at: null, activated_at: now, ...CLEARED, updated_at: now })
    .where('id', '=', deviceId)
    .where((eb) => usable(eb, ACTIVATION_REQUIRED, now, attemptLock))
    .returningAll().executeTakeFirst();
}

export interface Credential {
  credentialId: string;
  publicJwk: string;
  extra: string;
  /** Kept only when the device has no nickname yet. */
  nickname: string | null;
}

/** A desktop activation (quality bar P3), compiled once: conditional on the pairing's challenge. */
const activateByAttestation = prepare<[string, string, string, string, string, string | null, number | null, number], DevicesTable>(8,
  (db, deviceId, challengeHash, credentialId, publicJwk, extra, nickname, attemptLock, now) => db.updateTable('devices').set({
    status: ACTIVE,
    credential_id: credentialId,
    public_jwk: publicJwk,
    extra,
    nickname: sql<string | null>`coalesce(nickname, ${nickname})`,
    challenge_hash: null,
    challenge_expires_at: null,
    activated_at: now,
    ...CLEARED,
    updated_at: now,
  })
    .where('id', '=', deviceId)
    .where('challenge_hash', '=', challengeHash)
    .where((eb) => usable(eb, ACTIVATION_REQUIRED, now, attemptLock))
    .returningAll());

export const activateWithCredential = (db: Db, deviceId: string, challengeHash: string, c: Credential, attemptLock: number | null, now: number): Promise<DevicesTable | undefined> =>
  activateByAttestation.first(db, deviceId, challengeHash, c.credentialId, c.publicJwk, c.extra, c.nickname, attemptLock, now);

/**
 * A TOTP code in a device authentication: its step is taken once, only when newer than the
 * last accepted one and while the device is usable for this attempt. False when not taken.
 */
export async function takeStep(db: Db, deviceId: string, step: number, attemptLock: number | null, now: number): Promise<boolean> {
  const res = await db.updateTable('devices').set({ last_otp_step: step })
    .where('id', '=', deviceId)
    .where((eb) => eb.or([eb('last_otp_step', 'is', null), eb('last_otp_step', '<', step)]))
    .where((eb) => usable(eb, ACTIVE, now, attemptLock))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * For a write on another table (a flow's completion): the device still takes the proof this
 * attempt was reserved for. Used inside that table's WHERE.
 */
export const stillUsable = <DB extends Database, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>, deviceId: string, status: string, attemptLock: number | null, now: number): Expression<SqlBool> => {
  const outer = eb as unknown as ExpressionBuilder<Database, never>;
  return outer.exists(outer.selectFrom('devices').select(sql<number>`1`.as('one'))
    .where('devices.id', '=', deviceId)
    .where((d) => usable(d, status, now, attemptLock)));
};

// ---- FIDO2 ------------------------------------------------------------------------------------

/** The credential IDs (base64url) of the user's FIDO2 devices that hold one: the creation options' excludeCredentials. */
export async function fido2CredentialsOf(db: Db, environmentId: string, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('devices').select('credential_id')
    .where('environment_id', '=', environmentId).where('user_id', '=', userId).where('type', '=', 'FIDO2').where('credential_id', 'is not', null)
    .orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => r.credential_id!);
}

export interface Fido2Credential {
  credentialId: string;
  publicKeyCose: string;
  counter: number;
  extra: string;
}

/**
 * A FIDO2 activation: conditional on the registration's challenge (used once), on the device
 * still taking this attempt, and on no other device of the environment holding the credential
 * — 'duplicate' when one does (a credential registered twice would answer for two devices).
 */
export async function activateWithFido2Credential(db: Db, device: Pick<DevicesTable, 'id' | 'environment_id'>, challengeHash: string, c: Fido2Credential, attemptLock: number | null, now: number): Promise<DevicesTable | 'duplicate' | undefined> {
  const row = await db.updateTable('devices').set({
    status: ACTIVE, credential_id: c.credentialId, public_key_cose: c.publicKeyCose, sign_count: c.counter, extra: c.extra,
    challenge_hash: null, challenge_expires_at: null, activated_at: now, ...CLEARED, updated_at: now,
  })
    .where('id', '=', device.id)
    .where('challenge_hash', '=', challengeHash)
    .where((eb) => usable(eb, ACTIVATION_REQUIRED, now, attemptLock))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('devices as other').select(sql<number>`1`.as('one'))
      .where('other.environment_id', '=', device.environment_id).where('other.credential_id', '=', c.credentialId).where('other.id', '!=', device.id))))
    .returningAll().executeTakeFirst();
  if (row) return row;
  const held = await db.selectFrom('devices').select('id').where('environment_id', '=', device.environment_id).where('credential_id', '=', c.credentialId).where('id', '!=', device.id).executeTakeFirst();
  return held ? 'duplicate' : undefined;
}

/**
 * An assertion's signature counter (W3C WebAuthn Level 2 §6.1.1), written before the flow it
 * answers completes, in one conditional UPDATE: above the stored value — or equal to it when
 * this flow stored it (copies of one assertion racing on one flow; one of them completes it) —
 * or 0 again for an authenticator that keeps no counter. False: a regression, the counter of
 * another flow was as high or higher (migration 009).
 */
export async function advanceSignCount(db: Db, deviceId: string, counter: number, flowId: string): Promise<boolean> {
  const row = await db.updateTable('devices').set({ sign_count: counter, sign_count_flow_id: flowId })
    .where('id', '=', deviceId)
    .where((eb) => eb.or(counter === 0
      ? [eb('sign_count', 'is', null), eb('sign_count', '=', 0)]
      : [eb('sign_count', 'is', null), eb('sign_count', '<', counter), eb.and([eb('sign_count', '=', counter), eb('sign_count_flow_id', '=', flowId)])]))
    .returning('id').executeTakeFirst();
  return row !== undefined;
}

/**
 * A signature counter that went back is kept on the device row (`extra.signCounterRegression`:
 * when, the counters, how many so far) — not in its PingOne body, which has no member for it,
 * and without moving `updatedAt`. One compare-and-set on `extra`: of two at once, one is kept.
 */
export async function recordSignCountRegression(db: Db, device: DevicesTable, regression: { stored: number; received: number }, now: number): Promise<void> {
  const extra = extraOf(device);
  const next: DeviceExtra = { ...extra, signCounterRegression: { detectedAt: now, storedCounter: regression.stored, receivedCounter: regression.received, count: (extra.signCounterRegression?.count ?? 0) + 1 } };
  await db.updateTable('devices').set({ extra: JSON.stringify(next) }).where('id', '=', device.id).where('extra', '=', device.extra).execute();
}
