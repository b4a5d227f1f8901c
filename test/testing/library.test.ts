/**
 * `openmfa/testing` from node:test: a server in the test's process on a free port, its own
 * temporary store, the administrator's credentials, a manual clock, and the helpers — each
 * checked through the real HTTP API.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { DIALECT, freshStore } from '../helper.js';
import { startOpenMFA, type OpenMFA } from '../../src/testing/index.js';
import { call as fetchJson } from '../support/bearer-fetch.js';

let mfa: OpenMFA;
// On the PostgreSQL run the library's store is a fresh schema of the test database (its own
// temporary SQLite file otherwise).
let dispose = async (): Promise<void> => {};
before(async () => {
  let databaseUrl: string | undefined;
  if (DIALECT === 'postgres') ({ databaseUrl, dispose } = await freshStore());
  mfa = await startOpenMFA({ now: '2030-01-02T03:04:05.000Z', ...(databaseUrl !== undefined ? { databaseUrl } : {}) });
});
after(async () => { await mfa.stop(); await dispose(); });

const call = (method: string, url: string, body?: unknown, contentType?: string) => fetchJson(mfa, method, url, body, contentType);

const users = () => `${mfa.api}/environments/${mfa.environmentId}/users`;
async function newUser(username: string): Promise<string> {
  const res = await call('POST', users(), { username, email: `${username}@example.com` });
  assert.equal(res.status, 201);
  return res.body.id as string;
}
const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';

test('the server answers on its URLs with the administrator\'s credentials', async () => {
  assert.match(mfa.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(mfa.api, `${mfa.url}/v1`);
  assert.equal(mfa.auth, mfa.url);
  assert.equal((await fetch(`${mfa.url}/health`)).status, 200);
  const env = await call('GET', `${mfa.api}/environments/${mfa.environmentId}`);
  assert.equal(env.status, 200);
  assert.equal(env.body.id, mfa.environmentId);
  assert.equal(typeof mfa.clientId, 'string');
  assert.equal(typeof mfa.clientSecret, 'string');
});

test('readOtp reads the activation code the outbox holds, and the device activates with it', async () => {
  const user = await newUser('reader');
  const created = await call('POST', `${users()}/${user}/devices`, { type: 'EMAIL', email: 'reader@example.com', status: 'ACTIVATION_REQUIRED' });
  assert.equal(created.status, 201);
  const otp = await mfa.readOtp({ recipient: 'reader@example.com' });
  assert.match(otp, /^\d{6}$/);
  const activated = await call('POST', `${users()}/${user}/devices/${created.body.id}`, { otp }, ACTIVATE);
  assert.equal(activated.status, 200);
  assert.equal(activated.body.status, 'ACTIVE');
  await assert.rejects(mfa.readOtp({ recipient: 'nobody@example.com' }), /no code in the outbox for nobody@example\.com that was not read before/);
});

test('the clock moves only when told, and the server\'s expiries follow it', async () => {
  assert.equal(mfa.clock.now(), '2030-01-02T03:04:05.000Z');
  const user = await newUser('late');
  const created = await call('POST', `${users()}/${user}/devices`, { type: 'EMAIL', email: 'late@example.com', status: 'ACTIVATION_REQUIRED' });
  assert.equal(created.status, 201);
  assert.equal(created.body.createdAt, '2030-01-02T03:04:05.000Z');
  const otp = await mfa.readOtp({ recipient: 'late@example.com' });
  await mfa.clock.advance('PT30M');
  assert.equal(mfa.clock.now(), '2030-01-02T03:34:05.000Z');
  const refused = await call('POST', `${users()}/${user}/devices/${created.body.id}`, { otp }, ACTIVATE);
  assert.equal(refused.status, 400);
  assert.deepEqual(refused.body.details.map((d: { code: string; target: string }) => [d.code, d.target]), [['INVALID_OTP', 'otp']]);
  await mfa.clock.set('2030-01-02T04:00:00.000Z');
  assert.equal(mfa.clock.now(), '2030-01-02T04:00:00.000Z');
  await assert.rejects(mfa.clock.set('2030-01-01T00:00:00.000Z'), /clock: expected 200, got 400/);
});

test('pairDesktop pairs a PingID Desktop device through an agent in the process', async () => {
  const user = await newUser('desk');
  const created = await call('POST', `${users()}/${user}/devices`, { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'example.com', name: 'Example' } });
  assert.equal(created.status, 201);
  const device = await mfa.pairDesktop(created.body);
  assert.equal(device.id, created.body.id);
  assert.equal(device.status, 'ACTIVE');
  const again = await call('GET', `${users()}/${user}/devices/${created.body.id}`);
  assert.equal(again.body.status, 'ACTIVE');
});

test('pairFido2 registers a FIDO2 device with the software authenticator, and answerFido2 completes a flow with it', async () => {
  const user = await newUser('passkey');
  const created = await call('POST', `${users()}/${user}/devices`, { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' } });
  assert.equal(created.status, 201);
  const { device, authenticator } = await mfa.pairFido2(created.body);
  assert.equal(device.id, created.body.id);
  assert.equal(device.status, 'ACTIVE');
  const flow = await call('POST', `${mfa.auth}/${mfa.environmentId}/deviceAuthentications`, { user: { id: user } });
  assert.equal(flow.body.status, 'ASSERTION_REQUIRED');
  const done = await mfa.answerFido2(flow.body, authenticator);
  assert.equal(done.status, 'COMPLETED');
  assert.deepEqual(done.authenticators, ['fido2', 'mfa', 'user']);
});

test('stop closes the server and removes its temporary store', async () => {
  const other = await startOpenMFA();
  assert.notEqual(other.url, mfa.url);
  assert.equal((await fetch(`${other.url}/health`)).status, 200);
  assert.equal(existsSync(other.dataDir), true);
  await other.stop();
  await assert.rejects(fetch(`${other.url}/health`));
  assert.equal(existsSync(other.dataDir), false);
});


test('restore puts the store back as it was at the snapshot, as often as asked', async () => {
  const before = await newUser('kept');
  const id = await mfa.snapshot();
  const gone = await newUser('gone');
  assert.equal((await call('DELETE', `${users()}/${before}`)).status, 204);
  await mfa.restore(id);
  assert.equal((await call('GET', `${users()}/${before}`)).status, 200);
  assert.equal((await call('GET', `${users()}/${gone}`)).status, 404);
  await newUser('gone');
  await mfa.restore(id);
  assert.equal((await call('GET', `${users()}/${gone}`)).status, 404);
  assert.equal((await call('POST', users(), { username: 'gone', email: 'gone@example.com' })).status, 201);
  await assert.rejects(mfa.restore('nope'), /snapshots\/nope\/restore: expected 204, got 404 .*"code":"NOT_FOUND"/);
});
