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
export interface TokenVerifier {
  verify(token: string): Promise<{ ok: true; principal: { clientId: string; environmentId: string } } | { ok: false; reason: string }>;
}

export class Access {
  readonly #db: Db;
  readonly #tokens: TokenVerifier;
  readonly #clock: Clock;
  readonly #apps = new Map<string, Cached<{ environmentId: string; managesAll: boolean; enabled: boolean } | undefined>>();
  readonly #envs = new Map<string, Cached<EnvironmentsTable | undefined>>();

  constructor(db: Db, tokens: TokenVerifier, clock: Clock) {
    this.#db = db;
    this.#tokens = tokens;
    this.#clock = clock;
  }

  async caller(request: FastifyRequest): Promise<Caller> {
    const header = request.headers.authorization;
    if (typeof header !== 'string') throw unauthorized('An Authorization header with a Bearer token is required');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
    if (!match?.[1]) throw unauthorized('The Authorization header is not a Bearer token');
    const verified = await this.#tokens.verify(match[1]);
    if (!verified.ok) throw unauthorized(verified.reason);
    const { clientId, environmentId } = verified.principal;
    const app = await this.#application(clientId);
    if (!app || !app.enabled || app.environmentId !== environmentId) throw unauthorized('The application that holds this token no longer exists or is disabled');
    return { clientId, environmentId, managesAll: app.managesAll };
  }

  /** The environment, if the caller may manage it; else 403 with one body for "not yours" and "none". */
  async environment(request: FastifyRequest, environmentId: string): Promise<{ caller: Caller; environment: EnvironmentsTable }> {
    const caller = await this.caller(request);
    if (!caller.managesAll && caller.environmentId !== environmentId) throw forbidden();
    const environment = await this.#environment(environmentId);
    if (!environment) throw forbidden();
    return { caller, environment };
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

  async #cached<T>(map: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.#clock.now();
    const hit = map.get(key);
    if (hit && hit.until > now) return hit.value;
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
  app.addHook('preValidation', async (request) => {
    if (request.routeOptions.url === undefined) return;
    // No ID holds a NUL, and PostgreSQL refuses one in text (500): such a path names nothing.
    const params = Object.values((request.params ?? {}) as Record<string, unknown>);
    const nul = params.some((v) => typeof v === 'string' && v.includes('\u0000'));
    if (request.routeOptions.config.public) {
      if (nul) throw notFound();
      return;
    }
    const envId = (request.params as { envId?: string } | undefined)?.envId;
    request.auth = envId === undefined ? { caller: await access.caller(request) } : await access.environment(request, envId);
    if (nul) throw notFound();
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
