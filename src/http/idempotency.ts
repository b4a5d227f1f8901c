/**
 * `Idempotency-Key` (quality bar R3, R6) on the POST routes marked `config.idempotent`:
 * device create, device actions, device authentication create and its actions.
 *
 *   same key, same request            → the first response again (status, body, content-type,
 *                                       cache-control) with `Idempotent-Replayed: true`
 *   same key, another request         → 422 REQUEST_FAILED / IDEMPOTENCY_KEY_REUSED
 *   same key while the first runs     → 409 REQUEST_FAILED / IDEMPOTENCY_KEY_IN_FLIGHT, Retry-After: 1
 *                                       (PostgreSQL; on SQLite the retry waits for the first)
 *   a 5xx answer                      → the request's writes are rolled back and the key released
 *
 * A key is scoped to (environment, calling application, method, path, key) and kept 24 hours.
 * Stored bodies are sealed with the master key (they may carry OTP secrets and pairing
 * options). The hooks run after authentication and validation: a bad token or body never
 * touches a key.
 *
 * Crash safety (R6). The key's claim, the handler's every write and the stored response are
 * one store transaction: the handler runs inside it (store.begin; `store.db` resolves to it
 * through the store's AsyncLocalStorage scope, so nested `store.transaction`s become
 * savepoints), and onSend writes the response into the key's row and COMMITs before the
 * response leaves — so, as with group commit, no answer acknowledges what is not committed. A
 * kill -9 at any moment leaves either nothing (the transaction dies with the process: no key,
 * no device, no queued message) or everything (key, device, message, response); the retry then
 * runs afresh or replays the stored response. A committed row is always finished: a key row
 * left unfinished (written by an older version that claimed keys apart) belongs to a request
 * that is gone and is taken over at once.
 *
 * Who is still running. PostgreSQL: the transaction first takes a transaction-scoped advisory
 * lock on the key's scope with pg_try_advisory_xact_lock; a retry that cannot take it answers
 * 409 — the lock is held only by a live session, and PostgreSQL releases it when the session's
 * transaction ends, or when its process dies and the connection drops. SQLite: one process owns
 * the file and runs one write transaction at a time, so a retry in that process waits for the
 * first to commit and then replays it; a claim never outlives its process.
 *
 * Nothing slow runs inside the transaction: codes are queued, not sent (notify/queue.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendAsyncHookHandler, preHandlerAsyncHookHandler, preParsingAsyncHookHandler, RouteHandlerMethod } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Clock } from '../clock.js';
import type { SecretBox } from '../crypto/secretbox.js';
import type { OpenTransaction, Store } from '../store/db.js';
import { mediaType } from './content-type.js';
import { idempotencyKeyInFlight, idempotencyKeyReused, invalidValue } from './errors.js';
import { parseStored } from './validation.js';

const StoredHeaders = Type.Record(Type.String(), Type.String());

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Honour `Idempotency-Key`; a list limits it to requests of those media types. */
    idempotent?: true | readonly string[];
  }
  interface FastifyRequest {
    idempotency?: Claim;
  }
}

interface Claim {
  rawBody?: Buffer[];
  /** Set by preHandler once the key is valid. */
  scope?: string;
  requestHash?: string;
  /** The key's row, inside `tx`. */
  rowId?: string;
  tx?: OpenTransaction;
  /** The response is recorded (or the key was not claimed): onSend leaves it alone. */
  settled?: boolean;
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;
const PURGE_EVERY_MS = 60 * 1000;
const REPLAYED_HEADERS = ['content-type', 'cache-control'] as const;

const sha256 = (value: string | Buffer): string => createHash('sha256').update(value).digest('hex');

/** The advisory lock's key: the first 64 bits of the scope hash, as PostgreSQL's signed bigint. */
const lockKey = (scope: string): string => BigInt.asIntN(64, BigInt('0x' + scope.slice(0, 16))).toString();

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

export function registerIdempotencyHooks(app: FastifyInstance, deps: { store: Store; clock: Clock; box: SecretBox }): void {
  const { store, clock, box } = deps;
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

  // The key is checked and fingerprinted after authentication and validation; the claim itself
  // is made by the handler wrapper, inside the request's transaction.
  const preHandler: preHandlerAsyncHookHandler = async (request) => {
    if (!applies(request)) return;
    const key = keyOf(request);
    const auth = request.auth;
    const environmentId = auth?.environment?.id;
    if (!auth || environmentId === undefined) throw new Error('idempotent route is missing authentication');
    const path = request.url.split('?')[0]!;
    const raw = Buffer.concat(request.idempotency?.rawBody ?? []);
    request.idempotency = {
      scope: sha256(JSON.stringify([environmentId, auth.caller.clientId, request.method, path, key])),
      requestHash: sha256(Buffer.concat([
        Buffer.from(JSON.stringify([request.method, request.url, request.headers['content-type'] ?? '']) + '\n'), raw,
      ])),
    };
    const now = clock.now();
    if (now - lastPurge >= PURGE_EVERY_MS) {
      lastPurge = now;
      await store.db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).execute()
        .catch((e: unknown) => request.log.warn({ err: { message: (e as Error).message } }, 'idempotency purge failed'));
    }
  };

