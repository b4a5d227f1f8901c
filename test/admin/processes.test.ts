/**
 * Two real server processes on one PostgreSQL schema with `--clock manual` (startProcesses):
 * they agree on the time whichever of them moved it, and a restore through one is what the
 * other serves at once — its caches dropped on the generation it reads. PostgreSQL only: two
 * processes cannot share one SQLite store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { call, startProcesses, tokenOf, type Processes } from '../support/processes.js';

describe('the manual clock and restores across 2 processes on one PostgreSQL schema', { skip: DIALECT !== 'postgres' ? 'PostgreSQL only: two processes cannot share one SQLite store' : false }, () => {
  let procs: Processes;
  let dispose: () => Promise<void>;
  let tokens: string[];

  before(async () => {
    const fresh = await freshStore('postgres');
    dispose = fresh.dispose;
    procs = await startProcesses({ count: 2, databaseUrl: fresh.databaseUrl!, args: ['--clock', 'manual'] });
    const b = procs.bootstrap;
    tokens = await Promise.all(procs.urls.map((u) => tokenOf(u, b.environmentId, b.clientId, b.clientSecret)));
  });
  after(async () => {
    await procs?.stopAll();
    await dispose?.();
  });

  const on = (i: number, method: string, url: string, body?: unknown) =>
    call(procs.urls[i]!, method, url, { token: tokens[i]!, ...(body !== undefined ? { body } : {}) });
  const clockOf = async (i: number): Promise<string> => {
    const res = await on(i, 'GET', '/openmfa/v1/clock');
    assert.equal(res.status, 200, res.text);
    return res.body.now as string;
  };

  test('both processes start on one time and see every PUT and advance the other makes, at once', async () => {
    assert.equal(await clockOf(0), await clockOf(1));
    for (let i = 0; i < 6; i++) {
      const mover = i % 2;
      const res = i % 3 === 2
        ? await on(mover, 'PUT', '/openmfa/v1/clock', { now: new Date(Date.parse(await clockOf(mover)) + 1234).toISOString() })
        : await on(mover, 'POST', '/openmfa/v1/clock/advance', { by: 'PT10M' });
      assert.equal(res.status, 200, res.text);
      assert.equal(await clockOf(1 - mover), res.body.now, 'the other process, on its next request');
    }
    // Both advancing at once: both steps count.
    const start = Date.parse(await clockOf(0));
    const both = await Promise.all([0, 1].map((i) => on(i, 'POST', '/openmfa/v1/clock/advance', { by: 'PT1M' })));
    assert.deepEqual(both.map((r) => r.status), [200, 200]);
    assert.equal(Date.parse(await clockOf(1)), start + 120_000);
  });

  test('an OTP made through one process expires for the other when the first advances the clock', async () => {
    const env = procs.bootstrap.environmentId;
    const user = (await on(0, 'POST', `/v1/environments/${env}/users`, { username: 'clocked' })).body.id as string;
    const devices = `/v1/environments/${env}/users/${user}/devices`;
    const made = await on(0, 'POST', devices, { type: 'EMAIL', email: 'c@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' });
    assert.equal(made.status, 201, made.text);
    assert.equal((await on(0, 'POST', '/openmfa/v1/clock/advance', { by: 'PT10M1S' })).status, 200);
    const res = await call(procs.urls[1]!, 'POST', `${devices}/${made.body.id}`, {
      token: tokens[1]!, contentType: 'application/vnd.pingidentity.device.activate+json', body: { otp: made.body.test.otp },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.details[0].message, 'The passcode has expired; ask for a new one with sendActivationCode');
  });

  test('a snapshot restored through one process is what the other serves; a token it issued for a removed application is refused there', async () => {
    const env = procs.bootstrap.environmentId;
    const snap = await on(1, 'POST', '/openmfa/v1/snapshots');
    assert.equal(snap.status, 201, snap.text);
    const app = (await on(1, 'POST', `/v1/environments/${env}/applications`, { name: 'short-lived', type: 'WORKER' })).body;
    const worker = await tokenOf(procs.urls[1]!, env, app.id, app.secret);
    assert.equal((await call(procs.urls[1]!, 'GET', `/v1/environments/${env}/users`, { token: worker })).status, 200, 'cached as valid in process 1');
    const before = (await on(1, 'GET', `/v1/environments/${env}/users`)).body;
    assert.equal((await on(1, 'POST', `/v1/environments/${env}/users`, { username: 'gone-after-restore' })).status, 201);

    assert.equal((await on(0, 'POST', `/openmfa/v1/snapshots/${snap.body.id}/restore`)).status, 204);
    assert.deepEqual((await on(1, 'GET', `/v1/environments/${env}/users`)).body, before);
    const refused = await call(procs.urls[1]!, 'GET', `/v1/environments/${env}/users`, { token: worker });
    assert.equal(refused.status, 401, refused.text);
  });
});
