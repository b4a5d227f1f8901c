/**
 * The one rule of an environment's default policy, for device authentication policies and FIDO2
 * policies alike: exactly one default per environment. A policy made the default takes the flag
 * from the old one (in the caller's transaction); the default cannot give it up except by
 * another policy taking it.
 */
import { invalidValue } from '../http/errors.js';
import type { Db } from '../store/db.js';

type PolicyTable = 'device_authentication_policies' | 'fido2_policies';

/** Whether the policy being written is the default; clears the old default when it becomes one. */
export async function takeDefault(
  trx: Db, table: PolicyTable, environmentId: string, existing: { is_default: number } | undefined, wanted: boolean | undefined, now: number, what: string,
): Promise<boolean> {
  if (existing?.is_default === 1 && wanted === false) {
    throw invalidValue('default', `An environment always has a default ${what}; make another policy the default instead`, 'CONSTRAINT_VIOLATION');
  }
  if (wanted === true) {
    await trx.updateTable(table).set({ is_default: 0, updated_at: now })
      .where('environment_id', '=', environmentId).where('is_default', '=', 1).execute();
  }
  return wanted === true || existing?.is_default === 1;
}
