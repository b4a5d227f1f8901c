/**
 * Threat: secrets sent in a query string — an OTP, an authorization code, a client secret, an
 * access token, a password — are written to the request log, where anyone who reads logs (or
 * ships them elsewhere) can use them (issue #13, quality bar S8).
 *
 * Blocked by: the request log's `req` serializer (src/http/request-log.ts) writes the URL with
 * the value of every secret-bearing query parameter replaced by REDACTED — one list, there —
 * and keeps the parameters a request is followed by (cursor, limit, filter). The same
 * serializer is the one place that decides what of a request is logged: never its headers
 * (Authorization, Cookie) nor its body — the last test checks both.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { REDACTED, redactUrl } from '../../src/http/request-log.js';
import { startTestServer, type TestServer } from '../helper.js';

let s: TestServer;
before(async () => { s = await startTestServer({ config: { logLevel: 'debug' } }); });
after(async () => { await s.close(); });

const SECRETS = {
  otp: '493027',
  code: 'SplxlOBeZQQYbYS6WxSbIA',
  client_secret: 'cs-7f3a9c2e41d84b0f',
  access_token: 'eyJhbGciOiJFUzI1NiJ9.eyJzZWNyZXQiOjF9.c2lnbmF0dXJl',
  password: 'hunter2-correct-horse',
  token: 'tok-5b1e2d9a',
  secret: 'JBSWY3DPEHPK3PXP',
  Client_Secret: 'mixed-case-9d8c7b',
  'refresh%5Ftoken': 'rt-encoded-name-42',
  assertion: 'assertion-jwt-value-77',
};

test('threat: secrets in a query string reach the request log — every secret-bearing value is redacted, on every route and status', async () => {
  const query = Object.entries(SECRETS).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&') + '&cursor=keep-this-cursor&limit=2';
  const env = s.boot.environmentId;
  const urls = [
    `/v1/environments/${env}/users?${query}`, // 200
    `/v1/environments/${env}/users?${query}&limit=x`, // 400
    `/v1/environments/${env}/nothing-here?${query}`, // 404
    `/${env}/as/token?${query}`, // the token endpoint, 401/400
    `/health?${query}`,
  ];
  const statuses: number[] = [];
  for (const url of urls) {
    statuses.push((await s.request('GET', url)).status);
    statuses.push((await s.request('POST', url, { token: null, contentType: 'application/x-www-form-urlencoded', raw: 'grant_type=client_credentials' })).status);
  }
  assert.ok(statuses.some((x) => x === 200) && statuses.some((x) => x >= 400), JSON.stringify(statuses));
  const log = s.logs.text;
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.equal(log.includes(value), false, `${name}'s value is in the log`);
    assert.equal(log.includes(encodeURIComponent(value)), false, `${name}'s encoded value is in the log`);
  }
  assert.match(log, new RegExp(`otp=${REDACTED}`));
  assert.match(log, /cursor=keep-this-cursor/, 'a cursor is kept: it is how a request is followed');
  // Each request still has its line (at debug: incoming and completed).
  assert.ok(s.logs.lines.filter((l) => l.includes('"request completed"')).length >= urls.length * 2);
});

test('redactUrl: names matched case-insensitively and after decoding; other parameters, order and encoding kept', () => {
  assert.equal(redactUrl('/a?limit=1&otp=123&cursor=abc'), `/a?limit=1&otp=${REDACTED}&cursor=abc`);
  assert.equal(redactUrl('/a?OTP=1&Access_Token=2&x_client_secret=3&my.password=4'), `/a?OTP=${REDACTED}&Access_Token=${REDACTED}&x_client_secret=${REDACTED}&my.password=${REDACTED}`);
  assert.equal(redactUrl('/a?%63ode=abc'), `/a?%63ode=${REDACTED}`);
  assert.equal(redactUrl('/a?filter=username%20eq%20%22x%22&expand=order'), '/a?filter=username%20eq%20%22x%22&expand=order');
  assert.equal(redactUrl('/a?otp'), '/a?otp', 'a name without a value has nothing to hide');
  assert.equal(redactUrl('/a?%zz=1&code=2'), `/a?%zz=1&code=${REDACTED}`, 'a name that does not decode is kept as sent');
  assert.equal(redactUrl('/no-query'), '/no-query');
});

test('threat: a sent code reaches the log — sent, listed in the outbox (with wait), checked, and sent as ?otp=, it is in no log line, at trace level', async () => {
  const t = await startTestServer({ config: { logLevel: 'trace' } });
  after(() => t.close());
  const env = t.boot.environmentId;
  const user = await t.request('POST', `/v1/environments/${env}/users`, { body: { username: 'redact.me', email: 'redact.me@example.com' } });
  const devices = `/v1/environments/${env}/users/${user.body.id}/devices`;
  const held = t.request('GET', `/v1/environments/${env}/outbox?recipient=redact.me%40example.com&wait=30`);
  await t.ctx.notifier.arrivals.next('waiting');
  const device = await t.request('POST', devices, { body: { type: 'EMAIL', email: 'redact.me@example.com', status: 'ACTIVATION_REQUIRED' } });
  assert.equal(device.status, 201, device.text);
  const listed = await held;
  const code = listed.body._embedded.messages[0].otp as string;
  assert.match(code, /^[0-9]{6}$/);
  const activated = await t.request('POST', `${devices}/${device.body.id}?otp=${code}`, { contentType: 'application/vnd.pingidentity.device.activate+json', body: { otp: code } });
  assert.equal(activated.status, 200, activated.text);
  t.clock.advance(1000);
  const flow = await t.request('POST', `/${env}/deviceAuthentications`, { body: { user: { id: user.body.id } } });
  const second = (await t.request('GET', `/v1/environments/${env}/outbox?deviceId=${device.body.id}&limit=1`)).body._embedded.messages[0].otp as string;
  assert.notEqual(second, code);
  const checked = await t.request('POST', `/${env}/deviceAuthentications/${flow.body.id}`, { contentType: 'application/vnd.pingidentity.otp.check+json', body: { otp: second } });
  assert.equal(checked.body.status, 'COMPLETED', checked.text);
  assert.ok(t.logs.lines.filter((l) => l.includes('/outbox')).length >= 2, 'the outbox requests are logged');
  for (const secret of [code, second]) assert.equal(t.logs.text.includes(secret), false, `the code ${secret} is in the log`);
});

test('threat: a bearer token, a cookie or a request body reaches the log — at trace level, on a 201, a 400, a 200 and a 401, none of them is in any line', async () => {
  const t = await startTestServer({ config: { logLevel: 'trace' } });
  after(() => t.close());
  const env = t.boot.environmentId;
  const token = await t.adminToken();
  const cookie = 'session=cookie-secret-3e91c0';
  const bodySecret = 'body-secret-value-5a7d2f';
  const created = await t.request('POST', `/v1/environments/${env}/users`, { body: { username: 'log.body', email: 'log.body@example.com', nickname: bodySecret }, headers: { cookie } });
  assert.equal(created.status, 201, created.text);
  const invalid = await t.request('POST', `/v1/environments/${env}/users`, { body: { username: 'log.body2', unknownMember: bodySecret }, headers: { cookie } });
  assert.equal(invalid.status, 400, invalid.text);
  const read = await t.request('GET', `/v1/environments/${env}/users`, { headers: { cookie } });
  assert.equal(read.status, 200, read.text);
  const refused = await t.request('GET', `/v1/environments/${env}/users`, { token: `${token.slice(0, -4)}AAAA`, headers: { cookie } });
  assert.equal(refused.status, 401, refused.text);
  assert.ok(t.logs.lines.filter((l) => l.includes('request completed')).length >= 4, 'the requests are logged');
  for (const [what, secret] of [['token', token], ['token signature', token.split('.')[2]!], ['cookie', 'cookie-secret-3e91c0'], ['body', bodySecret]] as const) {
    assert.equal(t.logs.text.includes(secret), false, `the ${what} is in the log`);
  }
});
