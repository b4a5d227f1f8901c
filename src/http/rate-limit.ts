/**
 * Rate limits (quality bar S7): fixed one-second windows, per environment and per
 * (environment, client IP). A request over either budget is answered 429 REQUEST_LIMITED
 * with `Retry-After` and PingOne's envelope (reference §7.3/§7.4) — on every route under an
 * environment, the token endpoint included (its OAuth errors have no 429 form; clients
 * honour `Retry-After`). `/health`, `/openapi.json` and routes outside an environment are
 * not limited.
 *
 * The IP budget is checked first, and a request refused by it does not spend the
 * environment's budget: one noisy client cannot starve the others.
 *
 * Counters live in memory, or in Redis (`--redis-url`) so that processes share one budget.
 * When Redis does not answer, requests pass (fail open) and a warning is logged.
 */
import { BlockList, isIP } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import type { ServerConfig } from '../config.js';
import { renderError, requestLimited } from './errors.js';

const WINDOW_MS = 1000;

export interface Verdict {
  ok: boolean;
  /** Which budget refused the request, and its size. */
  quotaLimit?: number;
  scope?: 'environment' | 'ip';
}

interface Counters {
  /** Counts one request against the IP key (if within its budget) and then the environment key. */
  take(window: number, envKey: string, ipKey: string, envLimit: number, ipLimit: number): Promise<Verdict>;
  ready(): Promise<void>;
  close(): Promise<void>;
  setLogger(log: FastifyBaseLogger): void;
}

class MemoryCounters implements Counters {
  #window = -1;
  #counts = new Map<string, number>();

