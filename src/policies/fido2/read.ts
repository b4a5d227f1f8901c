/** GET …/fido2Policies/{id} (wave-2 reference §2.1). */
import type { Context } from '../../context.js';
import { presentFido2Policy, requireFido2Policy } from './model.js';
import type { OnFido2Policy } from './operation.js';

export async function readFido2Policy(ctx: Context, { environment, policyId }: OnFido2Policy) {
  return presentFido2Policy(ctx, await requireFido2Policy(ctx.store.db, environment.id, policyId));
}
