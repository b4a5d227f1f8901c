/**
 * The auth host's token and JWKS endpoints (reference §9.1): client_credentials with
 * client_secret_basic or client_secret_post, as the application is configured. Errors use
 * OAuth's own form (RFC 6749 §5.2), not PingOne's management envelope.
 */
import { Type } from 'typebox';
import type { FastifyReply } from 'fastify';
import type { Context } from '../context.js';
import { secretMatches } from './applications.js';
import { FORM_TYPE } from '../http/content-type.js';
import { ApiError, notFound } from '../http/errors.js';
import { ErrorSchema } from '../http/schemas.js';
import type { App } from '../http/types.js';
import { organizationId } from './environments.js';

const OAuthError = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) });
const TokenResponse = Type.Object({ access_token: Type.String(), token_type: Type.String(), expires_in: Type.Integer() });
const Jwk = Type.Object({
  kty: Type.String(), kid: Type.Optional(Type.String()), use: Type.Optional(Type.String()), alg: Type.Optional(Type.String()),
  n: Type.Optional(Type.String()), e: Type.Optional(Type.String()), crv: Type.Optional(Type.String()), x: Type.Optional(Type.String()), y: Type.Optional(Type.String()),
});

function oauthError(reply: FastifyReply, status: number, error: string, description: string, basic = false) {
  reply.code(status).header('Cache-Control', 'no-store');
  if (basic) reply.header('WWW-Authenticate', 'Basic realm="token", charset="UTF-8"');
  return reply.send({ error, error_description: description });
}

/** `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). */
function parseBasic(header: string): { id: string; secret: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  try {
    return { id: decodeURIComponent(text.slice(0, i)), secret: decodeURIComponent(text.slice(i + 1)) };
  } catch {
    return undefined;
  }
}

export function registerTokenRoutes(app: App, ctx: Context): void {
  const { store, tokens, keys } = ctx;

  app.post('/:envId/as/token', {
    schema: {
      tags: ['auth'],
      params: Type.Object({ envId: Type.String() }),
      body: Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())])),
      response: { 200: TokenResponse, 400: OAuthError, 401: OAuthError },
    },
    config: { accepts: [FORM_TYPE], public: true },
    attachValidation: true,
    // What fails before the handler (a JSON or missing Content-Type, an oversized body) is
    // still answered in OAuth's form, which token clients parse (RFC 6749 §5.2).
    errorHandler: (error, request, reply) => {
      const status = error instanceof ApiError ? error.status : error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
      reply.type('application/json');
      if (status >= 500) {
        request.log.error({ err: { message: error.message, stack: error.stack, code: error.code } }, 'unexpected error');
        return oauthError(reply, 500, 'server_error', 'an unexpected error occurred');
      }
      const description = error instanceof ApiError ? error.details?.[0]?.message ?? error.message
        : status === 413 ? 'the request body is too large' : 'the request could not be processed';
      return oauthError(reply, status, 'invalid_request', description);
    },
  }, async (request, reply) => {
    const form = (request.validationError ? {} : request.body ?? {}) as Record<string, string | string[]>;
    const single = (k: string): string | undefined | null => {
      const v = form[k];
      return Array.isArray(v) ? null : v;
    };
    const grantType = single('grant_type');
    if (grantType === undefined || grantType === null) return oauthError(reply, 400, 'invalid_request', 'grant_type is required once');
    if (grantType !== 'client_credentials') return oauthError(reply, 400, 'unsupported_grant_type', 'only client_credentials is supported');

    const basic = typeof request.headers.authorization === 'string' ? parseBasic(request.headers.authorization) : undefined;
    if (request.headers.authorization !== undefined && !basic) return oauthError(reply, 401, 'invalid_client', 'the Authorization header is not HTTP Basic', true);
    const postId = single('client_id');
    const postSecret = single('client_secret');
    if (postId === null || postSecret === null) return oauthError(reply, 400, 'invalid_request', 'client_id and client_secret may appear once');
    if (basic && postSecret !== undefined) return oauthError(reply, 400, 'invalid_request', 'use one client authentication method, not two');
    const method = basic ? 'CLIENT_SECRET_BASIC' : 'CLIENT_SECRET_POST';
    const id = basic?.id ?? postId;
    const secret = basic?.secret ?? postSecret;
    if (!id || !secret) return oauthError(reply, 401, 'invalid_client', 'client authentication is required', true);

    const envId = request.params.envId;
    const row = id.length > 64 || envId.length > 64 ? undefined : await store.db.selectFrom('applications')
      .select(['id', 'environment_id', 'secret_hash', 'enabled', 'token_endpoint_auth_method'])
      .where('id', '=', id).where('environment_id', '=', envId).executeTakeFirst();
    // One answer for unknown client, wrong secret and wrong environment: nothing to enumerate.
    if (!row || !secretMatches(row, secret)) return oauthError(reply, 401, 'invalid_client', 'client authentication failed', !!basic);
    if (row.enabled !== 1) return oauthError(reply, 401, 'invalid_client', 'the application is disabled', !!basic);
    if (row.token_endpoint_auth_method !== method) {
      return oauthError(reply, 401, 'invalid_client', `this application authenticates with ${row.token_endpoint_auth_method}`, !!basic);
    }
    const issued = await tokens.issue(row.environment_id, await organizationId(store.db), row.id);
    return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache')
      .send({ access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn });
  });

  app.get('/:envId/as/jwks', {
    schema: { tags: ['auth'], params: Type.Object({ envId: Type.String() }), response: { 200: Type.Object({ keys: Type.Array(Jwk) }), 404: ErrorSchema } },
    config: { public: true },
  }, async (request, reply) => {
    const envId = request.params.envId;
    const keysList = envId.length > 64 ? [] : await keys.jwks(envId);
    if (keysList.length === 0) throw notFound();
    return reply.header('Cache-Control', 'public, max-age=60').send({ keys: keysList });
  });
}
