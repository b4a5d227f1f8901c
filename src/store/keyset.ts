/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Keyset paging over (created_at, id), in either direction (see http/paging.ts). Fetches one
 * row more than the page so the caller knows whether a neighbour page exists.
 */
import { pageLinks, toPage, type PageRequest } from '../http/paging.js';

export function keysetPage<Q extends { where: any; orderBy: any; limit: any }>(query: Q, page: PageRequest, createdColumn = 'created_at', idColumn = 'id'): Q {
  let q = query;
  const pos = page.after ?? page.before;
  if (pos) {
    const cmp = page.after ? '>' : '<';
    q = q.where((eb: any) => eb.or([eb(createdColumn, cmp, pos.createdAt), eb.and([eb(createdColumn, '=', pos.createdAt), eb(idColumn, cmp, pos.id)])]));
  }
  const dir = page.before ? 'desc' : 'asc';
  return q.orderBy(createdColumn, dir).orderBy(idColumn, dir).limit(page.limit + 1);
}

/**
 * One PingOne collection page (reference §7.2) from a filtered query: the rows of the page in
 * keyset order, the filtered total as `count`, and `_links.self`/`next`/`prev`.
 */
export async function collectionPage<R extends { created_at: number; id: string }, T>(
  base: any,
  page: PageRequest,
  selfUrl: string,
  name: string,
  present: (row: R) => T,
): Promise<{ _links: ReturnType<typeof pageLinks>; _embedded: Record<string, T[]>; count: number; size: number }> {
  const rows = (await keysetPage(base.selectAll(), page).execute()) as R[];
  const { count } = await base.select((eb: any) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow();
  const result = toPage(rows.map((r) => ({ ...r, createdAt: r.created_at })), page);
  return {
    _links: pageLinks(selfUrl, result, page.limit),
    _embedded: { [name]: result.items.map(present) },
    count: Number(count),
    size: result.items.length,
  };
}
