/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The one cursor every paged list uses (PingOne reference §7.2: an opaque URL-safe `cursor`
 * in `_links.next`/`prev`). A cursor is a keyset position (createdAt, id) and a direction, so
 * pages stay stable while rows are added; it is fetched one row past the page so the caller
 * knows whether a neighbour page exists. http/paging.ts reads the cursor from the query
 * (refusing any it did not issue) and writes it into the links.
 */
export interface Position {
  createdAt: number;
  id: string;
}

export interface PageRequest {
  limit: number;
  after?: Position;
  before?: Position;
}

export interface Page<T> {
  items: T[];
  hasNext: boolean;
  hasPrev: boolean;
}

/** Which way a list runs: most lists oldest first, the outbox newest first. */
export type ListOrder = 'oldest-first' | 'newest-first';

/**
 * The page's rows in the page's direction: `after` walks on in the list's order, `before`
 * walks back (fetched in reverse and turned round by toPage).
 */
export function keysetPage<Q extends { where: any; orderBy: any; limit: any }>(query: Q, page: PageRequest, order: ListOrder = 'oldest-first', createdColumn = 'created_at', idColumn = 'id'): Q {
  let q = query;
  const forward = order === 'oldest-first' ? '>' : '<';
  const backward = order === 'oldest-first' ? '<' : '>';
  const pos = page.after ?? page.before;
  if (pos) {
    const cmp = page.after ? forward : backward;
    q = q.where((eb: any) => eb.or([eb(createdColumn, cmp, pos.createdAt), eb.and([eb(createdColumn, '=', pos.createdAt), eb(idColumn, cmp, pos.id)])]));
  }
  const ascending = (order === 'oldest-first') !== (page.before !== undefined);
  const dir = ascending ? 'asc' : 'desc';
  return q.orderBy(createdColumn, dir).orderBy(idColumn, dir).limit(page.limit + 1);
}

/**
 * Given rows fetched with limit + 1 in the page's direction, trims the extra row and says
 * which neighbours exist. A page reached through a cursor always has a neighbour behind it.
 */
export function toPage<T>(rows: T[], req: PageRequest): Page<T> {
  const more = rows.length > req.limit;
  const items = more ? rows.slice(0, req.limit) : rows;
  if (req.before) return { items: items.reverse(), hasNext: true, hasPrev: more };
  return { items, hasNext: more, hasPrev: req.after !== undefined };
}

/** One page of a filtered query (`base`, before its select) and the filtered total. */
export async function pageOf<R extends { created_at: number; id: string }>(base: any, page: PageRequest, order: ListOrder = 'oldest-first'): Promise<{ page: Page<R & Position>; count: number }> {
  const rows = (await keysetPage(base.selectAll(), page, order).execute()) as R[];
  const { count } = await base.select((eb: any) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
  return { page: toPage(rows.map((r) => ({ ...r, createdAt: r.created_at })), page), count: Number(count) };
}
