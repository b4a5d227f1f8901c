/**
 * Snapshots of the whole state, kept in the store (table `snapshots`), so a snapshot taken
 * through one process can be restored through another on the same PostgreSQL.
 *
 *   take     — every row of every state table, read in one transaction (REPEATABLE READ on
 *              PostgreSQL, so the tables agree with each other), written as one JSON document.
 *              Sealed values (signing keys, client secrets, TOTP seeds, queued messages) stay
 *              sealed: a snapshot holds nothing the tables did not.
 *   restore  — one transaction: every state table emptied (on PostgreSQL under an EXCLUSIVE
 *              lock, which holds off every other writer until the commit) and refilled, one INSERT … SELECT
 *              from the JSON per table; the generation is bumped (state.ts), and this process's
 *              caches are dropped after the commit — other processes drop theirs when they see
 *              the new generation.
 *
 * Not part of a snapshot: the clock (time only moves forward, admin/clock.ts), `meta` (the
 * organization, the master-key check, the bootstrap marker), the snapshots themselves, and
 * what lives only in memory — the rate limiter's per-second counters, which count requests,
 * not state (a restore is not a way round a limit).
 *
 * Tokens issued before a restore stay valid until they expire when their signing key and
 * application are in the restored state, and are refused (401) otherwise. The bootstrap
 * administrator's key and application are in every snapshot, so its token survives every
 * reset and restore.
 */
import { sql } from 'kysely';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import type { Db } from '../store/db.js';
import { forgetCaches } from './state.js';

/** The tables a snapshot holds, each after the tables it references (restore inserts in this order). */
export const STATE_TABLES = [
  'environments', 'signing_keys', 'applications', 'populations', 'users', 'fido2_policies', 'device_authentication_policies',
  'mfa_settings', 'devices', 'oath_tokens', 'oath_jobs', 'messages', 'device_authentications', 'idempotency_keys', 'deliveries',
  'push_credentials', 'pairing_keys', 'mobile_pushes', 'mobile_jtis', 'device_logs',
] as const;
export type StateTable = (typeof STATE_TABLES)[number];

type Row = Record<string, unknown>;
export type SnapshotBody = Partial<Record<StateTable, Row[]>>;

/** The two snapshots reset returns to (API snapshots have UUIDs, so these cannot be named there). */
export const INITIAL = 'initial';
export const BOOTSTRAP = 'bootstrap';

async function capture(ctx: Context, trx: Db): Promise<SnapshotBody> {
  if (ctx.store.dialect === 'postgres') await sql`set transaction isolation level repeatable read`.execute(trx);
  const body: SnapshotBody = {};
  for (const table of STATE_TABLES) {
    body[table] = (await sql<Row>`select * from ${sql.table(table)}`.execute(trx)).rows;
  }
  return body;
}

async function write(trx: Db, id: string, body: SnapshotBody, now: number): Promise<void> {
  await trx.deleteFrom('snapshots').where('id', '=', id).execute();
  await trx.insertInto('snapshots').values({ id, body: JSON.stringify(body), created_at: now }).execute();
}

/** Takes a snapshot of the whole state under `id` (a new UUID unless given; an existing one is replaced). */
export async function takeSnapshot(ctx: Context, id: string = newId()): Promise<{ id: string; createdAt: number }> {
  const now = ctx.clock.now();
  await ctx.store.transaction(async (trx) => write(trx, id, await capture(ctx, trx), now));
  return { id, createdAt: now };
}

/**
 * The bootstrap environment alone, as reset `{"empty": true}` leaves it: the environment, its
 * signing key, the administrator application, its default population, FIDO2 policy and device
 * authentication policy and its MFA settings — no users, devices, flows, messages or other environments.
 */
