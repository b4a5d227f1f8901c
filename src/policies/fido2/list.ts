/**
 * GET …/fido2Policies (wave-2 reference §2.1): paged like every collection (reference §7.2),
 * in creation order, the default among them.
 */
import type { Context } from '../../context.js';
import { collectionPage } from '../../http/paging.js';
import type { PageRequest } from '../../store/cursor.js';
import type { Fido2PoliciesTable } from '../../store/schema.js';
import { presentFido2Policy } from './model.js';
import type { Fido2PolicyInputs } from './operation.js';

/** Largest page, and the default one. */
export const MAX_FIDO2_POLICY_PAGE = 50;

export async function listFido2Policies(ctx: Context, { environment, page, selfUrl }: Fido2PolicyInputs & { page: PageRequest; selfUrl: string }) {
  const rows = ctx.store.db.selectFrom('fido2_policies').where('environment_id', '=', environment.id);
  return collectionPage(rows, page, selfUrl, 'fido2Policies', (r: Fido2PoliciesTable) => presentFido2Policy(ctx, r));
}
