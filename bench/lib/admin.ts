/**
 * Reset and restore between tests (README "Reset, snapshots and the clock"; quality bar P9):
 * how long `POST /openmfa/v1/snapshots`, `…/snapshots/{id}/restore` and `/openmfa/v1/reset`
 * take over HTTP on a store of `users` users (1 k in a full run, P9's size) with three devices
 * each (an EMAIL, an SMS and a TOTP device, plus their outbox messages). Each restore
 * follows a change (a new user), so it has something to undo. Its own server and store: a
 * reset would wipe the other figures' read set.
 */
import pg from 'pg';
import { Api, pool, readBootstrap, startOpenMfa } from './openmfa.js';
import { removeDir, tempDir } from './procs.js';

export interface AdminFigures {
  dialect: 'sqlite' | 'postgres';
  users: number;
  devices: number;
  snapshotMs: number;
  restoreMs: { p50: number; max: number };
  resetMs: { p50: number; max: number };
}

const summary = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]! };
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function measureAdmin(o: { repo: string; logLevel: string; rounds: number; users: number; databaseUrl?: string | undefined }): Promise<AdminFigures> {
  const dataDir = tempDir('admin');
  let schema: string | undefined;
  let databaseUrl: string | undefined;
  if (o.databaseUrl) {
    schema = `openmfa_bench_admin_${process.pid}`;
    const url = new URL(o.databaseUrl);
    url.searchParams.set('schema', schema);
    databaseUrl = url.href;
  }
  const server = await startOpenMfa({ repo: o.repo, dataDir, logLevel: o.logLevel, ...(databaseUrl ? { databaseUrl } : {}) });
  try {
    const api = new Api(server.origin);
    await api.login(readBootstrap(dataDir));
    const env = readBootstrap(dataDir).environmentId;
    const users = await pool(Array.from({ length: o.users }, (_, i) => i), 8, async (i) =>
      (await api.call<{ id: string }>('POST', `/v1/environments/${env}/users`, { username: `fixture-${i}`, email: `fixture-${i}@example.com` })).id);
    await pool(users, 8, async (u) => {
      const devices = `/v1/environments/${env}/users/${u}/devices`;
      await api.call('POST', devices, { type: 'EMAIL', email: `${u}@example.com`, status: 'ACTIVATION_REQUIRED' });
      await api.call('POST', devices, { type: 'SMS', phone: '+14135550150' });
      await api.call('POST', devices, { type: 'TOTP' });
    });
    let id = '';
    const snapshotMs = await timed(async () => { id = (await api.call<{ id: string }>('POST', '/openmfa/v1/snapshots')).id; });
    const restores: number[] = [];
    const resets: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      await api.call('POST', `/v1/environments/${env}/users`, { username: `between-${i}` });
      restores.push(await timed(() => api.call('POST', `/openmfa/v1/snapshots/${id}/restore`, undefined, 'application/json', [204])));
    }
    for (let i = 0; i < o.rounds; i++) {
      await api.call('POST', `/v1/environments/${env}/users`, { username: `between-${i}` });
      resets.push(await timed(() => api.call('POST', '/openmfa/v1/reset', undefined, 'application/json', [204])));
    }
    return { dialect: databaseUrl ? 'postgres' : 'sqlite', users: o.users, devices: o.users * 3, snapshotMs, restoreMs: summary(restores), resetMs: summary(resets) };
  } finally {
    await server.stop();
    removeDir(dataDir);
    if (schema && o.databaseUrl) {
      const client = new pg.Client({ connectionString: o.databaseUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`).finally(() => client.end());
    }
  }
}
