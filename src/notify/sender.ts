/** What the notifier routes a message to: the outbox, SMTP or the webhook. */
import type { OutgoingMessage } from './notifier.js';

export interface StoredMessage {
  /** The `messages` row ID, also the Message-ID / X-OpenMFA-Message-Id. */
  id: string;
  createdAt: number;
}

/**
 * The notifier records the message (counting it against the daily limit) and, for SMTP and the
 * webhook, queues it in the same transaction; the delivery worker (queue.ts) calls `deliver`
 * after commit, one attempt per call. A rejection with DeliveryFailed means nothing was sent:
 * a transient one is tried again with back-off, a permanent one is dropped and its record
 * removed (it does not count against the limit).
 */
export interface Sender {
  readonly name: 'outbox' | 'smtp' | 'webhook';
  /** Only the outbox keeps the text: codes are not stored where nobody needs to read them. */
  readonly keepsText: boolean;
  deliver(message: OutgoingMessage, stored: StoredMessage): Promise<void>;
  close?(): Promise<void>;
}

export class DeliveryFailed extends Error {
  /** True when the relay refused for good (SMTP 5xx, webhook 4xx); else worth trying later. */
  readonly permanent: boolean;
  /** The relay asked not to be tried again before this many milliseconds (Retry-After). */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, permanent: boolean, retryAfterMs?: number) {
    super(message);
    this.name = 'DeliveryFailed';
    this.permanent = permanent;
    this.retryAfterMs = retryAfterMs;
  }
}
