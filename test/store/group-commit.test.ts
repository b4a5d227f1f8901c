/**
 * Group commit on SQLite (src/store/group-commit.ts): writes of one event-loop turn share a
 * COMMIT; no write resolves before the COMMIT that makes it durable, and autocommit reads run
 * on a read-only connection that sees only committed data;
 * a statement's own error rejects only itself; a failed COMMIT rejects the whole group;
 * explicit transactions and close() commit the open group first. SQLite only.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { isUniqueViolation, Store } from '../../src/store/db.js';

const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-gc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
/** A store on a fresh file with a table `t (k text primary key, v integer)`, counting COMMITs. */
async function open(extra: { maxStatements?: number; failNextCommit?: () => boolean } = {}) {
  const sqlitePath = path.join(dir, `gc-${++fileNo}.sqlite`);
  const commits: number[] = [];
  const store = Store.open({
    sqlitePath,
    groupCommit: {
      ...(extra.maxStatements ? { maxStatements: extra.maxStatements } : {}),
      hooks: {
        beforeCommit: () => {
          if (extra.failNextCommit?.()) throw Object.assign(new Error('disk I/O error (simulated)'), { code: 'SQLITE_IOERR' });
        },
        afterCommit: (n) => commits.push(n),
      },
    },
  });
  await sql`create table t (k text primary key, v integer not null)`.execute(store.db);
  commits.length = 0;
  return { store, sqlitePath, commits };
}

const insert = (store: Store, k: string, v = 1) => sql`insert into t (k, v) values (${k}, ${v})`.execute(store.db);
const count = async (store: Store) => Number((await sql<{ n: number }>`select count(*) as n from t`.execute(store.db)).rows[0]!.n);

