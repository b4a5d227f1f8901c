/**
 * Listening (and saying where: the first stdout line names the URL — scripts read the port
 * from it — then the API and auth bases, the credentials file, the console and a command that
 * gets a token from the file), and stopping well: on SIGTERM or SIGINT the server stops accepting, lets
 * in-flight requests finish, closes idle connections at once and slow ones (a request still
 * arriving) after a short grace, closes the store and exits 0 — within 10 s, or it exits 1.
 * The deadlines and the connection cap that bound slow clients meanwhile are set in app.ts.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { buildApp, buildContext, createLogger } from './app.js';
import { StoredClock } from './admin/clock.js';
import { takeInitialSnapshot } from './admin/snapshots.js';
import { iso, systemClock } from './clock.js';
import { withPort, type ServerConfig } from './config.js';
import { freePort } from './free-port.js';
import { urlHost } from './net.js';
import { bootstrap, bootstrapFile } from './platform/bootstrap.js';
import { loadMasterKey, verifyMasterKey } from './platform/master-key.js';
import { applySeed, type SeedResult } from './seed/apply.js';
import { readSeedFile, seedRefused } from './seed/load.js';
import { Store } from './store/db.js';
import type { App } from './http/types.js';

export const SHUTDOWN_DEADLINE_MS = 10_000;
/**
 * After SIGTERM, a connection whose request has not arrived in full within this is a slow
 * client's (S9): it is closed rather than waited for, since its request deadline (30 s by
 * default) is past the shutdown deadline. Requests that have arrived run to the end.
 */
export const SLOW_CLIENT_GRACE_MS = 2_000;

export interface RunningServer {
  app: App;
  store: Store;
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where the start-up lines go; stdout by default. */
  out?: (line: string) => void;
  /**
   * SQLite: called if the writer thread dies (every write then fails with 503). runServer
   * exits non-zero, so a supervisor restarts the process rather than it serving reads only.
   */
  onStoreLost?: (error: Error) => void;
}

