/**
 * Populations (reference §10.2): one default per environment, made with it; CRUD; the
 * default flag moves; the default one and one with users cannot be deleted; names are
 * unique per environment; userCount is counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEnvironment, createUser, DIALECT, startTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { assertError, invalidDataBody, MSG, notFoundBody, UUID } from './support.js';

const API = 'http://127.0.0.1:8080/v1';
const popLinks = { self: { href: `${API}/environments/<id>/populations/<id>` }, environment: { href: `${API}/environments/<id>` } };

describe(`populations (${DIALECT})`, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  const base = (envId: string) => `/v1/environments/${envId}/populations`;

  test('a new environment has exactly one population, "Default", marked default, with no users', async () => {
    const envId = await createEnvironment(server, 'pop-default');
    const res = await server.request('GET', base(envId));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(withoutVolatile(res.body), {
      _links: { self: { href: `${API}/environments/<id>/populations` } },
      _embedded: {
        populations: [{
          _links: popLinks, id: '<id>', environment: { id: '<id>' }, name: 'Default', default: true, userCount: 0, createdAt: '<time>', updatedAt: '<time>',
        }],
      },
      count: 1,
      size: 1,
    });
    assert.equal(res.body._embedded.populations[0].environment.id, envId);
  });

  test('create, read, replace (PUT), delete', async () => {
    const envId = await createEnvironment(server, 'pop-crud');
    const created = await server.request('POST', base(envId), {
      body: { name: 'Staff', description: 'people who work here', preferredLanguage: 'en', alternativeIdentifiers: ['staff', 'employees'] },
    });
    assert.equal(created.status, 201, created.text);
    assert.match(created.body.id, UUID);
    assert.equal(created.body._links.self.href, `${API}/environments/${envId}/populations/${created.body.id}`);
    assert.deepEqual(withoutVolatile(created.body), {
      _links: popLinks,
      id: '<id>',
      environment: { id: '<id>' },
      name: 'Staff',
      description: 'people who work here',
      default: false,
      userCount: 0,
      preferredLanguage: 'en',
      alternativeIdentifiers: ['staff', 'employees'],
      createdAt: '<time>',
      updatedAt: '<time>',
    });
    const id = created.body.id as string;

    const read = await server.request('GET', `${base(envId)}/${id}`);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, created.body);

    server.clock.advance(1_000);
    const put = await server.request('PUT', `${base(envId)}/${id}`, { body: { name: 'Staff (all)' } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body, {
      _links: created.body._links,
      id,
      environment: { id: envId },
      name: 'Staff (all)',
      default: false,
      userCount: 0,
      createdAt: created.body.createdAt,
      updatedAt: new Date(server.clock.now()).toISOString(),
    });

    const del = await server.request('DELETE', `${base(envId)}/${id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assertError(await server.request('GET', `${base(envId)}/${id}`), 404, notFoundBody);
    assertError(await server.request('DELETE', `${base(envId)}/${id}`), 404, notFoundBody);
    assertError(await server.request('PUT', `${base(envId)}/${id}`, { body: { name: 'ghost' } }), 404, notFoundBody);
  });

  test('making another population the default moves the flag', async () => {
    const envId = await createEnvironment(server, 'pop-move-default');
    const original = (await server.request('GET', base(envId))).body._embedded.populations[0];
    server.clock.advance(1); // lists are ordered by creation time, then id
    const made = await server.request('POST', base(envId), { body: { name: 'New default', default: true } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.body.default, true);
    const list = await server.request('GET', base(envId));
    assert.deepEqual(
      list.body._embedded.populations.map((p: { id: string; default: boolean }) => [p.id, p.default]),
      [[original.id, false], [made.body.id, true]],
    );
    // New users without a population go to the new default.
    const userId = await createUser(server, envId);
    const user = await server.request('GET', `/v1/environments/${envId}/users/${userId}`);
    assert.equal(user.body.population.id, made.body.id);
    // And back, through PUT.
    const back = await server.request('PUT', `${base(envId)}/${original.id}`, { body: { name: 'Default', default: true } });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.default, true);
    assert.equal((await server.request('GET', `${base(envId)}/${made.body.id}`)).body.default, false);
  });

  test('the default cannot be switched off directly: 400 INVALID_DATA, CONSTRAINT_VIOLATION on default', async () => {
    const envId = await createEnvironment(server, 'pop-undefault');
    const def = (await server.request('GET', base(envId))).body._embedded.populations[0];
    const res = await server.request('PUT', `${base(envId)}/${def.id}`, { body: { name: 'Default', default: false } });
    assertError(res, 400, invalidDataBody({
      code: 'CONSTRAINT_VIOLATION', target: 'default', message: 'An environment always has a default population; make another one the default instead',
    }));
  });

  test('the default population cannot be deleted: 400 REQUEST_FAILED', async () => {
    const envId = await createEnvironment(server, 'pop-del-default');
    const def = (await server.request('GET', base(envId))).body._embedded.populations[0];
    const res = await server.request('DELETE', `${base(envId)}/${def.id}`);
    assertError(res, 400, {
      code: 'REQUEST_FAILED', message: MSG.REQUEST_FAILED,
      details: [{ code: 'CONSTRAINT_VIOLATION', target: 'default', message: 'The default population cannot be deleted' }],
    });
    assert.equal((await server.request('GET', `${base(envId)}/${def.id}`)).status, 200);
  });

  test('a population with users cannot be deleted (400 REQUEST_FAILED); empty again, it can', async () => {
    const envId = await createEnvironment(server, 'pop-del-members');
    const pop = await server.request('POST', base(envId), { body: { name: 'Members' } });
    const userId = await createUser(server, envId, 'member', { population: { id: pop.body.id } });
    const res = await server.request('DELETE', `${base(envId)}/${pop.body.id}`);
    assertError(res, 400, {
      code: 'REQUEST_FAILED', message: MSG.REQUEST_FAILED,
      details: [{ code: 'CONSTRAINT_VIOLATION', target: 'userCount', message: 'The population still has users; move or delete them first' }],
    });
    assert.equal((await server.request('DELETE', `/v1/environments/${envId}/users/${userId}`)).status, 204);
    assert.equal((await server.request('DELETE', `${base(envId)}/${pop.body.id}`)).status, 204);
  });

  test('duplicate name in one environment → 400 INVALID_DATA, UNIQUENESS_VIOLATION on name (create and rename); another environment may reuse it', async () => {
    const envId = await createEnvironment(server, 'pop-dup');
    const dup = invalidDataBody({ code: 'UNIQUENESS_VIOLATION', target: 'name', message: 'A population with this name already exists in the environment' });
    assert.equal((await server.request('POST', base(envId), { body: { name: 'Partners' } })).status, 201);
    assertError(await server.request('POST', base(envId), { body: { name: 'Partners' } }), 400, dup);
    assertError(await server.request('POST', base(envId), { body: { name: 'Default' } }), 400, dup);
    const other = await server.request('POST', base(envId), { body: { name: 'Others' } });
    assertError(await server.request('PUT', `${base(envId)}/${other.body.id}`, { body: { name: 'Partners' } }), 400, dup);
    const env2 = await createEnvironment(server, 'pop-dup-2');
    assert.equal((await server.request('POST', base(env2), { body: { name: 'Partners' } })).status, 201);
  });

  test('userCount counts the population’s users, in the item and in the list', async () => {
    const envId = await createEnvironment(server, 'pop-count');
    server.clock.advance(1); // lists are ordered by creation time, then id
    const pop = await server.request('POST', base(envId), { body: { name: 'Counted' } });
    for (const name of ['c1', 'c2', 'c3']) await createUser(server, envId, name, { population: { id: pop.body.id } });
    await createUser(server, envId, 'elsewhere');
    assert.equal((await server.request('GET', `${base(envId)}/${pop.body.id}`)).body.userCount, 3);
    const list = await server.request('GET', base(envId));
    assert.deepEqual(list.body._embedded.populations.map((p: { name: string; userCount: number }) => [p.name, p.userCount]), [['Default', 1], ['Counted', 3]]);
  });

  test('validation: missing name → REQUIRED_VALUE; unknown property → INVALID_VALUE on it; userCount is read-only', async () => {
    const envId = await createEnvironment(server, 'pop-validate');
    assertError(await server.request('POST', base(envId), { body: { description: 'x' } }), 400,
      invalidDataBody({ code: 'REQUIRED_VALUE', target: 'name', message: 'name is required' }));
    assertError(await server.request('POST', base(envId), { body: { name: 'x', userCount: 5 } }), 400,
      invalidDataBody({ code: 'INVALID_VALUE', target: 'userCount', message: 'userCount is not a recognised property here' }));
  });

  test('a population of environment B is not found under environment A: 404 NOT_FOUND', async () => {
    const a = await createEnvironment(server, 'pop-iso-a');
    const b = await createEnvironment(server, 'pop-iso-b');
    const popB = (await server.request('POST', base(b), { body: { name: 'B only' } })).body.id as string;
    assertError(await server.request('GET', `${base(a)}/${popB}`), 404, notFoundBody);
    assertError(await server.request('PUT', `${base(a)}/${popB}`, { body: { name: 'hijack' } }), 404, notFoundBody);
    assertError(await server.request('DELETE', `${base(a)}/${popB}`), 404, notFoundBody);
    assert.equal((await server.request('GET', `${base(b)}/${popB}`)).body.name, 'B only');
  });
});
