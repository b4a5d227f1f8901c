/**
 * First start: one administrator credential set, written once to `<data-dir>/bootstrap.json`
 * (owner-only); later starts never mint or rewrite credentials; concurrent first starts on
 * one PostgreSQL database make exactly one set.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp, buildContext } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { loadServerConfig } from '../../src/config.js';
import { SecretBox } from '../../src/crypto/secretbox.js';
import { bootstrap, bootstrapFile } from '../../src/platform/bootstrap.js';
import { Store } from '../../src/store/db.js';
import { DIALECT, freshStore } from '../helper.js';
import { UUID } from './support.js';

const PUBLIC_URL = 'https://mfa.example.test';

function contextFor(store: Store, dataDir: string, box = new SecretBox(randomBytes(32))) {
  const config = loadServerConfig({ dataDir, port: 0, publicUrl: PUBLIC_URL, logLevel: 'silent' }, {});
  const deps = { config, store, box, clock: new ManualClock() };
  return { deps, ctx: buildContext(deps) };
}

describe(`bootstrap (${DIALECT})`, () => {
  let store: Store;
  let dispose: () => Promise<void>;
  let dataDir: string;
  const box = new SecretBox(randomBytes(32));

  before(async () => {
    ({ store, dispose } = await freshStore());
    dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'openmfa-boot-')), 'data');
  });
  after(async () => {
    await dispose();
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  test('the first bootstrap makes credentials and an owner-only bootstrap.json holding them', async () => {
    const { deps, ctx } = contextFor(store, dataDir, box);
    const info = await bootstrap(ctx);
    assert.ok(info, 'a fresh store bootstraps');
    assert.match(info.environmentId, UUID);
    assert.match(info.clientId, UUID);
    assert.match(info.clientSecret, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual({ ...info, environmentId: '<id>', clientId: '<id>', clientSecret: '<secret>' }, {
      environmentId: '<id>', clientId: '<id>', clientSecret: '<secret>', apiPath: `${PUBLIC_URL}/v1`, authPath: PUBLIC_URL,
    });

    const file = bootstrapFile(dataDir);
    assert.equal(file, path.join(dataDir, 'bootstrap.json'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o077, 0, 'the data dir is not open to others');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), info);
    assert.deepEqual(readdirSync(dataDir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left behind');

    // The credentials work.
    const app = await buildApp(deps, ctx);
    await app.ready();
    try {
      const res = await app.inject({
        method: 'POST', url: `/${info.environmentId}/as/token`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${info.clientId}:${info.clientSecret}`).toString('base64')}` },
        payload: 'grant_type=client_credentials',
      });
      assert.equal(res.statusCode, 200, res.body);
      const token = JSON.parse(res.body).access_token as string;
      const list = await app.inject({ method: 'GET', url: '/v1/environments', headers: { authorization: `Bearer ${token}` } });
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(JSON.parse(list.body)._embedded.environments.map((e: { id: string; name: string }) => [e.id, e.name]), [[info.environmentId, 'Administrators']]);
    } finally {
      await app.close();
    }
    const admins = await store.db.selectFrom('applications').select(['id', 'manages_all']).execute();
    assert.deepEqual(admins, [{ id: info.clientId, manages_all: 1 }]);
  });

  test('a second bootstrap on the same store returns undefined and does not rewrite bootstrap.json', async () => {
    const file = bootstrapFile(dataDir);
    const before = { content: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs, ino: statSync(file).ino };
    const again = await bootstrap(contextFor(store, dataDir, box).ctx);
    assert.equal(again, undefined);
    assert.deepEqual({ content: readFileSync(file, 'utf8'), mtime: statSync(file).mtimeMs, ino: statSync(file).ino }, before);
    assert.equal((await store.db.selectFrom('applications').select('id').execute()).length, 1);
    assert.equal((await store.db.selectFrom('environments').select('id').execute()).length, 1);
  });

  test('a restart with an empty data dir on a bootstrapped store mints no new credentials and writes no file', async () => {
    const otherDir = path.join(path.dirname(dataDir), 'other');
    const again = await bootstrap(contextFor(store, otherDir, box).ctx);
    assert.equal(again, undefined);
    assert.equal(existsSync(bootstrapFile(otherDir)), false);
    assert.equal((await store.db.selectFrom('applications').select('id').execute()).length, 1);
  });
});

describe(`bootstrap under concurrency (${DIALECT})`, { skip: DIALECT !== 'postgres' && 'concurrent first starts share one database only on PostgreSQL' }, () => {
  test('two concurrent bootstraps on one PostgreSQL database give exactly one credential set', async () => {
    const { store, databaseUrl, dispose } = await freshStore();
    const second = Store.open({ databaseUrl: databaseUrl!, poolSize: 2 });
    const root = mkdtempSync(path.join(tmpdir(), 'openmfa-boot-race-'));
    const dirA = path.join(root, 'a');
    const dirB = path.join(root, 'b');
    try {
      const results = await Promise.all([bootstrap(contextFor(store, dirA).ctx), bootstrap(contextFor(second, dirB).ctx)]);
      const made = results.filter((r) => r !== undefined);
      assert.equal(made.length, 1, 'exactly one bootstrap made credentials');
      const winner = results[0] ? dirA : dirB;
      const loser = results[0] ? dirB : dirA;
      assert.deepEqual(JSON.parse(readFileSync(bootstrapFile(winner), 'utf8')), made[0]);
      assert.equal(existsSync(bootstrapFile(loser)), false);
      const apps = await store.db.selectFrom('applications').select(['id', 'manages_all']).execute();
      assert.deepEqual(apps, [{ id: made[0]!.clientId, manages_all: 1 }]);
      assert.equal((await store.db.selectFrom('environments').select('id').execute()).length, 1);
      const marks = await store.db.selectFrom('meta').select('key').where('key', 'in', ['bootstrapped_at', 'organization_id']).execute();
      assert.deepEqual(marks.map((m) => m.key).sort(), ['bootstrapped_at', 'organization_id']);
    } finally {
      await second.close();
      await dispose();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
