/**
 * Threat (quality bar S9): slow clients — connections that trickle their headers or body, or
 * simply pile up — hold the server's sockets and memory until nobody else is served.
 *
 * Blocked by: a whole-request deadline (--request-timeout) and a headers deadline
 * (--headers-timeout), past which Node answers 408 in PingOne's envelope and closes the
 * connection; a cap on connections held at once (--max-connections), past which new ones
 * are closed on accept. Small deadlines (1–1.5 s) keep the test short; socket deadlines are
 * real time by nature, so the test asserts outcomes (408, cut, served), not durations.
 * SIGTERM with slow clients attached: test/stress/slow-clients.test.ts.
 */
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { ConfigError, loadServerConfig } from '../../src/config.js';
import { MESSAGES } from '../../src/http/errors.js';
import { startTestServer, type TestServer } from '../helper.js';

const DEADLINES = { requestTimeout: '1500', headersTimeout: '1000', keepAliveTimeout: '1000' };

let s: TestServer;
let port: number;
before(async () => {
  s = await startTestServer({ config: { ...DEADLINES, maxConnections: '200' } });
  port = Number(new URL(await s.listen()).port);
});
after(async () => { await s.close(); });

interface Slow {
  socket: Socket;
  /** Everything the server wrote, once it closed the connection; and how many bytes we had trickled. */
  closed: Promise<{ text: string; trickled: number }>;
}

/** A connection that sends `head`, then one byte of `tail` every `everyMs` until the server closes it. */
function slowClient(p: number, head: string, tail: string, everyMs = 100): Slow {
  const socket = createConnection({ host: '127.0.0.1', port: p });
  let text = '';
  let trickled = 0;
  socket.setEncoding('utf8').on('data', (d: string) => { text += d; });
  socket.on('error', () => {});
  socket.on('connect', () => socket.write(head));
  const timer = setInterval(() => {
    if (trickled < tail.length && socket.writable) socket.write(tail[trickled++]!);
  }, everyMs);
  const closed = new Promise<{ text: string; trickled: number }>((resolve) => {
    socket.on('close', () => { clearInterval(timer); resolve({ text, trickled }); });
  });
  return { socket, closed };
}

/** Status line and JSON body of a raw HTTP/1.1 response. */
function parse(raw: string): { status: number; headers: string; body: any } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: body ? JSON.parse(body) : undefined };
}

const timedOut = (body: any) => {
  assert.deepEqual({ ...body, id: '<id>' }, { id: '<id>', code: 'INVALID_REQUEST', message: MESSAGES.REQUEST_TIMEOUT });
  assert.match(body.id, /^[0-9a-f-]{36}$/);
};

async function health(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  await res.arrayBuffer();
  return res.status;
}

test('threat: a body trickled byte by byte holds the connection — cut at the request deadline with 408 in the envelope', async () => {
  const token = await s.adminToken();
  const body = JSON.stringify({ username: 'slow-body', email: 'slow@example.com' }).padEnd(400, ' ');
  const c = slowClient(port, `POST /v1/environments/${s.boot.environmentId}/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body);
  const { text, trickled } = await c.closed;
  const res = parse(text);
  assert.equal(res.status, 408, text);
  assert.match(res.headers, /\r\nConnection: close/i);
  timedOut(res.body);
  assert.ok(trickled < body.length, 'the body never arrived in full');
  // Nothing was created from the partial body.
  const list = await s.request('GET', `/v1/environments/${s.boot.environmentId}/users?filter=${encodeURIComponent('username eq "slow-body"')}`);
  assert.equal(list.body.count, 0);
});

test('threat: headers trickled without end — cut at the headers deadline with 408', async () => {
  const c = slowClient(port, 'GET /health HTTP/1.1\r\nHost: x\r\n', 'X-Slow: ' + 'a'.repeat(500));
  const { text } = await c.closed;
  const res = parse(text);
  assert.equal(res.status, 408, text);
  timedOut(res.body);
});

test('threat: connections opened and left silent — cut at the headers deadline', async () => {
  const c = slowClient(port, '', '');
  const { text } = await c.closed;
  assert.equal(parse(text).status, 408, text);
});

test('while 100 slow connections are held, /health and authenticated calls are served throughout; then each slow one is cut with 408', async () => {
  const token = await s.adminToken();
  const env = s.boot.environmentId;
  const slow = Array.from({ length: 100 }, (_, i) => i % 2 === 0
    ? slowClient(port, `POST /v1/environments/${env}/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`, '{'.padEnd(200, ' '), 50)
    : slowClient(port, 'GET /health HTTP/1.1\r\n', 'X-Slow: ' + 'b'.repeat(300), 50));
  let open = 0;
  await Promise.all(slow.map((c) => new Promise<void>((resolve) => c.socket.once('connect', () => { open++; resolve(); }))));
  assert.equal(open, 100);
  const served: number[] = [];
  for (let i = 0; i < 10; i++) {
    served.push(await health());
    served.push((await fetch(`http://127.0.0.1:${port}/v1/environments/${env}/users?limit=1`, { headers: { authorization: `Bearer ${token}` } })).status);
  }
  assert.deepEqual(served, Array(20).fill(200));
  const outcomes = await Promise.all(slow.map((c) => c.closed));
  for (const o of outcomes) assert.equal(parse(o.text).status, 408, `after ${o.trickled} bytes: ${o.text}`);
  assert.equal(await health(), 200);
});

