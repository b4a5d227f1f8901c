/**
 * `Idempotency-Key` (quality bar R3) on the POST routes marked `config.idempotent`:
 * device create, device actions, device authentication create and its actions.
 *
 *   same key, same request            → the first response again (status, body, content-type,
 *                                       cache-control) with `Idempotent-Replayed: true`
 *   same key, another request         → 422 REQUEST_FAILED / IDEMPOTENCY_KEY_REUSED
 *   same key while the first runs     → 409 REQUEST_FAILED / IDEMPOTENCY_KEY_IN_FLIGHT, Retry-After: 1
 *   a 5xx answer                      → the key is released, so a retry runs again
 *
 * A key is scoped to (environment, calling application, method, path, key) and kept 24 hours.
 * The claim is one INSERT of an IN_FLIGHT row with a unique scope, so it is atomic across
 * processes; the response is stored in onSend, before it leaves. Stored bodies are sealed
 * with the master key (they may carry OTP secrets and pairing options). The hooks run after
 * authentication and validation: a bad token or body never touches a key.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest, onSendAsyncHookHandler, preHandlerAsyncHookHandler, preParsingAsyncHookHandler } from 'fastify';
import type { Context } from '../context.js';
import { isUniqueViolation } from '../store/db.js';
import { mediaType } from './content-type.js';
import { ApiError, MESSAGES, invalidValue } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Honour `Idempotency-Key`; a list limits it to requests of those media types. */
    idempotent?: true | readonly string[];
  }
  interface FastifyRequest {
    idempotency?: { rawBody?: Buffer[]; rowId?: string; settled?: boolean };
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** An IN_FLIGHT row older than this belongs to a request that died with its process. */
const LEASE_MS = 5 * 60 * 1000;
const PURGE_EVERY_MS = 60 * 1000;
const REPLAYED_HEADERS = ['content-type', 'cache-control'] as const;

const sha256 = (value: string | Buffer): string => createHash('sha256').update(value).digest('hex');

const keyReused = (): ApiError => new ApiError(422, 'REQUEST_FAILED', MESSAGES.REQUEST_FAILED, [
  { code: 'IDEMPOTENCY_KEY_REUSED', target: 'Idempotency-Key', message: 'This Idempotency-Key was used with a different request' },
]);
const keyInFlight = (): ApiError => new ApiError(409, 'REQUEST_FAILED', MESSAGES.REQUEST_FAILED, [
  { code: 'IDEMPOTENCY_KEY_IN_FLIGHT', target: 'Idempotency-Key', message: 'A request with this Idempotency-Key is still being processed' },
], { 'Retry-After': '1' });

function applies(request: FastifyRequest): boolean {
  const flag = request.routeOptions.config.idempotent;
  if (!flag || request.method !== 'POST' || request.headers[IDEMPOTENCY_HEADER] === undefined) return false;
  if (flag === true) return true;
  const type = mediaType(request) ?? request.routeOptions.config.accepts?.[0];
  return type !== undefined && flag.includes(type);
}

/** 1–255 printable ASCII characters (space to tilde), given once. */
function keyOf(request: FastifyRequest): string {
  const value = request.headers[IDEMPOTENCY_HEADER];
  if (typeof value !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(value)) {
    throw invalidValue('Idempotency-Key', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  return value;
}

export function registerIdempotencyHooks(app: FastifyInstance, ctx: Context): void {
  const { store, clock, box } = ctx;
  const db = store.db;
  let lastPurge = Number.NEGATIVE_INFINITY;

  // The raw body, as sent, is part of the request fingerprint.
  const preParsing: preParsingAsyncHookHandler = async (request, _reply, payload) => {
    if (!applies(request)) return payload;
    const chunks: Buffer[] = [];
    request.idempotency = { rawBody: chunks };
    const tee = new Transform({
      transform(chunk: Buffer | string, _enc, done) {
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        done(null, chunk);
      },
    });
    payload.on('error', (e) => tee.destroy(e));
    return payload.pipe(tee);
  };

  const preHandler: preHandlerAsyncHookHandler = async (request, reply) => {
    if (!applies(request)) return;
    const key = keyOf(request);
    const auth = request.auth;
    const environmentId = auth?.environment?.id;
    if (!auth || environmentId === undefined) throw new Error('idempotent route is missing authentication');
    const path = request.url.split('?')[0]!;
    const scope = sha256(JSON.stringify([environmentId, auth.caller.clientId, request.method, path, key]));
    const raw = Buffer.concat(request.idempotency?.rawBody ?? []);
    const requestHash = sha256(Buffer.concat([
      Buffer.from(JSON.stringify([request.method, request.url, request.headers['content-type'] ?? '']) + '\n'), raw,
    ]));

    const now = clock.now();
    if (now - lastPurge >= PURGE_EVERY_MS) {
      lastPurge = now;
      await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).execute()
        .catch((e: unknown) => request.log.warn({ err: { message: (e as Error).message } }, 'idempotency purge failed'));
    }

    for (let attempt = 0; attempt < 5; attempt++) {
      const id = randomUUID();
      const at = clock.now();
      try {
        await db.insertInto('idempotency_keys').values({
          id, scope, environment_id: environmentId, request_hash: requestHash, state: 'IN_FLIGHT',
          status: null, headers: null, body_sealed: null, created_at: at, expires_at: at + KEY_TTL_MS,
        }).execute();
        request.idempotency = { rowId: id };
        return;
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      const row = await db.selectFrom('idempotency_keys').selectAll().where('scope', '=', scope).executeTakeFirst();
      if (!row) continue; // released meanwhile: claim again
      const stale = row.expires_at <= at || (row.state === 'IN_FLIGHT' && at - row.created_at > LEASE_MS);
      if (stale) {
        await db.deleteFrom('idempotency_keys').where('id', '=', row.id).execute();
        continue;
      }
      if (row.request_hash !== requestHash) throw keyReused();
      if (row.state !== 'DONE' || row.status === null || row.body_sealed === null) throw keyInFlight();
      const headers = JSON.parse(row.headers ?? '{}') as Record<string, string>;
      const body = box.open(row.body_sealed, 'idempotency:' + row.id);
      request.idempotency = { settled: true };
      reply.code(row.status).headers({ ...headers, 'idempotent-replayed': 'true' });
      return reply.send(body);
    }
    throw keyInFlight();
  };

  const onSend: onSendAsyncHookHandler = async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim?.rowId || claim.settled) return payload;
    claim.settled = true;
    const id = claim.rowId;
    const status = reply.statusCode;
    const body = typeof payload === 'string' ? payload
      : Buffer.isBuffer(payload) ? payload.toString('utf8')
        : payload === null || payload === undefined ? '' : undefined;
    try {
      if (status >= 500 || body === undefined) {
        await db.deleteFrom('idempotency_keys').where('id', '=', id).execute();
        return payload;
      }
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const v = reply.getHeader(name);
        if (v !== undefined) headers[name] = String(v);
      }
      await db.updateTable('idempotency_keys').set({
        state: 'DONE', status, headers: JSON.stringify(headers), body_sealed: box.seal(body, 'idempotency:' + id),
      }).where('id', '=', id).execute();
    } catch (e) {
      request.log.error({ err: { message: (e as Error).message } }, 'could not record the Idempotency-Key response');
      await db.deleteFrom('idempotency_keys').where('id', '=', id).execute().catch(() => {});
    }
    return payload;
  };

  // The hooks are attached to the routes that honour the header, not to every request: a
  // GET never pays for three hook calls that could only return at once (quality bar P1).
  app.addHook('onRoute', (route) => {
    if (!route.config?.idempotent) return;
    route.preParsing = [...asArray(route.preParsing), preParsing];
    route.preHandler = [...asArray(route.preHandler), preHandler];
    route.onSend = [...asArray(route.onSend), onSend];
  });
}

/** A route option that takes one hook or several. */
const asArray = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);
