/** What the notifier routes a message to: the outbox, SMTP or the webhook. */
import type { OutgoingMessage } from './notifier.js';

export interface StoredMessage {
  /** The `messages` row ID, also the Message-ID / X-OpenMFA-Message-Id. */
  id: string;
  createdAt: number;
}

/**
 * The notifier first records the message (counting it against the daily limit), then calls
 * `deliver`. A rejection with DeliveryFailed means nothing was sent: the record is removed
 * and the caller gets an error.
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
  constructor(message: string, permanent: boolean) {
    super(message);
    this.name = 'DeliveryFailed';
    this.permanent = permanent;
  }
}
