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
 * Delivery: `deliver()` makes the first attempt and waits for it. A 2xx resolves; a final
 * refusal (a 3xx or 4xx other than 429) rejects with WebhookRefused, so the caller can undo
 * and report it; a network error, a timeout, 429 or 5xx resolves too, with the message queued:
 * the retries (after 0.5 s, 1 s, 2 s, 4 s and 8 s, or later when Retry-After asks for more)
 * run in the background and stop on `close()`. A Retry-After beyond five minutes ends the
 * retries. The delay and fetch functions are injected, so tests never sleep.
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
/** Waits `ms`, or rejects when `signal` aborts. */
export type DelayFn = (ms: number, signal: AbortSignal) => Promise<void>;

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
  delay?: DelayFn;
  log?: () => NotifyLog;
  /** Waits before each retry; their number bounds the attempts (1 + retries). */
  backoffMs?: readonly number[];
  /** One attempt's bound. */
  timeoutMs?: number;
  /** A Retry-After longer than this ends the retries. */
  maxRetryAfterMs?: number;
}

export const DEFAULT_BACKOFF_MS: readonly number[] = [500, 1_000, 2_000, 4_000, 8_000];

/** The receiver refused the message for good; nothing will be retried. */
export class WebhookRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`the webhook refused the message with HTTP ${status}`);
    this.name = 'WebhookRefused';
    this.status = status;
  }
}

/** `v1=` + hex HMAC-SHA256 over `timestamp.rawBody`, what the receiver recomputes. */
export const webhookSignature = (secret: string, timestamp: string, rawBody: string): string =>
  'v1=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');

export const defaultDelay: DelayFn = (ms, signal) => new Promise((resolve, reject) => {
  if (signal.aborted) {
    reject(signal.reason as Error);
    return;
  }
  const onAbort = () => {
    clearTimeout(timer);
    reject(signal.reason as Error);
  };
  const timer = setTimeout(() => {
    signal.removeEventListener('abort', onAbort);
    resolve();
  }, ms);
  // A pending retry does not keep a process alive that is otherwise done.
  timer.unref();
  signal.addEventListener('abort', onAbort, { once: true });
});

/** Retry-After in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

type Outcome =
  | { kind: 'delivered' }
  | { kind: 'final'; status: number }
  | { kind: 'retry'; status?: number; reason: string; notBeforeMs?: number };

export class WebhookSender {
  readonly #url: string;
  readonly #secret: string;
  readonly #clock: Clock;
  readonly #fetch: FetchFn;
  readonly #delay: DelayFn;
  readonly #log: () => NotifyLog;
  readonly #backoff: readonly number[];
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;
  readonly #stop = new AbortController();
  readonly #pending = new Set<Promise<void>>();

  constructor(options: WebhookOptions) {
    this.#url = options.url;
    this.#secret = options.secret;
    this.#clock = options.clock;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#delay = options.delay ?? defaultDelay;
    this.#log = options.log ?? (() => silentLog);
    this.#backoff = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
  }

  /** First attempt now; see the module comment for what resolves and what rejects. */
  async deliver(payload: WebhookPayload): Promise<void> {
    if (this.#stop.signal.aborted) throw new Error('the webhook sender is closed');
    const raw = JSON.stringify(payload);
    const first = await this.#attempt(payload.id, raw);
    if (first.kind === 'delivered') return;
    if (first.kind === 'final') throw new WebhookRefused(first.status);
    const retries = this.#retry(payload, raw, first).catch(() => {}).finally(() => this.#pending.delete(retries));
    this.#pending.add(retries);
  }

  /** Resolves when no retry is pending (tests wait on it). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Cancels every pending retry and in-flight attempt, and waits for them to stop. */
  async close(): Promise<void> {
    this.#stop.abort(new Error('the notifier is closing'));
    await this.idle();
  }

  async #retry(payload: WebhookPayload, raw: string, first: Outcome & { kind: 'retry' }): Promise<void> {
    const log = this.#log();
    const ref = { messageId: payload.id, channel: payload.channel };
    let last = first;
    for (let i = 0; i < this.#backoff.length; i++) {
      const wait = Math.max(this.#backoff[i] ?? 0, last.notBeforeMs ?? 0);
      if (wait > this.#maxRetryAfterMs) {
        log.warn({ ...ref, retryAfterMs: last.notBeforeMs }, 'webhook asked to retry too late; message dropped');
        return;
      }
      log.info({ ...ref, attempt: i + 1, status: last.status, reason: last.reason, retryInMs: wait }, 'webhook attempt failed; retrying');
      try {
        await this.#delay(wait, this.#stop.signal);
      } catch {
        log.warn(ref, 'webhook retries stopped by shutdown; message not delivered');
        return;
      }
      if (this.#stop.signal.aborted) return;
      const outcome = await this.#attempt(payload.id, raw);
      if (outcome.kind === 'delivered') {
        log.info({ ...ref, attempts: i + 2 }, 'webhook delivered');
        return;
      }
      if (outcome.kind === 'final') {
        log.warn({ ...ref, status: outcome.status }, 'webhook refused the message; not retried');
        return;
      }
      last = outcome;
    }
    log.error({ ...ref, attempts: this.#backoff.length + 1, status: last.status, reason: last.reason }, 'webhook delivery failed; giving up');
  }

  async #attempt(id: string, raw: string): Promise<Outcome> {
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
          'X-OpenMFA-Message-Id': id,
        },
        body: raw,
        redirect: 'manual',
        signal: AbortSignal.any([this.#stop.signal, timeout]),
      });
    } catch (e) {
      return { kind: 'retry', reason: timeout.aborted ? 'timeout' : `network error: ${(e as Error).message ?? String(e)}`.slice(0, 200) };
    }
    // The body is of no interest; release the connection.
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { kind: 'delivered' };
    if (res.status === 429 || res.status >= 500) {
      const notBeforeMs = retryAfterMs(res.headers.get('retry-after'), this.#clock.now());
      return { kind: 'retry', status: res.status, reason: `HTTP ${res.status}`, ...(notBeforeMs !== undefined ? { notBeforeMs } : {}) };
    }
    return { kind: 'final', status: res.status };
  }
}
