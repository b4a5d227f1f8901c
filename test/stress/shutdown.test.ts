/**
 * R2: SIGTERM under load. 200 write requests are in flight on open keep-alive connections when
 * the process gets SIGTERM: each one completes with 2xx (or, if it reached the server after
 * close began, a clean 503 — counted apart), none fails, and the process exits 0 within
 * 10 s. SQLite, and PostgreSQL when OPENMFA_TEST_DIALECT=postgres. Uses startProcesses.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { reportFigures, startProcesses, tokenOf, type Processes } from '../support/processes.js';

const IN_FLIGHT = Number(process.env.OPENMFA_STRESS_IN_FLIGHT ?? 200);
const ROUNDS = Number(process.env.OPENMFA_STRESS_SHUTDOWNS ?? 1);

interface Outcome { status?: number; error?: string; sentAt: number }

function send(agent: http.Agent, base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { sentAt: Infinity };
    const req = http.request(base + path, { method, agent, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ...out, status: res.statusCode! }));
      res.on('error', (e) => resolve({ ...out, error: e.message }));
    });
    req.on('finish', () => { out.sentAt = performance.now(); });
    req.on('error', (e) => resolve({ ...out, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
    req.end(body);
  });
}

test(`R2: SIGTERM with ${IN_FLIGHT} requests in flight: all complete (2xx, or a clean 503), 0 failed, exit 0 within 10 s (${DIALECT})`, { timeout: 60_000 * ROUNDS }, async (t) => {
  const pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
  let procs: Processes | undefined;
  const totals = { rounds: 0, inFlight: 0, ok2xx: 0, clean503: 0, failed: 0, maxExitMs: 0 };
  try {
    procs = await startProcesses({ count: 1, databaseUrl: pgStore?.databaseUrl });
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1) await procs.restart(0);
      const p: Processes = procs;
      const base = p.urls[0]!;
      const env = p.bootstrap.environmentId;
      const token = await tokenOf(base, env, p.bootstrap.clientId, p.bootstrap.clientSecret);
      const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
      // Open the connections first, so every request below goes out on an accepted connection.
      const warm = await Promise.all(Array.from({ length: IN_FLIGHT }, () => send(agent, base, 'GET', '/health', {})));
      assert.ok(warm.every((w) => w.status === 200));

      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      let done = 0;
      let sigtermAt = Infinity;
      let signalled!: () => void;
      const signalledP = new Promise<void>((r) => { signalled = r; });
      const proc = p.procs[0]!;
      const requests: Promise<Outcome>[] = Array.from({ length: IN_FLIGHT }, (_, i) => {
        const name = `sd-${round}-${i}-${Math.random().toString(16).slice(2, 8)}`;
        return send(agent, base, 'POST', `/v1/environments/${env}/users`, headers, JSON.stringify({ username: name, email: `${name}@example.com` })).then((o) => {
          if (++done === Math.ceil(IN_FLIGHT / 10)) {
            sigtermAt = performance.now();
            proc.proc.kill('SIGTERM');
            signalled();
          }
          return o;
        });
      });
      await signalledP;
      const exit = await proc.exited;
      const exitMs = performance.now() - sigtermAt;
      const results = await Promise.all(requests);
      agent.destroy();

      const sentBefore = results.filter((r) => r.sentAt <= sigtermAt);
      const ok2xx = sentBefore.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300).length;
      const clean503 = sentBefore.filter((r) => r.status === 503).length;
      const failed = sentBefore.filter((r) => !(r.status !== undefined && ((r.status >= 200 && r.status < 300) || r.status === 503)));
      totals.rounds++;
      totals.inFlight += sentBefore.length;
      totals.ok2xx += ok2xx;
      totals.clean503 += clean503;
      totals.failed += failed.length;
      totals.maxExitMs = Math.max(totals.maxExitMs, Math.round(exitMs));
      assert.deepEqual(exit, { code: 0, signal: null }, p.output(0));
      assert.ok(exitMs <= 10_000, `exited ${Math.round(exitMs)} ms after SIGTERM`);
      assert.equal(sentBefore.length, IN_FLIGHT, 'every request went out before SIGTERM');
      assert.equal(failed.length, 0, `failed in-flight requests: ${JSON.stringify(failed.slice(0, 5))}`);
    }
    await reportFigures(t, 'shutdown', { ...totals, inFlightFailed: totals.failed });
  } finally {
    await procs?.stopAll();
    await pgStore?.dispose();
  }
});
