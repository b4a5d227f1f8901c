/**
 * Rate limits (quality bar S7): a per-environment budget per one-second window, a per-IP
 * share of it, X-Forwarded-For only behind trusted proxies, counters shared through Redis,
 * and failing open when Redis is away. Time is the harness's ManualClock: windows move when
 * the test moves the clock, never by sleeping.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, test } from 'node:test';
import { buildApp, buildContext } from '../../src/app.js';
import { ClientAddress } from '../../src/http/rate-limit.js';
import { createUser, LogCapture, startTestServer, type TestServer } from '../helper.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function start(config: Record<string, string>): Promise<TestServer> {
  const s = await startTestServer({ config });
  servers.push(s);
  return s;
}

/** A token, then the clock moved to the start of a fresh window, so the budget is whole. */
async function freshWindow(s: TestServer): Promise<string> {
  const token = await s.adminToken();
  s.clock.set(Math.floor(s.clock.now() / 1000) * 1000 + 1000);
  return token;
}

const LIMITED = (quotaLimit: number) => ({
  id: '<id>',
  code: 'REQUEST_LIMITED',
  message: 'The request could not be completed. Too many requests were made; try again later.',
  details: [{
    code: 'LIMIT_EXCEEDED',
    message: 'Too many requests were made to this environment; retry after the time given',
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

test('limit 5: exactly 5 requests pass, the 6th is 429 REQUEST_LIMITED with Retry-After; the next window passes again', async () => {
  const s = await start({ rateLimit: '5', rateLimitIpShare: '1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  for (let i = 0; i < 5; i++) {
    const res = await s.request('GET', `/v1/environments/${env}/users`, { token });
    assert.equal(res.status, 200, `request ${i + 1}: ${res.text}`);
  }
  const refused = await s.request('GET', `/v1/environments/${env}/users`, { token });
  assert.equal(refused.status, 429, refused.text);
  assert.equal(refused.headers['retry-after'], '1');
  assert.match(String(refused.headers['content-type']), /^application\/json/);
  assert.deepEqual({ ...refused.body, id: '<id>' }, LIMITED(5));
  // Every route under the environment counts: the auth host and the token endpoint too.
  const flows = await s.request('POST', `/${env}/deviceAuthentications`, { token, body: {} });
  assert.equal(flows.status, 429);
  const tokenRes = await s.app.inject({ method: 'POST', url: `/${env}/as/token`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
  assert.equal(tokenRes.statusCode, 429);
  assert.equal(tokenRes.headers['retry-after'], '1');
  assert.deepEqual({ ...JSON.parse(tokenRes.body), id: '<id>' }, LIMITED(5));
  // Health and the OpenAPI document are never limited.
  for (let i = 0; i < 20; i++) assert.equal((await s.request('GET', '/health', { token: null })).status, 200);
  assert.equal((await s.request('GET', '/openapi.json', { token: null })).status, 200);

  s.clock.advance(999);
  assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 429, 'still the same window');
  s.clock.advance(1);
  for (let i = 0; i < 5; i++) assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 200);
  assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 429);
});

test('Retry-After counts the seconds to the end of the window, at least 1', async () => {
  const s = await start({ rateLimit: '1', rateLimitIpShare: '1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  s.clock.advance(10);
  assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 200);
  const res = await s.request('GET', `/v1/environments/${env}/users`, { token });
  assert.equal(res.status, 429);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.body.details[0].innerError.retryAfter, 1);
});

test('budgets are per environment: one exhausted environment does not limit another', async () => {
  const s = await start({ rateLimit: '3', rateLimitIpShare: '1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  const other = await s.request('POST', '/v1/environments', { token, body: { name: 'other', region: 'NA', type: 'SANDBOX' } });
  assert.equal(other.status, 201, other.text);
  for (let i = 0; i < 3; i++) assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 200);
  assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 429);
  for (let i = 0; i < 3; i++) assert.equal((await s.request('GET', `/v1/environments/${other.body.id}/users`, { token })).status, 200);
  assert.equal((await s.request('GET', `/v1/environments/${other.body.id}/users`, { token })).status, 429);
});

test('per-IP share behind a trusted proxy: one IP gets half, refused requests do not spend the environment budget', async () => {
  const s = await start({ rateLimit: '10', rateLimitIpShare: '0.5', trustedProxies: '127.0.0.1, 10.9.0.0/16' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  const from = (xff: string) => s.request('GET', `/v1/environments/${env}/users`, { token, headers: { 'x-forwarded-for': xff } });
  for (let i = 0; i < 5; i++) assert.equal((await from('203.0.113.1')).status, 200);
  const ipRefused = await from('203.0.113.1');
  assert.equal(ipRefused.status, 429);
  assert.deepEqual({ ...ipRefused.body, id: '<id>' }, LIMITED(5));
  // The right-most untrusted hop is the client: spoofed left-hand entries and trusted proxies are skipped.
  assert.equal((await from('198.51.100.7, 203.0.113.1, 10.9.3.4')).status, 429, 'still 203.0.113.1');
  for (let i = 0; i < 5; i++) assert.equal((await from(`203.0.113.${i + 10}, 203.0.113.2`)).status, 200, 'a second IP has its own share');
  const envRefused = await from('203.0.113.3');
  assert.equal(envRefused.status, 429, 'the environment budget (10) is spent');
  assert.deepEqual({ ...envRefused.body, id: '<id>' }, LIMITED(10));
});

test('X-Forwarded-For is ignored without trusted proxies: every request counts for the socket peer', async () => {
  const s = await start({ rateLimit: '4', rateLimitIpShare: '0.5' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  const from = (xff: string) => s.request('GET', `/v1/environments/${env}/users`, { token, headers: { 'x-forwarded-for': xff } });
  assert.equal((await from('203.0.113.1')).status, 200);
  assert.equal((await from('203.0.113.2')).status, 200);
  const res = await from('203.0.113.3');
  assert.equal(res.status, 429);
  assert.equal(res.body.details[0].innerError.quotaLimit, 2);
});

test('client address: right-most untrusted hop, IPv6 and IPv4-mapped peers, garbage hops', () => {
  const req = (remoteAddress: string, xff?: string) => ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as never;
  const none = new ClientAddress([]);
  assert.equal(none.of(req('10.0.0.1', '1.2.3.4')), '10.0.0.1');
  const trusted = new ClientAddress(['10.0.0.0/8', '::1', 'fd00::/8']);
  assert.equal(trusted.of(req('10.0.0.1', '1.2.3.4')), '1.2.3.4');
  assert.equal(trusted.of(req('::ffff:10.0.0.1', '1.2.3.4, 10.2.2.2')), '1.2.3.4');
  assert.equal(trusted.of(req('::1', '2001:db8::1')), '2001:db8::1');
  assert.equal(trusted.of(req('fd00::5', '10.1.1.1')), '10.1.1.1', 'all trusted: the left-most hop');
  assert.equal(trusted.of(req('10.0.0.1', 'nonsense, 10.1.1.1')), '10.1.1.1', 'a garbage hop ends the walk');
  assert.equal(trusted.of(req('10.0.0.1')), '10.0.0.1');
  assert.equal(trusted.of(req('192.0.2.1', '1.2.3.4')), '192.0.2.1', 'an untrusted peer is the client');
});

test('rate limit 0 turns limiting off', async () => {
  const s = await start({ rateLimit: '0' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  for (let i = 0; i < 30; i++) assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 200);
});

test('an unreachable Redis fails open with a logged warning, never a 5xx', async () => {
  const s = await start({ rateLimit: '2', rateLimitIpShare: '1', redisUrl: 'redis://127.0.0.1:1' });
  const env = s.boot.environmentId;
  const token = await freshWindow(s);
  for (let i = 0; i < 6; i++) assert.equal((await s.request('GET', `/v1/environments/${env}/users`, { token })).status, 200);
  assert.match(s.logs.text, /rate limits are not enforced/);
});

const redisUp = await redisAnswers();
test('two processes sharing one Redis share one budget', { skip: redisUp ? false : `Redis does not answer at ${REDIS_URL} (.ci/run starts one)` }, async () => {
  const s = await start({ rateLimit: '6', rateLimitIpShare: '1', redisUrl: REDIS_URL });
  // A second app on the same store, clock and Redis: another process as far as counters go.
  const deps = { config: s.config, store: s.store, box: s.ctx.box, clock: s.clock, logStream: new LogCapture() };
  const ctx2 = buildContext(deps);
  const app2 = await buildApp(deps, ctx2);
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
