/**
 * The outbox, where developers and test suites read the codes the server "sent" when no SMTP
 * relay or webhook is configured:
 *
 *   GET    /v1/environments/{envId}/outbox   newest first, filtered by any of
 *          recipient, channel, deviceId, userId, since; limit, cursor;
 *          wait=S (0–30): hold the request until a message matches (arrivals.ts)
 *   DELETE /v1/environments/{envId}/outbox   204, clears it
 *
 * PingOne has no outbox: it is OpenMFA's developer view of what PingOne would have sent, next
 * to the environment it belongs to, behind the same access hook as every management route (a
 * worker token of the environment, or the bootstrap administrator's; another environment's
 * token gets 403). Only outbox messages are listed: SMTP and webhook records keep no text.
 * Each message shows its code as `otp` as well as inside `body` — the only place a sent code
 * is ever shown; it is stored sealed (outbox.ts) and never logged.
 */
import { Type } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { invalidValue } from '../http/errors.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, EnvParams, NoContent, PageQuery, STD_ERRORS, Timestamp, errorResponses } from '../http/schemas.js';
import { CONTROL } from '../http/text.js';
import type { App } from '../http/types.js';
import { CHANNELS as SENT_CHANNELS } from './index.js';

/** What the outbox holds: the codes sent, and the pushes to MOBILE devices (push.ts). */
const CHANNELS = [...SENT_CHANNELS, 'PUSH'] as const;
import { clearOutbox, openContent, outboxOf, recipientFromQuery, type OutboxFilter, type OutboxRow } from './outbox.js';

export const OutboxMessageSchema = Type.Object({
  id: Type.String(),
  channel: Type.String({ description: 'EMAIL, SMS, VOICE, WHATSAPP or PUSH' }),
  recipient: Type.String({ description: 'the email address, or the phone number in E.164 form' }),
  subject: Type.Optional(Type.String()),
  body: Type.String({ description: 'the text sent, with the code in it' }),
  otp: Type.Optional(Type.String({ description: 'the code the text carries' })),
  userId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String({ description: 'the device the code was sent to' })),
  flowId: Type.Optional(Type.String({ description: 'the device authentication that sent it' })),
  purpose: Type.Optional(Type.String({ description: 'ACTIVATION (device create, sendActivationCode) or AUTHENTICATION (a device authentication)' })),
  createdAt: Timestamp,
});

export const OutboxSchema = Collection('messages', OutboxMessageSchema);

export const MAX_WAIT_SECONDS = 30;
/** How often a held request looks again on PostgreSQL, where another process may write. */
const POLL_MS = 200;

const OutboxQuery = Type.Object({
  ...PageQuery,
  recipient: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'only messages to this recipient (emails compare case-insensitively)' })),
  channel: Type.Optional(Type.String({ description: 'only messages of this channel: EMAIL, SMS, VOICE, WHATSAPP or PUSH' })),
  deviceId: Type.Optional(Type.String({ maxLength: 64, description: 'only messages to this device' })),
  userId: Type.Optional(Type.String({ maxLength: 64, description: 'only messages to this user' })),
  since: Type.Optional(Type.String({ description: 'only messages created at or after this RFC 3339 date-time' })),
  wait: Type.Optional(Type.String({ description: `seconds (0–${MAX_WAIT_SECONDS}) to hold the request until a message matches; then 200 with what there is` })),
});

const MAX_LIMIT = 200;
/** RFC 3339 §5.6 date-time. */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

export const presentOutboxMessage = (ctx: Pick<Context, 'box'>) => (row: OutboxRow) => {
  const content = openContent(ctx.box, row);
  return {
    id: row.id,
    channel: row.channel,
    recipient: row.recipient,
    ...(row.subject !== null ? { subject: row.subject } : {}),
    body: content.body,
    ...(content.otp !== undefined ? { otp: content.otp } : {}),
    ...(row.user_id !== null ? { userId: row.user_id } : {}),
    ...(row.device_id !== null ? { deviceId: row.device_id } : {}),
    ...(row.flow_id !== null ? { flowId: row.flow_id } : {}),
    ...(row.purpose !== null ? { purpose: row.purpose } : {}),
    createdAt: iso(row.created_at),
  };
};

