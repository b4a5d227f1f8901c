/**
 * A proof queued behind the device row's lock while its flow completed (quality bar S1, S2;
 * devices/attempts.ts `reserveAttemptWhile`). PostgreSQL only: there a statement that waits for
 * a row lock re-checks its WHERE on the row's new version but reads other tables as of the moment
 * it began (EvalPlanQual). A reservation that checked "the flow still waits" that way counted
 * attempts against a flow that had completed while it waited — the lost-race copies of one valid
 * code then piled up into a lock the winner could not clear (seen once in the two-process S2
 * race: failed_attempts 2 after a COMPLETED). SQLite runs every write on one connection, in
 * order, so it has no such interleaving and the file registers nothing there.
 *
 * The interleaving is forced, not hoped for: a transaction holds the device row; the guess is
 * sent and waits on it (seen in pg_blocking_pids); the flow completes and the holder clears
 * the device's count, as the winner of the race does; then the holder commits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { DIALECT, useTestServer, type TestServer } from '../helper.js';
import { assertError, MSG } from '../devices/otp-support.js';
import { checkOtp, emailDevice, newTenant, newUser, startFlow, type Tenant } from './support.js';

let server: TestServer;
let t: Tenant;

if (DIALECT === 'postgres') {
  useTestServer(async (s) => {
    server = s;
    t = await newTenant(server, 'queued proof');
  });

  test('a wrong code queued behind the device lock while its flow completed counts nothing (no lock-out by lost races or late guesses)', async () => {
    const user = await newUser(t);
    const deviceId = await emailDevice(t, user.id, `${user.username}@example.com`);
    const flow = await startFlow(t, user.id);
    assert.equal(flow.body.status, 'OTP_REQUIRED', flow.text);
    const flowId = flow.body.id as string;
    const wrong = flow.body.test.otp === '000000' ? '111111' : '000000';

    const holder = await server.store.begin();
    try {
      await holder.trx.selectFrom('devices').select('id').where('id', '=', deviceId).forUpdate().execute();
      const { rows: [me] } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(holder.trx);
      const answer = checkOtp(t, flowId, wrong);
      // Wait (on the database, not the clock) until the guess is queued on the holder's lock.
      for (let i = 0; ; i++) {
        const { rows: [w] } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where ${me!.pid} = any(pg_blocking_pids(pid))`.execute(server.store.db);
        if (w!.n > 0) break;
        assert.ok(i < 2000, 'the guess never queued on the device row');
        await new Promise((resolve) => setImmediate(resolve));
      }
      // The winner: the flow completes, then its clearAttempts writes the device row.
      await server.store.db.updateTable('device_authentications').set({ status: 'COMPLETED', challenge_hash: null, challenge_expires_at: null })
        .where('id', '=', flowId).execute();
      await holder.trx.updateTable('devices').set({ failed_attempts: 0, locked_until: null }).where('id', '=', deviceId).execute();
      await holder.commit();

      const res = await answer;
      assertError(res, 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, [
        { code: 'INVALID_VALUE', target: 'status', message: 'The device authentication is COMPLETED; it takes no more actions' },
      ]);
    } finally {
      if (!holder.done) await holder.rollback();
    }
    const row = await server.store.db.selectFrom('devices').select(['failed_attempts', 'locked_until']).where('id', '=', deviceId).executeTakeFirstOrThrow();
    assert.deepEqual({ failed: Number(row.failed_attempts), locked: row.locked_until }, { failed: 0, locked: null });
  });
}
