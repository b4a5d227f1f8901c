/**
 * MOBILE races across two real server processes on one PostgreSQL schema (protocol §1 step 4,
 * §2 step 4): requests alternate between the processes, so only the database can serialise
 * them. PostgreSQL only; the same races run in-process on SQLite in test/mobile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { call, startProcesses, tokenOf, type Processes, type Reply } from '../support/processes.js';
import { MobileAuthenticator, MobileError, type Transport } from '../../src/testing/mobile-authenticator.js';
import type { Store } from '../../src/store/db.js';

const PUBLIC = 'https://mfa.example.test';

describe('MOBILE races across 2 processes on one PostgreSQL schema', { skip: DIALECT !== 'postgres' ? 'PostgreSQL only: two processes cannot share one SQLite store (the in-process races run on SQLite in test/mobile)' : false }, () => {
  let procs: Processes;
  let store: Store;
  let dispose: () => Promise<void>;
  let tokens: string[];
  let env: string;
  let appId: string;
  let turn = 0;

  /** Sends each request to the next process in turn, whatever host the URL names. */
  const alternating: Transport = async (r) => {
    const u = new URL(r.url);
    const base = procs.urls[turn++ % 2]!;
    const res = await fetch(`${base}${u.pathname}${u.search}`, { method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) });
    return { status: res.status, text: await res.text() };
  };
  const on = <T = any>(i: number, method: string, url: string, o: { body?: unknown; contentType?: string } = {}): Promise<Reply<T>> =>
    call<T>(procs.urls[i % 2]!, method, url, { token: tokens[i % 2]!, ...o });

  before(async () => {
    const fresh = await freshStore('postgres');
    store = fresh.store;
    dispose = fresh.dispose;
    procs = await startProcesses({ count: 2, databaseUrl: fresh.databaseUrl!, publicUrl: PUBLIC });
    env = procs.bootstrap.environmentId;
    tokens = await Promise.all(procs.urls.map((u) => tokenOf(u, env, procs.bootstrap.clientId, procs.bootstrap.clientSecret)));
    const app = await on(0, 'POST', `/v1/environments/${env}/applications`, { body: { name: 'Phone app', type: 'NATIVE_APP', mobile: { bundleId: 'com.example.app' } } });
    assert.equal(app.status, 201, app.text);
    appId = app.body.id;
    const policies = await on(1, 'GET', `/v1/environments/${env}/deviceAuthenticationPolicies`);
    const policy = (policies.body._embedded.deviceAuthenticationPolicies as Array<{ id: string; default: boolean }>).find((p) => p.default)!;
    const put = await on(0, 'PUT', `/v1/environments/${env}/deviceAuthenticationPolicies/${policy.id}`, {
      body: { name: 'Default MFA Policy', default: true, mobile: { enabled: true, applications: [{ id: appId, push: { enabled: true }, otp: { enabled: true } }] } },
    });
    assert.equal(put.status, 200, put.text);
  });
  after(async () => {
    await procs?.stopAll();
    await dispose?.();
  });

  async function newUser(): Promise<string> {
    const name = `u-${Math.random().toString(16).slice(2, 10)}`;
    const res = await on(0, 'POST', `/v1/environments/${env}/users`, { body: { username: name, email: `${name}@example.com` } });
    assert.equal(res.status, 201, res.text);
    return res.body.id as string;
  }
  const deviceCount = async (userId: string) => Number((await store.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow()).n);

  test('50 concurrent claims of one pairing key, alternating processes → exactly one device', async () => {
    const user = await newUser();
    const key = await on(1, 'POST', `/v1/environments/${env}/users/${user}/pairingKeys`, { body: {} });
    assert.equal(key.status, 201, key.text);
    const phones = Array.from({ length: 50 }, () => new MobileAuthenticator({ transport: alternating }));
    const results = await Promise.allSettled(phones.map((p) => p.pair(`${PUBLIC}/${env}`, key.body.code, { applicationId: appId })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    // Every loser is told the one answer of a code that pairs nothing: 400 on code.
    for (const r of results) {
      if (r.status === 'rejected') assert.deepEqual([(r.reason as MobileError).status, ((r.reason as MobileError).body as { details: Array<{ target: string }> }).details[0]!.target], [400, 'code']);
    }
    assert.equal(await deviceCount(user), 1);
    const stored = await store.db.selectFrom('pairing_keys').select(['status', 'device_id']).where('id', '=', key.body.id).executeTakeFirstOrThrow();
    assert.equal(stored.status, 'CLAIMED');
    assert.notEqual(stored.device_id, null);
  });

  test('20 concurrent answers to one push, alternating processes → exactly one COMPLETED', async () => {
    const user = await newUser();
    const key = await on(0, 'POST', `/v1/environments/${env}/users/${user}/pairingKeys`, { body: {} });
    const phone = new MobileAuthenticator({ transport: alternating });
    const device = await phone.pair(`${PUBLIC}/${env}`, key.body.code, { applicationId: appId });
    const flow = await on(1, 'POST', `/${env}/deviceAuthentications`, { body: { user: { id: user } } });
    assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED', flow.text);
    const push = (await phone.poll(device.id, 0)).pushes.find((p) => p.flowId === flow.body.id)!;
    const answers = await Promise.all(Array.from({ length: 20 }, () => alternating({
      method: 'POST', url: `${PUBLIC}/${env}/mobile/pushes/${push.id}`, headers: { 'content-type': 'application/jwt' }, body: phone.answerJwt(push.id, 'APPROVE'),
    })));
    assert.equal(answers.filter((a) => a.status === 200).length, 1, answers.map((a) => a.status).join(','));
    assert.ok(answers.every((a) => a.status === 200 || a.status === 400), answers.map((a) => a.status).join(','));
    const done = await on(0, 'GET', `/${env}/deviceAuthentications/${flow.body.id}`);
    assert.equal(done.body.status, 'COMPLETED');
    const stored = await store.db.selectFrom('mobile_pushes').select('status').where('id', '=', push.id).executeTakeFirstOrThrow();
    assert.equal(stored.status, 'APPROVED');
  });
});
