/**
 * createNotifier: the Notifier the devices call (notifier.ts). For each message it
 *
 *   1. checks the message (no control characters in the recipient or subject);
 *   2. in one transaction holding the user's row (FOR UPDATE on PostgreSQL; SQLite runs one
 *      transaction at a time) — a savepoint of the caller's transaction when there is one, so
 *      the message stands or falls with the device or flow change that made its code — counts
 *      the user's messages on that channel in the last 24 h and, below the limit, records the
 *      new one — so parallel sends never overshoot the limit; past it, DailyLimitReached with
 *      the seconds until a place frees up;
 *   3. picks the channel's sender: EMAIL → SMTP when an SMTP URL (or transport) is configured,
 *      SMS/VOICE/WHATSAPP → the signed webhook when a webhook URL is, everything else → the
 *      outbox. The outbox row, its text and code sealed under the master key, is the whole
 *      delivery (readable as soon as the transaction commits, which wakes the requests waiting
 *      for it: arrivals.ts). For SMTP and the webhook the record keeps no text and the message
 *      is queued, sealed, in the same transaction (queue.ts); the worker sends it after commit,
 *      so no request waits on a relay or a receiver.
 *
 * Nothing here logs a message's text.
 */
import { iso, type Clock } from '../clock.js';
import type { ServerConfig } from '../config.js';
import { newOrderedId } from '../crypto/random.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { Store } from '../store/db.js';
import type { BadRecipient, Channel, Notifier, OutgoingMessage, SendResult } from './notifier.js';
import { Arrivals } from './arrivals.js';
import { outboxSender, sealContent } from './outbox.js';
import { DeliveryQueue } from './queue.js';
import { DeliveryFailed, type Sender } from './sender.js';
import { createSmtpTransport, SmtpError, type SmtpTransport } from './smtp.js';
import { silentLog, WebhookRefused, WebhookRetry, WebhookSender, type FetchFn, type NotifyLog } from './webhook.js';

export type { Channel, DailyLimitReached, Notifier, OutgoingMessage, SendRefused, SendResult } from './notifier.js';
export type { NotifyLog } from './webhook.js';

export const CHANNELS: readonly Channel[] = ['EMAIL', 'SMS', 'VOICE', 'WHATSAPP'];

/** Reference §7.4: 50 SMS and 50 emails per user per day; VOICE and WHATSAPP are counted apart, 50 each. */
export const DAILY_LIMITS: Readonly<Record<Channel, number>> = Object.freeze({ EMAIL: 50, SMS: 50, VOICE: 50, WHATSAPP: 50 });
export const WINDOW_MS = 24 * 60 * 60 * 1000;

export interface NotifierOptions {
  config: Pick<ServerConfig, 'smtpUrl' | 'smtpFrom' | 'webhookUrl' | 'webhookSecret'> & Partial<Pick<ServerConfig, 'rpId'>>;
  store: Store;
  clock: Clock;
  /** Seals queued messages (their text carries the code) under the master key. */
  box: SecretBox;
  /** The webhook's fetch (tests pass one). */
  fetch?: FetchFn;
  /** One webhook attempt's bound (default 10 s). */
  webhookTimeoutMs?: number;
  /** Replaces the SMTP client; also turns SMTP on without an smtpUrl. */
  smtpTransport?: SmtpTransport;
  /** Where delivery problems are logged (the app's logger, made before the notifier). */
  log?: NotifyLog;
  /** Per-channel overrides of DAILY_LIMITS. */
  limits?: Partial<Record<Channel, number>>;
  /** Retry waits of the delivery queue (default 0.5 s, 1 s, 2 s, 4 s, 8 s). */
  backoffMs?: readonly number[];
}

export interface OpenMfaNotifier extends Notifier {
  /** Which sender a channel goes to. */
  senderFor(channel: Channel): 'outbox' | 'smtp' | 'webhook';
  /** Sends every queued message that is due on the clock, until none is (tests drive the queue so). */
  drain(): Promise<void>;
  /** One batch of due messages: how many were attempted. */
  tick(): Promise<number>;
  /** Resolves when no attempt is in flight. */
  idle(): Promise<void>;
}

const CONTROL = /[\x00-\x1f\x7f]/;
const targetOf = (channel: Channel): BadRecipient['target'] => (channel === 'EMAIL' ? 'email' : 'phone');

/** A recipient the caller could have sent is refused as a value; the rest are programming errors (thrown). */
function checkMessage(m: OutgoingMessage): BadRecipient | undefined {
  if (!CHANNELS.includes(m.channel)) throw new Error(`unknown channel ${String(m.channel)}`);
  const target = targetOf(m.channel);
  if (m.recipient.length === 0 || m.recipient.length > 320 || CONTROL.test(m.recipient) || /\s/.test(m.recipient)) {
    return { ok: false, reason: 'BadRecipient', target, message: 'The recipient is empty, too long, or contains spaces or control characters' };
  }
  if (m.channel === 'EMAIL' && !/^[^@]+@[^@]+$/.test(m.recipient)) return { ok: false, reason: 'BadRecipient', target, message: 'The recipient is not an email address' };
  if (m.subject !== undefined && (m.subject.length > 200 || CONTROL.test(m.subject))) throw new Error('a message subject must be one line of at most 200 characters');
  if (m.body.length === 0 || m.body.length > 4000) throw new Error('a message body must have 1 to 4000 characters');
  return undefined;
}

const domainOf = (from: string): string => {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m ? m[1]! : 'openmfa.local';
};

