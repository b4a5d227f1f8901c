/**
 * The test harness: builds the app on a fresh store and injects requests (no sockets), or
 * listens on 127.0.0.1:0 when a real HTTP peer (the agent, a browser) is involved.
 *
 * The store comes from OPENMFA_TEST_DIALECT: `sqlite` (a fresh file in a temp dir) or
 * `postgres` (a fresh schema in OPENMFA_TEST_DATABASE_URL, dropped at close). scripts/test.mjs
 * runs the whole suite once per dialect.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before } from 'node:test';
import { sql } from 'kysely';
import { buildApp, buildContext } from '../src/app.js';
import { ManualClock } from '../src/clock.js';
import { loadServerConfig, type ServerConfig } from '../src/config.js';
import type { Context } from '../src/context.js';
import { SecretBox } from '../src/crypto/secretbox.js';
import type { App } from '../src/http/types.js';
import { bootstrap, type BootstrapInfo } from '../src/platform/bootstrap.js';
import { Store } from '../src/store/db.js';

export type Dialect = 'sqlite' | 'postgres';
export const DIALECT: Dialect = process.env.OPENMFA_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
export const PG_URL = process.env.OPENMFA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/openmfa_test';

/** A fresh, empty store of the dialect under test, and how to throw it away. */
export async function freshStore(dialect: Dialect = DIALECT): Promise<{ store: Store; databaseUrl?: string; sqlitePath?: string; dispose: () => Promise<void> }> {
  if (dialect === 'postgres') {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const databaseUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    const store = Store.open({ databaseUrl, poolSize: 4 });
    await store.migrate();
    return {
      store,
      databaseUrl,
      dispose: async () => {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db).catch(() => {});
        await store.close();
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-test-'));
  const sqlitePath = path.join(dir, 'openmfa.sqlite');
  const store = Store.open({ sqlitePath });
  await store.migrate();
  return { store, sqlitePath, dispose: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** Collects every log line the app writes, so tests can assert what never appears in them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface Response<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent verbatim when a string. */
  raw?: string;
  token?: string | null;
  contentType?: string | null;
  headers?: Record<string, string>;
}

export interface TestServer {
  app: App;
  ctx: Context;
  store: Store;
  clock: ManualClock;
  config: ServerConfig;
  boot: BootstrapInfo;
  logs: LogCapture;
  /** A token of the bootstrap administrator (cached per clock hour). */
  adminToken(): Promise<string>;
  token(clientId: string, secret: string, environmentId: string): Promise<string>;
  request<T = any>(method: string, url: string, options?: RequestOptions): Promise<Response<T>>;
  /** Listens on 127.0.0.1:0 and returns the base URL (for agents and browsers). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  clock?: ManualClock;
  publicUrl?: string;
  config?: Record<string, string>;
  /** A store the test opened itself (and closes): used instead of a fresh one. */
  store?: Store;
  /** Adds to the app before it is made ready (a route only a test has). */
  beforeReady?: (app: App) => void;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { store, dispose } = options.store ? { store: options.store, dispose: async () => {} } : await freshStore();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'openmfa-data-'));
  // Rate limits are off unless a test asks for them: a ManualClock never leaves its one-second window.
  const config = loadServerConfig({ dataDir, port: 0, publicUrl: options.publicUrl ?? 'http://127.0.0.1:8080', logLevel: 'info', rateLimit: '0', ...options.config }, {});
  const clock = options.clock ?? new ManualClock(Date.parse('2026-02-17T13:34:34.840Z'));
  const box = new SecretBox(randomBytes(32));
  const logs = new LogCapture();
  const deps = { config, store, box, clock, logStream: logs };
  const ctx = buildContext(deps);
  const boot = await bootstrap(ctx);
  if (!boot) throw new Error('a fresh store must bootstrap');
  const app = await buildApp(deps, ctx);
  options.beforeReady?.(app);
  await app.ready();

  const request = async <T>(method: string, url: string, o: RequestOptions = {}): Promise<Response<T>> => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const token = o.token === undefined ? await server.adminToken() : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (o.raw !== undefined) payload = o.raw;
    else if (o.body !== undefined) payload = JSON.stringify(o.body);
    const ct = o.contentType === undefined ? (payload !== undefined ? 'application/json' : null) : o.contentType;
    if (ct !== null) headers['content-type'] = ct;
    const res = await app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) });
    let body: unknown;
    try {
      body = res.body === '' ? undefined : JSON.parse(res.body);
    } catch {
      body = res.body;
    }
    return { status: res.statusCode, headers: res.headers as Response['headers'], body: body as T, text: res.body };
  };

  let cached: { token: string; at: number } | undefined;
  const server: TestServer = {
    app, ctx, store, clock, config, boot, logs,
    async adminToken() {
      if (cached && clock.now() - cached.at < 30 * 60_000 && clock.now() >= cached.at) return cached.token;
      const token = await server.token(boot.clientId, boot.clientSecret, boot.environmentId);
      cached = { token, at: clock.now() };
      return token;
    },
    async token(clientId, secret, environmentId) {
      const res = await app.inject({
        method: 'POST', url: `/${environmentId}/as/token`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
        payload: 'grant_type=client_credentials',
      });
      if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
      return (JSON.parse(res.body) as { access_token: string }).access_token;
    },
    request,
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const a = app.server.address();
      if (!a || typeof a === 'string') throw new Error('no address');
      return `http://127.0.0.1:${a.port}`;
    },
    async close() {
      await app.close();
      await dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Makes an environment (as the administrator) and returns its id. */
/**
 * The usual suite set-up: one test server for the file, started before its tests (then handed
 * to `ready`) and closed after them, whatever happened.
 */
export function useTestServer(ready: (server: TestServer) => unknown, options: TestServerOptions | (() => Promise<TestServerOptions>) = {}): void {
  let server: TestServer | undefined;
  before(async () => {
    server = await startTestServer(typeof options === 'function' ? await options() : options);
    await ready(server);
  });
  after(async () => {
    await server?.close();
  });
}

/** What useTenant makes before a suite's tests: a server, one environment, one user in it. */
export interface TestTenant {
  server: TestServer;
  env: string;
  userId: string;
}

/**
 * useTestServer with an environment named `name` and a user in it; `ready` then sees them
 * (suites keep their own names: `useTenant('smtp', (t) => ({ server: app, env, userId } = t))`).
 */
export function useTenant(name: string, ready: (tenant: TestTenant) => unknown, options: TestServerOptions = {}): void {
  useTestServer(async (server) => {
    const env = await createEnvironment(server, name);
    await ready({ server, env, userId: await createUser(server, env, `${name.replace(/\W+/g, '-')}-user`) });
  }, options);
}

export async function createEnvironment(server: TestServer, name = 'test env'): Promise<string> {
  const res = await server.request('POST', '/v1/environments', { body: { name, region: 'NA', type: 'SANDBOX' } });
  if (res.status !== 201) throw new Error(`environment create failed: ${res.status} ${res.text}`);
  return res.body.id as string;
}

export async function createUser(server: TestServer, envId: string, username = `user-${randomBytes(4).toString('hex')}`, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await server.request('POST', `/v1/environments/${envId}/users`, { body: { username, email: `${username}@example.com`, ...extra } });
  if (res.status !== 201) throw new Error(`user create failed: ${res.status} ${res.text}`);
  return res.body.id as string;
}

/** A worker application inside `envId` and a token for it. */
export async function createWorker(server: TestServer, envId: string, name = 'worker'): Promise<{ clientId: string; secret: string; token: string }> {
  const res = await server.request('POST', `/v1/environments/${envId}/applications`, { body: { name, type: 'WORKER' } });
  if (res.status !== 201) throw new Error(`application create failed: ${res.status} ${res.text}`);
  const clientId = res.body.id as string;
  const secret = res.body.secret as string;
  return { clientId, secret, token: await server.token(clientId, secret, envId) };
}

/** Drops IDs and times so whole bodies can be compared with a reference example. */
export function withoutVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVolatile);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => {
      if (k === 'id' && typeof v === 'string') return [k, '<id>'];
      if ((k === 'createdAt' || k === 'updatedAt' || k === 'blockedAt' || k === 'expiresAt') && typeof v === 'string') return [k, '<time>'];
      if (k === 'href' && typeof v === 'string') return [k, v.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')];
      return [k, withoutVolatile(v)];
    }));
  }
  return value;
}
