/**
 * Users (reference §10.3): create, read, replace (PUT), merge (PATCH), delete; uniqueness and
 * validation; the SCIM filter subset; cursor paging across pages in both directions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EMAIL_PATTERN } from '../../src/platform/users.js';
import { createEnvironment, createUser, DIALECT, startTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { assertError, invalidDataBody, notFoundBody, pathOf, UUID, walk } from './support.js';

const API = 'http://127.0.0.1:8080/v1';
const userLinks = {
  self: { href: `${API}/environments/<id>/users/<id>` },
  environment: { href: `${API}/environments/<id>` },
  population: { href: `${API}/environments/<id>/populations/<id>` },
  devices: { href: `${API}/environments/<id>/users/<id>/devices` },
};
const fixed = { account: { canAuthenticate: true, status: 'OK' }, lifecycle: { status: 'ACCOUNT_OK' }, verifyStatus: 'NOT_INITIATED', identityProvider: { type: 'PING_ONE' } };

describe(`users (${DIALECT})`, () => {
  let server: TestServer;
  let envId: string;
  let defaultPop: string;
  const users = (q = '') => `/v1/environments/${envId}/users${q}`;

  before(async () => {
    server = await startTestServer();
    envId = await createEnvironment(server, 'users');
    defaultPop = (await server.request('GET', `/v1/environments/${envId}/populations`)).body._embedded.populations[0].id;
  });
  after(() => server.close());

  const jdoe = {
    username: 'jdoe',
    email: 'jdoe@example.com',
    name: { given: 'Jane', family: 'Doe', formatted: 'Jane Doe' },
    nickname: 'JD',
    mobilePhone: '+15555550100',
    address: { locality: 'Springfield', countryCode: 'US' },
    enabled: true,
    mfaEnabled: true,
  };

  test('create: 201 with the whole resource, in the default population', async () => {
    const res = await server.request('POST', users(), { body: jdoe });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.id, UUID);
    assert.equal(res.body.environment.id, envId);
    assert.equal(res.body.population.id, defaultPop);
    assert.equal(res.body._links.self.href, `${API}/environments/${envId}/users/${res.body.id}`);
    assert.equal(res.body.createdAt, new Date(server.clock.now()).toISOString());
    assert.deepEqual(withoutVolatile(res.body), {
      _links: userLinks,
      id: '<id>',
      environment: { id: '<id>' },
      population: { id: '<id>' },
      username: 'jdoe',
      email: 'jdoe@example.com',
      enabled: true,
      mfaEnabled: true,
      ...fixed,
      name: { given: 'Jane', family: 'Doe', formatted: 'Jane Doe' },
      nickname: 'JD',
      mobilePhone: '+15555550100',
      address: { locality: 'Springfield', countryCode: 'US' },
      createdAt: '<time>',
      updatedAt: '<time>',
    });
    const read = await server.request('GET', users(`/${res.body.id}`));
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, res.body);
    await server.request('DELETE', users(`/${res.body.id}`));
  });

  test('PUT replaces: fields left out are cleared (enabled back to true); mfaEnabled is kept', async () => {
    const created = await server.request('POST', users(), { body: { ...jdoe, username: 'put-me', enabled: false, mfaEnabled: false } });
    server.clock.advance(1_000);
    const res = await server.request('PUT', users(`/${created.body.id}`), { body: { username: 'put-me-2', title: 'Engineer' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      _links: created.body._links,
      id: created.body.id,
      environment: { id: envId },
      population: { id: defaultPop },
      username: 'put-me-2',
      enabled: true,
      mfaEnabled: false,
      ...fixed,
      title: 'Engineer',
      createdAt: created.body.createdAt,
      updatedAt: new Date(server.clock.now()).toISOString(),
    });
    assert.deepEqual((await server.request('GET', users(`/${created.body.id}`))).body, res.body);
  });

  test('PUT without username → 400 REQUIRED_VALUE on username', async () => {
    const id = await createUser(server, envId, 'put-required');
    assertError(await server.request('PUT', users(`/${id}`), { body: { email: 'x@example.com' } }), 400,
      invalidDataBody({ code: 'REQUIRED_VALUE', target: 'username', message: 'username is required' }));
  });

  test('PATCH merges: only the given top-level fields change', async () => {
    const created = await server.request('POST', users(), { body: { ...jdoe, username: 'patch-me' } });
    server.clock.advance(1_000);
    const res = await server.request('PATCH', users(`/${created.body.id}`), { body: { nickname: 'Janie', enabled: false, email: 'jane@example.org' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      ...created.body,
      nickname: 'Janie',
      enabled: false,
      account: { canAuthenticate: false, status: 'OK' },
      email: 'jane@example.org',
      updatedAt: new Date(server.clock.now()).toISOString(),
    });
    const empty = await server.request('PATCH', users(`/${created.body.id}`), { body: {} });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, res.body);
  });

  test('delete: 204, then 404 NOT_FOUND on read, update and delete', async () => {
    const id = await createUser(server, envId, 'doomed');
    const del = await server.request('DELETE', users(`/${id}`));
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assertError(await server.request('GET', users(`/${id}`)), 404, notFoundBody);
    assertError(await server.request('PATCH', users(`/${id}`), { body: { nickname: 'x' } }), 404, notFoundBody);
    assertError(await server.request('PUT', users(`/${id}`), { body: { username: 'doomed' } }), 404, notFoundBody);
    assertError(await server.request('DELETE', users(`/${id}`)), 404, notFoundBody);
  });

  test('duplicate username → 400 INVALID_DATA, UNIQUENESS_VIOLATION on username (create, PUT and PATCH)', async () => {
    const dup = invalidDataBody({ code: 'UNIQUENESS_VIOLATION', target: 'username', message: 'A user with this username already exists in the environment' });
    await createUser(server, envId, 'taken');
    assertError(await server.request('POST', users(), { body: { username: 'taken', email: 'other@example.com' } }), 400, dup);
    const other = await createUser(server, envId, 'not-taken');
    assertError(await server.request('PUT', users(`/${other}`), { body: { username: 'taken' } }), 400, dup);
    assertError(await server.request('PATCH', users(`/${other}`), { body: { username: 'taken' } }), 400, dup);
    // Another environment may use the name.
    const env2 = await createEnvironment(server, 'users-2');
    assert.equal((await server.request('POST', `/v1/environments/${env2}/users`, { body: { username: 'taken' } })).status, 201);
  });

  test('invalid email → 400 INVALID_DATA, INVALID_VALUE on email with the allowed pattern', async () => {
    for (const email of ['not-an-email', 'a@b', 'two@@example.com', 'sp ace@example.com']) {
      const res = await server.request('POST', users(), { body: { username: `bad-email-${email.length}`, email } });
      assertError(res, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'email', message: 'email has an invalid format', innerError: { allowedPattern: EMAIL_PATTERN } }));
    }
  });

  test('a population of another environment cannot be assigned: 400 INVALID_VALUE on population.id', async () => {
    const env2 = await createEnvironment(server, 'users-foreign-pop');
    const foreignPop = (await server.request('GET', `/v1/environments/${env2}/populations`)).body._embedded.populations[0].id as string;
    const expected = invalidDataBody({ code: 'INVALID_VALUE', target: 'population.id', message: 'No population with this ID exists in the environment' });
    assertError(await server.request('POST', users(), { body: { username: 'foreign-pop', population: { id: foreignPop } } }), 400, expected);
    const id = await createUser(server, envId, 'foreign-pop-later');
    assertError(await server.request('PATCH', users(`/${id}`), { body: { population: { id: foreignPop } } }), 400, expected);
    assertError(await server.request('PUT', users(`/${id}`), { body: { username: 'foreign-pop-later', population: { id: 'nope' } } }), 400, expected);
  });

  test('read-only fields are not taken from input: id, environment, createdAt → 400 on each', async () => {
    const res = await server.request('POST', users(), { body: { username: 'ro', id: 'mine', environment: { id: envId }, createdAt: '2020-01-01T00:00:00.000Z' } });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body.details.map((d: { target: string }) => d.target).sort(), ['createdAt', 'environment', 'id']);
  });
});

describe(`users list: SCIM filters (${DIALECT})`, () => {
  let server: TestServer;
  let envId: string;
  let staff: string;
  const ids: Record<string, string> = {};

  before(async () => {
    server = await startTestServer();
    envId = await createEnvironment(server, 'filters');
    staff = (await server.request('POST', `/v1/environments/${envId}/populations`, { body: { name: 'Staff' } })).body.id;
    const people: Array<[string, string, boolean]> = [
      ['alice', 'alice@example.com', false],
      ['albert', 'albert@corp.test', false],
      ['bob', 'bob@example.com', true],
      ['carol', 'carol@corp.test', true],
      ['Dave_1', 'dave%1@example.com', false],
    ];
    for (const [username, email, inStaff] of people) {
      server.clock.advance(1);
      ids[username] = await createUser(server, envId, username, { email, ...(inStaff ? { population: { id: staff } } : {}) });
    }
  });
  after(() => server.close());

  const names = async (filter: string) => {
    const res = await server.request('GET', `/v1/environments/${envId}/users?filter=${encodeURIComponent(filter)}`);
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    assert.equal(res.body.count, res.body.size);
    return res.body._embedded.users.map((u: { username: string }) => u.username);
  };

  test('username eq "x" (case-insensitive)', async () => {
    assert.deepEqual(await names('username eq "bob"'), ['bob']);
    assert.deepEqual(await names('USERNAME EQ "BOB"'), ['bob']);
    assert.deepEqual(await names('username eq "nobody"'), []);
  });

  test('email sw "a"', async () => {
    assert.deepEqual(await names('email sw "a"'), ['alice', 'albert']);
  });

  test('population.id eq "…"', async () => {
    assert.deepEqual(await names(`population.id eq "${staff}"`), ['bob', 'carol']);
  });

  test('and / or, and parentheses change the grouping', async () => {
    assert.deepEqual(await names(`email ew "corp.test" and population.id eq "${staff}"`), ['carol']);
    assert.deepEqual(await names('username eq "alice" or username eq "carol"'), ['alice', 'carol']);
    // `and` binds tighter than `or` …
    assert.deepEqual(await names('username eq "alice" or username eq "bob" and email ew "corp.test"'), ['alice']);
    // … unless parentheses say otherwise.
    assert.deepEqual(await names('(username eq "alice" or username eq "bob") and email ew "example.com"'), ['alice', 'bob']);
    assert.deepEqual(await names('(username sw "a" or username sw "c") and (email co "corp")'), ['albert', 'carol']);
  });

  test('_ and % in values match literally', async () => {
    assert.deepEqual(await names('username sw "dave_"'), ['Dave_1']);
    assert.deepEqual(await names('username co "_"'), ['Dave_1']);
    assert.deepEqual(await names('email co "%"'), ['Dave_1']);
    assert.deepEqual(await names('email sw "%"'), []);
  });

  const filterError = (message: string, innerError?: Record<string, unknown>) =>
    invalidDataBody({ code: 'INVALID_FILTER', target: 'filter', message, ...(innerError ? { innerError } : {}) });
  const bad = (filter: string) => server.request('GET', `/v1/environments/${envId}/users?filter=${encodeURIComponent(filter)}`);

  test('an unknown attribute → 400 INVALID_DATA, INVALID_FILTER on filter, naming the supported attributes', async () => {
    assertError(await bad('password eq "x"'), 400, filterError('the filter cannot use the attribute "password"', {
      supportedAttributes: ['id', 'username', 'email', 'population.id', 'enabled'],
    }));
  });

  test('a bad operator → 400 INVALID_FILTER naming the supported operators', async () => {
    assertError(await bad('username gt "a"'), 400, filterError('the filter uses an unsupported operator', { supportedOperators: ['eq', 'ne', 'sw', 'ew', 'co'] }));
  });

  test('a boolean attribute with another operator than eq/ne, or a value other than true/false → 400 INVALID_FILTER on filter', async () => {
    // The threat: `enabled sw "t"` was read as `enabled eq false` and answered a list of the wrong users.
    const notBoolean = filterError('the enabled attribute is a boolean: it takes eq or ne', { supportedOperators: ['eq', 'ne'] });
    for (const f of ['enabled sw "t"', 'enabled co "true"', 'enabled ew "e"', 'ENABLED SW "true"', 'username eq "bob" or enabled sw "t"']) {
      assertError(await bad(f), 400, notBoolean);
    }
    assertError(await bad('enabled gt true'), 400, filterError('the filter uses an unsupported operator', { supportedOperators: ['eq', 'ne', 'sw', 'ew', 'co'] }));
    for (const f of ['enabled eq "t"', 'enabled eq "yes"', 'enabled ne ""', '(enabled eq "1")']) {
      assertError(await bad(f), 400, filterError('the enabled attribute is a boolean: it is compared with true or false'));
    }
    assert.deepEqual(await names('enabled eq true and username eq "bob"'), ['bob']);
    assert.deepEqual(await names('enabled ne true'), []);
    assert.deepEqual(await names('enabled eq "FALSE"'), []);
  });

  test('an unterminated string, an unclosed parenthesis, trailing text, nothing → 400 INVALID_FILTER', async () => {
    assertError(await bad('username eq "alice'), 400, filterError('an unterminated string in the filter'));
    assertError(await bad('(username eq "alice"'), 400, filterError('a parenthesis in the filter is not closed'));
    assertError(await bad('username eq "alice" bob'), 400, filterError('the filter has unexpected text after a complete expression'));
    assertError(await bad(''), 400, filterError('the filter ends too early'));
    assertError(await bad('username eq alice'), 400, filterError('the filter expects a quoted value after the operator'));
  });
});

describe(`users list: paging (${DIALECT})`, () => {
  let server: TestServer;
  let envId: string;
  const all: string[] = [];

  before(async () => {
    server = await startTestServer();
    envId = await createEnvironment(server, 'paging');
    // Same created_at for all of them: the order falls back to the id, and pages must stay stable.
    for (let i = 0; i < 7; i++) all.push(await createUser(server, envId, `p${i}`, { email: `p${i}@${i % 2 ? 'odd' : 'even'}.example.com` }));
    all.sort();
  });
  after(() => server.close());

  const idsOf = (page: any) => page._embedded.users.map((u: { id: string }) => u.id) as string[];

  test('limit=3 gives 3 pages through _links.next: count 7, sizes 3/3/1, no duplicates or gaps; prev walks back', async () => {
    const pages = await walk(server, `/v1/environments/${envId}/users?limit=3`, 'next');
    assert.equal(pages.length, 3);
    assert.deepEqual(pages.map((p) => p.count), [7, 7, 7]);
    assert.deepEqual(pages.map((p) => p.size), [3, 3, 1]);
    assert.deepEqual(pages.flatMap(idsOf), all);
    assert.equal(pages[0]._links.prev, undefined);
    assert.equal(pages[2]._links.next, undefined);
    assert.match(pages[0]._links.next.href, /^http:\/\/127\.0\.0\.1:8080\/v1\/environments\/[0-9a-f-]{36}\/users\?limit=3&cursor=[A-Za-z0-9_-]+$/);

    const back = await walk(server, pathOf(server, pages[2]._links.prev.href), 'prev');
    assert.deepEqual(back.map(idsOf), [all.slice(3, 6), all.slice(0, 3)]);
    assert.equal(back[1]._links.prev, undefined);
    assert.ok(back[0]._links.next, 'a page reached backwards still links forwards');
    const forward = await server.request('GET', pathOf(server, back[0]._links.next.href));
    assert.deepEqual(idsOf(forward.body), all.slice(6));
  });

  test('a page link keeps the filter', async () => {
    const pages = await walk(server, `/v1/environments/${envId}/users?limit=2&filter=${encodeURIComponent('email ew "even.example.com"')}`, 'next');
    assert.deepEqual(pages.map((p) => p.size), [2, 2]);
    assert.deepEqual(pages.map((p) => p.count), [4, 4]);
    assert.ok(pages.flatMap((p) => p._embedded.users).every((u: { email: string }) => u.email.endsWith('@even.example.com')));
  });

  test('limit=0 or limit=abc → 400 INVALID_DATA on limit; a garbage cursor → 400 on cursor', async () => {
    const limitError = invalidDataBody({
      code: 'INVALID_PARAMETER', target: 'limit', message: 'limit must be a whole number from 1 to 200', innerError: { rangeMinimumValue: 1, rangeMaximumValue: 200 },
    });
    assertError(await server.request('GET', `/v1/environments/${envId}/users?limit=0`), 400, limitError);
    assertError(await server.request('GET', `/v1/environments/${envId}/users?limit=abc`), 400, limitError);
    assertError(await server.request('GET', `/v1/environments/${envId}/users?limit=-1`), 400, limitError);
    const cursorError = invalidDataBody({ code: 'INVALID_PARAMETER', target: 'cursor', message: 'cursor is not one this server issued' });
    for (const cursor of ['garbage', Buffer.from('{"d":"x"}').toString('base64url'), Buffer.from('{"d":"a","t":"1","i":"x"}').toString('base64url'), '%7B']) {
      assertError(await server.request('GET', `/v1/environments/${envId}/users?cursor=${cursor}`), 400, cursorError);
    }
  });
});
