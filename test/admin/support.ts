/**
 * A real server for the administration suites: `startServer` (src/server.ts) in this process,
 * on 127.0.0.1:0, on a fresh store of the dialect under test (freshStore), with the start-up
 * every user gets — bootstrap, the initial snapshot, `--clock` as asked — and requests over
 * real HTTP. Closed (store, schema, data dir) after the file's tests.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { loadServerConfig } from '../../src/config.js';
import type { BootstrapInfo } from '../../src/platform/bootstrap.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { DIALECT, freshStore, type Response } from '../helper.js';
import { tokenOf } from '../support/processes.js';

export interface AdminServer {
  url: string;
  boot: BootstrapInfo;
  /** Where the server wrote bootstrap.json. */
  bootstrapFile: string;
  /** The start-up output, line by line. */
  out: string[];
  running: RunningServer;
  /** A bootstrap administrator token (a fresh one each call). */
  adminToken(): Promise<string>;
  /** The next request without a token fetches a new one (the clock moved past the old one's end). */
  forgetAdminToken(): void;
  /** `token` undefined: the administrator's (fetched once per server); null: none. */
  request<T = any>(method: string, url: string, o?: { body?: unknown; token?: string | null; contentType?: string }): Promise<Response<T>>;
}

export async function startAdminServer(options: { clock?: 'system' | 'manual'; databaseUrl?: string } = {}): Promise<{ server: AdminServer; close(): Promise<void> }> {
  // PostgreSQL: a fresh schema (dropped at close); SQLite: the server's own file in its data dir.
  const fresh = options.databaseUrl || DIALECT !== 'postgres' ? undefined : await freshStore('postgres');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'openmfa-admin-'));
  const out: string[] = [];
  const databaseUrl = options.databaseUrl ?? fresh?.databaseUrl;
  const config = loadServerConfig({
    dataDir, port: 0, logLevel: 'silent', clock: options.clock ?? 'manual',
    ...(databaseUrl ? { databaseUrl } : {}),
  }, {});
  const running = await startServer(config, { out: (line) => { out.push(line); } });
  const bootstrapFile = path.join(dataDir, 'bootstrap.json');
  const boot = JSON.parse(readFileSync(bootstrapFile, 'utf8')) as BootstrapInfo;
  let admin: string | undefined;
  const server: AdminServer = {
    url: running.url, boot, bootstrapFile, out, running,
    adminToken: () => tokenOf(running.url, boot.environmentId, boot.clientId, boot.clientSecret),
    forgetAdminToken: () => { admin = undefined; },
    async request(method, url, o = {}) {
      const send = async (token: string | null) => {
        const headers: Record<string, string> = {};
        if (token !== null) headers.authorization = `Bearer ${token}`;
        const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
        if (payload !== undefined || o.contentType) headers['content-type'] = o.contentType ?? 'application/json';
        const res = await fetch(running.url + url, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
        const text = await res.text();
        let body: unknown;
        try { body = text === '' ? undefined : JSON.parse(text); } catch { body = text; }
        return { status: res.status, headers: Object.fromEntries(res.headers), body: body as never, text };
      };
      if (o.token !== undefined) return send(o.token);
      const res = await send(admin ??= await server.adminToken());
      // The manual clock moved past the administrator token's hour: a new one, at the new time.
      if (res.status !== 401 || !res.text.includes('the access token has expired')) return res;
      admin = await server.adminToken();
      return send(admin);
    },
  };
  return {
    server,
    async close() {
      await running.close();
      await fresh?.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One server for the file, started before its tests and closed after them. */
export function useAdminServer(ready: (server: AdminServer) => unknown, options: { clock?: 'system' | 'manual' } = {}): void {
  let started: Awaited<ReturnType<typeof startAdminServer>> | undefined;
  before(async () => {
    started = await startAdminServer(options);
    await ready(started.server);
  });
  after(async () => { await started?.close(); });
}
