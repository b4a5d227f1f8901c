/**
 * Who is calling and what they may touch (reference §9.3):
 *   no/bad/expired token                      → 401 ACCESS_FAILED
 *   environment not managed by the caller,
 *   or not existing (same body either way)     → 403 ACCESS_FAILED
 *   an ID of another environment's resource    → 404 NOT_FOUND (the routes' lookups are scoped)
 * The bootstrap admin application manages every environment; any other worker application
 * manages the environment it lives in.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { EnvironmentsTable } from '../store/schema.js';
import { forbidden, notFound, unauthorized } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No bearer token: the token and JWKS endpoints, health, the OpenAPI document, the console. */
    public?: boolean;
  }
  interface FastifyRequest {
    auth?: { caller: Caller; environment?: EnvironmentsTable };
  }
}

export interface Caller {
  clientId: string;
  environmentId: string;
  managesAll: boolean;
}

interface Cached<T> {
  value: T;
  until: number;
}

/** How long another process's delete of an application or environment may go unseen here. */
const TTL_MS = 5_000;
const LIMIT = 10_000;

/**
 * What the access hook needs of the token service (platform/tokens.ts): the principal a bearer
 * token was issued to, or why it is refused. Declared here so http/ does not import platform/.
 */
type Verified = { ok: true; principal: { clientId: string; environmentId: string } } | { ok: false; reason: string };
export interface TokenVerifier {
  verify(token: string): Promise<Verified>;
  /** The answer `verify` would give, when the token is in the verified-token cache; else undefined. */
  cached(token: string): Verified | undefined;
}

type AppRecord = { environmentId: string; managesAll: boolean; enabled: boolean };

/** The bearer token of the request, or the 401 that says why there is none. */
function bearerOf(request: FastifyRequest): string {
  const header = request.headers.authorization;
  if (typeof header !== 'string') throw unauthorized('An Authorization header with a Bearer token is required');
  const match = BEARER.exec(header.trim());
  if (!match?.[1]) throw unauthorized('The Authorization header is not a Bearer token');
  return match[1];
}
const BEARER = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i;

/** The caller a verified token and its application make, or the 401. */
function admit(verified: Verified, app: AppRecord | undefined): Caller {
  if (!verified.ok) throw unauthorized(verified.reason);
  const { clientId, environmentId } = verified.principal;
  if (!app || !app.enabled || app.environmentId !== environmentId) throw unauthorized('The application that holds this token no longer exists or is disabled');
  return { clientId, environmentId, managesAll: app.managesAll };
}

/** May `caller` manage `environmentId`? 403 with one body for "not yours" and "none". */
function mayManage(caller: Caller, environmentId: string): void {
  if (!caller.managesAll && caller.environmentId !== environmentId) throw forbidden();
}

export class Access {
  readonly #db: Db;
  readonly #tokens: TokenVerifier;
  readonly #clock: Clock;
  readonly #apps = new Map<string, Cached<AppRecord | undefined>>();
  readonly #envs = new Map<string, Cached<EnvironmentsTable | undefined>>();

  constructor(db: Db, tokens: TokenVerifier, clock: Clock) {
    this.#db = db;
    this.#tokens = tokens;
    this.#clock = clock;
  }