/** What another connection sees in the file: only what was committed. */
function committedKeys(sqlitePath: string): string[] {
  const other = new SQLite(sqlitePath, { readonly: true });
  try {
    return (other.prepare('select k from t order by k').all() as Array<{ k: string }>).map((r) => r.k);
  } finally {
    other.close();
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
/**
 * Lets Kysely's promise chains reach the driver (they are microtasks only), but not the flush
 * that setImmediate scheduled: queries issued before it have run inside the open group.
 */
const executed = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('group commit (SQLite)', () => {
  let fresh: Awaited<ReturnType<typeof open>>;
  beforeEach(async () => {
    fresh = await open();
  });

  test('many writes in one tick share few COMMITs and are durable once resolved', async () => {
    const { store, sqlitePath, commits } = fresh;
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => insert(store, `k${i}`)));
    assert.ok(commits.length >= 1 && commits.length < n / 10, `${commits.length} commits for ${n} writes`);
    assert.equal(commits.reduce((a, b) => a + b, 0), n);
    // Durable: another connection, and the file reopened after close, see every write.
    assert.equal(committedKeys(sqlitePath).length, n);
    await store.close();
    const again = Store.open({ sqlitePath });
    try {
      assert.equal(await count(again), n);
    } finally {
      await again.close();
    }
  });

  test('a write is not visible to another connection until its promise resolves', async () => {
    const { store, sqlitePath, commits } = fresh;
    let resolved = false;
    const pending = insert(store, 'a').then(() => {
      resolved = true;
    });
    await executed();
    // The statement ran, inside the group's open transaction: not committed, not acknowledged.
    assert.deepEqual(committedKeys(sqlitePath), []);
    assert.equal(resolved, false);
    await pending;
    assert.deepEqual(committedKeys(sqlitePath), ['a']);
    assert.equal(commits.length, 1);
    await store.close();
  });

  test('a unique violation rejects only its own statement; the others commit', async () => {
    const { store, sqlitePath, commits } = fresh;
    const results = await Promise.allSettled([insert(store, 'x'), insert(store, 'y'), insert(store, 'x', 2), insert(store, 'z')]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.ok(isUniqueViolation((results[2] as PromiseRejectedResult).reason));
    assert.equal(commits.length, 1, 'one group, still committed');
    assert.deepEqual(committedKeys(sqlitePath), ['x', 'y', 'z']);
    const v = await sql<{ v: number }>`select v from t where k = 'x'`.execute(store.db);
    assert.equal(v.rows[0]!.v, 1, 'the failing statement left nothing');
    await store.close();
  });

  test('an explicit transaction started while a group is open sees the group committed first', async () => {
    const { store, sqlitePath, commits } = fresh;
    const writes = [insert(store, 'g1'), insert(store, 'g2')];
    let seenInside: string[] = [];
    let committedAtBegin: string[] = [];
    const trx = store.transaction(async (t) => {
      committedAtBegin = committedKeys(sqlitePath);
      seenInside = (await sql<{ k: string }>`select k from t order by k`.execute(t)).rows.map((r) => r.k);
      await sql`insert into t (k, v) values ('t1', 1)`.execute(t);
    });
    // An autocommit write issued while the transaction holds the connection waits for it.
    const later = insert(store, 'after');
    await Promise.all([...writes, trx, later]);
    assert.deepEqual(committedAtBegin, ['g1', 'g2']);
    assert.deepEqual(seenInside, ['g1', 'g2']);
    assert.ok(commits.length >= 2);
    assert.deepEqual(committedKeys(sqlitePath), ['after', 'g1', 'g2', 't1']);
    await store.close();
  });

  test('a transaction that fails rolls back and leaves the group machinery working', async () => {
    const { store, sqlitePath } = fresh;
    await insert(store, 'a');
    await assert.rejects(store.transaction(async (t) => {
      await sql`insert into t (k, v) values ('b', 1)`.execute(t);
      await sql`insert into t (k, v) values ('a', 1)`.execute(t);
    }), (e) => isUniqueViolation(e));
    await Promise.all([insert(store, 'c'), insert(store, 'd')]);
    assert.deepEqual(committedKeys(sqlitePath), ['a', 'c', 'd']);
    await store.close();
  });

  test('savepoints inside a controlled transaction', async () => {
    const { store, sqlitePath } = fresh;
    const pending = insert(store, 'g');
    const trx = await store.db.startTransaction().execute();
    await sql`insert into t (k, v) values ('s1', 1)`.execute(trx);
    const sp = await trx.savepoint('sp1').execute();
    await sql`insert into t (k, v) values ('s2', 1)`.execute(sp);
    const back = await sp.rollbackToSavepoint('sp1').execute();
    await back.releaseSavepoint('sp1').execute();
    await trx.commit().execute();
    await pending;
    assert.deepEqual(committedKeys(sqlitePath), ['g', 's1']);
    await store.close();
  });

  test('a read issued while a group is open runs on the reader at once: the last committed state, never the pending writes', async () => {
    const { store, sqlitePath, commits } = fresh;
    await insert(store, 'a');
    commits.length = 0;
    const order: string[] = [];
    const write = insert(store, 'r').then(() => order.push('write'));
    await executed();
    const read = count(store).then((n) => {
      order.push('read');
      return n;
    });
    assert.equal(await read, 1, 'the group\'s pending write is not seen');
    assert.deepEqual(order, ['read'], 'the read did not wait for the COMMIT');
    assert.equal(commits.length, 0);
    assert.deepEqual(committedKeys(sqlitePath), ['a']);
    await write;
    assert.equal(commits.length, 1);
    assert.equal(await count(store), 2, 'once the write resolved, reads see it');
    await store.close();
  });

  test('inside an explicit transaction, reads see the transaction\'s own writes', async () => {
    const { store } = fresh;
    const seen = await store.transaction(async (trx) => {
      await sql`insert into t (k, v) values (${'x'}, ${1})`.execute(trx);
      return Number((await sql<{ n: number }>`select count(*) as n from t`.execute(trx)).rows[0]!.n);
    });
    assert.equal(seen, 1);
    await store.close();
  });

  test('a conditional write in the group sees the writes before it (a code is used once)', async () => {
    const { store } = fresh;
    await insert(store, 'c', 0);
    // Two "activations" of one row in the same turn: only the first finds v = 0.
    const use = () => sql`update t set v = 1 where k = ${'c'} and v = 0`.execute(store.db).then((r) => Number(r.numAffectedRows));
    const results = await Promise.all([use(), use()]);
    assert.deepEqual(results.sort(), [0, 1]);
    await store.close();
  });

  test('a read with no group open resolves without a COMMIT', async () => {
    const { store, commits } = fresh;
    await insert(store, 'a');
    commits.length = 0;
    assert.equal(await count(store), 1);
    await tick();
    assert.equal(commits.length, 0);
    await store.close();
  });

  test('a failed COMMIT rejects every member of the group, and nothing of it persists', async () => {
    let fail = false;
    const { store, sqlitePath, commits } = await open({ failNextCommit: () => fail });
    await insert(store, 'before');
    fail = true;
    const pending = [insert(store, 'a'), insert(store, 'b'), insert(store, 'before')];
    // A read is no member: it runs on the reader and sees what was committed.
    assert.equal(await count(store), 1);
    const results = await Promise.allSettled(pending);
    fail = false;
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r as PromiseRejectedResult).reason.code, 'SQLITE_IOERR');
    }
    assert.deepEqual(committedKeys(sqlitePath), ['before']);
    assert.equal(commits.length, 1);
    // The next group is fine.
    await insert(store, 'c');
    assert.deepEqual(committedKeys(sqlitePath), ['before', 'c']);
    await store.close();
  });

  test('an error that may abort the transaction (SQLITE_FULL) rejects the whole group', async () => {
    const { store, sqlitePath, commits } = fresh;
    await insert(store, 'before');
    const pages = Number((await sql<{ page_count: number }>`pragma page_count`.execute(store.db)).rows[0]!.page_count);
    assert.ok(pages > 0);
    await sql.raw(`pragma max_page_count = ${pages + 1}`).execute(store.db);
    commits.length = 0;
    const big = 'x'.repeat(200_000);
    const results = await Promise.allSettled([
      insert(store, 'a'),
      sql`insert into t (k, v) values (${big}, 1)`.execute(store.db),
      insert(store, 'b'),
    ]);
    assert.equal(results[0]!.status, 'rejected');
    assert.equal(results[1]!.status, 'rejected');
    const code = (results[1] as PromiseRejectedResult).reason.code;
    assert.equal(code, 'SQLITE_FULL');
    assert.equal((results[0] as PromiseRejectedResult).reason.code, 'SQLITE_FULL', 'its group was rolled back');
    // 'b' came after the failure: a new group, committed.
    assert.equal(results[2]!.status, 'fulfilled');
    assert.deepEqual(committedKeys(sqlitePath), ['b', 'before']);
    await store.close();
  });

  test('a group is committed early at its cap', async () => {
    const { store, sqlitePath, commits } = await open({ maxStatements: 10 });
    await Promise.all(Array.from({ length: 35 }, (_, i) => insert(store, `k${String(i).padStart(2, '0')}`)));
    assert.deepEqual(commits, [10, 10, 10, 5]);
    assert.equal(committedKeys(sqlitePath).length, 35);
    await store.close();
  });

  test('close() commits the open group before closing', async () => {
    const { store, sqlitePath, commits } = fresh;
    const writes = [insert(store, 'c1'), insert(store, 'c2')];
    await executed();
    assert.deepEqual(committedKeys(sqlitePath), []);
    await store.close();
    await Promise.all(writes);
    assert.equal(commits.length, 1);
    assert.deepEqual(committedKeys(sqlitePath), ['c1', 'c2']);
  });

  test('a foreign key violation rejects only its own statement', async () => {
    const { store, sqlitePath } = fresh;
    await sql`create table c (id text primary key, k text not null references t (k))`.execute(store.db);
    const results = await Promise.allSettled([
      insert(store, 'p'),
      sql`insert into c (id, k) values ('c1', 'nope')`.execute(store.db),
      sql`insert into c (id, k) values ('c2', 'p')`.execute(store.db),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal((results[1] as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_FOREIGNKEY');
    assert.deepEqual(committedKeys(sqlitePath), ['p']);
    await store.close();
  });
});

