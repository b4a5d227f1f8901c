/**
 * R1, bounded: mixed writes (users, desktop and EMAIL devices, activations, blocks) against one
 * real server process, `kill -9` at random moments, restart on the same data dir / database,
 * then: every write acknowledged with 2xx is there, nothing is half-applied, SQLite's
 * integrity_check is ok, and /health answers soon after the restart's listen line.
 * OPENMFA_STRESS_KILLS kills (default 5; `npm run test:stress` runs ≥ 20). SQLite, and
 * PostgreSQL when OPENMFA_TEST_DIALECT=postgres. Uses startProcesses.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Store } from '../../src/store/db.js';
import { DIALECT, freshStore } from '../helper.js';
import { attest } from '../devices/desktop-fixtures.js';
import { call, reportFigures, startProcesses, tokenOf } from '../support/processes.js';

const KILLS = Number(process.env.OPENMFA_STRESS_KILLS ?? 5);
const WORKERS = 4;
const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const BLOCK = 'application/vnd.pingidentity.device.block+json';
const RP = { id: 'pingone.eu', name: 'pingone.eu' };

interface Acked {
  users: Set<string>;
  devices: Map<string, { userId: string; type: string; active: boolean; blocked: boolean }>;
}

test(`R1: ${KILLS} × kill -9 under mixed write load, restart, nothing acknowledged lost, nothing half-applied (${DIALECT})`, { timeout: 60_000 + KILLS * 15_000 }, async (t) => {
  const pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
  const procs = await startProcesses({ count: 1, databaseUrl: pgStore?.databaseUrl });
  const acked: Acked = { users: new Set(), devices: new Map() };
  const env = procs.bootstrap.environmentId;
  const restartToHealth: number[] = [];
  const spawnToHealth: number[] = [];
  let attempted = 0;
  let failedRequests = 0;
  try {
    for (let kill = 1; kill <= KILLS; kill++) {
      const base = procs.urls[0]!;
      const token = await tokenOf(base, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret);
      let stop = false;
      const req = async (method: string, url: string, o: { body?: unknown; contentType?: string } = {}) => {
        attempted++;
        try {
          return await call(base, method, url, { token, ...o });
        } catch {
          failedRequests++;
          return undefined;
        }
      };
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const name = `k${kill}-w${w}-${i}-${Math.random().toString(16).slice(2, 8)}`;
          const u = await req('POST', `/v1/environments/${env}/users`, { body: { username: name, email: `${name}@example.com` } });
          if (u?.status !== 201) { if (!u) return; continue; }
          const userId = u.body.id as string;
          acked.users.add(userId);
          const devices = `/v1/environments/${env}/users/${userId}/devices`;
          // A desktop device, activated two times out of three.
          const d = await req('POST', devices, { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: RP } });
          if (!d) return;
          if (d.status === 201) {
            const id = d.body.id as string;
            acked.devices.set(id, { userId, type: 'PINGID_DESKTOP_GEN2', active: false, blocked: false });
            if (i % 3 !== 0) {
              const a = await req('POST', `${devices}/${id}`, { contentType: ACTIVATE, body: { attestation: await attest(d.body.pingIdDesktopCredentialCreationOptions as string, { now: Date.now() }) } });
              if (!a) return;
              if (a.status === 200) acked.devices.get(id)!.active = true;
            }
          }
          // An EMAIL device needing activation, activated with its code, then sometimes blocked.
          const e = await req('POST', devices, { body: { type: 'EMAIL', email: `${name}@example.com`, testMode: true, status: 'ACTIVATION_REQUIRED' } });
          if (!e) return;
          if (e.status === 201) {
            const id = e.body.id as string;
            acked.devices.set(id, { userId, type: 'EMAIL', active: false, blocked: false });
            const a = await req('POST', `${devices}/${id}`, { contentType: ACTIVATE, body: { otp: e.body.test.otp } });
            if (!a) return;
            if (a.status === 200) acked.devices.get(id)!.active = true;
            if (i % 2 === 0) {
              const b = await req('POST', `${devices}/${id}`, { contentType: BLOCK });
              if (!b) return;
              if (b.status === 200) acked.devices.get(id)!.blocked = true;
            }
          }
        }
      };
      const running = Array.from({ length: WORKERS }, (_, w) => worker(w));
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
      const exit = await procs.kill(0, 'SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      stop = true;
      await Promise.all(running);

      await verify(pgStore?.store, path.join(procs.dataDir, 'openmfa.sqlite'), acked);

      const p = await procs.restart(0);
      restartToHealth.push(p.healthyAt - p.listenedAt);
      spawnToHealth.push(p.healthyAt - p.spawnedAt);
    }
    const activeCount = [...acked.devices.values()].filter((d) => d.active).length;
    const figures = {
      killsSurvived: KILLS,
      ackedUsers: acked.users.size,
      ackedDevices: acked.devices.size,
      ackedActivations: activeCount,
      requestsAttempted: attempted,
      requestsCutByKill: failedRequests,
      maxListenToHealthMs: Math.round(Math.max(...restartToHealth) * 10) / 10,
      maxSpawnToHealthMs: Math.round(Math.max(...spawnToHealth)),
    };
    await reportFigures(t, 'crash', figures);
    assert.ok(acked.users.size > 0 && activeCount > 0, 'the load did write');
    // The real figure is reported; this is only a sanity bound.
    assert.ok(figures.maxListenToHealthMs < 5_000, `health after listen: ${figures.maxListenToHealthMs} ms`);
  } finally {
    await procs.stopAll();
    await pgStore?.dispose();
  }
});

async function verify(pg: Store | undefined, sqlitePath: string, acked: Acked): Promise<void> {
  const store = pg ?? Store.open({ sqlitePath });
  try {
    if (!pg) {
      const { rows } = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(store.db);
      assert.deepEqual(rows.map((r) => r.integrity_check), ['ok'], 'SQLite integrity_check');
    }
    const db = store.db;
    const users = new Set((await db.selectFrom('users').select('id').execute()).map((r) => r.id));
    for (const id of acked.users) assert.ok(users.has(id), `acknowledged user ${id} is stored`);
    const rows = new Map((await db.selectFrom('devices').selectAll().execute()).map((r) => [r.id, r]));
    for (const [id, d] of acked.devices) {
      const row = rows.get(id);
      assert.ok(row, `acknowledged device ${id} is stored`);
      assert.equal(row.user_id, d.userId);
      if (d.active) assert.equal(row.status, 'ACTIVE', `acknowledged activation of ${id}`);
      if (d.blocked) assert.notEqual(row.blocked_at, null, `acknowledged block of ${id}`);
    }
    for (const row of rows.values()) {
      assert.ok(users.has(row.user_id), `device ${row.id} has its user`);
      if (row.status === 'ACTIVE') {
        assert.notEqual(row.activated_at, null, `ACTIVE device ${row.id} has activated_at`);
        assert.equal(row.challenge_hash, null, `ACTIVE device ${row.id} has no outstanding challenge`);
        if (row.type === 'PINGID_DESKTOP_GEN2') assert.ok(row.public_jwk && row.credential_id, `ACTIVE desktop ${row.id} has its credential`);
      } else {
        assert.equal(row.status, 'ACTIVATION_REQUIRED');
        assert.equal(row.activated_at, null);
        assert.notEqual(row.challenge_hash, null, `pending device ${row.id} has its challenge`);
        assert.notEqual(row.challenge_expires_at, null);
      }
    }
  } finally {
    if (!pg) await store.close();
  }
}
