/**
 * The default sender: nothing leaves the machine. The message, text included, is the row in
 * `messages` with sender `outbox`, which developers read at GET …/environments/{envId}/outbox
 * (routes.ts). This module also holds the outbox's queries.
 */
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

/**
 * A recipient as a query string carries it: an unencoded `+` arrives as a space, so a leading
 * space before a digit is read back as the `+` of an E.164 number.
 */
export const recipientFromQuery = (value: string): string => value.replace(/^ (?=\d)/, '+').trim();

/**
 * The environment's outbox messages, filtered by recipient (exact; case-insensitive when it is
 * an email address), before their select: routes.ts pages it newest first (store/cursor.ts).
 */
export function outboxOf(db: Db, environmentId: string, recipient: string | undefined) {
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
 * Empties the environment's outbox: the texts go, the rows stay, so clearing the outbox does
 * not reset anyone's daily limit. Returns how many messages were cleared.
 */
export async function clearOutbox(db: Db, environmentId: string): Promise<number> {
  const res = await db.updateTable('messages').set({ body: null })
    .where('environment_id', '=', environmentId).where('sender', '=', 'outbox').where('body', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
