import type { Kysely } from 'kysely';

/**
 * The flow whose assertion last moved a FIDO2 credential's signature counter
 * (`devices.sign_count_flow_id`). The counter is advanced by one conditional UPDATE before the
 * flow completes — above the stored value, or equal to it for the same flow — so copies of one
 * assertion racing on one flow all pass it (and one completes the flow), while an assertion of
 * another flow with a counter not above the stored one is a regression: no transaction over
 * two tables, and SQLite's group commit keeps batching these writes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('devices').addColumn('sign_count_flow_id', 'text').execute();
}