function bootstrapOnly(body: SnapshotBody): SnapshotBody {
  const admin = (body.applications ?? []).find((a) => a.manages_all === 1);
  const env = admin?.environment_id;
  const mine = (r: Row) => r.environment_id === env;
  return {
    environments: (body.environments ?? []).filter((r) => r.id === env),
    signing_keys: (body.signing_keys ?? []).filter(mine),
    applications: (body.applications ?? []).filter((r) => mine(r) && r.manages_all === 1),
    populations: (body.populations ?? []).filter((r) => mine(r) && r.is_default === 1),
    fido2_policies: (body.fido2_policies ?? []).filter((r) => mine(r) && r.is_default === 1),
    device_authentication_policies: (body.device_authentication_policies ?? []).filter((r) => mine(r) && r.is_default === 1),
    mfa_settings: (body.mfa_settings ?? []).filter(mine),
  };
}

/**
 * What reset returns to: called at the end of start-up, after bootstrap (and after a seed
 * file is applied, with `replace` so the seed is what reset restores). A store that has its
 * initial snapshot keeps it otherwise, so restarting a server does not make its leftovers
 * the new starting point. The bootstrap snapshot is taken once, the first time.
 */
export async function takeInitialSnapshot(ctx: Context, options: { replace?: boolean } = {}): Promise<void> {
  const now = ctx.clock.now();
  const have = (db: Db) => db.selectFrom('snapshots').select('id').where('id', 'in', [INITIAL, BOOTSTRAP]).execute().then((rows) => new Set(rows.map((r) => r.id)));
  // A restart of a store that has both reads nothing more: the capture is of every table.
  if (!options.replace && (await have(ctx.store.db)).size === 2) return;
  await ctx.store.transaction(async (trx) => {
    const body = await capture(ctx, trx);
    const present = await have(trx);
    if (options.replace || !present.has(INITIAL)) await write(trx, INITIAL, body, now);
    if (!present.has(BOOTSTRAP)) await write(trx, BOOTSTRAP, bootstrapOnly(body), now);
  });
}

/** Inserts a table's rows from their JSON in one statement. */
async function refill(ctx: Context, trx: Db, table: StateTable, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const json = JSON.stringify(rows);
  if (ctx.store.dialect === 'postgres') {
    await sql`insert into ${sql.table(table)} select * from json_populate_recordset(null::${sql.table(table)}, ${json}::json)`.execute(trx);
    return;
  }
  const columns = Object.keys(rows[0]!);
  const values = sql.join(columns.map((c) => sql`json_extract(value, ${`$."${c}"`})`));
  await sql`insert into ${sql.table(table)} (${sql.join(columns.map((c) => sql.id(c)))}) select ${values} from json_each(${json})`.execute(trx);
}

/** Restores snapshot `id` in one transaction; false (nothing changed) when there is none. */
export async function restoreSnapshot(ctx: Context, id: string): Promise<boolean> {
  const restored = await ctx.store.transaction(async (trx) => {
    const row = await trx.selectFrom('snapshots').select('body').where('id', '=', id).executeTakeFirst();
    if (!row) return false;
    const body = JSON.parse(row.body) as SnapshotBody;
    const reversed = [...STATE_TABLES].reverse();
    // PostgreSQL: every other writer waits for the commit (readers go on seeing the state
    // before). DELETE rather than TRUNCATE: TRUNCATE makes new files for every table and
    // index, ten times slower at a test fixture's size.
    if (ctx.store.dialect === 'postgres') await sql`lock table ${sql.join(STATE_TABLES.map((t) => sql.table(t)))} in exclusive mode`.execute(trx);
    for (const table of reversed) await sql`delete from ${sql.table(table)}`.execute(trx);
    for (const table of STATE_TABLES) {
      // A delivery claimed when the snapshot was taken is due again: its lease's holder is gone.
      const rows = table === 'deliveries' ? (body[table] ?? []).map((r) => ({ ...r, lease_owner: null, lease_until: null })) : body[table] ?? [];
      await refill(ctx, trx, table, rows);
    }
    await trx.updateTable('admin_state').set((eb) => ({ generation: eb('generation', '+', 1) })).where('id', '=', 1).execute();
    return true;
  });
  if (restored) forgetCaches(ctx);
  return restored;
}

/** Deletes an API snapshot; false when there is none. */
export async function deleteSnapshot(ctx: Context, id: string): Promise<boolean> {
  const result = await ctx.store.db.deleteFrom('snapshots').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
