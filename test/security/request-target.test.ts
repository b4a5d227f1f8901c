/**
 * Threat: a tampered request line or a lying Host header — an absolute-form target
 * (`GET http://evil.example/v1/… HTTP/1.1`, RFC 9112 §3.2.2), `Host: evil.example`,
 * X-Forwarded-Host/Proto — makes the server answer 500, or build `_links` hrefs and token
 * issuers that point at the attacker's host (link poisoning, cache poisoning, phishing).
 *
 * Blocked by: the request target is reduced to origin-form before routing (app.ts
 * originForm), bytes that are not HTTP are answered 400 in the envelope (clientErrorHandler),
 * and every link and issuer is built from --public-url and the route (links.ts). Raw bytes on
 * a real socket: fetch would not send these request lines.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, before, test } from 'node:test';
import { createUser, startTestServer, type TestServer } from '../helper.js';

const PUBLIC = 'https://mfa.example.test';
let s: TestServer;
let port: number;
let env: string;
let token: string;
before(async () => {
  // Behind a "trusted" proxy too, so X-Forwarded-Host and -Proto are read by Fastify — and must still not matter.
  s = await startTestServer({ publicUrl: PUBLIC, config: { trustedProxies: '127.0.0.1' } });
  port = Number(new URL(await s.listen()).port);
  env = s.boot.environmentId;
  token = await s.adminToken();
  await createUser(s, env, 'target-user');
});
after(async () => { await s.close(); });

/** Writes `head` (and `body`) on a fresh socket, reads the whole answer (the server closes it). */
function raw(head: string, body = ''): Promise<{ status: number; headers: string; body: any; text: string }> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => { text += d; });
    socket.on('error', () => {});
    socket.on('close', () => {
      const cut = text.indexOf('\r\n\r\n');
      const headers = cut < 0 ? text : text.slice(0, cut);
      const rest = cut < 0 ? '' : text.slice(cut + 4);
      let parsed: unknown;
      try { parsed = rest ? JSON.parse(rest) : undefined; } catch { parsed = rest; }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), headers, body: parsed, text });
    });
    socket.on('connect', () => socket.write(head + body));
  });
}

const lyingHeaders = (extra = '') => `Host: evil.example\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: http\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n${extra}\r\n`;

/** Every string value named href, or any URL-looking string, anywhere in a body. */
function urls(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string' && /^[a-z]+:\/\//i.test(value)) out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => urls(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => urls(v, out));
  return out;
}

test('threat: an absolute-form target with a lying Host — served, and every link is built from the public URL and the route', async () => {
  const res = await raw(`GET http://evil.example:8443/v1/environments/${env}/users?limit=1 HTTP/1.1\r\n${lyingHeaders()}`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body._links.self.href, `${PUBLIC}/v1/environments/${env}/users?limit=1`);
  assert.equal(res.body._embedded.users.length, 1);
  const all = urls(res.body);
  assert.ok(all.length >= 3);
  for (const u of all) assert.ok(u.startsWith(`${PUBLIC}/v1/environments/${env}`), u);
  assert.doesNotMatch(res.text, /evil\.example/);
});

test('threat: a token requested through an absolute-form target and a lying Host — its issuer is the public URL', async () => {
  const form = 'grant_type=client_credentials';
  const basic = Buffer.from(`${s.boot.clientId}:${s.boot.clientSecret}`).toString('base64');
  const res = await raw(`POST http://evil.example/${env}/as/token HTTP/1.1\r\nHost: evil.example\r\nX-Forwarded-Host: evil.example\r\nAuthorization: Basic ${basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${form.length}\r\nConnection: close\r\n\r\n`, form);
  assert.equal(res.status, 200, res.text);
  const claims = JSON.parse(Buffer.from(res.body.access_token.split('.')[1], 'base64url').toString('utf8'));
  assert.equal(claims.iss, `${PUBLIC}/${env}/as`);
});

test('threat: a device self link and a created resource reached through an absolute-form target carry the public URL', async () => {
  const body = JSON.stringify({ username: 'abs-created' });
  const created = await raw(`POST https://evil.example/v1/environments/${env}/users HTTP/1.1\r\n${lyingHeaders(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`)}`, body);
  assert.equal(created.status, 201, created.text);
  for (const u of urls(created.body)) assert.ok(u.startsWith(PUBLIC + '/'), u);
  assert.doesNotMatch(created.headers, /evil\.example/i, 'no header (Location or other) names the attacker host');
  const devices = await raw(`GET http://evil.example/v1/environments/${env}/users/${created.body.id}/devices HTTP/1.1\r\n${lyingHeaders()}`);
  assert.equal(devices.status, 200, devices.text);
  for (const u of urls(devices.body)) assert.ok(u.startsWith(`${PUBLIC}/v1/environments/${env}/users/${created.body.id}`), u);
});

test('threat: tampered request targets answer 4xx in the envelope or are served — never 500', async () => {
  const targets = [
    'http://evil.example',
    'http://evil.example?limit=1',
    `HTTP://EVIL.EXAMPLE/v1/environments/${env}/users`,
    `http://user:pass@evil.example/v1/environments/${env}/users`,
    `http://evil.example:99999/v1/environments/${env}/users`,
    `http://[::1]:8080/v1/environments/${env}/users`,
    `//evil.example/v1/environments/${env}/users`,
    `ftp://evil.example/v1/environments/${env}/users`,
    'http:/v1/environments',
    '*',
    'evil.example:443',
    `/v1/environments/${env}/users#fragment`,
    `/v1/environments/${env}/users?limit=1&limit=2`,
    '/v1/environments/%zz',
    '/v1/environments/\u0001',
  ];
  for (const target of targets) {
    const res = await raw(`GET ${target} HTTP/1.1\r\n${lyingHeaders()}`);
    assert.ok(res.status >= 200 && res.status < 500, `${target}: ${res.text}`);
    if (res.status >= 400) {
      assert.equal(typeof res.body?.id, 'string', `${target}: envelope ${res.text}`);
      assert.equal(typeof res.body?.code, 'string', `${target}: envelope ${res.text}`);
    }
    assert.doesNotMatch(res.text.split('\r\n\r\n').slice(1).join(''), /evil\.example/i, target);
  }
  assert.equal(s.logs.text.includes('unexpected error'), false, 'no 500 was logged');
});

test('threat: oversized headers and bytes that are not HTTP — 431 and 400 in the envelope, then the connection is closed', async () => {
  const big = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.equal(big.status, 431, big.text.slice(0, 200));
  assert.deepEqual({ ...big.body, id: '<id>' }, { id: '<id>', code: 'INVALID_REQUEST', message: 'The request could not be completed. The request headers are too large.' });
  for (const junk of ['\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\r\n\r\n', 'GET /health HTTP/9.9\r\n\r\n', 'GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n', 'G\u0000T / HTTP/1.1\r\n\r\n']) {
    const res = await raw(junk);
    assert.equal(res.status, 400, JSON.stringify(junk) + ' ' + res.text);
    assert.deepEqual({ ...res.body, id: '<id>' }, { id: '<id>', code: 'INVALID_REQUEST', message: 'The request is not valid HTTP/1.1' });
  }
});
