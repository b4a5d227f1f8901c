import type { Kysely } from 'kysely';

/** Device authentication flows (reference §3.5, §4.5; protocol §2). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('device_authentications')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('selected_device_id', 'text')
    /** Keyed hash of the outstanding OTP, or SHA-256 of the assertion challenge; never serialized. */
    .addColumn('challenge_hash', 'text')
    .addColumn('challenge_expires_at', 'bigint')
    /** JSON {code, message} when FAILED. */
    .addColumn('error', 'text')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('device_authentications_user').on('device_authentications').columns(['user_id', 'created_at']).execute();
}
