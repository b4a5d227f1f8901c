/**
 * SMS, VOICE and WHATSAPP through a signed webhook (`--webhook-url`): the server POSTs
 *
 *   {id, channel, recipient, body, environmentId, userId, deviceId, createdAt}
 *
 * as JSON with
 *
 *   X-OpenMFA-Timestamp:  unix seconds of this attempt
 *   X-OpenMFA-Signature:  v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
 *   X-OpenMFA-Message-Id: the message ID (the same on every attempt: an idempotency key)
 *
 * and the receiver (an SMS gateway adapter) sends the text. A receiver should check the
 * signature with a constant-time compare and refuse timestamps more than a few minutes old.
 *
 * Delivery: `deliver()` makes one attempt, bounded by a timeout (10 s). A 2xx resolves; a
 * final refusal (a 3xx or 4xx other than 429) rejects with WebhookRefused; a network error, a
 * timeout, 429 or 5xx rejects with WebhookRetry, carrying the receiver's Retry-After when it
 * gave one. Retries with back-off are the delivery queue's (queue.ts): they survive a restart.
 */
import { createHmac } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Channel } from './notifier.js';

export interface WebhookPayload {
  id: string;
  channel: Channel;
  recipient: string;
  body: string;
  environmentId: string;
  userId: string;
  deviceId: string | null;
  createdAt: string;
}

export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

/** The subset of a pino logger the notifier writes to (never with a message's text). */
export interface NotifyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLog: NotifyLog = { info: () => {}, warn: () => {}, error: () => {} };

export interface WebhookOptions {
  url: string;
  secret: string;
  clock: Clock;
  fetch?: FetchFn;
  /** One attempt's bound. */
  timeoutMs?: number;
}

/** The receiver refused the message for good; nothing will be retried. */
export class WebhookRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`the webhook refused the message with HTTP ${status}`);
    this.name = 'WebhookRefused';
    this.status = status;
  }
}

/** The attempt failed in a way worth trying again (network, timeout, 429, 5xx). */
export class WebhookRetry extends Error {
  readonly status: number | undefined;
  /** From Retry-After: the receiver asks not to be tried before this many milliseconds. */
  readonly notBeforeMs: number | undefined;
  constructor(reason: string, status?: number, notBeforeMs?: number) {
    super(reason);
    this.name = 'WebhookRetry';
    this.status = status;
    this.notBeforeMs = notBeforeMs;
  }
}

/** `v1=` + hex HMAC-SHA256 over `timestamp.rawBody`, what the receiver recomputes. */
export const webhookSignature = (secret: string, timestamp: string, rawBody: string): string =>
  'v1=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');

/** Retry-After in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class WebhookSender {
  readonly #url: string;
  readonly #secret: string;
  readonly #clock: Clock;
  readonly #fetch: FetchFn;
  readonly #timeoutMs: number;
  readonly #stop = new AbortController();

  constructor(options: WebhookOptions) {
    this.#url = options.url;
    this.#secret = options.secret;
    this.#clock = options.clock;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** One attempt; see the module comment for what resolves and what rejects. */
  async deliver(payload: WebhookPayload): Promise<void> {
    if (this.#stop.signal.aborted) throw new WebhookRetry('the webhook sender is closed');
    const raw = JSON.stringify(payload);
    const timestamp = String(Math.floor(this.#clock.now() / 1000));
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let res: Response;
    try {
      res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-OpenMFA-Timestamp': timestamp,
          'X-OpenMFA-Signature': webhookSignature(this.#secret, timestamp, raw),
          'X-OpenMFA-Message-Id': payload.id,
        },
        body: raw,
        redirect: 'manual',
        signal: AbortSignal.any([this.#stop.signal, timeout]),
      });
    } catch (e) {
      throw new WebhookRetry(timeout.aborted ? 'timeout' : this.#stop.signal.aborted ? 'stopped by shutdown' : `network error: ${(e as Error).message ?? String(e)}`.slice(0, 200));
    }
    // The body is of no interest; release the connection.
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return;
    if (res.status === 429 || res.status >= 500) {
      throw new WebhookRetry(`HTTP ${res.status}`, res.status, retryAfterMs(res.headers.get('retry-after'), this.#clock.now()));
    }
    throw new WebhookRefused(res.status);
  }

  /** Aborts an attempt in flight (shutdown). */
  async close(): Promise<void> {
    this.#stop.abort(new Error('the notifier is closing'));
  }
}
