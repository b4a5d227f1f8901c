/**
 * The default sender: nothing leaves the machine. The message, text included, is the row in
 * `messages` with sender `outbox`, which developers read at GET …/environments/{envId}/outbox
 * (routes.ts). This module also holds the outbox's queries.
 */
import type { PageRequest } from '../http/paging.js';
import type { Db } from '../store/db.js';
import type { MessagesTable } from '../store/schema.js';
import type { Sender } from './sender.js';

/** Storing the row (done by the notifier, with the text) is the whole delivery. */
export const outboxSender: Sender = {
  name: 'outbox',
  keepsText: true,
  async deliver() {},
};

export type OutboxRow = MessagesTable & { body: string };

export interface OutboxQuery {
  /** Exact match; case-insensitive when it is an email address. */
  recipient?: string | undefined;
  page: PageRequest;
}

/**
 * A recipient as a query string carries it: an unencoded `+` arrives as a space, so a leading
 * space before a digit is read back as the `+` of an E.164 number.
 */
export const recipientFromQuery = (value: string): string => value.replace(/^ (?=\d)/, '+').trim();

function outboxOf(db: Db, environmentId: string, recipient: string | undefined) {
  let q = db.selectFrom('messages')
    .where('environment_id', '=', environmentId)
    .where('sender', '=', 'outbox')
    .where('body', 'is not', null);
  if (recipient !== undefined) {
    q = recipient.includes('@')
      ? q.where((eb) => eb(eb.fn('lower', ['recipient']), '=', recipient.toLowerCase()))
      : q.where('recipient', '=', recipient);
  }
  return q;
}

/**
 * One page, newest first: `after` (a next link) walks to older messages, `before` (a prev
 * link) to newer ones, fetched oldest-first and turned round by toPage. One row more than
 * the page tells whether a neighbour page exists.
 */
export async function listOutbox(db: Db, environmentId: string, query: OutboxQuery): Promise<{ rows: OutboxRow[]; count: number }> {
  const { page } = query;
  const base = outboxOf(db, environmentId, query.recipient);
  let q = base.selectAll();
  const pos = page.after ?? page.before;
  if (pos) {
    const cmp = page.after ? '<' : '>';
    q = q.where((eb) => eb.or([
      eb('created_at', cmp, pos.createdAt),
      eb.and([eb('created_at', '=', pos.createdAt), eb('id', cmp, pos.id)]),
    ]));
  }
  const dir = page.before ? 'asc' : 'desc';
  const rows = await q.orderBy('created_at', dir).orderBy('id', dir).limit(page.limit + 1).execute();
  const { count } = await base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return { rows: rows as OutboxRow[], count: Number(count) };
}

/**
 * Empties the environment's outbox: the texts go, the rows stay, so clearing the outbox does
 * not reset anyone's daily limit. Returns how many messages were cleared.
 */
export async function clearOutbox(db: Db, environmentId: string): Promise<number> {
  const res = await db.updateTable('messages').set({ body: null })
    .where('environment_id', '=', environmentId).where('sender', '=', 'outbox').where('body', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
