/**
 * Cursor paging as PingOne describes it (reference §7.2): `limit`, an opaque URL-safe `cursor`
 * in `_links.next`/`prev`, `count` and `size`. The cursor encodes a keyset position of
 * store/cursor.ts and a direction.
 */
import { pageOf, type ListOrder, type Page, type PageRequest, type Position } from '../store/cursor.js';
import { invalidValue } from './errors.js';
import { link, type Links } from './links.js';
import { CONTROL } from './text.js';

export function parsePageRequest(query: { limit?: string | undefined; cursor?: string | undefined }, maxLimit: number, defaultLimit = maxLimit): PageRequest {
  let limit = defaultLimit;
  if (query.limit !== undefined) {
    if (!/^\d{1,6}$/.test(query.limit) || Number(query.limit) < 1) {
      throw invalidValue('limit', `limit must be a whole number from 1 to ${maxLimit}`, 'INVALID_PARAMETER', { rangeMinimumValue: 1, rangeMaximumValue: maxLimit });
    }
    limit = Math.min(Number(query.limit), maxLimit);
  }
  if (query.cursor === undefined) return { limit };
  const pos = decodeCursor(query.cursor);
  return pos.d === 'a' ? { limit, after: pos.at } : { limit, before: pos.at };
}

/** Longer than any cursor this server issues (a 64-character id gives about 130). */
const MAX_CURSOR = 256;

/**
 * A cursor comes back from the client, so it is input like any other: anything but the exact
 * shape `encodeCursor` writes — `null` (`bnVsbA`), a non-object, a wrong member type, an id
 * with a control character (PostgreSQL refuses NUL in text), an over-long string — is
 * 400 INVALID_DATA on `cursor`, never a query.
 */
function decodeCursor(cursor: string): { d: 'a' | 'b'; at: Position } {
  const bad = () => invalidValue('cursor', 'cursor is not one this server issued', 'INVALID_PARAMETER');
  if (cursor.length === 0 || cursor.length > MAX_CURSOR || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw bad();
  const c = decoded as { d?: unknown; t?: unknown; i?: unknown };
  if ((c.d !== 'a' && c.d !== 'b') || typeof c.t !== 'number' || !Number.isSafeInteger(c.t) || c.t < 0) throw bad();
  if (typeof c.i !== 'string' || c.i.length === 0 || c.i.length > 64 || CONTROL.test(c.i)) throw bad();
  return { d: c.d, at: { createdAt: c.t, id: c.i } };
}

const encodeCursor = (d: 'a' | 'b', p: Position): string =>
  Buffer.from(JSON.stringify({ d, t: p.createdAt, i: p.id })).toString('base64url');

/** `_links.self`, and `next`/`prev` with the same query but a new cursor. */
export function pageLinks<T extends Position>(selfUrl: string, page: Page<T>, limit: number): Links {
  const url = new URL(selfUrl);
  const links: Links = { self: link(url.href) };
  const withCursor = (cursor: string) => {
    const u = new URL(url.href);
    u.searchParams.set('cursor', cursor);
    u.searchParams.set('limit', String(limit));
    return link(u.href);
  };
  const first = page.items[0];
  const last = page.items[page.items.length - 1];
  if (page.hasNext && last) links.next = withCursor(encodeCursor('a', last));
  if (page.hasPrev && first) links.prev = withCursor(encodeCursor('b', first));
  return links;
}

/**
 * One PingOne collection page (reference §7.2) from a filtered query (before its select): the
 * rows of the page in keyset order, the filtered total as `count`, and `_links.self`/`next`/`prev`.
 */
export async function collectionPage<R extends { created_at: number; id: string }, T>(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  base: any,
  page: PageRequest,
  selfUrl: string,
  name: string,
  present: (row: R) => T,
  order: ListOrder = 'oldest-first',
): Promise<{ _links: Links; _embedded: Record<string, T[]>; count: number; size: number }> {
  const { page: result, count } = await pageOf<R>(base, page, order);
  return {
    _links: pageLinks(selfUrl, result, page.limit),
    _embedded: { [name]: result.items.map(present) },
    count,
    size: result.items.length,
  };
}

/**
 * One page of a list already in memory and in its own order (a user's devices, which follow
 * the device order rather than creation: reference §6.5), with the same `limit`, cursors and
 * links as every other collection. A cursor names the row at the page's edge; if that row has
 * gone since, the page starts where it stood by creation time — no row is then skipped that
 * was created after it, and the client still trusts `size`, as §7.2 asks.
 */
export function listPage<R extends { created_at: number; id: string }>(rows: readonly R[], page: PageRequest, selfUrl: string): { items: R[]; links: Links } {
  let start = 0;
  let end = Math.min(rows.length, page.limit);
  const pos = page.after ?? page.before;
  if (pos) {
    const at = rows.findIndex((r) => r.id === pos.id);
    const laterByCreation = rows.findIndex((r) => r.created_at > pos.createdAt || (r.created_at === pos.createdAt && r.id > pos.id));
    const edge = at >= 0 ? at : laterByCreation >= 0 ? laterByCreation : rows.length;
    if (page.after) {
      start = at >= 0 ? at + 1 : edge;
      end = Math.min(rows.length, start + page.limit);
    } else {
      end = edge;
      start = Math.max(0, end - page.limit);
    }
  }
  const items = rows.slice(start, end);
  const positioned = { items: items.map((r) => ({ createdAt: r.created_at, id: r.id })), hasNext: end < rows.length, hasPrev: start > 0 };
  return { items, links: pageLinks(selfUrl, positioned, page.limit) };
}
