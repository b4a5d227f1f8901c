/**
 * The one write of a FIDO2 policy (create and replace): the rules the schema cannot say
 * (model.ts), then, in one transaction, the single default (../default-flag.ts).
 */
import type { Context } from '../../context.js';
import { notFound } from '../../http/errors.js';
import { takeDefault } from '../default-flag.js';
import { newId } from '../../crypto/random.js';
import type { Fido2PoliciesTable } from '../../store/schema.js';
import { checkFido2Policy, findFido2Policy, type Fido2PolicyInput } from './model.js';

export async function writeFido2Policy(ctx: Context, environmentId: string, input: Fido2PolicyInput, now: number, id?: string): Promise<Fido2PoliciesTable> {
  const body = checkFido2Policy(input);
  return ctx.store.transaction(async (trx) => {
    const existing = id !== undefined ? await findFido2Policy(trx, environmentId, id) : undefined;
    if (id !== undefined && !existing) throw notFound();
    const isDefault = await takeDefault(trx, 'fido2_policies', environmentId, existing, input.default, now, 'FIDO2 policy');
    const fields = { name: input.name, is_default: isDefault ? 1 : 0, body: JSON.stringify(body), updated_at: now };
    if (existing) return trx.updateTable('fido2_policies').set(fields).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
    return trx.insertInto('fido2_policies').values({ id: newId(), environment_id: environmentId, created_at: now, ...fields }).returningAll().executeTakeFirstOrThrow();
  });
}
