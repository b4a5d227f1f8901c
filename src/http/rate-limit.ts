/**
 * Rate limits (quality bar S7, S10): fixed one-second windows, two budgets.
 *
 *   per client IP    every API request (under /v1/ or an environment, the token endpoint
 *                    included), counted on arrival, before authentication: an address that
 *                    floods — with or without credentials — is refused alone;
 *   per environment  only calls authenticated for that environment (a bearer token accepted
 *                    for it, after access.ts), so anonymous or failed calls never spend a
 *                    tenant's budget and cannot starve its own authenticated calls.
 *
 * A request over either is answered 429 REQUEST_LIMITED, detail LIMIT_EXCEEDED with
 * `innerError: {quotaLimit, retryAfter}` and `Retry-After` (reference §7.3/§7.4) — PingOne's
 * envelope on every route, the token endpoint included (its OAuth errors have no 429 form;
 * clients honour `Retry-After`). `/health`, `/openapi.json` and the console are not limited.
 * The client IP is Fastify's `request.ip`: the socket peer, or behind the configured
 * `--trusted-proxies` (trustProxy) the right-most X-Forwarded-For address not among them.
 *
 * Counters live in memory, or in Redis (`--redis-url`) so that processes share one budget.
 * When Redis does not answer, requests pass (fail open) and a warning is logged.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { createRequire } from 'node:module';
import type { Redis as RedisClient } from 'ioredis';
import type { Clock } from '../clock.js';
import type { ServerConfig } from '../config.js';
import { renderError, requestLimited, type ApiError } from './errors.js';

const WINDOW_MS = 1000;

interface Counters {
  /** Counts one request against `key` in `window`; false when that makes it more than `limit`. */
  take(window: number, key: string, limit: number): Promise<boolean>;
  ready(): Promise<void>;
  close(): Promise<void>;
}

class MemoryCounters implements Counters {
  #window = -1;
  #counts = new Map<string, number>();

  async take(window: number, key: string, limit: number): Promise<boolean> {
    if (window !== this.#window) {
      // Only the current window is kept, so memory is bounded by one second's traffic.
      this.#window = window;
      this.#counts = new Map();
    }
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, n);
    return n <= limit;
  }
  async ready(): Promise<void> {}
  async close(): Promise<void> {}
}

/** One round trip: count, give the window's key a lifetime, compare. */
const TAKE_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1
`;

class RedisCounters implements Counters {
  readonly #redis: RedisClient;
  readonly #log: FastifyBaseLogger | undefined;
  #lastWarning = 0;

  constructor(url: string, log: FastifyBaseLogger | undefined) {
    this.#log = log;
    // Loaded only when Redis is configured: ioredis is ~45 modules a start without it does not need.
    const { Redis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.#redis = new Redis(url, {
      // Never queue behind a dead connection: a request either counts now or passes.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.#redis.on('error', (e: Error) => this.#warn('Redis is unreachable; rate limits are not enforced', e));
    this.#redis.defineCommand('openmfaTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  #warn(message: string, e: unknown): void {
    const now = Date.now();
    if (!this.#log || now - this.#lastWarning < 10_000) return;
    this.#lastWarning = now;
    this.#log?.warn({ err: { message: e instanceof Error ? e.message : String(e) } }, message);
  }

  async take(window: number, key: string, limit: number): Promise<boolean> {
    try {
      const run = (this.#redis as unknown as Record<string, (...a: unknown[]) => Promise<number>>).openmfaTake!;
      return (await run.call(this.#redis, `openmfa:rl:${window}:${key}`, limit, 10 * WINDOW_MS)) === 1;
    } catch (e) {
      this.#warn('Redis did not answer; rate limits are not enforced', e);
      return true;
    }
  }

  async ready(): Promise<void> {
    if (this.#redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis did not become ready')), 5000);
      this.#redis.once('ready', () => { clearTimeout(timer); resolve(); });
    });
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: one client, one key, whichever socket family it came in on. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export type Taken = { ok: true } | { ok: false; retryAfter: number; quotaLimit: number };

export class RateLimiter {
  readonly #limit: number;
  readonly #ipLimit: number;
  readonly #clock: Clock;
  readonly #counters: Counters;

  /** `log` is where Redis trouble is reported (the app's logger, made before the limiter). */
  constructor(config: ServerConfig, clock: Clock, log?: FastifyBaseLogger) {
    this.#limit = config.rateLimit;
    this.#ipLimit = Math.max(1, Math.floor(config.rateLimit * config.rateLimitIpShare));
    this.#clock = clock;
    this.#counters = config.rateLimit > 0 && config.redisUrl ? new RedisCounters(config.redisUrl, log) : new MemoryCounters();
  }

  get enabled(): boolean {
    return this.#limit > 0;
  }

  /** Counts one request of client `ip` (any environment, authenticated or not). */
  takeIp(ip: string): Promise<Taken> {
    return this.#take(`i:${normalize(ip).slice(0, 64)}`, this.#ipLimit);
  }

  /** Counts one call authenticated for `environmentId`. */
  takeEnvironment(environmentId: string): Promise<Taken> {
    return this.#take(`e:${environmentId}`, this.#limit);
  }

  async #take(key: string, limit: number): Promise<Taken> {
    const now = this.#clock.now();
    const window = Math.floor(now / WINDOW_MS);
    if (await this.#counters.take(window, key, limit)) return { ok: true };
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    return { ok: false, retryAfter, quotaLimit: limit };
  }

  ready(): Promise<void> {
    return this.#counters.ready();
  }
  close(): Promise<void> {
    return this.#counters.close();
  }
}

const limited = (verdict: Extract<Taken, { ok: false }>, message: string): ApiError =>
  requestLimited(verdict.retryAfter, {
    code: 'LIMIT_EXCEEDED',
    message,
    innerError: { quotaLimit: verdict.quotaLimit, retryAfter: verdict.retryAfter },
  });

/** API routes: under /v1/ or under an environment (the auth host's /:envId/…); not /health, /openapi.json, the console. */
function isApiRoute(request: FastifyRequest): boolean {
  const url = request.routeOptions.url;
  if (url === undefined) return false;
  return url.startsWith('/v1/') || typeof (request.params as { envId?: unknown } | undefined)?.envId === 'string';
}

/** The per-IP budget, on arrival: before authentication, body parsing and everything else. */
export function registerIpRateLimit(app: FastifyInstance, limiter: RateLimiter): void {
  if (!limiter.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    if (!isApiRoute(request)) return;
    const verdict = await limiter.takeIp(request.ip);
    if (verdict.ok) return;
    const error = limited(verdict, 'Too many requests were made from this client address; retry after the time given');
    // Sent here, not thrown: routes with their own error handling (the token endpoint) answer the same.
    return reply.code(error.status).headers(error.headers).type('application/json').send(renderError(error));
  });
}

/**
 * The per-environment budget, after access.ts accepted the caller for the environment in the
 * path (register it after registerAccessHook): only authenticated calls for an environment
 * spend its budget.
 */
export function registerEnvironmentRateLimit(app: FastifyInstance, limiter: RateLimiter): void {
  if (!limiter.enabled) return;
  app.addHook('preValidation', async (request) => {
    const environment = request.auth?.environment;
    if (!environment) return;
    const verdict = await limiter.takeEnvironment(environment.id);
    if (!verdict.ok) throw limited(verdict, 'Too many requests were made to this environment; retry after the time given');
  });
}
