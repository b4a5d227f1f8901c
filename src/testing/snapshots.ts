/**
 * Snapshots of a store the testing library owns: every row of every table, held in the test's
 * process, and put back in one transaction. Foreign keys are checked at COMMIT (SQLite's
 * defer_foreign_keys) or not fired while the rows go back (PostgreSQL's replica role, for the
 * transaction only), since the rows return in no particular order.
 */
import { sql } from 'kysely';
import type { Store } from '../store/db.js';

type Rows = Array<Record<string, unknown>>;
export type Snapshot = ReadonlyMap<string, Rows>;

/** Kysely's own bookkeeping is not state: migrations stay as they are. */
const isState = (table: string): boolean => !table.startsWith('kysely_');

/** The store's tables: on PostgreSQL those of its own schema (`?schema=`), not the database's. */
async function tables(store: Store): Promise<string[]> {
  const schema = store.dialect === 'postgres'
    ? (await sql<{ s: string }>`select current_schema() as s`.execute(store.db)).rows[0]!.s
    : undefined;
  return (await store.db.introspection.getTables())
    .filter((t) => schema === undefined || t.schema === schema)
    .map((t) => t.name).filter(isState).sort();
}

export async function takeSnapshot(store: Store): Promise<Snapshot> {
  const names = await tables(store);
  return store.transaction(async (trx) => {
    const out = new Map<string, Rows>();
    for (const name of names) out.set(name, await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(trx).then((r) => r.rows));
    return out;
  });
}

/** Rows inserted per statement: under SQLite's 32,766 bound parameters for wide tables. */
const BATCH = 200;

export async function restoreSnapshot(store: Store, snapshot: Snapshot): Promise<void> {
  const names = await tables(store);
  await store.transaction(async (trx) => {
    if (store.dialect === 'postgres') await sql`set local session_replication_role = replica`.execute(trx);
    else await sql`pragma defer_foreign_keys = on`.execute(trx);
    for (const name of names) await sql`delete from ${sql.table(name)}`.execute(trx);
    for (const name of names) {
      const rows = snapshot.get(name) ?? [];
      for (let i = 0; i < rows.length; i += BATCH) {
        const batch = rows.slice(i, i + BATCH);
        const columns = Object.keys(batch[0]!);
        await sql`insert into ${sql.table(name)} (${sql.join(columns.map((c) => sql.id(c)))}) values ${sql.join(batch.map((row) => sql`(${sql.join(columns.map((c) => row[c]))})`))}`.execute(trx);
      }
    }
  });
}
