import type { Kysely } from 'kysely';

/**
 * The outbox as tests read it (src/notify/outbox.ts): each message says which flow it belongs
 * to and why it was sent, and its text and code are kept sealed under the master key rather
 * than in clear text (the code is a secret until it is used).
 *
 *   flow_id         the device authentication that sent it (NULL for an activation code)
 *   purpose         ACTIVATION or AUTHENTICATION
 *   content_sealed  {"body","otp"} as JSON, sealed (context `message:<id>`); only outbox
 *                   messages have it, and clearing the outbox sets it back to NULL
 *
 * The clear-text `body` column goes. A migration has no master key to seal the texts already
 * there with, so messages written before it stay (they count toward the daily limits) without
 * their text: they leave the outbox, as after a DELETE. Their codes expire within minutes anyway.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('flow_id', 'text').execute();
  await db.schema.alterTable('messages').addColumn('purpose', 'text').execute();
  await db.schema.alterTable('messages').addColumn('content_sealed', 'text').execute();
  await db.schema.alterTable('messages').dropColumn('body').execute();
  // The outbox filters on the environment's messages by device and by user, newest first.
  await db.schema.createIndex('messages_env_device').on('messages').columns(['environment_id', 'device_id', 'created_at']).execute();
}