function smtpSender(transport: SmtpTransport, from: string): Sender {
  const domain = domainOf(from);
  return {
    name: 'smtp',
    keepsText: false,
    async deliver(message, stored) {
      try {
        await transport.send({
          from,
          to: message.recipient,
          subject: message.subject ?? 'Your passcode',
          text: message.body,
          messageId: `${stored.id}@${domain}`,
          date: new Date(stored.createdAt),
        });
      } catch (e) {
        const permanent = e instanceof SmtpError && e.permanent;
        throw new DeliveryFailed(e instanceof Error ? e.message : String(e), permanent);
      }
    },
  };
}

function webhookSender(webhook: WebhookSender): Sender {
  return {
    name: 'webhook',
    keepsText: false,
    async deliver(message, stored) {
      try {
        await webhook.deliver({
          id: stored.id,
          channel: message.channel,
          recipient: message.recipient,
          body: message.body,
          environmentId: message.environmentId,
          userId: message.userId,
          deviceId: message.deviceId ?? null,
          createdAt: iso(stored.createdAt),
        });
      } catch (e) {
        if (e instanceof WebhookRetry) throw new DeliveryFailed(e.message, false, e.notBeforeMs);
        throw new DeliveryFailed(e instanceof Error ? e.message : String(e), e instanceof WebhookRefused);
      }
    },
    close: () => webhook.close(),
  };
}

export function createNotifier(options: NotifierOptions): OpenMfaNotifier {
  const { config, store, clock } = options;
  const limits: Record<Channel, number> = { ...DAILY_LIMITS, ...options.limits };
  const log: NotifyLog = options.log ?? silentLog;
  let closed = false;
  const arrivals = new Arrivals();

  const smtpUrl = config.smtpUrl;
  const transport = options.smtpTransport
    ?? (smtpUrl !== undefined
      ? createSmtpTransport(smtpUrl, { clientName: config.rpId && /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(config.rpId) ? config.rpId : 'localhost' })
      : undefined);
  const email: Sender = transport ? smtpSender(transport, config.smtpFrom) : outboxSender;

  let webhook: WebhookSender | undefined;
  if (config.webhookUrl !== undefined) {
    if (!config.webhookSecret) throw new Error('a webhook URL needs a webhook secret');
    webhook = new WebhookSender({
      url: config.webhookUrl,
      secret: config.webhookSecret,
      clock,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.webhookTimeoutMs !== undefined ? { timeoutMs: options.webhookTimeoutMs } : {}),
    });
  }
  const phone: Sender = webhook ? webhookSender(webhook) : outboxSender;
  const senderFor = (channel: Channel): Sender => (channel === 'EMAIL' ? email : phone);
  const queue = new DeliveryQueue({
    store,
    clock,
    box: options.box,
    senders: (name) => [email, phone].find((s) => s.name === name && s.name !== 'outbox'),
    log,
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
  });

  /**
   * Counts, records and (SMTP, webhook) queues in one transaction holding the user's row;
   * past the limit, records nothing and says when a place frees up.
   */
  async function record(message: OutgoingMessage, sender: Sender): Promise<SendResult> {
    return store.transaction(async (trx) => {
      const user = await store.forUpdate(trx.selectFrom('users').select('id')
        .where('id', '=', message.userId).where('environment_id', '=', message.environmentId)).executeTakeFirst();
      if (!user) return { ok: false, reason: 'UnknownUser' };
      const now = clock.now();
      const since = now - WINDOW_MS;
      const limit = limits[message.channel];
      const inWindow = trx.selectFrom('messages')
        .where('user_id', '=', message.userId).where('channel', '=', message.channel).where('created_at', '>', since);
      const { n } = await inWindow.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      if (Number(n) >= limit) {
        // The limit-th newest message is the one whose leaving the window frees a place.
        const row = await inWindow.select('created_at').orderBy('created_at', 'desc').orderBy('id', 'desc')
          .offset(limit - 1).limit(1).executeTakeFirst();
        const resetAt = (row?.created_at ?? now) + WINDOW_MS;
        const retryAfter = Math.max(1, Math.ceil((resetAt - now) / 1000));
        return { ok: false, reason: 'DailyLimitReached', channel: message.channel, limit, resetAt, retryAfter };
      }
      // Time-ordered: the outbox lists newest first by (created_at, id), and messages sent in
      // one millisecond (a manual clock standing still) keep the order they were sent in.
      const id = newOrderedId(now);
      await trx.insertInto('messages').values({
        id,
        environment_id: message.environmentId,
        user_id: message.userId,
        device_id: message.deviceId ?? null,
        channel: message.channel,
        recipient: message.recipient,
        subject: message.subject ?? null,
        sender: sender.name,
        created_at: now,
        flow_id: message.flowId ?? null,
        purpose: message.purpose ?? null,
        content_sealed: sender.keepsText ? sealContent(options.box, id, message) : null,
      }).execute();
      if (sender.keepsText) store.afterCommit(() => arrivals.announce(message.environmentId));
      else await queue.enqueue(message, { id, createdAt: now }, sender);
      return { ok: true };
    });
  }

  return {
    arrivals,
    senderFor: (channel) => senderFor(channel).name,

    async send(message) {
      if (closed) return { ok: false, reason: 'Closed' };
      return checkMessage(message) ?? record(message, senderFor(message.channel));
    },

    start: () => queue.start(),
    drain: () => queue.drain(),
    tick: () => queue.tick(),
    idle: () => queue.idle(),

    async close() {
      closed = true;
      // An attempt in flight is cut short and rescheduled before the store closes.
      await webhook?.close();
      await queue.close();
    },
  };
}
