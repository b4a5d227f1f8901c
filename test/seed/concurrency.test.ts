/**
 * Two processes on one PostgreSQL database started with the same `--seed`: the applies run
 * one after the other (an advisory lock), so one makes the file's items and the other finds
 * them — neither fails on the other's fixed IDs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildContext } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { loadServerConfig } from '../../src/config.js';
import { SecretBox } from '../../src/crypto/secretbox.js';
import { bootstrap } from '../../src/platform/bootstrap.js';
import { applySeed } from '../../src/seed/apply.js';
import { Store } from '../../src/store/db.js';
import { DIALECT, freshStore } from '../helper.js';
import { loadExample } from './support.js';

describe(`the same seed from two processes at once (${DIALECT})`, { skip: DIALECT !== 'postgres' && 'two processes share one database only on PostgreSQL' }, () => {
  test('one apply makes everything, the other finds it all; each item exists once', async (t) => {
    const { store, databaseUrl, dispose } = await freshStore();
    const second = Store.open({ databaseUrl: databaseUrl!, poolSize: 2 });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'openmfa-seed-race-'));
    t.after(async () => {
      await second.close();
      await dispose();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const config = loadServerConfig({ dataDir, port: 0, publicUrl: 'https://mfa.example.test', logLevel: 'silent' }, {});
    const box = new SecretBox(randomBytes(32));
    const clock = new ManualClock();
    const contexts = [store, second].map((s) => buildContext({ config, store: s, box, clock }));
    await bootstrap(contexts[0]!);
    const results = await Promise.all(contexts.map((ctx) => applySeed(ctx, loadExample())));
    assert.deepEqual(results.map((r) => r.written.devices).sort(), [0, 10]);
    assert.deepEqual(results.map((r) => r.unchanged.devices).sort(), [0, 10]);
    const { n } = await store.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n), 10);
  });
});