  async take(window: number, envKey: string, ipKey: string, envLimit: number, ipLimit: number): Promise<Verdict> {
    if (window !== this.#window) {
      // Only the current window is kept, so memory is bounded by one second's traffic.
      this.#window = window;
      this.#counts = new Map();
    }
    const ip = (this.#counts.get(ipKey) ?? 0) + 1;
    if (ip > ipLimit) return { ok: false, quotaLimit: ipLimit, scope: 'ip' };
    this.#counts.set(ipKey, ip);
    const env = (this.#counts.get(envKey) ?? 0) + 1;
    this.#counts.set(envKey, env);
    if (env > envLimit) return { ok: false, quotaLimit: envLimit, scope: 'environment' };
    return { ok: true };
  }
  async ready(): Promise<void> {}
  async close(): Promise<void> {}
  setLogger(): void {}
}

/** One round trip: the IP counter first; the environment's only when the IP is within budget. */
const TAKE_SCRIPT = `
local ip = redis.call('INCR', KEYS[2])
if ip == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if ip > tonumber(ARGV[2]) then return {2, ip} end
local env = redis.call('INCR', KEYS[1])
if env == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if env > tonumber(ARGV[1]) then return {1, env} end
return {0, env}
`;

class RedisCounters implements Counters {
  readonly #redis: Redis;
  #log: FastifyBaseLogger | undefined;
  #lastWarning = 0;

  constructor(url: string) {
    this.#redis = new Redis(url, {
      // Never queue behind a dead connection: a request either counts now or passes.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.#redis.on('error', (e: Error) => this.#warn('Redis is unreachable; rate limits are not enforced', e));
    this.#redis.defineCommand('openmfaTake', { numberOfKeys: 2, lua: TAKE_SCRIPT });
  }

  setLogger(log: FastifyBaseLogger): void {
    this.#log = log;
  }

  #warn(message: string, e: unknown): void {
    const now = Date.now();
    if (!this.#log || now - this.#lastWarning < 10_000) return;
    this.#lastWarning = now;
    this.#log?.warn({ err: { message: e instanceof Error ? e.message : String(e) } }, message);
  }

  async take(window: number, envKey: string, ipKey: string, envLimit: number, ipLimit: number): Promise<Verdict> {
    try {
      const prefix = `openmfa:rl:${window}:`;
      const run = (this.#redis as unknown as Record<string, (...a: unknown[]) => Promise<[number, number]>>).openmfaTake!;
      const [which] = await run.call(this.#redis, prefix + envKey, prefix + ipKey, envLimit, ipLimit, 10 * WINDOW_MS);
      if (which === 2) return { ok: false, quotaLimit: ipLimit, scope: 'ip' };
      if (which === 1) return { ok: false, quotaLimit: envLimit, scope: 'environment' };
      return { ok: true };
    } catch (e) {
      this.#warn('Redis did not answer; rate limits are not enforced', e);
      return { ok: true };
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

/** Where a request comes from: the socket peer, or behind trusted proxies the right-most untrusted X-Forwarded-For hop. */
export class ClientAddress {
  readonly #trusted: BlockList | undefined;

  constructor(proxies: readonly string[]) {
    if (proxies.length === 0) return;
    const list = new BlockList();
    for (const p of proxies) {
      const [ip, bits] = p.split('/') as [string, string | undefined];
      const type = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(ip, type);
      else list.addSubnet(ip, Number(bits), type);
    }
    this.#trusted = list;
  }

  #isTrusted(address: string): boolean {
    const family = isIP(address);
    if (!this.#trusted || family === 0) return false;
    return this.#trusted.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  of(request: FastifyRequest): string {
    const peer = normalize(request.socket.remoteAddress ?? '') || 'unknown';
    if (!this.#trusted || !this.#isTrusted(peer)) return peer;
    const header = request.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((h) => normalize(h.trim())).filter(Boolean);
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return client; // garbage: stop at the last address we could vouch for
      client = hop;
      if (!this.#isTrusted(hop)) return hop;
    }
    return client;
  }
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; `[::1]:123` style values are not expected here. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export class RateLimiter {
  readonly #limit: number;
  readonly #ipLimit: number;
  readonly #clock: Clock;
  readonly #counters: Counters;
  readonly address: ClientAddress;

  constructor(config: ServerConfig, clock: Clock) {
    this.#limit = config.rateLimit;
    this.#ipLimit = Math.max(1, Math.floor(config.rateLimit * config.rateLimitIpShare));
    this.#clock = clock;
    this.#counters = config.rateLimit > 0 && config.redisUrl ? new RedisCounters(config.redisUrl) : new MemoryCounters();
    this.address = new ClientAddress(config.trustedProxies);
  }

  get enabled(): boolean {
    return this.#limit > 0;
  }

  /** Counts one request of `ip` against `environmentId`; the seconds to wait when refused. */
  async take(environmentId: string, ip: string): Promise<{ ok: true } | { ok: false; retryAfter: number; quotaLimit: number }> {
    const now = this.#clock.now();
    const window = Math.floor(now / WINDOW_MS);
    const verdict = await this.#counters.take(window, `e:${environmentId}`, `i:${environmentId}:${ip}`, this.#limit, this.#ipLimit);
    if (verdict.ok) return { ok: true };
    const retryAfter = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    return { ok: false, retryAfter, quotaLimit: verdict.quotaLimit ?? this.#limit };
  }

  ready(): Promise<void> {
    return this.#counters.ready();
  }
  setLogger(log: FastifyBaseLogger): void {
    this.#counters.setLogger(log);
  }
  close(): Promise<void> {
    return this.#counters.close();
  }
}

/** Counts every request to a route with an `:envId`, before authentication (failed logins count too). */
export function registerRateLimitHook(app: FastifyInstance, limiter: RateLimiter): void {
  if (!limiter.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    const envId = (request.params as { envId?: unknown } | undefined)?.envId;
    if (typeof envId !== 'string' || request.routeOptions.url === undefined) return;
    const verdict = await limiter.take(envId.slice(0, 64), limiter.address.of(request));
    if (verdict.ok) return;
    const error = requestLimited(verdict.retryAfter, {
      code: 'LIMIT_EXCEEDED',
      message: 'Too many requests were made to this environment; retry after the time given',
      innerError: { quotaLimit: verdict.quotaLimit, retryAfter: verdict.retryAfter },
    });
    // Sent here, not thrown: routes with their own error handler (the token endpoint) answer the same.
    return reply.code(error.status).headers(error.headers).type('application/json').send(renderError(error));
  });
}
