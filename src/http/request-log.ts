/**
 * Per-request logging: one line per response at `info` — reqId (bound by Fastify), method,
 * URL, client address, status and time — where Fastify writes two (incoming and completed).
 * The incoming line moves to `debug`, for following a request that never finishes.
 *
 * Why: pino serialises and writes every line synchronously on the request's own turn of the
 * event loop, and at `info` the two lines were the largest cost of an authenticated GET after
 * the database (quality bar P1). One line per response keeps an access log and halves that.
 * Headers and bodies are never logged (tokens, secrets): the `req` serializer below takes
 * method, URL (secret query values redacted), host, address and the correlation IDs only, and
 * pino applies it to every `req` a line carries.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import './correlation.js';

export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * The one list of query parameters whose values never reach a log (docs/quality-bar.md S8): OAuth and
 * OIDC secrets (RFC 6749 §4.1.2 `code`, §10.3 tokens, `client_secret`; RFC 6750 §2.3
 * `access_token`), one-time codes and the PingID Desktop JWTs, and anything a client names
 * like a password, secret, token or key. The API takes none of them in a query string, but
 * a client may send them anyway, and the log must not keep what it sent. `cursor`, `limit`,
 * `filter`, `expand`, `recipient` are kept: they are how a request is followed.
 */
const SECRET_NAMES = new Set([
  'code', 'otp', 'otps', 'passcode', 'pin', 'secret', 'client_secret', 'token', 'access_token', 'refresh_token', 'id_token',
  'password', 'assertion', 'attestation', 'signature', 'sig', 'key', 'apikey', 'api_key', 'authorization', 'session', 'sessionid',
  'client_assertion', 'code_verifier', 'nonce', 'state',
]);
const SECRET_PARTS = /secret|token|passw|otp|assertion|attestation|signature|credential|apikey|api_key|private/i;

export const REDACTED = 'REDACTED';

export function isSecretParameter(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_NAMES.has(n) || SECRET_PARTS.test(n);
}

/** The request target with the value of every secret-bearing query parameter replaced by `REDACTED`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    let name = rawName;
    try { name = decodeURIComponent(rawName.replace(/\+/g, ' ')); } catch { /* logged as sent */ }
    return eq >= 0 && isSecretParameter(name) ? `${rawName}=${REDACTED}` : part;
  });
  return `${url.slice(0, q)}?${query.join('&')}`;
}

/** Fastify's default `req` serializer, with the URL redacted and the correlation IDs (correlation.ts). */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  const { correlation } = request;
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
    ...(correlation ? { transactionId: correlation.transactionId, sessionId: correlation.sessionId } : {}),
  };
}
