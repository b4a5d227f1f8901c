/**
 * The error envelope (reference §7.3): every error class with its exact status and body, one
 * detail per bad field, a fresh UUID `id` per response, and never a 500 for bad input.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { DETAIL_CODES, ERROR_CODES, renderError } from '../../src/http/errors.js';
import { notSent } from '../../src/notify/refusal.js';
import { createEnvironment, createUser, createWorker, DIALECT, startTestServer, type Response, type TestServer } from '../helper.js';
import { assertError, forbiddenBody, invalidDataBody, MSG, notFoundBody, unauthorizedBody, UUID } from './support.js';

describe(`error responses (${DIALECT})`, () => {
  let server: TestServer;
  let envA: string;
  let envB: string;
  let userB: string;
  const clock = new ManualClock('2026-02-17T13:34:34.840Z');
  const seen: Response[] = [];
  /** Every request of this suite goes through here, so the last tests can look at all of them. */
  const call = async (method: string, url: string, options: Parameters<TestServer['request']>[2] = {}) => {
    const res = await server.request(method, url, options);
    seen.push(res);
    return res;
  };

  before(async () => {
    server = await startTestServer({ clock });
    envA = await createEnvironment(server, 'A');
    envB = await createEnvironment(server, 'B');
    userB = await createUser(server, envB, 'b-user');
  });
  after(() => server.close());

  test('schema failures: 400 INVALID_DATA with one detail per bad field, nested targets as paths', async () => {
    const res = await call('POST', `/v1/environments/${envA}/users`, {
      body: { username: '', email: 'nope', enabled: 'yes', name: { given: 5, family: 'Doe', nick: 'x' }, address: { postalCode: 'x'.repeat(40) } },
    });
    assert.equal(res.status, 400, res.text);
    const byTarget = (a: { target: string }, b: { target: string }) => a.target.localeCompare(b.target);
    assert.deepEqual({ ...res.body, id: '<id>', details: [...res.body.details].sort(byTarget) }, {
      id: '<id>',
      code: 'INVALID_DATA',
      message: MSG.INVALID_DATA,
      details: [
        { code: 'SIZE_LIMIT_EXCEEDED', target: 'address.postalCode', message: 'address.postalCode must be at most 32 characters', innerError: { maximumValue: 32 } },
        { code: 'INVALID_VALUE', target: 'email', message: 'email has an invalid format', innerError: res.body.details.find((d: { target: string }) => d.target === 'email').innerError },
        { code: 'INVALID_VALUE', target: 'enabled', message: 'enabled must be boolean' },
        { code: 'INVALID_VALUE', target: 'name.given', message: 'name.given must be string' },
        { code: 'INVALID_VALUE', target: 'name.nick', message: 'name.nick is not a recognised property here' },
        { code: 'EMPTY_VALUE', target: 'username', message: 'username must not be empty' },
      ].sort(byTarget),
    });
    assert.match(res.body.id, UUID);
  });

  test('a body that is not an object: 400 INVALID_DATA on the body', async () => {
    const res = await call('POST', `/v1/environments/${envA}/users`, { raw: '[1,2]' });
    assertError(res, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'body', message: 'body must be object' }));
  });

  test('malformed JSON: 400 INVALID_REQUEST', async () => {
    for (const raw of ['{"username":', '{username: "x"}', '{"a":1}}']) {
      assertError(await call('POST', `/v1/environments/${envA}/users`, { raw }), 400, { code: 'INVALID_REQUEST', message: 'The request body is not valid JSON' });
    }
  });

  test('unsupported Content-Type: 415 INVALID_REQUEST, detail on Content-Type', async () => {
    assertError(await call('POST', `/v1/environments/${envA}/users`, { raw: 'username=x', contentType: 'application/x-www-form-urlencoded' }), 415, {
      code: 'INVALID_REQUEST', message: MSG.UNSUPPORTED_MEDIA_TYPE,
      details: [{ code: 'INVALID_VALUE', target: 'Content-Type', message: 'Content-Type application/x-www-form-urlencoded is not accepted here' }],
    });
    assertError(await call('PUT', `/v1/environments/${envA}`, { raw: '<env/>', contentType: 'text/xml' }), 415, {
      code: 'INVALID_REQUEST', message: MSG.UNSUPPORTED_MEDIA_TYPE,
      details: [{ code: 'INVALID_VALUE', target: 'Content-Type', message: 'Content-Type text/xml is not accepted here' }],
    });
    assertError(await call('POST', `/v1/environments/${envA}/users`, { raw: '{"username":"x"}', contentType: null }), 415, {
      code: 'INVALID_REQUEST', message: MSG.UNSUPPORTED_MEDIA_TYPE,
      details: [{ code: 'INVALID_VALUE', target: 'Content-Type', message: 'a Content-Type header is required' }],
    });
  });

  test('Content-Type parameters do not matter: application/json; charset=utf-8 is parsed as JSON', async () => {
    const ok = await call('POST', `/v1/environments/${envA}/users`, { body: { username: 'charset' }, contentType: 'application/json; charset=utf-8' });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.username, 'charset');
    const upper = await call('PATCH', `/v1/environments/${envA}/users/${ok.body.id}`, { body: { nickname: 'cs' }, contentType: 'Application/JSON;charset=UTF-8' });
    assert.equal(upper.status, 200, upper.text);
    assert.equal(upper.body.nickname, 'cs');
  });

  test('a request without a valid token learns nothing: 401 ACCESS_FAILED with WWW-Authenticate: Bearer (missing, malformed, wrong scheme, expired)', async () => {
    const url = `/v1/environments/${envA}/users`;
    const cases: Array<[Parameters<TestServer['request']>[2], string]> = [
      [{ token: null }, 'An Authorization header with a Bearer token is required'],
      [{ token: 'not-a-jwt' }, 'the JWT does not have three parts'],
      [{ token: 'a.b.c' }, 'the JWT is not canonical base64url'],
      [{ token: 'bm9wZQ.e30.c2ln' }, 'the JWT header is not a JSON object'],
      [{ token: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } }, 'The Authorization header is not a Bearer token'],
      [{ token: null, headers: { authorization: 'Bearer' } }, 'The Authorization header is not a Bearer token'],
    ];
    for (const [options, message] of cases) {
      const res = await call('GET', url, options);
      assertError(res, 401, unauthorizedBody(message));
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    // A bad token on a request with a bad body still gets 401, not a validation answer.
    const bodyless = await call('POST', url, { token: null, body: { nope: true } });
    assertError(bodyless, 401, unauthorizedBody('An Authorization header with a Bearer token is required'));

    const { token } = await createWorker(server, envA, 'soon expired');
    clock.advance(3600_000);
    const expired = await call('GET', url, { token });
    assertError(expired, 401, unauthorizedBody('the access token has expired'));
    assert.equal(expired.headers['www-authenticate'], 'Bearer');
  });

  test('a caller cannot tell a foreign environment from a nonexistent one: both 403 ACCESS_FAILED, bodies identical except id', async () => {
    const { token } = await createWorker(server, envA, 'probe');
    const foreign = await call('GET', `/v1/environments/${envB}/users`, { token });
    const missing = await call('GET', '/v1/environments/0783541c-a172-8d40-0783-541ca1728d40/users', { token });
    const missingAdmin = await call('GET', '/v1/environments/0783541c-a172-8d40-0783-541ca1728d40/users');
    const notUuid = await call('GET', `/v1/environments/${'x'.repeat(100)}`, { token });
    for (const res of [foreign, missing, missingAdmin, notUuid]) assertError(res, 403, forbiddenBody);
    const { id: _a, ...a } = foreign.body;
    const { id: _b, ...b } = missing.body;
    assert.deepEqual(a, b);
    assert.notEqual(foreign.body.id, missing.body.id);
    assert.deepEqual(Object.keys(foreign.headers).sort(), Object.keys(missing.headers).sort());
  });

  test('unknown route or method: 404 NOT_FOUND (with or without a token)', async () => {
    assertError(await call('GET', '/v1/nothing-here'), 404, notFoundBody);
    assertError(await call('GET', '/v1/nothing-here', { token: null }), 404, notFoundBody);
    assertError(await call('PATCH', '/v1/environments'), 404, notFoundBody);
    assertError(await call('DELETE', '/'), 404, notFoundBody);
    // GET / is the console's 302 (test/console/routes.test.ts).
  });

  test('an oversized body (> 64 KiB): 413', async () => {
    const big = JSON.stringify({ username: 'big', nickname: 'x'.repeat(64 * 1024) });
    assertError(await call('POST', `/v1/environments/${envA}/users`, { raw: big }), 413, { code: 'INVALID_REQUEST', message: MSG.TOO_LARGE });
    assert.equal((await call('GET', `/v1/environments/${envA}/users?filter=${encodeURIComponent('username eq "big"')}`)).body.count, 0);
  });

  test('environment B’s user ID under environment A’s path is not found: 404 NOT_FOUND on every method', async () => {
    const url = `/v1/environments/${envA}/users/${userB}`;
    assertError(await call('GET', url), 404, notFoundBody);
    assertError(await call('PUT', url, { body: { username: 'hijack' } }), 404, notFoundBody);
    assertError(await call('PATCH', url, { body: { nickname: 'hijack' } }), 404, notFoundBody);
    assertError(await call('DELETE', url), 404, notFoundBody);
    const still = await call('GET', `/v1/environments/${envB}/users/${userB}`);
    assert.equal(still.status, 200);
    assert.equal(still.body.username, 'b-user');
    assert.equal(still.body.nickname, undefined);
  });

  test('no request above answered 500; every error id is a UUID and differs per response', () => {
    assert.ok(seen.length > 20);
    assert.deepEqual(seen.filter((r) => r.status >= 500).map((r) => r.text), []);
    const errors = seen.filter((r) => r.status >= 400);
    const ids = errors.map((r) => r.body.id as string);
    for (const id of ids) assert.match(id, UUID);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(!server.logs.text.includes('"level":50'), 'no error was logged');
  });
});

