/**
 * The SQLite writer on its own thread (src/store/writer-thread.ts): the main thread's event
 * loop keeps serving reads while a group commits; a writer thread that dies fails every
 * waiting write loudly instead of leaving it unanswered or acknowledging it; and a write
 * acknowledged before a SIGKILL is in the file afterwards. SQLite only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { isUnavailable, Store } from '../../src/store/db.js';
import { ROOT } from '../support/processes.js';

const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Atomics.waitAsync (Node 16+; ES2024, past this project's lib): resolves once gate[index] is no longer `value`, without blocking the event loop. */
const waitAsync = (gate: Int32Array, index: number, value: number) =>
  (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync(gate, index, value);

let fileNo = 0;
const fresh = () => path.join(dir, `w-${++fileNo}.sqlite`);
const insert = (store: Store, k: string) => sql`insert into t (k) values (${k})`.execute(store.db);
const keys = async (store: Store) => (await sql<{ k: string }>`select k from t order by k`.execute(store.db)).rows.map((r) => r.k);

/** What another connection finds in the file: only what was committed (the oracle: not the store under test). */
function committedKeys(file: string, table = 't'): string[] {
  const other = new SQLite(file, { readonly: true });
  try {
    return (other.prepare(`select k from ${table} order by k`).all() as Array<{ k: string }>).map((r) => r.k);
  } finally {
    other.close();
  }
}

describe('the SQLite writer thread', () => {
  test('while the writer thread is inside a group, before its COMMIT, the main thread answers reads and takes the next writes', async () => {
    // The gate holds the writer thread at its next COMMIT: [0] counts arrivals, [1] releases.
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const file = fresh();
    const store = Store.open({ sqlitePath: file, groupCommit: { hooks: { holdCommit: gate } } });
    Atomics.store(gate, 1, 1);
    await sql`create table t (k text primary key)`.execute(store.db);
    await insert(store, 'a');
    Atomics.store(gate, 1, 0);
    const arrivals = Atomics.load(gate, 0);

    const order: string[] = [];
    const write = insert(store, 'b').then(() => order.push('write b'));
    // Wait, without blocking the event loop, until the writer thread sits at the COMMIT of b's group.
    const waiting = waitAsync(gate, 0, arrivals);
    assert.equal(waiting.async, true);
    await waiting.value;
    order.push('writer at COMMIT');
    // The event loop runs: a read answers at once, from the last committed state.
    assert.deepEqual(await keys(store), ['a']);
    order.push('read');
    // A second write is taken (it waits for its own COMMIT, after b's).
    const next = insert(store, 'c').then(() => order.push('write c'));
    assert.deepEqual(committedKeys(file), ['a'], 'b is not committed while the writer waits');
    assert.deepEqual(order, ['writer at COMMIT', 'read']);

    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    await Promise.all([write, next]);
    assert.deepEqual(order, ['writer at COMMIT', 'read', 'write b', 'write c']);
    assert.deepEqual(committedKeys(file), ['a', 'b', 'c']);
    await store.close();
  });

  test('a writer thread that dies fails every waiting write and every later one (OPENMFA_WRITER_LOST, a 503), and nothing it had not committed persists', async () => {
    // Threat: a crashed writer leaving requests hanging, or a write acknowledged that never reached the disk.
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const file = fresh();
    let thread: Worker | undefined;
    const lost: Error[] = [];
    const store = Store.open({ sqlitePath: file, onWriterLost: (e) => lost.push(e), groupCommit: { hooks: { holdCommit: gate }, onWriterStart: (w) => { thread = w; } } });
    Atomics.store(gate, 1, 1);
    await sql`create table t (k text primary key)`.execute(store.db);
    await insert(store, 'kept');
    Atomics.store(gate, 1, 0);
    const arrivals = Atomics.load(gate, 0);

    const pending = [insert(store, 'x'), insert(store, 'y')];
    await waitAsync(gate, 0, arrivals).value;
    // The writer thread dies inside the group, before its COMMIT.
    await thread!.terminate();
    const results = await Promise.allSettled(pending);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r as PromiseRejectedResult).reason.code, 'OPENMFA_WRITER_LOST');
      assert.equal(isUnavailable((r as PromiseRejectedResult).reason), true);
    }
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.message, 'the SQLite writer thread stopped: it exited with code 1');
    await assert.rejects(insert(store, 'later'), (e: { code?: string }) => e.code === 'OPENMFA_WRITER_LOST');
    await assert.rejects(store.transaction(async (trx) => { await sql`insert into t (k) values ('t')`.execute(trx); }), (e: { code?: string }) => e.code === 'OPENMFA_WRITER_LOST');
    // Reads still answer from what was committed; once a request met the loss, /health says unhealthy (its write probe fails).
    assert.deepEqual(await keys(store), ['kept']);
    assert.equal(store.noteFailure((results[0] as PromiseRejectedResult).reason), true);
    assert.equal(await store.healthy(), false);
    await store.close();
    assert.deepEqual(committedKeys(file), ['kept']);
    assert.equal(lost.length, 1);
  });

  test('every write acknowledged before a SIGKILL is in the file afterwards', { timeout: 60_000 }, async () => {
    // Threat: an acknowledgement sent before the COMMIT's fsync (R1: 0 acknowledged writes lost).
    const file = fresh();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/ack-writer.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const acked: string[] = [];
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line === 'ready') continue;
      acked.push(line);
      // Killed in the middle of its load: groups are being written and committed.
      if (acked.length === 600) child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');
    assert.ok(acked.length >= 600);
    const stored = new Set(committedKeys(file, 'acked'));
    const lostKeys = acked.filter((k) => !stored.has(k));
    assert.deepEqual(lostKeys, []);
  });
});
