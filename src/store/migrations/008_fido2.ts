import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { defaultFido2PolicyBody } from '../../protocol/fido2.js';

/**
 * FIDO2 (wave-2 reference §1, §2): FIDO2 policies, one default per environment, and what a
 * FIDO2 device keeps beside the common device columns — the credential's COSE public key
 * (never serialized) and its signature counter. Environments made before this migration get
 * their default FIDO2 policy here (relying party `localhost`: a migration knows no server
 * configuration; the README records it).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('fido2_policies')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment_id', 'text', (c) => c.notNull().references('environments.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('is_default', 'integer', (c) => c.notNull())
    /** JSON: the policy body as PingOne shapes it, without id, environment, default and times. */
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('fido2_policies_env').on('fido2_policies').columns(['environment_id', 'created_at', 'id']).execute();
  await db.schema.alterTable('devices').addColumn('public_key_cose', 'text').execute();
  await db.schema.alterTable('devices').addColumn('sign_count', 'bigint').execute();

  const body = defaultFido2PolicyBody('localhost');
  const envs = await db.selectFrom('environments').select(['id', 'created_at']).execute();
  for (const env of envs as Array<{ id: string; created_at: number | string }>) {
    const at = Number(env.created_at);
    await db.insertInto('fido2_policies').values({
      id: randomUUID(), environment_id: env.id, name: body.name, is_default: 1, body: JSON.stringify(body), created_at: at, updated_at: at,
    }).execute();
  }
}
