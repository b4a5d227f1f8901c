/**
 * Idempotency-Key across kill -9 (quality bar R6), against a real server process
 * (test/support/processes.ts) whose SMS webhook receiver accepts the code's POST and never
 * answers. The trial's failure: the create waited on the receiver, a kill left the device made,
 * the retry answered 409 for five minutes and would then have made a second device. Here the
 * create answers without waiting; and whether the kill lands after the commit (the response
 * lost with the process) or before it (the request blocked inside its transaction), the retry
 * with the same key after the restart answers at once — the original response, or the create
 * performed once — and exactly one device exists. SQLite, and PostgreSQL when
 * OPENMFA_TEST_DIALECT=postgres.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { DIALECT, freshStore } from '../helper.js';
import { call, reportFigures, startProcesses, tokenOf, type Processes } from '../support/processes.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec_crash_0123456789abcdef';

/**
 * True while a thread of process `pid` sleeps in clock_nanosleep (x86-64 syscall 230): what
 * SQLite's busy handler does between tries for a lock. Node's own threads wait in futex or
 * epoll, never there, so this is the SQLite writer thread waiting for the lock (Linux only).
 */
function inBusyHandler(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ')[0] === '230';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}
const SMS = { type: 'SMS', phone: '+15125550142', status: 'ACTIVATION_REQUIRED' };

describe(`Idempotency-Key across kill -9 with a hanging receiver (${DIALECT})`, { timeout: 180_000 }, () => {
  let receiver: WebhookReceiver;
  let pgStore: Awaited<ReturnType<typeof freshStore>> | undefined;
  let procs: Processes;
  let env: string;
  const retryMs: number[] = [];

  before(async () => {
    receiver = await startWebhookReceiver('hang');
    pgStore = DIALECT === 'postgres' ? await freshStore('postgres') : undefined;
    procs = await startProcesses({ count: 1, databaseUrl: pgStore?.databaseUrl, args: ['--webhook-url', receiver.url, '--webhook-secret', SECRET] });
    env = procs.bootstrap.environmentId;
  });
  after(async () => {
    await procs?.stopAll();
    await pgStore?.dispose();
    await receiver?.close();
  });

  const token = () => tokenOf(procs.urls[0]!, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret);
  const devicesOf = (userId: string) => `/v1/environments/${env}/users/${userId}/devices`;
  const create = (tok: string, userId: string, key: string) => fetch(procs.urls[0]! + devicesOf(userId), {
    method: 'POST',
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(SMS),
  });
  async function newUser(tok: string): Promise<string> {
    const name = `crash-${Math.random().toString(16).slice(2, 10)}`;
    const u = await call(procs.urls[0]!, 'POST', `/v1/environments/${env}/users`, { token: tok, body: { username: name } });
    assert.equal(u.status, 201, u.text);
    return u.body.id as string;
  }
  async function devicesOfUser(tok: string, userId: string): Promise<string[]> {
    const list = await call(procs.urls[0]!, 'GET', devicesOf(userId), { token: tok });
    assert.equal(list.status, 200, list.text);
    return (list.body._embedded.devices as Array<{ id: string }>).map((d) => d.id);
  }
  /** The retry after the restart; how long it took is reported, not asserted. */
  async function retry(userId: string, key: string) {
    const tok = await token();
    const started = performance.now();
    const res = await create(tok, userId, key);
    const body = await res.json() as { id: string; status: string };
    retryMs.push(performance.now() - started);
    return { res, body, tok };
  }

  test('threat: SIGKILL after the commit, the response lost with the process — the retry replays it at once and no second device is made', async () => {
    const tok = await token();
    const userId = await newUser(tok);
    const res = await create(tok, userId, 'after-commit');
    assert.equal(res.status, 201, 'the create answers although the receiver never does');
    const first = await res.json() as { id: string };
    const post = await receiver.first((p) => p.body.deviceId === first.id);
    assert.equal(post.answered, false, 'the code reached the receiver, which holds it unanswered');

    assert.equal((await procs.kill(0)).signal, 'SIGKILL');
    await procs.restart(0);
    const again = await retry(userId, 'after-commit');
    assert.equal(again.res.status, 201);
    assert.equal(again.res.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.id);
    assert.deepEqual(await devicesOfUser(again.tok, userId), [first.id]);
    if (DIALECT === 'sqlite') {
      // The code the dead process was sending is sent again by the new one (its lease died with
      // it; on PostgreSQL another process takes it when the lease ends, test/reliability/delivery-restart).
      await receiver.first((p) => p !== post && p.body.id === post.body.id);
    }
  });

  test('threat: SIGKILL before the commit, the request blocked inside its transaction — the retry performs the create once, never a 409', async (t) => {
    const tok = await token();
    const userId = await newUser(tok);
    const forUser = () => receiver.received.filter((p) => p.body.userId === userId);
    let outcome: Promise<unknown>;
    if (pgStore) {
      // Hold the user's row: the create blocks on it inside its transaction (after its key claim).
      const lock = await pgStore.store.begin();
      await sql`select id from users where id = ${userId} for update`.execute(lock.trx);
      const { rows } = await sql<{ x: string }>`select pg_current_xact_id()::text as x`.execute(lock.trx);
      outcome = create(tok, userId, 'before-commit').then((r) => r.status, (e: unknown) => e);
      for (;;) {
        const { rows: waiting } = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'transactionid' and transactionid::text = ${rows[0]!.x} and not granted`.execute(pgStore.store.db);
        if (waiting[0]!.n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal((await procs.kill(0)).signal, 'SIGKILL');
      await lock.rollback();
    } else {
      // Hold SQLite's write lock: the create's first write (its key claim) waits for it.
      const file = path.join(procs.dataDir, 'openmfa.sqlite');
      const holder = new SQLite(file);
      holder.prepare('BEGIN IMMEDIATE').run();
      outcome = create(tok, userId, 'before-commit').then((r) => r.status, (e: unknown) => e);
      // The server's writer thread waits for the lock in SQLite's busy handler: then the request
      // is inside its transaction. Its main thread meanwhile still answers (reads, /health).
      const pid = procs.procs[0]!.proc.pid!;
      while (!inBusyHandler(pid)) await new Promise((r) => setImmediate(r));
      assert.equal((await fetch(`${procs.urls[0]!}/health`)).status, 200, 'the event loop is not blocked by the wait');
      assert.equal((await procs.kill(0)).signal, 'SIGKILL');
      // Nothing can have committed while this connection held the write lock.
      assert.deepEqual(holder.prepare('select count(*) as n from devices where user_id = ?').get(userId), { n: 0 });
      holder.prepare('ROLLBACK').run();
      holder.close();
    }
    const answer = await outcome;
    assert.ok(answer instanceof Error, `the killed request got no answer (got ${String(answer)})`);
    assert.deepEqual(forUser(), [], 'no code was sent for it');

    await procs.restart(0);
    const again = await retry(userId, 'before-commit');
    assert.equal(again.res.status, 201, JSON.stringify(again.body));
    assert.equal(again.res.headers.get('idempotent-replayed'), null, 'performed now, not replayed');
    assert.deepEqual(await devicesOfUser(again.tok, userId), [again.body.id]);
    // The code of the device made now reaches the receiver.
    await receiver.first((p) => p.body.deviceId === again.body.id);
    // And it replays from now on.
    const third = await create(again.tok, userId, 'before-commit');
    assert.equal(third.status, 201);
    assert.equal(third.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await third.json()) as { id: string }).id, again.body.id);
    await reportFigures(t, 'idempotency-crash', { retries: retryMs.length, maxRetryAnswerMs: Math.round(Math.max(...retryMs)) });
  });
});

describe('Idempotency-Key while the first request still runs in another process', { skip: DIALECT !== 'postgres' ? 'PostgreSQL only: two processes cannot share one SQLite store (in one SQLite process a retry waits for the first: test/reliability/idempotency.test.ts)' : false, timeout: 120_000 }, () => {
  test('a retry on the other process answers 409 IDEMPOTENCY_KEY_IN_FLIGHT while the first truly runs, then replays it', async () => {
    const pgStore = await freshStore('postgres');
    const procs = await startProcesses({ count: 2, databaseUrl: pgStore.databaseUrl });
    try {
      const env = procs.bootstrap.environmentId;
      const toks = await Promise.all([0, 1].map((i) => tokenOf(procs.urls[i]!, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret)));
      const u = await call(procs.urls[0]!, 'POST', `/v1/environments/${env}/users`, { token: toks[0]!, body: { username: 'in-flight' } });
      assert.equal(u.status, 201, u.text);
      const url = `/v1/environments/${env}/users/${u.body.id as string}/devices`;
      const post = (i: number) => fetch(procs.urls[i]! + url, {
        method: 'POST', body: JSON.stringify({ type: 'EMAIL', email: 'in-flight@example.com' }),
        headers: { authorization: `Bearer ${toks[i]!}`, 'content-type': 'application/json', 'idempotency-key': 'running' },
      });
      // The first request holds its key while it waits for the user's row, which the test holds.
      const lock = await pgStore.store.begin();
      await sql`select id from users where id = ${u.body.id as string} for update`.execute(lock.trx);
      const { rows } = await sql<{ x: string }>`select pg_current_xact_id()::text as x`.execute(lock.trx);
      const first = post(0);
      for (;;) {
        const { rows: waiting } = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'transactionid' and transactionid::text = ${rows[0]!.x} and not granted`.execute(pgStore.store.db);
        if (waiting[0]!.n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const busy = await post(1);
      assert.equal(busy.status, 409);
      assert.equal(busy.headers.get('retry-after'), '1');
      const busyBody = await busy.json() as { code: string; details: Array<{ code: string; target: string }> };
      assert.equal(busyBody.code, 'REQUEST_FAILED');
      assert.deepEqual(busyBody.details.map((d) => [d.code, d.target]), [['IDEMPOTENCY_KEY_IN_FLIGHT', 'Idempotency-Key']]);
      await lock.rollback();
      const done = await first;
      assert.equal(done.status, 201);
      const created = await done.json() as { id: string };
      const replay = await post(1);
      assert.equal(replay.status, 201);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.equal(((await replay.json()) as { id: string }).id, created.id);
    } finally {
      await procs.stopAll();
      await pgStore.dispose();
    }
  });
});
