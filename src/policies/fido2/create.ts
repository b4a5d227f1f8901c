/** POST …/fido2Policies (wave-2 reference §2.1): 201 with the policy. */
import type { Context } from '../../context.js';
import { presentFido2Policy, type Fido2PolicyInput } from './model.js';
import type { Fido2PolicyInputs } from './operation.js';
import { writeFido2Policy } from './write.js';

export async function createFido2Policy(ctx: Context, { environment, now, body }: Fido2PolicyInputs & { body: Fido2PolicyInput }) {
  return presentFido2Policy(ctx, await writeFido2Policy(ctx, environment.id, body, now));
}
