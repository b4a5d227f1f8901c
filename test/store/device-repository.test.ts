/**
 * The device repository's conformance suite (src/devices/store.ts and attempts.ts), in the
 * manner of lucia's adapter tests: each invariant the domain relies on is checked directly on
 * the repository — no HTTP, no app — on the dialect under test (scripts/test.mjs runs this file
 * on SQLite and again on PostgreSQL). Rows are inserted with plain SQL, and each expectation is
 * written out from the rule (docs/attempts.md, reference §6.3–§6.5), not computed by the code
 * under test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { releaseAttempt, reserveAttempt, type AttemptRule } from '../../src/devices/attempts.js';
import {
  activateWithCode, addDevice, deleteDevice, listDevices, orderOf, removeOrder, reorder, takeStep, unusable, usable,
} from '../../src/devices/store.js';
import type { Db, Store } from '../../src/store/db.js';
import type { DevicesTable } from '../../src/store/schema.js';
import { DIALECT, freshStore } from '../helper.js';
import { insertUser } from './rows.js';

const T0 = Date.parse('2026-02-17T13:34:34.840Z');
const uid = () => crypto.randomUUID();
const RULE: AttemptRule = { count: 3, lockMs: 60_000 };

const seedUser = (db: Db) => insertUser(db, T0);

function deviceRow(env: string, user: string, over: Partial<DevicesTable> = {}): DevicesTable {
  return {
    id: uid(), environment_id: env, user_id: user, type: 'EMAIL', status: 'ACTIVE', nickname: null, policy_id: null, extra: '{}',
    secret_sealed: null, credential_id: null, public_jwk: null, challenge_hash: null, challenge_expires_at: null, failed_attempts: 0,
    locked_until: null, blocked_at: null, order_position: null, activated_at: T0, last_otp_step: null, public_key_cose: null, sign_count: null, sign_count_flow_id: null, created_at: T0, updated_at: T0,
    ...over,
  };
}

async function insert(db: Db, row: DevicesTable): Promise<DevicesTable> {
  await db.insertInto('devices').values(row).execute();
  return row;
}

const read = (db: Db, id: string) => db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const userOrder = async (db: Db, id: string) => (await db.selectFrom('users').select('device_order').where('id', '=', id).executeTakeFirstOrThrow()).device_order;

describe(`device repository (${DIALECT})`, () => {
  let store: Store;
  let dispose: () => Promise<void>;

  before(async () => {
    ({ store, dispose } = await freshStore());
  });
  after(() => dispose());

  describe('the usable-device rule', () => {
    test('SQL `usable` and JS `unusable` agree on every combination of status, block and lock', async () => {
      const { env, user } = await seedUser(store.db);
      const now = T0 + 1000;
      // Expected by the rule itself: in the status, unblocked, and no lock or one that has ended.
      const cases = [] as Array<{ row: DevicesTable; expected: boolean }>;
      for (const status of ['ACTIVE', 'ACTIVATION_REQUIRED']) {
        for (const blocked_at of [null, T0]) {
          for (const locked_until of [null, now - 1, now, now + 1]) {
            const row = await insert(store.db, deviceRow(env, user, { status, blocked_at, locked_until }));
            cases.push({ row, expected: status === 'ACTIVE' && blocked_at === null && (locked_until === null || locked_until <= now) });
          }
        }
      }
      const selected = new Set((await store.db.selectFrom('devices').select('id').where('user_id', '=', user)
        .where((eb) => usable(eb, 'ACTIVE', now)).execute()).map((r) => r.id));
      for (const { row, expected } of cases) {
        const label = `${row.status} blocked=${row.blocked_at !== null} locked_until=${row.locked_until === null ? 'null' : row.locked_until - now}`;
        assert.equal(selected.has(row.id), expected, `SQL, ${label}`);
        assert.equal(unusable(row, 'ACTIVE', now) === undefined, expected, `JS, ${label}`);
      }
      // The JS names the first failing check in the protocol's order: status, then block, then lock.
      const blockedAndLocked = cases.find((c) => c.row.status === 'ACTIVE' && c.row.blocked_at !== null && c.row.locked_until === now + 1)!;
      assert.equal(unusable(blockedAndLocked.row, 'ACTIVE', now), 'blocked');
      const pendingBlocked = cases.find((c) => c.row.status === 'ACTIVATION_REQUIRED' && c.row.blocked_at !== null)!;
      assert.equal(unusable(pendingBlocked.row, 'ACTIVE', now), 'status');
    });
  });

  describe('single use of a code', () => {
    test('20 concurrent activations with the right code: exactly one activates the device', async () => {
      const { env, user } = await seedUser(store.db);
      const device = await insert(store.db, deviceRow(env, user, { status: 'ACTIVATION_REQUIRED', activated_at: null, challenge_hash: 'h1', challenge_expires_at: T0 + 600_000 }));
      const now = T0 + 1000;
      const results = await Promise.all(Array.from({ length: 20 }, () => activateWithCode(store.db, device.id, 'h1', null, now)));
      assert.equal(results.filter((r) => r !== undefined).length, 1);
      const row = await read(store.db, device.id);
      assert.deepEqual([row.status, row.challenge_hash, Number(row.activated_at)], ['ACTIVE', null, now]);
      // Used once: the same code afterwards changes nothing.
      assert.equal(await activateWithCode(store.db, device.id, 'h1', null, now + 1), undefined);
    });

    test('a wrong code, a blocked device, or a lock the attempt did not start: nothing activates', async () => {
      const { env, user } = await seedUser(store.db);
      const now = T0 + 1000;
      const pending = { status: 'ACTIVATION_REQUIRED', activated_at: null, challenge_hash: 'h', challenge_expires_at: T0 + 600_000 };
      const a = await insert(store.db, deviceRow(env, user, pending));
      assert.equal(await activateWithCode(store.db, a.id, 'other', null, now), undefined);
      const b = await insert(store.db, deviceRow(env, user, { ...pending, blocked_at: T0 }));
      assert.equal(await activateWithCode(store.db, b.id, 'h', null, now), undefined);
      const c = await insert(store.db, deviceRow(env, user, { ...pending, locked_until: now + 5000 }));
      assert.equal(await activateWithCode(store.db, c.id, 'h', null, now), undefined);
      // The Nth attempt's own lock does not stop its right proof (docs/attempts.md, Settle); the count is cleared.
      const mine = await activateWithCode(store.db, c.id, 'h', now + 5000, now);
      assert.deepEqual([mine?.status, mine?.failed_attempts, mine?.locked_until], ['ACTIVE', 0, null]);
    });

    test('a TOTP step is taken once, and never an older one', async () => {
      const { env, user } = await seedUser(store.db);
      const device = await insert(store.db, deviceRow(env, user, { type: 'TOTP', last_otp_step: 100 }));
      const now = T0 + 1000;
      assert.equal(await takeStep(store.db, device.id, 100, null, now), false);
      const results = await Promise.all(Array.from({ length: 10 }, () => takeStep(store.db, device.id, 101, null, now)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await takeStep(store.db, device.id, 100, null, now), false);
      assert.equal(Number((await read(store.db, device.id)).last_otp_step), 101);
    });
  });

  describe('attempt reservation (docs/attempts.md)', () => {
    test(`at most N (${RULE.count}) of 40 concurrent reservations succeed in one window, and the Nth starts the lock`, async () => {
      const { env, user } = await seedUser(store.db);
      const device = await insert(store.db, deviceRow(env, user));
      const now = T0 + 1000;
      const results = await Promise.all(Array.from({ length: 40 }, () => reserveAttempt(store.db, device.id, now, RULE, 'ACTIVE')));
      const reserved = results.filter((r) => r !== undefined);
      assert.deepEqual(reserved.map((r) => r.number).sort(), [1, 2, 3]);
      assert.deepEqual(reserved.map((r) => r.lockedUntil).sort(), [now + 60_000, null, null]);
      const row = await read(store.db, device.id);
      assert.deepEqual([row.failed_attempts, Number(row.locked_until), Number(row.updated_at)], [3, now + 60_000, now]);
    });

    test('a device not in the asked status, or blocked, takes no reservation and is not counted', async () => {
      const { env, user } = await seedUser(store.db);
      const now = T0 + 1000;
      const blocked = await insert(store.db, deviceRow(env, user, { blocked_at: T0 }));
      assert.equal(await reserveAttempt(store.db, blocked.id, now, RULE, 'ACTIVE'), undefined);
      const pending = await insert(store.db, deviceRow(env, user, { status: 'ACTIVATION_REQUIRED' }));
      assert.equal(await reserveAttempt(store.db, pending.id, now, RULE, 'ACTIVE'), undefined);
      assert.equal((await read(store.db, blocked.id)).failed_attempts, 0);
      assert.equal((await read(store.db, pending.id)).failed_attempts, 0);
    });

    test('after the lock ends a new window starts at 1', async () => {
      const { env, user } = await seedUser(store.db);
      const device = await insert(store.db, deviceRow(env, user, { failed_attempts: 3, locked_until: T0 + 500 }));
      const attempt = await reserveAttempt(store.db, device.id, T0 + 500, RULE, 'ACTIVE');
      assert.deepEqual(attempt, { deviceId: device.id, number: 1, lockedUntil: null, updatedAt: T0 + 500 });
    });

    test('a release gives back only its own reservation, only in its own window', async () => {
      const { env, user } = await seedUser(store.db);
      const device = await insert(store.db, deviceRow(env, user));
      const now = T0 + 1000;
      const first = (await reserveAttempt(store.db, device.id, now, RULE, 'ACTIVE'))!;
      await releaseAttempt(store.db, first);
      assert.equal((await read(store.db, device.id)).failed_attempts, 0);
      // The third reservation locks; a release of the first (an older window: updated_at moved) undoes nothing.
      const a = (await reserveAttempt(store.db, device.id, now + 1, RULE, 'ACTIVE'))!;
      await reserveAttempt(store.db, device.id, now + 2, RULE, 'ACTIVE');
      const third = (await reserveAttempt(store.db, device.id, now + 3, RULE, 'ACTIVE'))!;
      assert.equal(third.lockedUntil, now + 3 + 60_000);
      await releaseAttempt(store.db, a);
      assert.deepEqual([(await read(store.db, device.id)).failed_attempts], [3]);
      // The Nth's own release ends the lock it started.
      await releaseAttempt(store.db, third);
      const row = await read(store.db, device.id);
      assert.deepEqual([row.failed_attempts, row.locked_until], [2, null]);
    });
  });

  describe('device limit', () => {
    test('12 concurrent creates with a limit of 5: exactly 5 devices, 7 refusals naming the limit', async () => {
      const { env, user } = await seedUser(store.db);
      const outcomes = await Promise.all(Array.from({ length: 12 }, () => addDevice(store, deviceRow(env, user), 5)));
      assert.equal(outcomes.filter((o) => o.ok).length, 5);
      assert.deepEqual(outcomes.filter((o) => !o.ok), Array.from({ length: 7 }, () => ({ ok: false, reason: 'limit', max: 5 })));
      assert.equal((await listDevices(store.db, env, user)).length, 5);
    });

    test('what runs alongside the insert rolls it back when it throws', async () => {
      const { env, user } = await seedUser(store.db);
      const row = deviceRow(env, user);
      await assert.rejects(addDevice(store, row, 5, async () => { throw new Error('delivery refused'); }), /delivery refused/);
      assert.equal((await listDevices(store.db, env, user)).length, 0);
    });

    test('a user who is gone gets no device', async () => {
      const { env } = await seedUser(store.db);
      assert.deepEqual(await addDevice(store, deviceRow(env, uid()), 5), { ok: false, reason: 'user-gone' });
    });
  });

  describe('order (reference §6.5)', () => {
    test('without an order: active devices by activation time, then pending ones by creation', async () => {
      const { env, user } = await seedUser(store.db);
      const late = await insert(store.db, deviceRow(env, user, { activated_at: T0 + 20, created_at: T0 }));
      const early = await insert(store.db, deviceRow(env, user, { activated_at: T0 + 10, created_at: T0 + 5 }));
      const pending = await insert(store.db, deviceRow(env, user, { status: 'ACTIVATION_REQUIRED', activated_at: null, created_at: T0 - 5 }));
      assert.deepEqual((await listDevices(store.db, env, user)).map((d) => d.id), [early.id, late.id, pending.id]);
      assert.deepEqual(await orderOf(store.db, env, user, 'AUTO'), [early.id, late.id]);
    });

    test('a reorder puts the listed devices first and keeps the rest after them; refusals name the index', async () => {
      const { env, user } = await seedUser(store.db);
      const [a, b, c] = [T0 + 1, T0 + 2, T0 + 3].map((at) => deviceRow(env, user, { activated_at: at }));
      for (const d of [a!, b!, c!]) await insert(store.db, d);
      const pending = await insert(store.db, deviceRow(env, user, { status: 'ACTIVATION_REQUIRED', activated_at: null }));
      assert.deepEqual(await reorder(store, env, user, [c!.id], T0 + 10), { ok: true, order: [c!.id, a!.id, b!.id] });
      assert.deepEqual(await orderOf(store.db, env, user, await userOrder(store.db, user)), [c!.id, a!.id, b!.id]);
      assert.equal(await userOrder(store.db, user), 'EXPLICIT');
      assert.deepEqual(await reorder(store, env, user, [a!.id, 'nope'], T0 + 11), { ok: false, index: 1, reason: 'unknown' });
      assert.deepEqual(await reorder(store, env, user, [pending.id], T0 + 11), { ok: false, index: 0, reason: 'inactive' });
      assert.deepEqual(await reorder(store, env, user, [b!.id, b!.id], T0 + 11), { ok: false, index: 1, reason: 'repeated' });
      // A refused reorder changes nothing.
      assert.deepEqual(await orderOf(store.db, env, user, 'EXPLICIT'), [c!.id, a!.id, b!.id]);
    });

    test('concurrent reorders serialise on the user row: the result is one of the asked orders, positions 0…n-1', async () => {
      const { env, user } = await seedUser(store.db);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push((await insert(store.db, deviceRow(env, user, { activated_at: T0 + i }))).id);
      const asks = [ids, [...ids].reverse(), [ids[2]!, ids[0]!, ids[3]!, ids[1]!]];
      const outcomes = await Promise.all(Array.from({ length: 9 }, (_, i) => reorder(store, env, user, asks[i % 3]!, T0 + 100 + i)));
      assert.ok(outcomes.every((o) => o.ok));
      const final = await orderOf(store.db, env, user, 'EXPLICIT');
      assert.ok(asks.some((ask) => ask.join() === final.join()), `final order ${final.join()}`);
      const positions = (await store.db.selectFrom('devices').select('order_position').where('user_id', '=', user).execute()).map((r) => Number(r.order_position)).sort();
      assert.deepEqual(positions, [0, 1, 2, 3]);
    });

    test('removing the order clears every position; deletes that leave at most one active device make it AUTO again, in the delete\'s transaction', async () => {
      const { env, user } = await seedUser(store.db);
      const a = await insert(store.db, deviceRow(env, user, { activated_at: T0 + 1 }));
      const b = await insert(store.db, deviceRow(env, user, { activated_at: T0 + 2 }));
      const c = await insert(store.db, deviceRow(env, user, { activated_at: T0 + 3 }));
      await reorder(store, env, user, [c.id], T0 + 5);
      await removeOrder(store, user, T0 + 6);
      assert.equal(await userOrder(store.db, user), 'NONE');
      assert.deepEqual(await orderOf(store.db, env, user, 'NONE'), []);
      const positions = await store.db.selectFrom('devices').select('order_position').where('user_id', '=', user).execute();
      assert.deepEqual(positions.map((p) => p.order_position), [null, null, null]);

      assert.equal(await deleteDevice(store, env, user, a.id, T0 + 7), true);
      assert.equal(await userOrder(store.db, user), 'NONE', 'two active devices left');
      assert.equal(await deleteDevice(store, env, user, a.id, T0 + 8), false, 'already gone');
      // Another environment's ID for the same device deletes nothing.
      assert.equal(await deleteDevice(store, uid(), user, b.id, T0 + 8), false);
      assert.equal(await deleteDevice(store, env, user, b.id, T0 + 9), true);
      assert.equal(await userOrder(store.db, user), 'AUTO', 'one active device left');
    });

    test('a delete and its follow-up commit together: a failure after the delete keeps the device', async () => {
      const { env, user } = await seedUser(store.db);
      const a = await insert(store.db, deviceRow(env, user));
      // Inside an outer transaction that then fails, the delete (a SAVEPOINT) rolls back with it.
      await assert.rejects(store.transaction(async () => {
        assert.equal(await deleteDevice(store, env, user, a.id, T0 + 1), true);
        throw new Error('later step failed');
      }), /later step failed/);
      assert.equal((await listDevices(store.db, env, user)).length, 1);
      const { rows } = await sql<{ n: number }>`select count(*) as n from devices where id = ${a.id}`.execute(store.db);
      assert.equal(Number(rows[0]!.n), 1);
    });
  });
});
