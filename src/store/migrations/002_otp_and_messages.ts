import type { Kysely } from 'kysely';

/**
 * Messages (every OTP sent, through any sender, for the daily limits; the outbox keeps the
 * text too) and the last TOTP time step a device accepted (a code is never accepted twice).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('messages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('device_id', 'text')
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    /** Only the outbox sender keeps the text (it is how developers read their codes). */
    .addColumn('body', 'text')
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('messages_env_created').on('messages').columns(['environment_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('messages_user_channel').on('messages').columns(['user_id', 'channel', 'created_at']).execute();

  await db.schema.alterTable('devices').addColumn('last_otp_step', 'bigint').execute();
}
