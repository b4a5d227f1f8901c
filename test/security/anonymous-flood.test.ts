/**
 * Threat (quality bar S10): anonymous floods from several addresses against a tenant's
 * environment — no token, forged tokens, failed logins at its token endpoint — to spend the
 * environment's rate-limit budget and starve the tenant's own authenticated calls.
 *
 * Blocked by: the per-IP limit, counted before authentication, refuses each flooding address
 * past its share; the environment's budget counts only calls authenticated for it. Real
 * sockets from distinct loopback source addresses (127.0.0.2, .3, .4 via `localAddress`), a
 * real listening server, the harness's ManualClock (one rate-limit window until it moves).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { createWorker, startTestServer, type TestServer } from '../helper.js';

let s: TestServer;
let base: URL;
before(async () => {
  s = await startTestServer({ config: { rateLimit: '100', rateLimitIpShare: '0.5' } }); // 50 per address
  base = new URL(await s.listen());
});
after(async () => { await s.close(); });

const agents = new Map<string, http.Agent>();
after(() => { for (const a of agents.values()) a.destroy(); });

/** One request from source address `from`; the status, or the socket error. */
function send(from: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<number | string> {
  let agent = agents.get(from);
  if (!agent) agents.set(from, agent = new http.Agent({ keepAlive: true, maxSockets: 16, localAddress: from }));
  return new Promise((resolve) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path, agent, headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    req.end(body);
  });
}

test('threat: anonymous floods from several addresses starve a tenant — its authenticated calls keep ≥ 90 % success and its whole budget', async (t) => {
  const env = s.boot.environmentId;
  const tenant = await createWorker(s, env, 'tenant');
  // A fresh window: everything below happens in it.
  s.clock.set(Math.floor(s.clock.now() / 1000) * 1000 + 1000);
  const bearer = { authorization: `Bearer ${tenant.token}` };
  const users = `/v1/environments/${env}/users`;
  const wrongLogin = { authorization: `Basic ${Buffer.from(`${tenant.clientId}:wrong-secret`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' };

  const attackers = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  const FLOOD = 300;
  const flood = attackers.flatMap((ip) => Array.from({ length: FLOOD }, (_, i) => {
    if (i % 3 === 0) return send(ip, 'GET', users);
    if (i % 3 === 1) return send(ip, 'GET', users, { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' });
    return send(ip, 'POST', `/${env}/as/token`, wrongLogin, 'grant_type=client_credentials');
  }));
  // The tenant's own calls, interleaved with the flood, from its own address.
  const TENANT_CALLS = 40;
  const own = Array.from({ length: TENANT_CALLS }, () => send('127.0.0.1', 'GET', users, bearer));
  const [floodResults, ownResults] = await Promise.all([Promise.all(flood), Promise.all(own)]);

  const ok = ownResults.filter((r) => r === 200).length;
  const byAttacker = attackers.map((_, a) => floodResults.slice(a * FLOOD, (a + 1) * FLOOD));
  for (const results of byAttacker) {
    assert.equal(results.filter((r) => r === 401).length, 50, 'each address is answered within its share (50), then refused');
    assert.equal(results.filter((r) => r === 429).length, FLOOD - 50);
  }
  assert.ok(ok / TENANT_CALLS >= 0.9, `tenant success ${ok}/${TENANT_CALLS}: ${JSON.stringify(ownResults)}`);
  assert.equal(ok, TENANT_CALLS, 'in fact every one of them');

  // 900 unauthenticated calls later the environment's budget (100) has lost only the tenant's 40.
  const more = [
    ...Array.from({ length: 50 }, () => send('127.0.0.5', 'GET', users, bearer)),
    ...Array.from({ length: 10 }, () => send('127.0.0.6', 'GET', users, bearer)),
  ];
  assert.deepEqual(await Promise.all(more), Array(60).fill(200));
  assert.equal(await send('127.0.0.7', 'GET', users, bearer), 429, 'the 101st authenticated call is over the environment budget');
  t.diagnostic(`tenant ${ok}/${TENANT_CALLS} ok during ${attackers.length * FLOOD} anonymous calls from ${attackers.length} addresses`);
});
