import type { Kysely } from 'kysely';
import { defaultOathTokenSection } from '../../protocol/oath.js';

/**
 * OATH hardware tokens (wave-2 reference §4): the inventory an `oathJobs` import fills, the
 * jobs themselves, and each token's moving state — the HOTP counter, the TOTP drift and last
 * accepted step, a resync half-done. A token is paired with at most one device; deleting the
 * device (or its user) leaves the token in the inventory, unpaired. Policies stored before this
 * migration get the default `oathToken` section.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('oath_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('serial_number', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    /** The seed, sealed under the master key and bound to the token's id (never serialized). */
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('otp_length', 'integer', (c) => c.notNull())
    .addColumn('hash_algorithm', 'text', (c) => c.notNull())
    /** HOTP: the next counter value the token may show (every value below it is used up). */
    .addColumn('counter', 'bigint')
    .addColumn('time_step', 'integer')
    /** TOTP: token-vs-server offset in steps (positive = token ahead), and the last step accepted. */
    .addColumn('drift', 'integer')
    .addColumn('last_step', 'bigint')
    /** A resync half-done: the counter or step of its first code, until when the second may follow. */
    .addColumn('resync_at', 'bigint')
    .addColumn('resync_expires_at', 'bigint')
    .addColumn('row_number', 'integer')
    .addColumn('device_id', 'text', (c) => c.references('devices.id').onDelete('set null'))
    /** The paired device's user, for the token's `devices[]`; meaningful only while device_id is set. */
    .addColumn('device_user_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('oath_tokens_serial').unique().on('oath_tokens').columns(['environment_id', 'serial_number']).execute();
  await db.schema.createIndex('oath_tokens_env').on('oath_tokens').columns(['environment_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('oath_tokens_device').unique().on('oath_tokens').column('device_id').execute();

  await db.schema.createTable('oath_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('type', 'text', (c) => c.notNull())
    /** JSON: `async`, `status` and `result` as the job answers them (no secret: duplicates are masked). */
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  const section = JSON.stringify(defaultOathTokenSection());
  const policies = await db.selectFrom('device_authentication_policies').select(['id', 'body']).execute();
  for (const p of policies as Array<{ id: string; body: string }>) {
    const body = JSON.parse(p.body) as Record<string, unknown>;
    if (body.oathToken !== undefined) continue;
    await db.updateTable('device_authentication_policies').set({ body: JSON.stringify({ ...body, oathToken: JSON.parse(section) }) }).where('id', '=', p.id).execute();
  }
}
