/**
 * Threat (quality bar S9): thousands of slow clients — connections trickling their bodies or
 * headers — against a real server process, to hold its sockets until nobody else is served
 * and to keep it from shutting down.
 *
 * Blocked by: the request deadline (408 and the connection closed), the connection cap set
 * above the flood, and SIGTERM closing connections whose request has not arrived within
 * SLOW_CLIENT_GRACE_MS. Two phases on one spawned process (startProcesses):
 *   1. OPENMFA_STRESS_SLOW connections (default 200; 10,000 in `npm run test:stress`) each
 *      send a POST's headers and then one byte of its body every second: every one is
 *      answered 408 and closed, none before its deadline, and /health answers 200 throughout;
 *   2. as many again (half trickling headers, half bodies) are attached when SIGTERM comes:
 *      the process exits 0 within 10 s.
 * The deadline is OPENMFA_STRESS_SLOW_TIMEOUT_MS (2 s here; test:stress uses the default
 * 30 s). Figures go to OPENMFA_STRESS_REPORT (scripts/stress/run.mjs prints them).
 */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { test } from 'node:test';
import { SHUTDOWN_DEADLINE_MS } from '../../src/server.js';
import { DIALECT, freshStore } from '../helper.js';
import { reportFigures, startProcesses, type Processes } from '../support/processes.js';

const SLOW = Number(process.env.OPENMFA_STRESS_SLOW ?? 200);
const TIMEOUT_MS = Number(process.env.OPENMFA_STRESS_SLOW_TIMEOUT_MS ?? 2000);
const BODY_BYTES = 60_000; // under the 64 KiB body limit, so it is waited for, not refused

interface Slow {
  socket: Socket;
  connectedAt: number;
  /** When the first byte of the request went out: the server's deadline counts from later. */
  startedAt: number;
  closedAt: number;
  response: string;
}

/** Opens `n` connections in batches (the listen backlog is finite), each sending `head`. */
async function openSlow(port: number, n: number, head: (i: number) => string): Promise<Slow[]> {
  const all: Slow[] = [];
  for (let from = 0; from < n; from += 250) {
    const batch = Array.from({ length: Math.min(250, n - from) }, (_, k) => new Promise<Slow>((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      const c: Slow = { socket, connectedAt: 0, startedAt: 0, closedAt: 0, response: '' };
      socket.setEncoding('utf8').on('data', (d: string) => { c.response += d; });
      socket.on('error', () => {});
      socket.on('close', () => { c.closedAt = performance.now(); });
      socket.once('connect', () => {
        c.connectedAt = c.startedAt = performance.now();
        socket.write(head(from + k));
        resolve(c);
      });
      socket.once('error', (e) => { if (!c.connectedAt) reject(e); });
    }));
    all.push(...await Promise.all(batch));
  }
  return all;
}

/** One byte to every open connection each second, until stopped. */
function trickle(conns: Slow[], byte: string): () => void {
  const timer = setInterval(() => {
    for (const c of conns) if (!c.closedAt && c.socket.writable) c.socket.write(byte);
  }, 1000);
  return () => clearInterval(timer);
}

/** Polls /health on fresh connections until stopped: how many answered 200, and the other outcomes. */
function pollHealth(base: string): { stop: () => Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  const failed: string[] = [];
  let ok = 0;
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(`${base}/health`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status === 200) ok++; else failed.push(String(res.status));
      } catch (e) {
        failed.push((e as Error).message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { stop: async () => { running = false; await loop; return { ok, failed }; } };
}

const post = (env: string) => `POST /v1/environments/${env}/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY_BYTES}\r\n\r\n{`;

test(`S9: ${SLOW} slow clients trickling bodies are each cut at the ${TIMEOUT_MS} ms deadline with 408, /health is served throughout, and SIGTERM with ${SLOW} attached exits 0 within 10 s (${DIALECT})`, { timeout: 120_000 + 3 * TIMEOUT_MS }, async (t) => {
  const pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
  let procs: Processes | undefined;
  try {
    procs = await startProcesses({
      count: 1,
      databaseUrl: pgStore?.databaseUrl,
      args: ['--request-timeout', String(TIMEOUT_MS), '--headers-timeout', String(Math.min(TIMEOUT_MS, 10_000)), '--max-connections', String(SLOW + 500)],
    });
    const base = procs.urls[0]!;
    const port = Number(new URL(base).port);
    const env = procs.bootstrap.environmentId;

    // Phase 1: slow bodies, cut at the deadline while others are served.
    const slow = await openSlow(port, SLOW, () => post(env));
    const stopTrickle = trickle(slow, ' ');
    const health = pollHealth(base);
    await Promise.all(slow.map((c) => new Promise<void>((r) => (c.closedAt ? r() : c.socket.once('close', () => r())))));
    stopTrickle();
    const { ok: healthOk, failed: healthFailed } = await health.stop();
    const status = slow.map((c) => Number(/^HTTP\/1\.1 (\d{3})/.exec(c.response)?.[1] ?? 0));
    const heldMs = slow.map((c) => c.closedAt - c.startedAt);
    const cut408 = status.filter((s) => s === 408).length;
    const early = heldMs.filter((ms) => ms < TIMEOUT_MS - 20).length;
    assert.equal(cut408, SLOW, `statuses: ${JSON.stringify([...new Set(status)])}`);
    assert.equal(early, 0, 'no connection was cut before its deadline');
    assert.deepEqual(healthFailed, [], '/health answered 200 throughout');
    assert.ok(healthOk > 0);

    // Phase 2: SIGTERM with slow clients attached.
    const attached = await openSlow(port, SLOW, (i) => (i % 2 === 0 ? post(env) : 'GET /health HTTP/1.1\r\nHost: x\r\n'));
    const stopAttached = trickle(attached, 'a');
    const proc = procs.procs[0]!;
    const sigtermAt = performance.now();
    proc.proc.kill('SIGTERM');
    const exit = await proc.exited;
    const shutdownMs = Math.round(performance.now() - sigtermAt);
    stopAttached();
    for (const c of attached) c.socket.destroy();
    assert.deepEqual(exit, { code: 0, signal: null }, procs.output(0));
    assert.ok(shutdownMs <= SHUTDOWN_DEADLINE_MS, `exited ${shutdownMs} ms after SIGTERM`);

    const sorted = [...heldMs].sort((a, b) => a - b);
    await reportFigures(t, 'slow-clients', {
      slow: SLOW,
      deadlineMs: TIMEOUT_MS,
      cut408,
      cutEarly: early,
      cutMinMs: Math.round(sorted[0]!),
      cutMedianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
      cutMaxMs: Math.round(sorted[sorted.length - 1]!),
      healthOk,
      healthFailed: healthFailed.length,
      attachedAtSigterm: attached.length,
      shutdownMs,
    });
  } finally {
    await procs?.stopAll();
    await pgStore?.dispose();
  }
});
