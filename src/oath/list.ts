/**
 * GET …/oathTokens (wave-2 reference §4.2): paged like every collection (reference §7.2), in
 * import order, with the documented filter `serialNumber eq "…"` (and `type`).
 */
import type { Context } from '../context.js';
import { compileFilter, parseFilter, type ColumnMap } from '../http/filter.js';
import { collectionPage } from '../http/paging.js';
import type { PageRequest } from '../store/cursor.js';
import type { OathTokensTable } from '../store/schema.js';
import { presentToken } from './model.js';
import type { OathInput } from './operation.js';

export const MAX_TOKEN_PAGE = 1000;
const FILTER_COLUMNS: ColumnMap = { serialNumber: { column: 'serial_number' }, type: { column: 'type' } };

export async function listTokens(ctx: Context, { environment, page, filter, selfUrl }: OathInput & { page: PageRequest; filter?: string | undefined; selfUrl: string }) {
  let rows = ctx.store.db.selectFrom('oath_tokens').where('environment_id', '=', environment.id);
  if (filter !== undefined) rows = rows.where(compileFilter<any, any>(parseFilter(filter, Object.keys(FILTER_COLUMNS)), FILTER_COLUMNS));
  return collectionPage(rows, page, selfUrl, 'oathTokens', (r: OathTokensTable) => presentToken(ctx, r));
}
