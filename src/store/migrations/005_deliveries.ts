import type { Kysely } from 'kysely';

/**
 * The delivery queue (quality bar R7, src/notify/queue.ts): one row per message still to be
 * handed to SMTP or the webhook, written in the same transaction as the device or flow change
 * that made the code, and deleted once the message is delivered or given up. The message (its
 * text carries the code) is sealed under the master key. A worker claims due rows with a lease
 * (lease_owner, lease_until) by a conditional UPDATE, so each attempt is made by one process.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('deliveries')
    /** The `messages` row's ID: one delivery per message. */
    .addColumn('id', 'text', (c) => c.primaryKey().references('messages.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    /** smtp or webhook (the outbox needs no delivery: its row is the message). */
    .addColumn('sender', 'text', (c) => c.notNull())
    /** The OutgoingMessage as JSON, sealed with the master key (context `delivery:<id>`). */
    .addColumn('message_sealed', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    /** Why the last attempt failed (a status or a network reason; never the text). */
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('deliveries_due').on('deliveries').columns(['next_attempt_at', 'id']).execute();
}
