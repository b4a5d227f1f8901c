/**
 * The outbox, where developers read the codes the server "sent" when no SMTP relay or webhook
 * is configured:
 *
 *   GET    /v1/environments/{envId}/outbox[?recipient=…&limit=…&cursor=…]   newest first
 *   DELETE /v1/environments/{envId}/outbox                                   204, clears it
 *
 * Both sit behind the access hook like every management route: a token for another
 * environment gets 403. Only outbox messages are listed (SMTP and webhook records keep no text).
 */
import { Type } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { environmentOf } from '../http/access.js';
import { collectionPage, parsePageRequest } from '../http/paging.js';
import { Collection, EnvParams, NoContent, PageQuery, STD_ERRORS, Timestamp, errorResponses } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { clearOutbox, outboxOf, recipientFromQuery, type OutboxRow } from './outbox.js';

export const OutboxMessageSchema = Type.Object({
  id: Type.String(),
  channel: Type.String({ description: 'EMAIL, SMS, VOICE or WHATSAPP' }),
  recipient: Type.String({ description: 'the email address, or the phone number in E.164 form' }),
  subject: Type.Optional(Type.String()),
  body: Type.String({ description: 'the text sent, with the code in it' }),
  createdAt: Timestamp,
});

export const OutboxSchema = Collection('messages', OutboxMessageSchema);

const OutboxQuery = Type.Object({
  ...PageQuery,
  recipient: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'only messages to this recipient (emails compare case-insensitively)' })),
});

const MAX_LIMIT = 200;

export const presentOutboxMessage = (row: OutboxRow) => ({
  id: row.id,
  channel: row.channel,
  recipient: row.recipient,
  ...(row.subject !== null ? { subject: row.subject } : {}),
  body: row.body,
  createdAt: iso(row.created_at),
});

export function registerOutboxRoutes(app: App, ctx: Context): void {
  const { store } = ctx;

  app.get('/v1/environments/:envId/outbox', {
    schema: {
      tags: ['outbox'], summary: 'Messages kept in the outbox, newest first',
      params: EnvParams, querystring: OutboxQuery,
      response: { 200: OutboxSchema, ...errorResponses(...STD_ERRORS) },
    },
  }, async (request) => {
    const environment = environmentOf(request);
    const page = parsePageRequest(request.query, MAX_LIMIT);
    const recipient = request.query.recipient === undefined ? undefined : recipientFromQuery(request.query.recipient);
    return collectionPage(outboxOf(store.db, environment.id, recipient), page, ctx.config.publicUrl + request.url, 'messages', presentOutboxMessage, 'newest-first');
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