/** An RFC 3339 date-time in epoch milliseconds; undefined when it is not one (Date.parse rolls 02-30 over to March). */
function parseDateTime(value: string): number | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

type Query = { recipient?: string; channel?: string; deviceId?: string; userId?: string; since?: string; wait?: string };

/** The filters as given, or 400 INVALID_DATA naming the one that is not valid. */
function filterOf(query: Query): OutboxFilter {
  const filter: OutboxFilter = {};
  for (const key of ['recipient', 'deviceId', 'userId'] as const) {
    const value = query[key];
    if (value !== undefined && CONTROL.test(value)) throw invalidValue(key, `${key} must not contain control characters`);
  }
  if (query.recipient !== undefined) filter.recipient = recipientFromQuery(query.recipient);
  if (query.channel !== undefined) {
    if (!(CHANNELS as readonly string[]).includes(query.channel)) {
      throw invalidValue('channel', `channel must be one of ${CHANNELS.join(', ')}`, 'INVALID_VALUE', { allowedValues: [...CHANNELS] });
    }
    filter.channel = query.channel;
  }
  if (query.deviceId !== undefined) filter.deviceId = query.deviceId;
  if (query.userId !== undefined) filter.userId = query.userId;
  if (query.since !== undefined) {
    const since = parseDateTime(query.since);
    if (since === undefined) throw invalidValue('since', 'since must be an RFC 3339 date-time, e.g. 2026-02-17T13:34:34.840Z');
    filter.since = since;
  }
  return filter;
}

function waitOf(value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d{1,2}$/.test(value) || Number(value) > MAX_WAIT_SECONDS) {
    throw invalidValue('wait', `wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`, 'INVALID_PARAMETER', { rangeMinimumValue: 0, rangeMaximumValue: MAX_WAIT_SECONDS });
  }
  return Number(value);
}

export function registerOutboxRoutes(app: App, ctx: Context): void {
  const { store } = ctx;
  const { arrivals } = ctx.notifier;
  const present = presentOutboxMessage(ctx);
  // Held requests answer at once when the server stops, before in-flight requests are awaited.
  app.addHook('preClose', async () => arrivals.close());

  app.get('/v1/environments/:envId/outbox', {
    schema: {
      tags: ['outbox'], summary: 'Messages kept in the outbox, newest first (OpenMFA; PingOne has no outbox)',
      params: EnvParams, querystring: OutboxQuery,
      response: { 200: OutboxSchema, ...errorResponses(...STD_ERRORS) },
    },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    const page = parsePageRequest(request.query, MAX_LIMIT);
    const filter = filterOf(request.query);
    const wait = waitOf(request.query.wait);
    const look = () => collectionPage(outboxOf(store.db, environment.id, filter), page, ctx.config.publicUrl + request.url, 'messages', present, 'newest-first');
    if (wait === 0) return look();
    // The hold ends with the wait, and never outlasts what the server allows a request.
    const { requestTimeout } = ctx.config;
    const untilMs = performance.now() + (requestTimeout > 0 ? Math.min(wait * 1000, requestTimeout) : wait * 1000);
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once('close', onClose);
    try {
      return await arrivals.hold({
        environmentId: environment.id, untilMs, signal: gone.signal,
        ...(store.dialect === 'postgres' ? { pollMs: POLL_MS } : {}),
      }, look, (result) => result.size > 0);
    } finally {
      reply.raw.off('close', onClose);
    }
  });

  app.delete('/v1/environments/:envId/outbox', {
    schema: {
      tags: ['outbox'], summary: 'Empties the outbox (the daily limits keep counting)',
      params: EnvParams, response: { 204: NoContent, ...errorResponses(...STD_ERRORS) },
    },
  }, async (request, reply) => {
    const environment = environmentOf(request);
    await clearOutbox(store.db, environment.id);
    return reply.code(204).send(null);
  });
}