describe(`an unexpected error (${DIALECT})`, () => {
  let server: TestServer;
  before(async () => {
    // A route only this test has, added before the app is made ready, that fails as a bug would.
    server = await startTestServer({
      beforeReady: (app) => {
        app.get('/test/throws', async () => {
          throw new Error('boom: the internal detail a caller must not see');
        });
      },
    });
  });
  after(() => server.close());

  test('threat: a fault leaks its message or stack to the caller — 500 UNEXPECTED_ERROR, the bare envelope; the stack is logged', async () => {
    const res = await server.request('GET', '/test/throws');
    assert.equal(res.status, 500, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const { id, ...rest } = res.body;
    assert.match(id, UUID);
    assert.deepEqual(rest, { code: 'UNEXPECTED_ERROR', message: 'The request could not be completed. An unexpected error occurred.' });
    assert.ok(!res.text.includes('boom') && !res.text.includes('errors.test'), res.text);
    const logged = server.logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string; stack: string } })
      .filter((l) => l.msg === 'unexpected error');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.level, 50);
    assert.equal(logged[0]!.err?.message, 'boom: the internal detail a caller must not see');
    assert.match(logged[0]!.err?.stack ?? '', /errors\.test\.ts/);
  });
});

describe(`stored JSON that does not hold what the server wrote (${DIALECT})`, () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(() => server.close());

  test('threat: a tampered row is answered as if it were sound — it is a logged 500 instead', async () => {
    const env = await createEnvironment(server, 'tampered');
    await server.store.db.updateTable('environments').set({ extra: '{"subtype":5}' }).where('id', '=', env).execute();
    const res = await server.request('GET', `/v1/environments/${env}`);
    assert.equal(res.status, 500, res.text);
    const { id, ...rest } = res.body;
    assert.match(id, UUID);
    assert.deepEqual(rest, { code: 'UNEXPECTED_ERROR', message: 'The request could not be completed. An unexpected error occurred.' });
    assert.match(server.logs.text, /the stored environment does not match its schema/);
  });
});

