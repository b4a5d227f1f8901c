/**
 * The one write of a FIDO2 policy (create and replace): the rules the schema cannot say
 * (model.ts), then, in one transaction, the single default — a policy made the default takes
 * the flag from the old one; the default cannot give it up except to another policy.
 */
import type { Context } from '../../context.js';
import { invalidValue, notFound } from '../../http/errors.js';
import { newId } from '../../crypto/random.js';
import type { Fido2PoliciesTable } from '../../store/schema.js';
import { checkFido2Policy, findFido2Policy, type Fido2PolicyInput } from './model.js';

export async function writeFido2Policy(ctx: Context, environmentId: string, input: Fido2PolicyInput, now: number, id?: string): Promise<Fido2PoliciesTable> {
  const body = checkFido2Policy(input);
  return ctx.store.transaction(async (trx) => {
    const existing = id !== undefined ? await findFido2Policy(trx, environmentId, id) : undefined;
    if (id !== undefined && !existing) throw notFound();
    if (existing?.is_default === 1 && input.default === false) {
      throw invalidValue('default', 'An environment always has a default FIDO2 policy; make another policy the default instead', 'CONSTRAINT_VIOLATION');
    }
    const isDefault = input.default === true || existing?.is_default === 1;
    if (input.default === true) {
      await trx.updateTable('fido2_policies').set({ is_default: 0, updated_at: now })
        .where('environment_id', '=', environmentId).where('is_default', '=', 1).execute();
    }
    const fields = { name: input.name, is_default: isDefault ? 1 : 0, body: JSON.stringify(body), updated_at: now };
    if (existing) return trx.updateTable('fido2_policies').set(fields).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
    return trx.insertInto('fido2_policies').values({ id: newId(), environment_id: environmentId, created_at: now, ...fields }).returningAll().executeTakeFirstOrThrow();
  });
}
