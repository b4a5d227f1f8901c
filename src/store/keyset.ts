/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * Keyset paging over (created_at, id), in either direction (see http/paging.ts). Fetches one
 * row more than the page so the caller knows whether a neighbour page exists.
 */
import type { PageRequest } from '../http/paging.js';

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
