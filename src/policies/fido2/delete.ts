/**
 * DELETE …/fido2Policies/{id} (wave-2 reference §2.1; what PingOne does with the default or a
 * policy in use is a gap). The default is never deleted (an environment always has one); a
 * policy a device authentication policy names (`fido2.fido2PolicyId`) is not deleted while it
 * is named, so no policy points at nothing. Both are 400 REQUEST_FAILED CONSTRAINT_VIOLATION.
 */
import type { Context } from '../../context.js';
import { requestFailed } from '../../http/errors.js';
import { requireFido2Policy } from './model.js';
import type { OnFido2Policy } from './operation.js';

export async function deleteFido2Policy(ctx: Context, { environment, policyId }: OnFido2Policy): Promise<void> {
  await ctx.store.transaction(async (trx) => {
    const row = await requireFido2Policy(trx, environment.id, policyId);
    if (row.is_default === 1) throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'default', message: 'The default FIDO2 policy cannot be deleted' });
    // Policy IDs are UUIDs made here, so the JSON text names one exactly as written.
    const user = await trx.selectFrom('device_authentication_policies').select(['id'])
      .where('environment_id', '=', environment.id).where('body', 'like', `%"fido2PolicyId":"${row.id}"%`).executeTakeFirst();
    if (user) {
      throw requestFailed({ code: 'CONSTRAINT_VIOLATION', target: 'id', message: `The FIDO2 policy is used by device authentication policy ${user.id}; point that policy elsewhere first` });
    }
    await trx.deleteFrom('fido2_policies').where('id', '=', row.id).execute();
  });
}