export async function startServer(requested: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const out = options.out ?? ((l: string) => process.stdout.write(l + '\n'));
  // Links and token issuers carry the port, so `--port 0` is resolved before anything is built.
  const config = requested.port === 0 ? withPort(requested, await freePort(requested.host)) : requested;
  // A bad seed file stops the start before the store is opened.
  let seed: unknown;
  try {
    if (config.seed !== undefined) seed = readSeedFile(config.seed);
  } catch (e) {
    throw seedRefused(config.seed!, e);
  }
  const log = createLogger(config);
  const store = Store.open({
    databaseUrl: config.databaseUrl,
    sqlitePath: config.sqlitePath,
    onWriterLost: (e) => {
      log.fatal({ err: { message: e.message } }, 'the store can no longer write');
      options.onStoreLost?.(e);
    },
  });
  try {
    await store.migrate();
    const box = loadMasterKey(config);
    await verifyMasterKey(store, box);
    // --clock manual: the store's clock, shared by every process on the database; the access
    // caches' staleness bound stays real time.
    const clock = config.clock === 'manual' ? { clock: await StoredClock.open(store), cacheClock: systemClock } : {};
    const deps = { config, store, box, log, ...clock };
    const ctx = buildContext(deps);
    const created = await bootstrap(ctx);
    const seeded = seed === undefined ? undefined : await applySeed(ctx, seed).catch((e: unknown) => { throw seedRefused(config.seed!, e); });
    // What POST /openmfa/v1/reset returns to: the bootstrap and, when --seed is given, the seed as applied now.
    await takeInitialSnapshot(ctx, { replace: seeded !== undefined });
    const app = await buildApp(deps, ctx);
    await app.ready();
    const connections = trackConnections(app.server);
    // The delivery worker's timer runs in the server only (tests drain the queue themselves):
    // what was queued before a crash or restart is sent now.
    await ctx.notifier.start?.();
    // Fastify's own "Server listening" log line is written asynchronously and could come
    // before the banner below, whose first line scripts read for the port (--port 0): the
    // banner takes its place, and the structured line is logged after it.
    const level = app.log.level;
    const quiet = level === 'info' || level === 'debug' || level === 'trace';
    if (quiet) app.log.level = 'warn';
    try {
      await app.listen({ host: config.host, port: config.port });
    } finally {
      if (quiet) app.log.level = level;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${urlHost(config.host)}:${port}`;
    out(`OpenMFA listening on ${url} (${store.dialect === 'postgres' ? 'PostgreSQL' : `SQLite ${config.sqlitePath}`})`);
    out(`apiPath:  ${config.apiPath}`);
    out(`authPath: ${config.authPath}`);
    const file = bootstrapFile(config.dataDir);
    out(created ? `bootstrap: new administrator credentials written to ${file}` : `bootstrap: existing store; credentials are in ${file} from the first start`);
    out(`console:  ${config.publicUrl}/console`);
    out(`token:    ${tokenCommand(file)}`);
    if (seeded) out(`seed: ${config.seed!}: ${seedSummary(seeded)}`);
    if (config.clock === 'manual') out(`WARNING: --clock manual: time stands still at ${iso(ctx.clock.now())} and moves only through /openmfa/v1/clock; never use this in production`);
    app.log.info({ url }, `Server listening at ${url}`);
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      url,
      close: () => (closing ??= (async () => {
        // app.close() closes the connections idle at that moment; a keep-alive connection whose
        // request finishes later would hold the close open for its idle timeout
        // (--keep-alive-timeout, which may be set past the 10 s deadline). Close each one as
        // soon as it goes idle, and slow ones after SLOW_CLIENT_GRACE_MS.
        const sweep = setInterval(() => app.server.closeIdleConnections(), 25);
        const slow = setTimeout(() => connections.closeUnlessServing(), SLOW_CLIENT_GRACE_MS);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
          clearTimeout(slow);
        }
        await store.close();
      })()),
    };
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
}

/** A word for bash: as it is when it is plainly safe, else in single quotes. */
const shellWord = (s: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * A bash command (curl and jq) that prints a worker token of the bootstrap administrator, read
 * from the credentials file when it runs: the banner names the file, never the secret.
 */
export function tokenCommand(file: string): string {
  return `B=${shellWord(file)}; curl -fsS -u "$(jq -r .clientId "$B"):$(jq -r .clientSecret "$B")" -d grant_type=client_credentials "$(jq -r .authPath "$B")/$(jq -r .environmentId "$B")/as/token" | jq -r .access_token`;
}

/** `written environments 2, users 5, devices 9; unchanged environments 1`. */
export function seedSummary(result: SeedResult): string {
  const list = (counts: SeedResult['written']) => Object.entries(counts).filter(([, n]) => n > 0).map(([part, n]) => `${part} ${n}`).join(', ') || 'nothing';
  return `written ${list(result.written)}; unchanged ${list(result.unchanged)}`;
}

/**
 * The server's open connections and the response each one is serving. Node knows which
 * connections are idle (closeIdleConnections) but not which are slow; this does.
 */
function trackConnections(server: Server) {
  const open = new Set<Socket>();
  const serving = new WeakMap<Socket, ServerResponse>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    serving.set(request.socket, response);
  });
  return {
    /**
     * Closes every connection but those serving a request that has arrived in full and is not
     * yet answered: what is left are headers or a body still trickling, and idle sockets.
     */
    closeUnlessServing(): void {
      for (const socket of open) {
        const response = serving.get(socket);
        if (response && response.req.complete && !response.writableFinished) continue;
        socket.destroy();
      }
    },
  };
}

/** Runs until a signal, then shuts down gracefully. */
export async function runServer(config: ServerConfig): Promise<void> {
  const server = await startServer(config, {
    onStoreLost: (e) => {
      process.stderr.write(`${e.message}; exiting\n`);
      process.exit(1);
    },
  });
  const stop = (signal: string) => {
    server.app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      process.stderr.write(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    timer.unref();
    server.close().then(() => process.exit(0), (e: unknown) => {
      process.stderr.write(`shutdown failed: ${String(e)}\n`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
