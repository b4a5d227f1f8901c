/**
 * The default sender: nothing leaves the machine. The message is the row in `messages` with
 * sender `outbox`, its text and code sealed under the master key (`content_sealed`), which
 * developers and test suites read at GET …/environments/{envId}/outbox (routes.ts). This
 * module also holds the outbox's queries.
 */
import { Type } from 'typebox';
import type { SecretBox } from '../crypto/secretbox.js';
import { parseStored } from '../http/validation.js';
import type { Db } from '../store/db.js';
import type { MessagesTable } from '../store/schema.js';
import type { OutgoingMessage } from './notifier.js';
import type { Sender } from './sender.js';

/** Storing the row (done by the notifier, with the sealed text) is the whole delivery. */
export const outboxSender: Sender = {
  name: 'outbox',
  keepsText: true,
  async deliver() {},
};

/** What an outbox row keeps sealed: the text, and the code it carries. */
const StoredContent = Type.Object({ body: Type.String(), otp: Type.Optional(Type.String()) });
export interface OutboxContent {
  body: string;
  otp?: string;
}

/** The sealed value is bound to its row: copied onto another message it does not open. */
const contentContext = (id: string): string => `message:${id}`;

export function sealContent(box: SecretBox, id: string, message: Pick<OutgoingMessage, 'body' | 'otp'>): string {
  const content: OutboxContent = { body: message.body, ...(message.otp !== undefined ? { otp: message.otp } : {}) };
  return box.seal(JSON.stringify(content), contentContext(id));
}

export const openContent = (box: SecretBox, row: Pick<MessagesTable, 'id'> & { content_sealed: string }): OutboxContent =>
  parseStored(StoredContent, box.open(row.content_sealed, contentContext(row.id)), 'outbox message');

export type OutboxRow = MessagesTable & { content_sealed: string };

/**
 * A recipient as a query string carries it: an unencoded `+` arrives as a space, so a leading
 * space before a digit is read back as the `+` of an E.164 number.
 */
export const recipientFromQuery = (value: string): string => value.replace(/^ (?=\d)/, '+').trim();

/** What the outbox can be filtered by; each one given must match. */
export interface OutboxFilter {
  /** Exact; case-insensitive when it is an email address. */
  recipient?: string;
  channel?: string;
  deviceId?: string;
  userId?: string;
  /** Epoch milliseconds: messages created at or after it. */
  since?: number;
}

/**
 * The environment's outbox messages that match `filter`, before their select: routes.ts pages
 * them newest first (store/cursor.ts).
 */
export function outboxOf(db: Db, environmentId: string, filter: OutboxFilter = {}) {
  let q = db.selectFrom('messages')
    .where('environment_id', '=', environmentId)
    .where('sender', '=', 'outbox')
    .where('content_sealed', 'is not', null);
  const { recipient } = filter;
  if (recipient !== undefined) {
    q = recipient.includes('@')
      ? q.where((eb) => eb(eb.fn('lower', ['recipient']), '=', recipient.toLowerCase()))
      : q.where('recipient', '=', recipient);
  }
  if (filter.channel !== undefined) q = q.where('channel', '=', filter.channel);
  if (filter.deviceId !== undefined) q = q.where('device_id', '=', filter.deviceId);
  if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId);
  if (filter.since !== undefined) q = q.where('created_at', '>=', filter.since);
  return q;
}

/**
 * Empties the environment's outbox: the texts and codes go, the rows stay, so clearing the
 * outbox does not reset anyone's daily limit. Returns how many messages were cleared.
 */
export async function clearOutbox(db: Db, environmentId: string): Promise<number> {
  const res = await db.updateTable('messages').set({ content_sealed: null })
    .where('environment_id', '=', environmentId).where('sender', '=', 'outbox').where('content_sealed', 'is not', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