describe('the README error table', () => {
  /** `| `CODE` | 400, 415 | meaning |` rows of the two tables under Decisions → Errors. */
  const rows = (): Map<string, string>[] => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const errors = readme.slice(readme.indexOf('* **Errors.**'), readme.indexOf('* **Licences.**'));
    const tables = errors.split(/\n\s*\n/).filter((block) => block.trim().startsWith('| code |'));
    return tables.map((t) => new Map(t.split('\n').map((l) => /^\s*\| `([A-Z_]+)` \| ([0-9, ]+) \|/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!.trim()])));
  };

  test('lists every error code with exactly the statuses it is answered with', () => {
    const [codes] = rows();
    assert.deepEqual(Object.fromEntries(codes ?? []), Object.fromEntries(Object.entries(ERROR_CODES).map(([code, statuses]) => [code, statuses.join(', ')])));
  });

  test('lists every detail code the server can emit, and no other', () => {
    const [, details] = rows();
    assert.deepEqual([...(details ?? new Map()).keys()].sort(), [...DETAIL_CODES].sort());
  });
});

test('the notifier\'s refusals as the API answers them: a bad recipient on its field, a gone user 404, shutdown 503', () => {
  const answer = (e: ReturnType<typeof notSent>) => {
    const { id: _id, ...body } = renderError(e);
    return { status: e.status, headers: e.headers, body };
  };
  assert.deepEqual(answer(notSent({ ok: false, reason: 'BadRecipient', target: 'phone', message: 'The recipient is empty' })), {
    status: 400, headers: {},
    body: { code: 'INVALID_DATA', message: MSG.INVALID_DATA, details: [{ code: 'INVALID_VALUE', target: 'phone', message: 'The recipient is empty' }] },
  });
  assert.deepEqual(answer(notSent({ ok: false, reason: 'UnknownUser' })), {
    status: 404, headers: {}, body: { code: 'NOT_FOUND', message: 'The request could not be completed. The requested resource was not found.' },
  });
  assert.deepEqual(answer(notSent({ ok: false, reason: 'Closed' })), {
    status: 503, headers: { 'Retry-After': '1' }, body: { code: 'SERVICE_UNAVAILABLE', message: 'The request could not be completed. The service is temporarily unavailable.' },
  });
});