  /**
   * Claims the key inside a new transaction and runs the handler in it; returns the replayed
   * reply instead when the key already holds a response. Throws 409 or 422 with the
   * transaction rolled back.
   */
  async function claimAndRun(this: FastifyInstance, handler: RouteHandlerMethod, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const claim = request.idempotency;
    if (!claim?.scope || !claim.requestHash) return handler.call(this, request, reply);
    const { scope, requestHash } = claim;
    const tx = await store.begin();
    try {
      const db = tx.trx;
      if (store.dialect === 'postgres') {
        const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${lockKey(scope)}::bigint) as ok`.execute(db);
        if (!rows[0]?.ok) throw idempotencyKeyInFlight();
      }
      const at = clock.now();
      const id = randomUUID();
      const fresh = {
        id, scope, environment_id: request.auth!.environment!.id, request_hash: requestHash, state: 'IN_FLIGHT' as const,
        status: null, headers: null, body_sealed: null, created_at: at, expires_at: at + KEY_TTL_MS,
      };
      // The claim is the transaction's first statement, a write: on SQLite it takes the write
      // lock at once (waiting for it like any write) rather than upgrading a read later.
      const claimed = await db.insertInto('idempotency_keys').values(fresh).onConflict((oc) => oc.column('scope').doNothing())
        .returning('id').executeTakeFirst();
      if (!claimed) {
        const row = await db.selectFrom('idempotency_keys').selectAll().where('scope', '=', scope).executeTakeFirstOrThrow();
        if (row.expires_at > at && row.state === 'DONE' && row.status !== null && row.body_sealed !== null) {
          if (row.request_hash !== requestHash) throw idempotencyKeyReused();
          const headers = parseStored(StoredHeaders, row.headers ?? '{}', 'replayed headers');
          const body = box.open(row.body_sealed, 'idempotency:' + row.id);
          await tx.rollback();
          claim.settled = true;
          return reply.code(row.status).headers({ ...headers, 'idempotent-replayed': 'true' }).send(body);
        }
        // Expired, or unfinished and so from a request that is gone (see the header): start over.
        await db.deleteFrom('idempotency_keys').where('id', '=', row.id).execute();
        await db.insertInto('idempotency_keys').values(fresh).execute();
      }
      claim.rowId = id;
      claim.tx = tx;
    } catch (e) {
      claim.settled = true;
      if (!tx.done) await tx.rollback().catch(() => {});
      throw e;
    }
    return tx.run(async () => handler.call(this, request, reply));
  }

  // Records the response in the key's row and commits, before the response leaves.
  const onSend: onSendAsyncHookHandler = async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim?.tx || claim.settled) return payload;
    claim.settled = true;
    const { tx, rowId } = claim;
    const status = reply.statusCode;
    const body = typeof payload === 'string' ? payload
      : Buffer.isBuffer(payload) ? payload.toString('utf8')
        : payload === null || payload === undefined ? '' : undefined;
    if (status >= 500 || body === undefined || rowId === undefined) {
      // The request failed: nothing it wrote stays, and the key is free for a retry.
      await tx.rollback().catch((e: unknown) => request.log.error({ err: { message: (e as Error).message } }, 'rollback failed'));
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const v = reply.getHeader(name);
      if (v !== undefined) headers[name] = String(v);
    }
    try {
      await tx.trx.updateTable('idempotency_keys').set({
        state: 'DONE', status, headers: JSON.stringify(headers), body_sealed: box.seal(body, 'idempotency:' + rowId),
      }).where('id', '=', rowId).execute();
      await tx.commit();
    } catch (e) {
      // Not committed: this answer must not go out as if it were (the error handler makes it a 500).
      if (!tx.done) await tx.rollback().catch(() => {});
      request.log.error({ err: { message: (e as Error).message } }, 'could not commit the Idempotency-Key response');
      throw e;
    }
    return payload;
  };

  // A response that ended without our onSend having finished the transaction (another onSend
  // hook threw first) must not keep it open: on SQLite that would stop every other write.
  const release = async (request: FastifyRequest): Promise<void> => {
    const tx = request.idempotency?.tx;
    if (tx && !tx.done) await tx.rollback().catch(() => {});
  };

  // The hooks are attached to the routes that honour the header, not to every request: a
  // GET never pays for hook calls that could only return at once (quality bar P1).
  app.addHook('onRoute', (route) => {
    if (!route.config?.idempotent) return;
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request, reply) {
      return claimAndRun.call(this, handler, request, reply);
    };
    route.preParsing = [...asArray(route.preParsing), preParsing];
    route.preHandler = [...asArray(route.preHandler), preHandler];
    route.onSend = [...asArray(route.onSend), onSend];
    route.onResponse = [...asArray(route.onResponse), release];
  });
}

/** A route option that takes one hook or several. */
const asArray = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);