  async caller(request: FastifyRequest): Promise<Caller> {
    const token = bearerOf(request);
    const verified = await this.#tokens.verify(token);
    return admit(verified, verified.ok ? await this.#application(verified.principal.clientId) : undefined);
  }

  /** The environment, if the caller may manage it; else 403 with one body for "not yours" and "none". */
  async environment(request: FastifyRequest, environmentId: string): Promise<{ caller: Caller; environment: EnvironmentsTable }> {
    const caller = await this.caller(request);
    mayManage(caller, environmentId);
    const environment = await this.#environment(environmentId);
    if (!environment) throw forbidden();
    return { caller, environment };
  }

  /**
   * `environment`'s answer without a promise, when the token, the application and the
   * environment are all in the caches — the usual authenticated call (quality bar P1); the
   * same refusals, thrown. Undefined when something must be loaded: then `environment` decides.
   */
  cachedEnvironment(request: FastifyRequest, environmentId: string): { caller: Caller; environment: EnvironmentsTable } | undefined {
    const verified = this.#tokens.cached(bearerOf(request));
    if (verified === undefined) return undefined;
    const now = this.#clock.now();
    const app = verified.ok ? this.#hit(this.#apps, verified.principal.clientId, now) : undefined;
    if (verified.ok && app === undefined) return undefined;
    const caller = admit(verified, app);
    mayManage(caller, environmentId);
    const environment = this.#hit(this.#envs, environmentId, now);
    return environment === undefined ? undefined : { caller, environment };
  }

  /** Called by the process that deletes or changes something, so it sees its own change at once. */
  forgetApplication(clientId: string): void {
    this.#apps.delete(clientId);
  }
  forgetEnvironment(environmentId: string): void {
    this.#envs.delete(environmentId);
  }
  /** Everything may have changed (a snapshot was restored). */
  forgetAll(): void {
    this.#apps.clear();
    this.#envs.clear();
  }

  async #application(clientId: string) {
    return this.#cached(this.#apps, clientId, async () => {
      const row = await this.#db.selectFrom('applications').select(['environment_id', 'manages_all', 'enabled'])
        .where('id', '=', clientId).executeTakeFirst();
      return row ? { environmentId: row.environment_id, managesAll: row.manages_all === 1, enabled: row.enabled === 1 } : undefined;
    });
  }

  async #environment(environmentId: string) {
    if (environmentId.length > 64 || environmentId.includes('\u0000')) return undefined;
    return this.#cached(this.#envs, environmentId, () =>
      this.#db.selectFrom('environments').selectAll().where('id', '=', environmentId).executeTakeFirst());
  }

  /** A cached answer still within its staleness bound; undefined when there is none (only positive answers are cached). */
  #hit<T>(map: Map<string, Cached<T>>, key: string, now: number): T | undefined {
    const hit = map.get(key);
    return hit && hit.until > now ? hit.value : undefined;
  }

  async #cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.#clock.now();
    const hit = this.#hit(map, key, now);
    if (hit !== undefined) return hit;
    const value = await load();
    if (map.size >= LIMIT) map.clear();
    // Only positive answers are cached: a row created a moment ago must be seen at once.
    if (value !== undefined) map.set(key, { value, until: now + TTL_MS });
    else map.delete(key);
    return value;
  }
}

/**
 * Authentication and environment scope run before body parsing errors are reported and before
 * any handler, for every route that is not marked public: no route can forget them, and a
 * caller without a token learns nothing from validation messages.
 */
export function registerAccessHook(app: FastifyInstance, access: Access): void {
  // A callback hook: the usual call, all of it cached, is answered without a promise (P1).
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.routeOptions.url === undefined) return done();
    // No ID holds a NUL, and PostgreSQL refuses one in text (500): such a path names nothing.
    const params = Object.values((request.params ?? {}) as Record<string, unknown>);
    const nul = params.some((v) => typeof v === 'string' && v.includes('\u0000'));
    if (request.routeOptions.config.public) return done(nul ? notFound() : undefined);
    const envId = (request.params as { envId?: string } | undefined)?.envId;
    const admitted = (auth: NonNullable<FastifyRequest['auth']>) => {
      request.auth = auth;
      done(nul ? notFound() : undefined);
    };
    let cached: ReturnType<Access['cachedEnvironment']>;
    try {
      cached = envId === undefined ? undefined : access.cachedEnvironment(request, envId);
    } catch (error) {
      return done(error as Error);
    }
    if (cached) return admitted(cached);
    const loading = envId === undefined ? access.caller(request).then((caller) => ({ caller })) : access.environment(request, envId);
    loading.then(admitted, done);
  });
}

/** The caller of an authenticated route (set by the hook). */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.auth) throw new Error('route is missing authentication');
  return request.auth.caller;
}

/** The environment of an authenticated `/:envId/` route (set by the hook). */
export function environmentOf(request: FastifyRequest): EnvironmentsTable {
  const env = request.auth?.environment;
  if (!env) throw new Error('route is missing its environment');
  return env;
}
