/**
 * Correlation headers (reference wave 2 §8): X-Ping-External-Transaction-ID and
 * X-Ping-External-Session-ID are taken on every endpoint, kept to 100 characters with
 * PingOne's character rule, generated when absent, returned on the response (errors
 * included) and written on the request's log line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';

let server: TestServer;
useTestServer(async (s) => {
  server = s;
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const envs = '/v1/environments';

test('absent: both are generated (UUIDs), returned, and Correlation-Id names the request', async () => {
  const res = await server.request('GET', envs);
  assert.equal(res.status, 200);
  assert.match(String(res.headers['x-ping-external-transaction-id']), UUID);
  assert.match(String(res.headers['x-ping-external-session-id']), UUID);
  assert.notEqual(res.headers['x-ping-external-transaction-id'], res.headers['x-ping-external-session-id']);
  assert.match(String(res.headers['correlation-id']), UUID);
});

/** Header bytes as a client sends them (UTF-8), and as Node hands them over (Latin-1). */
const wire = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const unwire = (s: unknown) => Buffer.from(String(s), 'latin1').toString('utf8');

test('sent: echoed as sent when within PingOne\'s rule (Unicode letters and digits included), on success and on errors alike', async () => {
  const headers = { 'X-Ping-External-Transaction-Id': 'txn-123_4.5/6@7=8#9+0', 'X-Ping-External-Session-Id': wire('Sitzung-Ünïcødé-١٢٣') };
  for (const res of [await server.request('GET', envs, { headers }), await server.request('GET', envs, { headers, token: null })]) {
    assert.equal(res.headers['x-ping-external-transaction-id'], 'txn-123_4.5/6@7=8#9+0', res.text);
    assert.equal(unwire(res.headers['x-ping-external-session-id']), 'Sitzung-Ünïcødé-١٢٣');
  }
});

test('too long: kept to its first 100 characters; characters outside the rule become _', async () => {
  const res = await server.request('GET', envs, { headers: { 'x-ping-external-transaction-id': 'a'.repeat(150), 'x-ping-external-session-id': 'a b<c>;"d\'e$f' + wire('\u{1F600}') + '\xff' } });
  assert.equal(res.headers['x-ping-external-transaction-id'], 'a'.repeat(100));
  assert.equal(res.headers['x-ping-external-session-id'], 'a_b_c___d_e_f__', 'an emoji and a byte that is not UTF-8 become _');
});

test('the request\'s log line carries both IDs beside its reqId', async () => {
  const res = await server.request('GET', `${envs}?limit=1`, { headers: { 'x-ping-external-transaction-id': 'logged-txn', 'x-ping-external-session-id': 'logged-session' } });
  assert.equal(res.status, 200);
  const line = server.logs.lines.map((l) => JSON.parse(l)).find((l) => l.req?.transactionId === 'logged-txn');
  assert.ok(line, 'a log line with the transaction ID');
  assert.equal(line.req.sessionId, 'logged-session');
  assert.equal(line.reqId, res.headers['correlation-id']);
  assert.equal(line.msg, 'request completed');
});
