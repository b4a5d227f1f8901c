/**
 * The store conformance suite: the same tests against SQLite and PostgreSQL (scripts/test.mjs
 * runs this file once per dialect, with OPENMFA_TEST_DIALECT). What the rest of the code
 * assumes of the store is checked here directly: migrations, constraint detection, cascades,
 * number types, keyset paging and the SCIM filter compiler.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { compileFilter, parseFilter, type ColumnMap } from '../../src/http/filter.js';
import { keysetPage, toPage, type PageRequest, type Position } from '../../src/store/cursor.js';
import { isForeignKeyViolation, isUniqueViolation, Store, type Db } from '../../src/store/db.js';
import { migrations } from '../../src/store/migrations/index.js';
import type { DevicesTable } from '../../src/store/schema.js';
import { DIALECT, freshStore, PG_URL } from '../helper.js';
import { insertUser } from './rows.js';

const T0 = Date.parse('2026-02-17T13:34:34.840Z');
const uid = () => crypto.randomUUID();

/** An empty database nobody has migrated, and how to open connections to it. */
function blankDatabase(): { open: () => Store; dispose: () => Promise<void> } {
  if (DIALECT === 'postgres') {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const databaseUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    return {
      open: () => Store.open({ databaseUrl, poolSize: 2 }),
      dispose: async () => {
        const s = Store.open({ databaseUrl, poolSize: 1 });
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(s.db);
        await s.close();
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-conf-'));
  const sqlitePath = path.join(dir, 'blank.sqlite');
  return { open: () => Store.open({ sqlitePath }), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function appliedMigrations(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((r) => r.name);
}

/** An environment with one of everything that hangs off it, inserted directly. */
async function seedEnvironment(db: Db, at = T0) {
  const { env, pop, user } = await insertUser(db, at);
  const device = uid();
  await db.insertInto('signing_keys').values({
    kid: uid(), environment_id: env, public_jwk: '{}', private_sealed: 'sealed', status: 'ACTIVE', created_at: at, retired_at: null,
  }).execute();
  await db.insertInto('applications').values({
    id: uid(), environment_id: env, name: 'app', description: null, type: 'WORKER', enabled: 1, token_endpoint_auth_method: 'CLIENT_SECRET_BASIC',
    secret_hash: 'h', secret_sealed: 's', manages_all: 0, created_at: at, updated_at: at,
  }).execute();
  await insertDevice(db, env, user, device, at);
  await db.insertInto('device_authentication_policies').values({ id: uid(), environment_id: env, name: 'p', is_default: 1, body: '{}', created_at: at, updated_at: at }).execute();
  await db.insertInto('mfa_settings').values({ environment_id: env, body: '{}', updated_at: at }).execute();
  return { env, pop, user, device };
}

async function insertDevice(db: Db, env: string, user: string, id: string, at = T0): Promise<void> {
  const row = {
    id, environment_id: env, user_id: user, type: 'EMAIL', status: 'ACTIVE', nickname: null, policy_id: null, extra: '{}',
    secret_sealed: null, credential_id: null, public_jwk: null, challenge_hash: null, challenge_expires_at: null, failed_attempts: 0,
    locked_until: null, blocked_at: null, order_position: null, activated_at: at, created_at: at, updated_at: at,
  } satisfies Partial<DevicesTable>;
  await db.insertInto('devices').values(row as DevicesTable).execute();
}

const TABLES_BY_ENV = ['signing_keys', 'applications', 'populations', 'users', 'devices', 'device_authentication_policies', 'mfa_settings'] as const;

async function countFor(db: Db, table: (typeof TABLES_BY_ENV)[number] | 'environments', env: string): Promise<number> {
  const column = table === 'environments' ? 'id' : 'environment_id';
  const { n } = await db.selectFrom(table as 'users').select((eb) => eb.fn.countAll<number>().as('n')).where(column as 'environment_id', '=', env).executeTakeFirstOrThrow();
  return Number(n);
}

async function expectError(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('the write was expected to fail');
}

describe(`store conformance (${DIALECT})`, () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let databaseUrl: string | undefined;
  let sqlitePath: string | undefined;

  before(async () => {
    ({ store, dispose, databaseUrl, sqlitePath } = await freshStore());
  });
  after(() => dispose());

  test(`store conformance (${DIALECT}): the store is the dialect under test`, () => {
    assert.equal(store.dialect, DIALECT);
    assert.equal(DIALECT === 'postgres' ? typeof databaseUrl : typeof sqlitePath, 'string');
  });

  describe('migrations', () => {
    test('migrating twice is a no-op: every migration applied once', async () => {
      const expected = Object.keys(await migrations.getMigrations()).sort();
      assert.deepEqual(await appliedMigrations(store.db), expected);
      await store.migrate();
      await store.migrate();
      assert.deepEqual(await appliedMigrations(store.db), expected);
    });

    test('a second connection to an already migrated database migrates as a no-op', async () => {
      const other = Store.open(DIALECT === 'postgres' ? { databaseUrl: databaseUrl!, poolSize: 1 } : { sqlitePath: sqlitePath! });
      try {
        await other.migrate();
        assert.deepEqual(await appliedMigrations(other.db), Object.keys(await migrations.getMigrations()).sort());
      } finally {
        await other.close();
      }
    });

    test('two concurrent migrate() calls on one blank database both succeed, and apply each migration once', async () => {
      const blank = blankDatabase();
      const a = blank.open();
      const b = blank.open();
      try {
        const results = await Promise.allSettled([a.migrate(), b.migrate()]);
        assert.deepEqual(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')), ['ok', 'ok']);
        assert.deepEqual(await appliedMigrations(a.db), Object.keys(await migrations.getMigrations()).sort());
        // Both see working tables.
        await seedEnvironment(a.db);
        assert.equal((await b.db.selectFrom('environments').selectAll().execute()).length, 1);
      } finally {
        await a.close();
        await b.close();
        await blank.dispose();
      }
    });

    if (DIALECT === 'postgres') {
      test('schemas are isolated: migrating a blank schema while another schema holds Kysely’s tables works', async () => {
        // freshStore's schema already holds kysely_migration and kysely_migration_lock.
        const blank = blankDatabase();
        const s = blank.open();
        try {
          await s.migrate();
          assert.deepEqual(await appliedMigrations(s.db), Object.keys(await migrations.getMigrations()).sort());
          assert.equal((await s.db.selectFrom('environments').selectAll().execute()).length, 0);
        } finally {
          await s.close();
          await blank.dispose();
        }
      });
    }
  });

  describe('constraints', () => {
    test('isUniqueViolation recognises a duplicate username in one environment (and nothing else does)', async () => {
      const { env, pop } = await seedEnvironment(store.db);
      const user = (username: string) => ({
        id: uid(), environment_id: env, population_id: pop, username, email: null, enabled: 1, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: T0, updated_at: T0,
      });
      await store.db.insertInto('users').values(user('dup')).execute();
      const e = await expectError(store.db.insertInto('users').values(user('dup')).execute());
      assert.equal(isUniqueViolation(e), true, String(e));
      assert.equal(isForeignKeyViolation(e), false);
      // The same username in another environment is fine.
      const other = await seedEnvironment(store.db);
      await store.db.insertInto('users').values({ ...user('dup'), environment_id: other.env, population_id: other.pop }).execute();
      // A duplicate primary key is a uniqueness violation too.
      const row = user('pk');
      await store.db.insertInto('users').values(row).execute();
      assert.equal(isUniqueViolation(await expectError(store.db.insertInto('users').values({ ...row, username: 'pk2' }).execute())), true);
      assert.equal(isUniqueViolation(new Error('x')), false);
      assert.equal(isUniqueViolation(null), false);
    });

    test('isForeignKeyViolation recognises a missing parent, and a population in use cannot be deleted', async () => {
      const { env, pop } = await seedEnvironment(store.db);
      const e = await expectError(store.db.insertInto('users').values({
        id: uid(), environment_id: env, population_id: uid(), username: 'orphan', email: null, enabled: 1, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: T0, updated_at: T0,
      }).execute());
      assert.equal(isForeignKeyViolation(e), true, String(e));
      assert.equal(isUniqueViolation(e), false);
      const inUse = await expectError(store.db.deleteFrom('populations').where('id', '=', pop).execute());
      assert.equal(isForeignKeyViolation(inUse), true, String(inUse));
    });

    test('a failed statement inside a transaction rolls the whole transaction back', async () => {
      const { env, pop } = await seedEnvironment(store.db);
      const e = await expectError(store.transaction(async (trx) => {
        await trx.updateTable('populations').set({ name: 'changed' }).where('id', '=', pop).execute();
        await trx.insertInto('populations').values({ id: pop, environment_id: env, name: 'again', description: null, is_default: 0, extra: '{}', created_at: T0, updated_at: T0 }).execute();
      }));
      assert.equal(isUniqueViolation(e), true);
      assert.equal((await store.db.selectFrom('populations').select('name').where('id', '=', pop).executeTakeFirstOrThrow()).name, 'Default');
    });
  });

  describe('cascades', () => {
    test('deleting an environment deletes its keys, applications, populations, users, devices, policies and settings', async () => {
      const doomed = await seedEnvironment(store.db);
      const kept = await seedEnvironment(store.db);
      for (const t of TABLES_BY_ENV) assert.equal(await countFor(store.db, t, doomed.env), 1, t);
      await store.db.deleteFrom('environments').where('id', '=', doomed.env).execute();
      assert.equal(await countFor(store.db, 'environments', doomed.env), 0);
      for (const t of TABLES_BY_ENV) assert.equal(await countFor(store.db, t, doomed.env), 0, `${t} rows of a deleted environment remain`);
      for (const t of TABLES_BY_ENV) assert.equal(await countFor(store.db, t, kept.env), 1, `${t} rows of another environment went too`);
    });

    test('deleting a user deletes its devices and no one else’s', async () => {
      const { env, pop, user, device } = await seedEnvironment(store.db);
      const other = uid();
      await store.db.insertInto('users').values({
        id: other, environment_id: env, population_id: pop, username: 'other', email: null, enabled: 1, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: T0, updated_at: T0,
      }).execute();
      const otherDevice = uid();
      await insertDevice(store.db, env, other, otherDevice);
      await insertDevice(store.db, env, user, uid());
      await store.db.deleteFrom('users').where('id', '=', user).execute();
      const left = await store.db.selectFrom('devices').select('id').where('environment_id', '=', env).execute();
      assert.deepEqual(left.map((r) => r.id), [otherDevice]);
      assert.equal((await store.db.selectFrom('devices').select('id').where('id', '=', device).execute()).length, 0);
    });
  });

  describe('types', () => {
    test('bigint times come back as numbers, beyond 32 bits and up to Number.MAX_SAFE_INTEGER', async () => {
      const { env } = await seedEnvironment(store.db, 4102444800000); // 2100-01-01
      const row = await store.db.selectFrom('environments').select(['created_at', 'updated_at']).where('id', '=', env).executeTakeFirstOrThrow();
      assert.equal(typeof row.created_at, 'number');
      assert.equal(row.created_at, 4102444800000);
      await store.db.updateTable('environments').set({ updated_at: Number.MAX_SAFE_INTEGER }).where('id', '=', env).execute();
      const big = await store.db.selectFrom('environments').select('updated_at').where('id', '=', env).executeTakeFirstOrThrow();
      assert.equal(big.updated_at, Number.MAX_SAFE_INTEGER);
      const key = await store.db.selectFrom('signing_keys').select(['created_at', 'retired_at']).where('environment_id', '=', env).executeTakeFirstOrThrow();
      assert.deepEqual(key, { created_at: 4102444800000, retired_at: null });
    });

    test('count(*) comes back as a number', async () => {
      const { n } = await store.db.selectFrom('environments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(typeof n, 'number');
      assert.ok(n > 0);
    });

    test('text round-trips exactly (unicode, quotes, backslashes, NUL-free control characters)', async () => {
      const { env } = await seedEnvironment(store.db);
      const text = 'Zoë “quoted” \'single\' \\back\\slash\\ tab\t newline\n emoji 🔐 %_';
      await store.db.updateTable('environments').set({ description: text }).where('id', '=', env).execute();
      assert.equal((await store.db.selectFrom('environments').select('description').where('id', '=', env).executeTakeFirstOrThrow()).description, text);
    });
  });

  describe('keyset paging', () => {
    let env: string;
    /** (created_at, id) in the order pages must follow. */
    let expected: string[];

    before(async () => {
      ({ env } = await seedEnvironment(store.db));
      const pop = (await store.db.selectFrom('populations').select('id').where('environment_id', '=', env).executeTakeFirstOrThrow()).id;
      await store.db.deleteFrom('users').where('environment_id', '=', env).execute();
      // Three groups that tie on created_at; ids are random, so within a group the id orders.
      const rows = [0, 0, 0, 0, 5, 5, 5, 9, 9, 9, 9].map((dt, i) => ({
        id: uid(), environment_id: env, population_id: pop, username: `k${i}`, email: null, enabled: 1, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: T0 + dt, updated_at: T0,
      }));
      await store.db.insertInto('users').values(rows).execute();
      expected = [...rows].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((r) => r.id);
    });

    const fetch = async (req: PageRequest) => {
      const rows = await keysetPage(store.db.selectFrom('users').where('environment_id', '=', env).selectAll(), req).execute();
      return toPage(rows.map((r) => ({ ...r, createdAt: r.created_at })), req);
    };
    const pos = (r: { createdAt: number; id: string }): Position => ({ createdAt: r.createdAt, id: r.id });

    test('forward pages of 3 cover every row once, in (created_at, id) order, across ties', async () => {
      const seen: string[] = [];
      let page = await fetch({ limit: 3 });
      assert.equal(page.hasPrev, false);
      for (;;) {
        seen.push(...page.items.map((r) => r.id));
        if (!page.hasNext) break;
        page = await fetch({ limit: 3, after: pos(page.items[page.items.length - 1]!) });
      }
      assert.deepEqual(seen, expected);
    });

    test('backward pages from the end give the same rows in reverse page order', async () => {
      const last = await fetch({ limit: 3, after: { createdAt: T0 + 9, id: expected[7]! } });
      assert.deepEqual(last.items.map((r) => r.id), expected.slice(8));
      const pages: string[][] = [last.items.map((r) => r.id)];
      let page = last;
      while (page.hasPrev) {
        page = await fetch({ limit: 3, before: pos(page.items[0]!) });
        pages.unshift(page.items.map((r) => r.id));
      }
      assert.deepEqual(pages.flat(), expected);
      assert.deepEqual(pages.map((p) => p.length), [2, 3, 3, 3], 'the short page is the first one when walking backwards');
    });

    test('pages stay stable while rows are added before the cursor', async () => {
      const first = await fetch({ limit: 4 });
      const pop = (await store.db.selectFrom('populations').select('id').where('environment_id', '=', env).executeTakeFirstOrThrow()).id;
      await store.db.insertInto('users').values({
        id: '00000000-0000-4000-8000-000000000000', environment_id: env, population_id: pop, username: 'early', email: null, enabled: 1, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: T0, updated_at: T0,
      }).execute();
      try {
        const second = await fetch({ limit: 4, after: pos(first.items[3]!) });
        assert.deepEqual(second.items.map((r) => r.id), expected.slice(4, 8));
      } finally {
        await store.db.deleteFrom('users').where('username', '=', 'early').where('environment_id', '=', env).execute();
      }
    });
  });

  describe('SCIM filter compiler', () => {
    let env: string;
    const COLUMNS: ColumnMap = {
      username: { column: 'username' },
      email: { column: 'email' },
      'population.id': { column: 'population_id' },
      enabled: { column: 'enabled', kind: 'boolean' },
    };
    const ATTRS = Object.keys(COLUMNS);

    before(async () => {
      ({ env } = await seedEnvironment(store.db));
      const pop = (await store.db.selectFrom('populations').select('id').where('environment_id', '=', env).executeTakeFirstOrThrow()).id;
      await store.db.deleteFrom('users').where('environment_id', '=', env).execute();
      const people: Array<[string, string | null, number]> = [
        ['a_b', 'a_b@example.com', 1],
        ['axb', 'axb@example.com', 1],
        ['a%c', 'percent@example.com', 0],
        ['abc', null, 1],
        ['A_B2', 'UPPER@Example.COM', 1],
        ['back\\slash', 'b@example.org', 0],
      ];
      await store.db.insertInto('users').values(people.map(([username, email, enabled]) => ({
        id: uid(), environment_id: env, population_id: pop, username, email, enabled, mfa_enabled: 1, extra: '{}', device_order: 'AUTO', created_at: T0, updated_at: T0,
      }))).execute();
    });

    const run = async (filter: string): Promise<string[]> => {
      const rows = await store.db.selectFrom('users').select('username').where('environment_id', '=', env)
        .where(compileFilter<any, any>(parseFilter(filter, ATTRS), COLUMNS)).execute();
      return rows.map((r) => r.username).sort();
    };

    test('_ and % in values are literal, not wildcards', async () => {
      assert.deepEqual(await run('username sw "a_"'), ['A_B2', 'a_b']);
      assert.deepEqual(await run('username co "%"'), ['a%c']);
      assert.deepEqual(await run('username sw "a%"'), ['a%c']);
      assert.deepEqual(await run('username eq "a_b"'), ['a_b']);
      assert.deepEqual(await run('username co "_b"'), ['A_B2', 'a_b']);
    });

    test('a backslash in a value is literal too', async () => {
      assert.deepEqual(await run('username co "\\\\"'), ['back\\slash']);
      assert.deepEqual(await run('username eq "back\\\\slash"'), ['back\\slash']);
    });

    test('comparisons ignore case on both databases', async () => {
      assert.deepEqual(await run('email eq "upper@example.com"'), ['A_B2']);
      assert.deepEqual(await run('email ew ".COM"'), ['A_B2', 'a%c', 'a_b', 'axb']);
      assert.deepEqual(await run('username EQ "ABC"'), ['abc']);
    });

    test('ne includes rows where the attribute is absent; eq null / ne null test presence', async () => {
      assert.deepEqual(await run('email ne "a_b@example.com"'), ['A_B2', 'a%c', 'abc', 'axb', 'back\\slash']);
      assert.deepEqual(await run('email eq null'), ['abc']);
      assert.deepEqual(await run('email ne null'), ['A_B2', 'a%c', 'a_b', 'axb', 'back\\slash']);
    });

    test('boolean columns, and / or / parentheses', async () => {
      assert.deepEqual(await run('enabled eq false'), ['a%c', 'back\\slash']);
      assert.deepEqual(await run('enabled eq "true" and username sw "a"'), ['A_B2', 'a_b', 'abc', 'axb']);
      assert.deepEqual(await run('username eq "abc" or username eq "axb" and enabled eq false'), ['abc']);
      assert.deepEqual(await run('(username eq "abc" or username eq "a%c") and enabled eq false'), ['a%c']);
    });
  });
});
