/**
 * Rate limits (quality bar S7, S10): per client IP before authentication; per environment
 * only for calls authenticated for it; X-Forwarded-For only behind trusted proxies (Fastify's
 * trustProxy); counters shared through Redis, failing open when Redis is away; off by
 * default. Time is the harness's ManualClock: windows move when the test moves the clock,
 * never by sleeping. Requests are injected with a chosen socket address (`remoteAddress`),
 * so the per-IP budget of one address does not hide the environment's.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, test } from 'node:test';
import { buildApp, buildContext } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { loadServerConfig } from '../../src/config.js';
import { createUser, LogCapture, startTestServer, type TestServer } from '../helper.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function start(config: Record<string, string>, clock?: ManualClock): Promise<TestServer> {
  const s = await startTestServer({ config, ...(clock ? { clock } : {}) });
  servers.push(s);
  return s;
}

/** A token, then the clock moved to the start of a fresh window, so the budget is whole. */
async function freshWindow(s: TestServer): Promise<string> {
  const token = await s.adminToken();
  s.clock.set(Math.floor(s.clock.now() / 1000) * 1000 + 1000);
  return token;
}

interface Call { status: number; headers: Record<string, unknown>; body: any }

/** One request from socket address `ip` (and an X-Forwarded-For when given). */
async function from(s: TestServer, ip: string, url: string, o: { token?: string | undefined; method?: string; xff?: string; form?: string; body?: unknown } = {}): Promise<Call> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.xff) headers['x-forwarded-for'] = o.xff;
  let payload: string | undefined;
  if (o.form !== undefined) { payload = o.form; headers['content-type'] = 'application/x-www-form-urlencoded'; }
  else if (o.body !== undefined) { payload = JSON.stringify(o.body); headers['content-type'] = 'application/json'; }
  const res = await s.app.inject({ method: (o.method ?? 'GET') as 'GET', url, headers, remoteAddress: ip, ...(payload !== undefined ? { payload } : {}) });
  return { status: res.statusCode, headers: res.headers, body: res.body ? JSON.parse(res.body) : undefined };
}

const LIMITED = (quotaLimit: number, scope: 'environment' | 'ip') => ({
  id: '<id>',
  code: 'REQUEST_LIMITED',
  message: 'The request could not be completed. Too many requests were made; try again later.',
  details: [{
    code: 'LIMIT_EXCEEDED',
    message: scope === 'environment'
      ? 'Too many requests were made to this environment; retry after the time given'
      : 'Too many requests were made from this client address; retry after the time given',
    innerError: { quotaLimit, retryAfter: 1 },
  }],
});

function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: 6379 });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

test('rate limiting is off by default: a test suite never meets a 429 it did not ask for', () => {
  assert.equal(loadServerConfig({}, {}).rateLimit, 0);
});

