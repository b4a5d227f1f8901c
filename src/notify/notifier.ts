/**
 * One notifier for every OTP the server sends (README "Email, SMS, voice, WhatsApp and TOTP devices"). Devices ask it to deliver; it
 * picks the sender for the channel (SMTP for EMAIL when configured, a signed webhook for SMS,
 * VOICE and WHATSAPP when configured, else the outbox), enforces the per-user daily limits
 * (reference §7.4: 50 SMS, 50 emails) with 429 REQUEST_LIMITED + Retry-After, and records
 * every message (the text only in the outbox).
 */
export type Channel = 'EMAIL' | 'SMS' | 'VOICE' | 'WHATSAPP';

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
}

export interface Notifier {
  /**
   * Records the message and queues it in the caller's transaction, or throws ApiError (429 past
   * the daily limit). It is sent after that transaction commits; it never waits on a receiver.
   */
  send(message: OutgoingMessage): Promise<void>;
  /** Starts the delivery worker's timer (the running server; tests drive the queue themselves). */
  start?(): Promise<void>;
  /** Stops the worker and its timers (shutdown). */
  close(): Promise<void>;
}
