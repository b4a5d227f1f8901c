/**
 * Threat: the store stops writing — a full disk, an I/O error, a lost PostgreSQL connection —
 * and the server answers 500 UNEXPECTED_ERROR while /health keeps saying 200, so a load
 * balancer keeps sending traffic to an instance that cannot write.
 *
 * Blocked by: Store.noteFailure/isUnavailable (src/store/db.ts) and the error handler
 * (src/app.ts): such an error answers 503 SERVICE_UNAVAILABLE with Retry-After (reference §7.3),
 * and /health answers 503 until a write probe succeeds again. Real failing conditions, no
 * mocks: on SQLite a real SQLITE_FULL (`PRAGMA max_page_count` pinned to the file's size);
 * on PostgreSQL a real connection loss (a TCP proxy in front of the server cuts every
 * connection and refuses new ones, then lets them through again).
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import { sql } from 'kysely';
import { MESSAGES } from '../../src/http/errors.js';
import { isUnavailable, Store } from '../../src/store/db.js';
import { DIALECT, freshStore, startTestServer, type TestServer } from '../helper.js';

const UNAVAILABLE = { id: '<id>', code: 'SERVICE_UNAVAILABLE', message: MESSAGES.UNAVAILABLE };

function assertUnavailable(res: { status: number; headers: Record<string, unknown>; body: any }, what: string): void {
  assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.headers['retry-after'], '1');
  assert.deepEqual({ ...res.body, id: '<id>' }, UNAVAILABLE);
}

let n = 0;
const newUser = (s: TestServer) => {
  const username = `u${++n}-${'x'.repeat(60)}`;
  return s.request('POST', `/v1/environments/${s.boot.environmentId}/users`, { body: { username, email: `u${n}@example.com` } }).then((res) => ({ res, username }));
};
const countOf = async (s: TestServer, username: string) =>
  (await s.request('GET', `/v1/environments/${s.boot.environmentId}/users?filter=${encodeURIComponent(`username eq "${username}"`)}`)).body.count as number;

/** A TCP proxy to PostgreSQL that can cut every connection and refuse new ones. */
async function pgProxy(target: URL): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) { client.destroy(); return; }
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      open.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => { open.delete(a); b.destroy(); });
      a.pipe(b);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() { refusing = true; for (const s of open) s.destroy(); },
    restore() { refusing = false; },
    close: () => new Promise<void>((r) => { for (const s of open) s.destroy(); server.close(() => r()); }),
  };
}

test(`threat: the store stops writing (${DIALECT === 'sqlite' ? 'SQLITE_FULL' : 'PostgreSQL connection lost'}) — 503 SERVICE_UNAVAILABLE, never 500; /health 503 until writes succeed again; nothing half-written`, async () => {
  if (DIALECT === 'sqlite') {
    const s = await startTestServer();
    try {
      assert.equal((await newUser(s)).res.status, 201);
      assert.equal((await s.request('GET', '/health', { token: null })).status, 200);
      // The file may not grow by a single page: the next insert that needs one fails for real.
      const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(s.store.db);
      await sql.raw(`pragma max_page_count = ${rows[0]!.page_count}`).execute(s.store.db);
      let failed: Awaited<ReturnType<typeof newUser>> | undefined;
      for (let i = 0; i < 500 && !failed; i++) {
        const attempt = await newUser(s);
        if (attempt.res.status !== 201) failed = attempt;
      }
      assert.ok(failed, 'the disk filled up');
      assertUnavailable(failed.res, 'the write that met the full disk');
      assertUnavailable(await s.request('GET', '/health', { token: null }), '/health while full');
      assertUnavailable((await newUser(s)).res, 'a later write');
      assertUnavailable(await s.request('GET', '/health', { token: null }), '/health still');
      // Reads still work, and the refused user was not written.
      assert.equal(await countOf(s, failed.username), 0);
      // Space again: /health recovers through its write probe, and writes succeed.
      await sql.raw('pragma max_page_count = 1073741823').execute(s.store.db);
      assert.equal((await s.request('GET', '/health', { token: null })).status, 200);
      const after = await newUser(s);
      assert.equal(after.res.status, 201);
      assert.equal(await countOf(s, after.username), 1);
    } finally {
      await s.close();
    }
    return;
  }

  const fresh = await freshStore('postgres');
  const target = new URL(fresh.databaseUrl!);
  const proxy = await pgProxy(target);
  const viaProxy = new URL(fresh.databaseUrl!);
  viaProxy.port = String(proxy.port);
  const store = Store.open({ databaseUrl: viaProxy.href, poolSize: 2 });
  const s = await startTestServer({ store });
  try {
    assert.equal((await newUser(s)).res.status, 201);
    proxy.cut();
    const lost = await newUser(s);
    assertUnavailable(lost.res, 'a write with the connection lost');
    assertUnavailable(await s.request('GET', '/health', { token: null }), '/health with the database unreachable');
    proxy.restore();
    assert.equal((await s.request('GET', '/health', { token: null })).status, 200);
    assert.equal(await countOf(s, lost.username), 0, 'the refused user was not written');
    const after = await newUser(s);
    assert.equal(after.res.status, 201);
  } finally {
    await s.close();
    await store.close();
    await proxy.close();
    await fresh.dispose();
  }
});

test('which store errors mean "unavailable" (503), from the SQLite and PostgreSQL error code lists', () => {
  const unavailable = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM', 'SQLITE_BUSY',
    '53100', '53200', '53300', '08006', '08001', '08003', '57P01', '57P02', '57P03', '58030', 'ECONNREFUSED', 'ECONNRESET'];
  for (const code of unavailable) assert.equal(isUnavailable({ code, message: 'x' }), true, code);
  const request = ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_FOREIGNKEY', 'SQLITE_ERROR', 'SQLITE_CORRUPT', '23505', '23503', '22P02', '22021', '42P01', '57014', '40001'];
  for (const code of request) assert.equal(isUnavailable({ code, message: 'x' }), false, code);
  assert.equal(isUnavailable(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isUnavailable(new Error('something else')), false);
  assert.equal(isUnavailable(undefined), false);
});
