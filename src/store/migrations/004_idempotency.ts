import type { Kysely } from 'kysely';

/**
 * Idempotency-Key records (quality bar R3): one row per (environment, caller, method, path,
 * key), claimed by inserting it IN_FLIGHT; the unique scope makes the claim atomic across
 * processes. The response body is sealed (it may carry secrets). Rows live 24 hours.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('idempotency_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    /** SHA-256 of [environment, clientId, method, path, key]. */
    .addColumn('scope', 'text', (c) => c.notNull().unique())
    .addColumn('environment_id', 'text', (c) => c.notNull())
    /** SHA-256 of method, URL, Content-Type and the raw body. */
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('status', 'integer')
    /** JSON of the response headers replayed (content-type, cache-control). */
    .addColumn('headers', 'text')
    .addColumn('body_sealed', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('idempotency_keys_expires').on('idempotency_keys').column('expires_at').execute();
}
