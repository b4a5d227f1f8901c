/**
 * The PingID Desktop agent's HTTP API (protocol §1.2 and §2 step 2), on node:http.
 *
 *   POST /register      creation options JWT  → attestation JWT
 *   POST /authenticate  request options JWT   → assertion JWT
 *   OPTIONS (both)      CORS pre-flight
 *   GET  /health        {"status":"ok"}
 *
 * Each POST runs the checks in the protocol's order and stops at the first failure:
 * content type (415), size (413), three base64url parts (400), the options JWT (400, or
 * 403 for an untrusted issuer), then the Origin against rp.id (403); then options answered
 * before (409 options_replayed: each (iss, jti) is answered once, remembered on disk until it
 * expires) and, for /register, a full key store (409 keystore_full). Errors are
 * `{"error": code, "message": text}`. Nothing logged ever contains a key, a challenge or
 * a JWT.
 */
import { AGENT_ISSUER, TYP } from '../protocol/desktop.js';
import { generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { epochSeconds, iso, systemClock, type Clock } from '../clock.js';
import { privateKeyFromJwk, signCompact } from '../crypto/jws.js';
import { newId } from '../crypto/random.js';
import { detectOs, type AgentConfig, type AgentOs } from './config.js';
import { JwksCache, type FetchLike } from './jwks.js';
import { AnsweredFull, KeyStoreFull, OptionsReplayed, openKeyStore, type AnsweredOptions, type EcPrivateJwk, type KeyStore } from './keystore.js';
import { checkOrigin, parseOrigin } from './origin.js';
import { CLOCK_SKEW_SECONDS, MAX_JWT_BYTES, verifyOptions, type OptionsClaims, type OptionsKind } from './options.js';
import { isLoopbackHost } from '../net.js';
import { closeLocal, limitLocal, listenLocal } from '../local-server.js';

const generateKeyPair = promisify(generateKeyPairCb);

/** The application ID every OpenMFA PingID Desktop agent reports in its attestation. */
export const AGENT_APPLICATION_ID = '941d6390-ec3a-4bf4-858a-949c47ccd36e';
export const AGENT_APPLICATION_NAME = 'PingID Desktop';
export const AGENT_VERSION = '1.0.0';
/** `iss` of everything the agent signs. */
export { AGENT_ISSUER };
export const ATTESTATION_TYP = TYP.attestation;
export const ASSERTION_TYP = TYP.assertion;
export const ATTESTATION_LIFETIME_SECONDS = 300;
export const ASSERTION_LIFETIME_SECONDS = 60;
export const MAX_BODY_BYTES = MAX_JWT_BYTES;
const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** After a 413 the rest of the body is discarded (not buffered) up to this much, then the socket is dropped. */
const MAX_DISCARD_BYTES = 1024 * 1024;

export interface CreateAgentOptions {
  config: AgentConfig;
  clock?: Clock | undefined;
  /** An open key store; by default `openKeyStore(config.stateDir)` on first use / listen(). */
  keystore?: KeyStore | undefined;
  /** Used for JWKS fetches; defaults to the global fetch. */
  fetch?: FetchLike | undefined;
  /** Operational messages (never secrets). Defaults to stderr. */
  log?: ((line: string) => void) | undefined;
}

export interface Agent {
  readonly server: http.Server;
  /** Opens the key store (a corrupt one rejects here) and starts listening. */
  listen(): Promise<{ url: string }>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const OS_LABEL: Record<AgentOs['type'], string> = { MAC: 'Mac', WINDOWS: 'Windows', LINUX: 'Linux' };

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function mediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.split(';')[0]?.trim().toLowerCase();
}

function sendJson(res: ServerResponse, status: number, body: Json, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...extraHeaders,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

const sendError = (res: ServerResponse, status: number, code: string, message: string, extraHeaders?: Record<string, string>): void =>
  sendJson(res, status, { error: code, message }, extraHeaders);

type BodyResult = { ok: true; body: Buffer } | { ok: false; reason: 'too_large' | 'aborted' };

/** Buffers at most `limit` bytes; on the first byte beyond it stops buffering and reports too_large. */
function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (r: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      total += chunk.length;
      if (total > limit) {
        // Keep at most limit + 1 bytes; the rest is never buffered.
        chunks.length = 0;
        finish({ ok: false, reason: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish({ ok: true, body: Buffer.concat(chunks, total) });
    const onAbort = (): void => finish({ ok: false, reason: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
  });
}

/** Throws away whatever the client still sends, without buffering, up to a cap. */
function discardRest(req: IncomingMessage): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > MAX_DISCARD_BYTES) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

export function createAgent(options: CreateAgentOptions): Agent {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const agentOs = config.os ?? detectOs();
  const jwks = new JwksCache({ trust: config.trust, clock, fetch: options.fetch });
  const bindsLoopback = isLoopbackHost(config.host);

  let keystorePromise: Promise<KeyStore> | undefined = options.keystore ? Promise.resolve(options.keystore) : undefined;
  const getKeystore = (): Promise<KeyStore> => {
    if (!keystorePromise) {
      keystorePromise = openKeyStore(config.stateDir, { maxCredentials: config.maxCredentials });
      // A failed open is retried on the next call rather than cached forever.
      keystorePromise.catch(() => {
        keystorePromise = undefined;
      });
    }
    return keystorePromise;
  };

  /** Steps 1–3 of §1.2, shared by both routes. */
  async function acceptOptions(req: IncomingMessage, res: ServerResponse, kind: OptionsKind): Promise<{ claims: OptionsClaims; origin: string }> {
    // 1. Content type, size, three base64url parts.
    if (mediaType(singleHeader(req, 'content-type')) !== 'application/jwt') {
      throw new HttpError(415, 'unsupported_media_type', 'Content-Type must be application/jwt');
    }
    const declared = singleHeader(req, 'content-length');
    if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
      res.setHeader('Connection', 'close');
      discardRest(req);
      throw new HttpError(413, 'payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`);
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (!body.ok) {
      res.setHeader('Connection', 'close');
      if (body.reason === 'aborted') throw new HttpError(400, 'malformed_request', 'the request body was not received');
      discardRest(req);
      throw new HttpError(413, 'payload_too_large', `the body must be at most ${MAX_BODY_BYTES} bytes`);
    }
    const token = body.body.toString('latin1').trim();
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
      throw new HttpError(400, 'malformed_jwt', 'the body must be a compact JWS of three base64url parts');
    }

    // 2. The JWT.
    const verified = await verifyOptions(token, kind, { trust: config.trust, jwks, clock });
    if (!verified.ok) throw new HttpError(verified.status, verified.code, verified.message);

    // 3. The Origin.
    const origin = singleHeader(req, 'origin');
    const checked = checkOrigin(origin, verified.claims.rp.id);
    if (!checked.ok) throw new HttpError(403, 'origin_refused', checked.reason);
    return { claims: verified.claims, origin: checked.origin };
  }

  /**
   * These options as the key store remembers them once answered: until they could no longer
   * be accepted (`exp` + the skew verifyOptions allows).
   */
  const answerOf = (claims: OptionsClaims): AnsweredOptions => ({ issuer: claims.iss, jti: claims.jti, until: claims.exp + CLOCK_SKEW_SECONDS });

  const replayed = (): HttpError => new HttpError(409, 'options_replayed', 'these options were already answered; each options JWT is answered once');
  const full = (max: number): HttpError =>
    new HttpError(409, 'keystore_full', `the agent already holds its maximum of ${max} credentials; remove unused ones before pairing again`);

  /** The key store's refusals as answers; anything else is the store failing. */
  function keystoreRefusal(err: unknown, doing: string): HttpError {
    if (err instanceof OptionsReplayed) return replayed();
    if (err instanceof KeyStoreFull) return full(err.max);
    if (err instanceof AnsweredFull) return new HttpError(503, 'busy', 'the agent answered too many options recently; try again later');
    log(`PingID Desktop agent: could not ${doing}: ${(err as Error).message}`);
    return new HttpError(500, 'keystore_unavailable', `could not ${doing}`);
  }

  async function register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { claims, origin } = await acceptOptions(req, res, 'creation');
    const keystore = await getKeystore();
    const nowSeconds = epochSeconds(clock.now());
    // Refused before a key is made; keystore.add checks both again inside its one write.
    if (keystore.hasAnswered(claims.iss, claims.jti, nowSeconds)) throw replayed();
    if (keystore.list().length >= keystore.maxCredentials) throw full(keystore.maxCredentials);

    const { privateKey } = await generateKeyPair('ec', { namedCurve: 'P-256' });
    const exported = privateKey.export({ format: 'jwk' });
    const { x, y, d } = exported;
    if (typeof x !== 'string' || typeof y !== 'string' || typeof d !== 'string') throw new Error('key export failed');
    const privateJwk: EcPrivateJwk = { kty: 'EC', crv: 'P-256', x, y, d };
    const credentialId = newId();

    try {
      await keystore.add({
        credentialId,
        deviceId: claims.sub,
        issuer: claims.iss,
        rpId: claims.rp.id,
        privateJwk,
        createdAt: iso(clock.now()),
      }, answerOf(claims), nowSeconds);
    } catch (err) {
      throw keystoreRefusal(err, 'save the new credential');
    }

    const iat = epochSeconds(clock.now());
    const attestation = signCompact(
      'ES256',
      privateKey,
      { typ: ATTESTATION_TYP, jwk: { kty: 'EC', crv: 'P-256', x, y } },
      {
        iss: AGENT_ISSUER,
        aud: claims.iss,
        sub: claims.sub,
        challenge: claims.challenge,
        origin,
        credentialId,
        unitId: keystore.unitId,
        // No count in the default name: it would tell every issuer how many credentials this
        // agent holds for others.
        nickname: config.nickname ?? `Desktop ${OS_LABEL[agentOs.type]}`,
        os: { type: agentOs.type, version: agentOs.version },
        model: {},
        application: { id: AGENT_APPLICATION_ID, nativeName: AGENT_APPLICATION_NAME, version: AGENT_VERSION, pushSandbox: false },
        iat,
        exp: iat + ATTESTATION_LIFETIME_SECONDS,
      },
    );
    sendJwt(res, attestation);
  }

  async function authenticate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { claims, origin } = await acceptOptions(req, res, 'request');
    const keystore = await getKeystore();
    const ids = (claims.allowCredentials ?? []).map((c) => c.id);
    const credential = keystore.find(claims.iss, ids, claims.rp.id);
    if (!credential) throw new HttpError(404, 'credential_not_found', 'this agent holds no credential allowed by the request options');
    // Remembered on disk before the assertion leaves, so no restart answers these options again.
    try {
      await keystore.answer(answerOf(claims), epochSeconds(clock.now()));
    } catch (err) {
      throw keystoreRefusal(err, 'remember the answered options');
    }

    let key: KeyObject;
    try {
      key = privateKeyFromJwk({ ...credential.privateJwk });
    } catch {
      log(`PingID Desktop agent: stored credential ${credential.credentialId} has an unusable key`);
      throw new HttpError(500, 'keystore_unavailable', 'the stored credential key is unusable');
    }
    const iat = epochSeconds(clock.now());
    const assertion = signCompact(
      'ES256',
      key,
      { typ: ASSERTION_TYP, kid: credential.credentialId },
      {
        iss: AGENT_ISSUER,
        aud: claims.iss,
        sub: claims.sub,
        challenge: claims.challenge,
        origin,
        credentialId: credential.credentialId,
        unitId: keystore.unitId,
        iat,
        exp: iat + ASSERTION_LIFETIME_SECONDS,
      },
    );
    sendJwt(res, assertion);
  }

  function sendJwt(res: ServerResponse, jwt: string): void {
    res.writeHead(200, { 'Content-Type': 'application/jwt', 'Content-Length': String(Buffer.byteLength(jwt)) });
    res.end(jwt);
  }

  function preflight(req: IncomingMessage, res: ServerResponse, corsOrigin: string | undefined): void {
    if (!corsOrigin) throw new HttpError(403, 'cors_refused', 'a pre-flight request needs a valid Origin header');
    if (singleHeader(req, 'access-control-request-method') !== 'POST') {
      throw new HttpError(403, 'cors_refused', 'only POST is allowed');
    }
    const requested = singleHeader(req, 'access-control-request-headers');
    const names = (requested ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
    if (names.some((h) => h !== 'content-type')) throw new HttpError(403, 'cors_refused', 'only the Content-Type request header is allowed');
    const headers: Record<string, string> = {
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': 'Content-Type',
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
    };
    // Chrome's Private Network Access: a public page calling this loopback agent asks first.
    if (singleHeader(req, 'access-control-request-private-network') === 'true') headers['Access-Control-Allow-Private-Network'] = 'true';
    res.writeHead(204, headers);
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Vary', 'Origin');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const originHeader = singleHeader(req, 'origin');
    const corsOrigin = parseOrigin(originHeader) ? originHeader : undefined;
    if (corsOrigin) res.setHeader('Access-Control-Allow-Origin', corsOrigin);

    // DNS rebinding: when bound to loopback, only loopback names may address the agent.
    if (bindsLoopback) {
      const hostHeader = singleHeader(req, 'host');
      let hostname: string | undefined;
      try {
        hostname = hostHeader ? new URL(`http://${hostHeader}`).hostname : undefined;
      } catch {
        hostname = undefined;
      }
      if (!hostname || !isLoopbackHost(hostname)) throw new HttpError(403, 'host_refused', 'the agent answers only on loopback host names');
    }

    const path = (req.url ?? '').split('?')[0];
    const method = req.method ?? '';
    switch (path) {
      case '/health':
        if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', 'use GET');
        sendJson(res, 200, { status: 'ok' });
        return;
      case '/register':
      case '/authenticate':
        if (method === 'OPTIONS') return preflight(req, res, corsOrigin);
        if (method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST');
        return path === '/register' ? register(req, res) : authenticate(req, res);
      default:
        throw new HttpError(404, 'not_found', 'no such endpoint');
    }
  }

  const server = http.createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        const extra: Record<string, string> = err.status === 405 ? { Allow: (req.url ?? '').startsWith('/health') ? 'GET, HEAD' : 'POST, OPTIONS' } : {};
        sendError(res, err.status, err.code, err.message, extra);
        return;
      }
      log(`PingID Desktop agent: internal error on ${req.method ?? '?'} ${(req.url ?? '').split('?')[0]}: ${(err as Error)?.name ?? 'Error'}`);
      sendError(res, 500, 'internal_error', 'the agent could not handle the request');
    }).catch(() => {
      res.destroy();
    });
  });
  limitLocal(server, 15_000);

  return {
    server,
    async listen() {
      await getKeystore();
      return { url: await listenLocal(server, config.port, config.host) };
    },
    close: () => closeLocal(server),
  };
}
