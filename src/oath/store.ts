/**
 * The OATH token repository: every read and write of `oath_tokens` and `oath_jobs`. Lookups are
 * scoped to the environment. The writes that take a code are conditional — on the token not
 * having moved past the position (so a position is taken once, whatever the concurrency) and,
 * for a paired token, on its device still taking the attempt that was reserved for the code
 * (devices/attempts.ts; devices/store.ts `stillUsable`).
 */
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { SecretBox } from '../crypto/secretbox.js';
import { notFound } from '../http/errors.js';
import type { Db } from '../store/db.js';
import { newId } from '../crypto/random.js';
import type { Database, OathJobsTable, OathTokensTable } from '../store/schema.js';
import type { JobBody } from './model.js';
import { RESYNC_PENDING_MS, serverStep, type TokenState } from './codes.js';

const context = (tokenId: string) => `oath_secret:${tokenId}`;
export const sealOathSecret = (box: SecretBox, tokenId: string, hex: string): string => box.seal(hex.toLowerCase(), context(tokenId));
export const openToken = (box: SecretBox, row: OathTokensTable): TokenState =>
  ({ row, key: Buffer.from(box.open(row.secret_sealed, context(row.id)), 'hex') });

export async function findToken(db: Db, environmentId: string, tokenId: string): Promise<OathTokensTable | undefined> {
  if (tokenId.length > 64) return undefined;
  return db.selectFrom('oath_tokens').selectAll().where('environment_id', '=', environmentId).where('id', '=', tokenId).executeTakeFirst();
}

export async function requireToken(db: Db, environmentId: string, tokenId: string): Promise<OathTokensTable> {
  const row = await findToken(db, environmentId, tokenId);
  if (!row) throw notFound();
  return row;
}

export async function tokenBySerial(db: Db, environmentId: string, serialNumber: string): Promise<OathTokensTable | undefined> {
  return db.selectFrom('oath_tokens').selectAll().where('environment_id', '=', environmentId).where('serial_number', '=', serialNumber).executeTakeFirst();
}

export async function tokenOfDevice(db: Db, deviceId: string): Promise<OathTokensTable | undefined> {
  return db.selectFrom('oath_tokens').selectAll().where('device_id', '=', deviceId).executeTakeFirst();
}

/** Pairs an unpaired token with a device (in the device's insert transaction); false when another device took it first. */
export async function pairToken(db: Db, tokenId: string, deviceId: string, userId: string, now: number): Promise<boolean> {
  const res = await db.updateTable('oath_tokens').set({ device_id: deviceId, device_user_id: userId, resync_at: null, resync_expires_at: null, updated_at: now })
    .where('id', '=', tokenId).where('device_id', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

type Condition = (eb: ExpressionBuilder<Database, 'oath_tokens'>) => Expression<SqlBool>;

/**
 * Takes position `at` (the code just checked): an HOTP counter moves to `at + 1`, only
 * forward; a TOTP token records the step and its drift. Any half-done resync ends. `also` adds
 * the device's condition. False when the position was taken meanwhile (or the device changed).
 */
export async function takePosition(db: Db, row: OathTokensTable, at: number, now: number, also?: Condition): Promise<boolean> {
  let q = db.updateTable('oath_tokens').where('id', '=', row.id);
  if (row.type === 'HOTP') {
    q = q.set({ counter: at + 1, resync_at: null, resync_expires_at: null, updated_at: now }).where('counter', '<=', at);
  } else {
    q = q.set({ last_step: at, drift: at - serverStep(row, now), resync_at: null, resync_expires_at: null, updated_at: now })
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', at)]));
  }
  if (also) q = q.where(also);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Keeps the first code of a resync sent in two calls: the second must name the position after it. */
export async function holdResync(db: Db, tokenId: string, at: number, now: number): Promise<void> {
  await db.updateTable('oath_tokens').set({ resync_at: at, resync_expires_at: now + RESYNC_PENDING_MS }).where('id', '=', tokenId).execute();
}

/** Stores a job done in the caller's transaction (OpenMFA finishes a job before answering). */
export async function recordJob(db: Db, environmentId: string, type: string, body: JobBody, now: number): Promise<OathJobsTable> {
  return db.insertInto('oath_jobs').values({ id: newId(), environment_id: environmentId, type, body: JSON.stringify(body), created_at: now, updated_at: now })
    .returningAll().executeTakeFirstOrThrow();
}

export async function requireJob(db: Db, environmentId: string, jobId: string): Promise<OathJobsTable> {
  const row = jobId.length > 64 ? undefined : await db.selectFrom('oath_jobs').selectAll().where('environment_id', '=', environmentId).where('id', '=', jobId).executeTakeFirst();
  if (!row) throw notFound();
  return row;
}
