/**
 * The console's routes (issue 8 item 1): GET /console serves the page and its assets from an
 * explicit allow-list, publicly, with a strict Content-Security-Policy and nosniff; nothing
 * else under /console is served (traversal attempts are the ordinary 404 envelope); the
 * routes are not in the OpenAPI document. The page's behaviour is tested in test/browser/.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ASSETS, CONSOLE_CSP, CONSOLE_DIR } from '../../src/console/routes.js';
import { useTestServer, type TestServer } from '../helper.js';

let server: TestServer;

useTestServer(async (s) => {
  server = s;
});

const get = (url: string, headers: Record<string, string> = {}) => server.app.inject({ method: 'GET', url, headers });

const EXPECTED: Record<string, RegExp> = {
  '/console': /^text\/html; charset=utf-8$/,
  '/console/': /^text\/html; charset=utf-8$/,
  '/console/app.js': /^text\/javascript; charset=utf-8$/,
  '/console/api.js': /^text\/javascript; charset=utf-8$/,
  '/console/dom.js': /^text\/javascript; charset=utf-8$/,
  '/console/views.js': /^text\/javascript; charset=utf-8$/,
  '/console/devices.js': /^text\/javascript; charset=utf-8$/,
  '/console/forms.js': /^text\/javascript; charset=utf-8$/,
  '/console/settings.js': /^text\/javascript; charset=utf-8$/,
  '/console/user.js': /^text\/javascript; charset=utf-8$/,
  '/console/device-types.js': /^text\/javascript; charset=utf-8$/,
  '/console/agent-hint.js': /^text\/javascript; charset=utf-8$/,
  '/console/webauthn.js': /^text\/javascript; charset=utf-8$/,
  '/console/qr.js': /^text\/javascript; charset=utf-8$/,
  '/console/pairing-keys.js': /^text\/javascript; charset=utf-8$/,
  '/console/push.js': /^text\/javascript; charset=utf-8$/,
  '/console/console.css': /^text\/css; charset=utf-8$/,
  '/console/vendor/qrcode.mjs': /^text\/javascript; charset=utf-8$/,
};

test('the allow-list is exactly the page, its modules, its style sheet and the QR library', () => {
  assert.deepEqual(Object.keys(ASSETS).sort(), Object.keys(EXPECTED).sort());
});

test('every asset is served without a token, with its content type, CSP and nosniff', async () => {
  for (const [url, type] of Object.entries(EXPECTED)) {
    const res = await get(url);
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    assert.match(String(res.headers['content-type']), type, url);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(res.headers['content-security-policy'], CONSOLE_CSP, url);
    assert.ok(res.body.length > 0, url);
  }
});

test('the Content-Security-Policy is strict: no inline script or style, no framing, no forms, no base', async () => {
  const res = await get('/console');
  const csp = String(res.headers['content-security-policy']);
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
  assert.deepEqual(directives.get('default-src'), ["'none'"]);
  assert.deepEqual(directives.get('script-src'), ["'self'"]);
  assert.deepEqual(directives.get('style-src'), ["'self'"]);
  assert.deepEqual(directives.get('img-src'), ["'self'", 'data:']);
  assert.deepEqual(directives.get('form-action'), ["'none'"]);
  assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
  assert.deepEqual(directives.get('base-uri'), ["'none'"]);
  const connect = directives.get('connect-src') ?? [];
  assert.equal(connect[0], "'self'");
  for (const source of connect.slice(1)) assert.match(source, /^http:\/\/(127\.0\.0\.1|localhost):\*$/, `connect-src ${source} is loopback only`);
  assert.doesNotMatch(csp, /unsafe-|strict-dynamic|nonce-|sha256-/);
  for (const values of directives.values()) {
    for (const source of values) assert.ok(source !== '*' && source !== 'http:' && source !== 'https:' && source !== 'blob:', `no wildcard source: ${source}`);
  }
});

test('the page holds no inline script, inline style or event-handler attribute', () => {
  const html = readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8');
  for (const m of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)) {
    assert.match(m[0], /\ssrc="\/console\/[a-z]+\.js"/, 'scripts are external');
    assert.equal(m[1]!.trim(), '', 'scripts are empty');
  }
  assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i);
  assert.match(html, /<script type="module" src="\/console\/app\.js"><\/script>/);
});

test('the modules never write markup: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
  for (const name of ['app.js', 'api.js', 'dom.js', 'views.js', 'devices.js']) {
    const js = readFileSync(path.join(CONSOLE_DIR, name), 'utf8');
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, name);
    assert.doesNotMatch(js, /localStorage\.|sessionStorage\.|document\.cookie|indexedDB\./, `${name} keeps the token in memory only`);
  }
});

test('the QR library is qrcode-generator\'s ES module, served from node_modules', async () => {
  const res = await get('/console/vendor/qrcode.mjs');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /QR Code Generator for JavaScript/);
  assert.match(res.body, /export default qrcode/);
});

test('HEAD answers like GET without a body', async () => {
  const res = await server.app.inject({ method: 'HEAD', url: '/console/' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
  assert.equal(res.body, '');
});

test('anything not on the allow-list is a 404 in PingOne\'s envelope, traversal attempts included', async () => {
  const attempts = [
    '/console/index.html',
    '/console/app.js/',
    '/console/../package.json',
    '/console/..%2fpackage.json',
    '/console/%2e%2e/%2e%2e/package.json',
    '/console/%2e%2e%2fsrc%2fapp.ts',
    '/console/vendor/../../package.json',
    '/console/vendor/qrcode.js',
    '/console/vendor/%2e%2e%2f%2e%2e%2fpackage.json',
    '/console/..\\..\\package.json',
    '/console/nope.js',
    '/console//app.js',
    '/Console',
    '/console/APP.JS',
    '/console/app.js%00.css',
    '/console/vendor/',
  ];
  for (const url of attempts) {
    const res = await get(url);
    // `/console/../package.json` may be normalised by the client to `/package.json`: still no file.
    assert.ok(res.statusCode === 404 || res.statusCode === 400, `${url}: ${res.statusCode}`);
    const body = JSON.parse(res.body) as { id?: string; code?: string; message?: string };
    assert.equal(typeof body.id, 'string', url);
    assert.ok(body.code === 'NOT_FOUND' || body.code === 'INVALID_REQUEST', `${url}: ${res.body}`);
    assert.doesNotMatch(res.body, /"name":\s*"openmfa"|registerConsoleRoutes|QR Code Generator/, url);
  }
});

test('the console routes take no other method', async () => {
  for (const method of ['POST', 'PUT', 'DELETE'] as const) {
    const res = await server.app.inject({ method, url: '/console', headers: { 'content-type': 'application/json' }, payload: '{}' });
    assert.ok(res.statusCode === 404 || res.statusCode === 405 || res.statusCode === 401, `${method}: ${res.statusCode}`);
    assert.doesNotMatch(res.body, /<html/i);
  }
});

test('the OpenAPI document lists no console route', async () => {
  const res = await get('/openapi.json');
  assert.equal(res.statusCode, 200);
  const doc = JSON.parse(res.body) as { paths: Record<string, unknown> };
  const consolePaths = Object.keys(doc.paths).filter((p) => p.startsWith('/console'));
  assert.deepEqual(consolePaths, []);
  assert.ok(Object.keys(doc.paths).length > 0);
});

test('the API routes keep their headers: no console CSP leaks onto them', async () => {
  const res = await server.request('GET', '/v1/environments');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-security-policy'], undefined);
});

test('GET / is a 302 to /console, without a token, with an empty body; other methods on / are 404', async () => {
  const res = await get('/');
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, '/console');
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.equal(res.body, '');
  const post = await server.app.inject({ method: 'POST', url: '/' });
  assert.equal(post.statusCode, 404);
});
