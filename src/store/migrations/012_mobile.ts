import type { Kysely } from 'kysely';

/**
 * MOBILE devices (wave-2 reference §3, docs/mobile-protocol.md):
 *
 *   applications.bundle_id / package_name   a NATIVE_APP's iOS bundle and Android package
 *   pairing_keys      the codes a phone pairs with: stored as a locator (the code's first four
 *                     characters, the bucket a guess is counted against) and the SHA-256 of the
 *                     whole code; failed_attempts spend a key at 5
 *   mobile_pushes     one push per flow and device: the challenge hashed (compared) and sealed
 *                     (offered on the device's channel), the number shown, the outcome
 *   mobile_jtis       the jti of every device-signed JWT until it expires (replay refusal)
 *   device_logs       a log request (PENDING) and the logs uploaded for it (sealed), per device
 *   push_credentials  an application's APNS / FCM / HMS credentials, sealed
 *   devices.push_fails  JSON array of the epoch-ms times of the consecutive unanswered or
 *                     rejected pushes inside the policy's pushLimit period
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').addColumn('bundle_id', 'text').execute();
  await db.schema.alterTable('applications').addColumn('package_name', 'text').execute();
  await db.schema.alterTable('devices').addColumn('push_fails', 'text').execute();

  await db.schema.createTable('pairing_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('policy_id', 'text')
    /** JSON array of application IDs (empty: every eligible native application). */
    .addColumn('applications', 'text', (c) => c.notNull())
    .addColumn('locator', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('failed_attempts', 'integer', (c) => c.notNull())
    .addColumn('device_id', 'text')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pairing_keys_locator').on('pairing_keys').columns(['environment_id', 'locator']).execute();
  await db.schema.createIndex('pairing_keys_user').on('pairing_keys').columns(['user_id', 'expires_at']).execute();

  await db.schema.createTable('mobile_pushes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id').onDelete('cascade'))
    .addColumn('flow_id', 'text', (c) => c.notNull())
    .addColumn('challenge_hash', 'text', (c) => c.notNull())
    .addColumn('challenge_sealed', 'text', (c) => c.notNull())
    .addColumn('number', 'text')
    .addColumn('number_choices', 'text')
    .addColumn('application_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('answered_at', 'bigint')
    .execute();
  await db.schema.createIndex('mobile_pushes_device').on('mobile_pushes').columns(['device_id', 'status', 'expires_at']).execute();
  await db.schema.createIndex('mobile_pushes_flow').on('mobile_pushes').columns(['flow_id']).execute();

  await db.schema.createTable('mobile_jtis')
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('jti', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mobile_jtis_pk', ['environment_id', 'jti'])
    .execute();

  await db.schema.createTable('device_logs')
    .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id').onDelete('cascade'))
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('content_sealed', 'text')
    .addColumn('size', 'integer')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('push_credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('application_id', 'text', (c) => c.notNull().references('applications.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    /** JSON of the members shown (HMS clientId), in clear. */
    .addColumn('shown', 'text', (c) => c.notNull())
    /** JSON of the write-only members, sealed under the master key. */
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('push_credentials_app').on('push_credentials').columns(['application_id', 'created_at']).execute();
}
