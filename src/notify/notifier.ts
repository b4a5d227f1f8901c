/**
 * One notifier for every OTP the server sends (README "Email, SMS, voice, WhatsApp and TOTP devices"). Devices ask it to deliver; it
 * picks the sender for the channel (SMTP for EMAIL when configured, a signed webhook for SMS,
 * VOICE and WHATSAPP when configured, else the outbox), enforces the per-user daily limits
 * (reference §7.4: 50 SMS, 50 emails), and records every message (the text only in the
 * outbox). What it refuses it says as a value (SendResult); the API maps it to an answer
 * (refusal.ts, notSent).
 */
import type { Arrivals } from './arrivals.js';

export type Channel = 'EMAIL' | 'SMS' | 'VOICE' | 'WHATSAPP';

/** Why a code was sent: a device's activation (create, sendActivationCode) or a device authentication. */
export type Purpose = 'ACTIVATION' | 'AUTHENTICATION';

export interface OutgoingMessage {
  environmentId: string;
  userId: string;
  deviceId?: string;
  channel: Channel;
  /** The email address or the phone number in E.164 form. */
  recipient: string;
  subject?: string;
  /** The text, with the OTP inside it. */
  body: string;
  /** The code the text carries, kept apart (sealed) so the outbox can show it without parsing the text. */
  otp?: string;
  /** The device authentication that sent it. */
  flowId?: string;
  purpose?: Purpose;
}

/** The per-user daily limit of the channel is reached; a place frees up at `resetAt`. */
export interface DailyLimitReached {
  ok: false;
  reason: 'DailyLimitReached';
  channel: Channel;
  limit: number;
  /** Epoch milliseconds. */
  resetAt: number;
  /** Whole seconds until resetAt, at least 1. */
  retryAfter: number;
}

/** The recipient cannot be written into a message (empty, too long, control characters, not an address). */
export interface BadRecipient {
  ok: false;
  reason: 'BadRecipient';
  /** The device attribute that holds it. */
  target: 'email' | 'phone';
  message: string;
}

/** The user is gone, or the notifier is shutting down: nothing was recorded. */
export interface NotRecorded {
  ok: false;
  reason: 'UnknownUser' | 'Closed';
}

export type SendRefused = DailyLimitReached | BadRecipient | NotRecorded;
export type SendResult = { ok: true } | SendRefused;

export interface Notifier {
  /**
   * Records the message and queues it in the caller's transaction, or says why not. It is
   * sent after that transaction commits; it never waits on a receiver (a relay's refusal is
   * the queue's DeliveryFailed, sender.ts, never the caller's).
   */
  send(message: OutgoingMessage): Promise<SendResult>;
  /** Starts the delivery worker's timer (the running server; tests drive the queue themselves). */
  start?(): Promise<void>;
  /** Stops the worker and its timers (shutdown). */
  close(): Promise<void>;
  /** Messages committed to the outbox by this process, announced per environment (the outbox's `wait`). */
  readonly arrivals: Arrivals;
}
