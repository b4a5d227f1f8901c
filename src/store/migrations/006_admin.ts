import { sql, type Kysely } from 'kysely';

/**
 * OpenMFA's own administration (src/admin/): snapshots of the whole state, and one row of
 * shared state that every process on one database reads — the manual clock's time and the
 * state's generation, bumped by every restore so that other processes drop their caches.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('snapshots')
    /** A UUID for snapshots taken through the API; `initial` and `bootstrap` for reset's two. */
    .addColumn('id', 'text', (c) => c.primaryKey())
    /** JSON: every state table's rows, `{table: [row, …]}` (sealed values stay sealed). */
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createTable('admin_state')
    /** Always 1: one row. */
    .addColumn('id', 'integer', (c) => c.primaryKey())
    /** The manual clock's time (ms since the epoch); null until a server starts with --clock manual. */
    .addColumn('clock_ms', 'bigint')
    /** Bumped by every restore and reset. */
    .addColumn('generation', 'integer', (c) => c.notNull())
    .execute();
  await sql`insert into admin_state (id, clock_ms, generation) values (1, null, 0)`.execute(db);
}