test('threat: idle keep-alive connections hoarded — each is closed by the server after the keep-alive timeout', async () => {
  const sockets = Array.from({ length: 20 }, () => createConnection({ host: '127.0.0.1', port }));
  const outcomes = await Promise.all(sockets.map((socket) => new Promise<{ text: string; closedByServer: boolean }>((resolve) => {
    let text = '';
    let closedByServer = false;
    socket.setEncoding('utf8').on('data', (d: string) => { text += d; });
    socket.on('error', () => {});
    socket.on('end', () => { closedByServer = true; });
    socket.on('close', () => resolve({ text, closedByServer }));
    socket.on('connect', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
  })));
  for (const o of outcomes) {
    assert.equal(parse(o.text).status, 200, 'the request was answered and the connection kept alive');
    assert.match(o.text, /\r\nConnection: keep-alive/i);
    assert.equal(o.closedByServer, true, 'then the server ended the idle connection');
  }
});

test('threat: a connection flood past the cap — further connections are closed unanswered, and served again once a slot frees', async () => {
  const capped = await startTestServer({ config: { requestTimeout: '30000', headersTimeout: '30000', maxConnections: '5' } });
  try {
    const p = Number(new URL(await capped.listen()).port);
    const held = Array.from({ length: 5 }, () => slowClient(p, 'GET /health HTTP/1.1\r\n', '', 1000));
    await Promise.all(held.map((c) => new Promise((r) => c.socket.once('connect', r))));
    // Node counts a connection once it has accepted it; wait until all five are counted.
    for (let i = 0; i < 100; i++) {
      const n = await new Promise<number>((r) => capped.app.server.getConnections((_e, count) => r(count)));
      if (n === 5) break;
      await new Promise((r) => setImmediate(r));
    }
    const extra = slowClient(p, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', '');
    const { text } = await extra.closed;
    assert.equal(text, '', 'the sixth connection was closed without an answer');
    held[0]!.socket.destroy();
    await held[0]!.closed;
    // The freed slot serves again (the server notices the close on its next turn).
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await fetch(`http://127.0.0.1:${p}/health`, { headers: { connection: 'close' } }).then(async (r) => { await r.arrayBuffer(); return r.status; }, () => 0);
    }
    assert.equal(status, 200);
    for (const c of held) c.socket.destroy();
  } finally {
    await capped.close();
  }
});

test('the deadlines and the cap are configuration: flags or OPENMFA_* variables, checked at start naming the key', () => {
  const c = loadServerConfig({}, {});
  assert.deepEqual([c.requestTimeout, c.headersTimeout, c.keepAliveTimeout, c.maxConnections], [30_000, 10_000, 5_000, 10_000]);
  const e = loadServerConfig({ requestTimeout: '2000' }, { OPENMFA_HEADERS_TIMEOUT: '1000', OPENMFA_KEEP_ALIVE_TIMEOUT: '700', OPENMFA_MAX_CONNECTIONS: '0' });
  assert.deepEqual([e.requestTimeout, e.headersTimeout, e.keepAliveTimeout, e.maxConnections], [2000, 1000, 700, 0]);
  assert.throws(() => loadServerConfig({ requestTimeout: '1000', headersTimeout: '2000' }, {}), (err: unknown) => err instanceof ConfigError && err.key === 'headersTimeout');
  assert.throws(() => loadServerConfig({ keepAliveTimeout: '0' }, {}), (err: unknown) => err instanceof ConfigError && err.key === 'keepAliveTimeout');
  assert.throws(() => loadServerConfig({ requestTimeout: '30s' }, {}), (err: unknown) => err instanceof ConfigError && err.key === 'requestTimeout');
  assert.throws(() => loadServerConfig({ maxConnections: '-1' }, {}), (err: unknown) => err instanceof ConfigError && err.key === 'maxConnections');
});