test('environment budget 5: exactly 5 authenticated calls pass, the 6th is 429 REQUEST_LIMITED with Retry-After, on the auth host too; the next window passes again', async () => {
  const s = await start({ rateLimit: '5', rateLimitIpShare: '1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  // Each call from its own address: only the environment's budget is in play.
  for (let i = 0; i < 5; i++) {
    const res = await from(s, `10.0.0.${i + 1}`, `/v1/environments/${env}/users`, { token });
    assert.equal(res.status, 200, `request ${i + 1}: ${JSON.stringify(res.body)}`);
  }
  const refused = await from(s, '10.0.0.6', `/v1/environments/${env}/users`, { token });
  assert.equal(refused.status, 429);
  assert.equal(refused.headers['retry-after'], '1');
  assert.match(String(refused.headers['content-type']), /^application\/json/);
  assert.deepEqual({ ...refused.body, id: '<id>' }, LIMITED(5, 'environment'));
  // An authenticated call on the auth host counts for the environment as well.
  const flows = await from(s, '10.0.0.7', `/${env}/deviceAuthentications`, { token, method: 'POST', body: {} });
  assert.equal(flows.status, 429);
  assert.deepEqual({ ...flows.body, id: '<id>' }, LIMITED(5, 'environment'));
  // Health and the OpenAPI document are never limited.
  for (let i = 0; i < 20; i++) assert.equal((await from(s, '10.0.0.1', '/health')).status, 200);
  assert.equal((await from(s, '10.0.0.1', '/openapi.json')).status, 200);

  s.clock.advance(999);
  assert.equal((await from(s, '10.0.1.1', `/v1/environments/${env}/users`, { token })).status, 429, 'still the same window');
  s.clock.advance(1);
  for (let i = 0; i < 5; i++) assert.equal((await from(s, `10.0.2.${i + 1}`, `/v1/environments/${env}/users`, { token })).status, 200);
  assert.equal((await from(s, '10.0.2.9', `/v1/environments/${env}/users`, { token })).status, 429);
});

test('Retry-After counts the seconds to the end of the window, at least 1', async () => {
  const s = await start({ rateLimit: '1', rateLimitIpShare: '1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  s.clock.advance(10);
  assert.equal((await from(s, '10.0.0.1', `/v1/environments/${env}/users`, { token })).status, 200);
  const res = await from(s, '10.0.0.2', `/v1/environments/${env}/users`, { token });
  assert.equal(res.status, 429);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.body.details[0].innerError.retryAfter, 1);
});

test('budgets are per environment: one exhausted environment does not limit another', async () => {
  const s = await start({ rateLimit: '3', rateLimitIpShare: '1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  const other = await from(s, '10.1.0.1', '/v1/environments', { token, method: 'POST', body: { name: 'other', region: 'NA', type: 'SANDBOX' } });
  assert.equal(other.status, 201);
  for (let i = 0; i < 3; i++) assert.equal((await from(s, `10.0.0.${i + 1}`, `/v1/environments/${env}/users`, { token })).status, 200);
  assert.equal((await from(s, '10.0.0.9', `/v1/environments/${env}/users`, { token })).status, 429);
  for (let i = 0; i < 3; i++) assert.equal((await from(s, `10.0.1.${i + 1}`, `/v1/environments/${other.body.id}/users`, { token })).status, 200);
  assert.equal((await from(s, '10.0.1.9', `/v1/environments/${other.body.id}/users`, { token })).status, 429);
});

test('threat: one address floods without credentials — the per-IP limit refuses it before authentication, the token endpoint included', async () => {
  const s = await start({ rateLimit: '10', rateLimitIpShare: '0.3' }); // 3 per address
  const env = s.boot.environmentId;
  await freshWindow(s);
  const anon = () => from(s, '192.0.2.66', `/v1/environments/${env}/users`);
  for (let i = 0; i < 3; i++) assert.equal((await anon()).status, 401, 'within its share the caller is simply unauthenticated');
  const refused = await anon();
  assert.equal(refused.status, 429, 'refused before authentication: no 401');
  assert.deepEqual({ ...refused.body, id: '<id>' }, LIMITED(3, 'ip'));
  // The same address on the token endpoint, and on another environment: one budget per address.
  const tokenRes = await from(s, '192.0.2.66', `/${env}/as/token`, { method: 'POST', form: 'grant_type=client_credentials' });
  assert.equal(tokenRes.status, 429);
  assert.equal(tokenRes.headers['retry-after'], '1');
  assert.deepEqual({ ...tokenRes.body, id: '<id>' }, LIMITED(3, 'ip'));
  assert.equal((await from(s, '192.0.2.66', '/v1/environments/00000000-0000-0000-0000-000000000000/users')).status, 429);
  // Another address is not affected.
  assert.equal((await from(s, '192.0.2.67', `/v1/environments/${env}/users`)).status, 401);
});

test('threat: anonymous and failed calls spend the environment budget — they never do; the tenant still gets the whole budget', async () => {
  const s = await start({ rateLimit: '4', rateLimitIpShare: '0.5' }); // 2 per address
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  const wrongSecret = `Basic ${Buffer.from(`${s.boot.clientId}:not-the-secret`).toString('base64')}`;
  for (let i = 1; i <= 50; i++) {
    const ip = `198.51.100.${i}`;
    assert.equal((await from(s, ip, `/v1/environments/${env}/users`)).status, 401);
    assert.equal((await from(s, ip, `/v1/environments/${env}/users`, { token: 'eyJhbGciOiJub25lIn0.e30.' })).status, 401);
    const failedLogin = await s.app.inject({ method: 'POST', url: `/${env}/as/token`, remoteAddress: ip, headers: { authorization: wrongSecret, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
    assert.equal(failedLogin.statusCode, 429, 'the third call of the address is over its share');
  }
  // 150 unauthenticated calls later, the environment's 4 are intact.
  for (let i = 0; i < 4; i++) assert.equal((await from(s, `203.0.113.${i + 1}`, `/v1/environments/${env}/users`, { token })).status, 200);
  const fifth = await from(s, '203.0.113.9', `/v1/environments/${env}/users`, { token });
  assert.equal(fifth.status, 429);
  assert.deepEqual({ ...fifth.body, id: '<id>' }, LIMITED(4, 'environment'));
});

test('threat: X-Forwarded-For spoofing — behind a trusted proxy the right-most untrusted hop is the client; left-hand entries are not believed', async () => {
  const s = await start({ rateLimit: '10', rateLimitIpShare: '0.2', trustedProxies: '127.0.0.1, 10.9.0.0/16' }); // 2 per address
  const env = s.boot.environmentId;
  await freshWindow(s);
  const via = (xff: string, peer = '127.0.0.1') => from(s, peer, `/v1/environments/${env}/users`, { xff });
  assert.equal((await via('203.0.113.1')).status, 401);
  assert.equal((await via('198.51.100.7, 203.0.113.1')).status, 401, 'a spoofed left-hand entry does not make another client');
  assert.equal((await via('198.51.100.8, 203.0.113.1, 10.9.3.4')).status, 429, 'still 203.0.113.1: trusted proxies are skipped');
  assert.equal((await via('203.0.113.2')).status, 401, 'a second client behind the proxy has its own share');
  // An untrusted peer's header is ignored: it is the client itself.
  assert.equal((await via('203.0.113.3', '192.0.2.5')).status, 401);
  assert.equal((await via('203.0.113.4', '192.0.2.5')).status, 401);
  assert.equal((await via('203.0.113.5', '192.0.2.5')).status, 429, 'all three counted for 192.0.2.5');
});

test('X-Forwarded-For is ignored without trusted proxies: every request counts for the socket peer', async () => {
  const s = await start({ rateLimit: '4', rateLimitIpShare: '0.5' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  const call = (xff: string) => from(s, '127.0.0.1', `/v1/environments/${env}/users`, { token, xff });
  assert.equal((await call('203.0.113.1')).status, 200);
  assert.equal((await call('203.0.113.2')).status, 200);
  const res = await call('203.0.113.3');
  assert.equal(res.status, 429);
  assert.deepEqual({ ...res.body, id: '<id>' }, LIMITED(2, 'ip'));
});

test('rate limit 0 turns limiting off', async () => {
  const s = await start({ rateLimit: '0' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  for (let i = 0; i < 30; i++) assert.equal((await from(s, '10.0.0.1', `/v1/environments/${env}/users`, { token })).status, 200);
});

test('an unreachable Redis fails open with a logged warning, never a 5xx', async () => {
  const s = await start({ rateLimit: '2', rateLimitIpShare: '1', redisUrl: 'redis://127.0.0.1:1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  for (let i = 0; i < 6; i++) assert.equal((await from(s, '10.0.0.1', `/v1/environments/${env}/users`, { token })).status, 200);
  assert.match(s.logs.text, /rate limits are not enforced/);
});

const redisUp = await redisAnswers();
test('two processes sharing one Redis share one budget', { skip: redisUp ? false : `Redis does not answer at ${REDIS_URL} (.ci/run starts one)` }, async () => {
  // Counters in Redis outlive the test by their 10 s expiry: a window of its own (a random
  // time) keeps another run's counts for 127.0.0.1 out of this one.
  const clock = new ManualClock(Date.parse('2026-02-17T13:34:34.840Z') + Math.floor(Math.random() * 1e9) * 1000);
  const s = await start({ rateLimit: '6', rateLimitIpShare: '1', redisUrl: REDIS_URL }, clock);
  // A second app on the same store, clock and Redis: another process as far as counters go.
  const deps = { config: s.config, store: s.store, box: s.ctx.box, clock: s.clock, logStream: new LogCapture() };
  const ctx2 = buildContext(deps);
  const app2 = await buildApp(deps, ctx2);
  await app2.ready();
  try {
    await s.ctx.rateLimiter.ready();
    await ctx2.rateLimiter.ready();
    const env = s.boot.environmentId;
    const user = await createUser(s, env); // spends from the window freshWindow leaves behind
    const token = await freshWindow(s);
    const url = `/v1/environments/${env}/users/${user}`;
    const viaSecond = async () => (await app2.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })).statusCode;
    for (let i = 0; i < 3; i++) {
      assert.equal((await s.request('GET', url, { token })).status, 200);
      assert.equal(await viaSecond(), 200);
    }
    assert.equal((await s.request('GET', url, { token })).status, 429);
    assert.equal(await viaSecond(), 429);
    s.clock.advance(1000);
    assert.equal(await viaSecond(), 200);
  } finally {
    await app2.close();
  }
});
