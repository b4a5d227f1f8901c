/** PUT …/fido2Policies/{id} (wave-2 reference §2.1): a full replacement; 404 before any rule of the body. */
import type { Context } from '../../context.js';
import { presentFido2Policy, requireFido2Policy, type Fido2PolicyInput } from './model.js';
import type { OnFido2Policy } from './operation.js';
import { writeFido2Policy } from './write.js';

export async function replaceFido2Policy(ctx: Context, { environment, policyId, now, body }: OnFido2Policy & { body: Fido2PolicyInput }) {
  await requireFido2Policy(ctx.store.db, environment.id, policyId);
  return presentFido2Policy(ctx, await writeFido2Policy(ctx, environment.id, body, now, policyId));
}
