/**
 * Worker applications: the secret is shown at create and at `GET …/secret` only, regenerating
 * it retires the old one at the token endpoint, the bootstrap administrator cannot be
 * deleted, and a worker manages exactly the environment it lives in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEnvironment, createUser, createWorker, DIALECT, startTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { assertError, forbiddenBody, invalidDataBody, MSG, notFoundBody, tokenRequest, UUID } from './support.js';

const API = 'http://127.0.0.1:8080/v1';
const SECRET = /^[A-Za-z0-9_-]{43}$/;
const appLinks = {
  self: { href: `${API}/environments/<id>/applications/<id>` },
  environment: { href: `${API}/environments/<id>` },
  secret: { href: `${API}/environments/<id>/applications/<id>/secret` },
};

describe(`applications (${DIALECT})`, () => {
  let server: TestServer;
  let envId: string;
  const apps = (suffix = '') => `/v1/environments/${envId}/applications${suffix}`;

  before(async () => {
    server = await startTestServer();
    envId = await createEnvironment(server, 'apps');
  });
  after(() => server.close());

  const expectedApp = (extra: Record<string, unknown> = {}) => ({
    _links: appLinks,
    id: '<id>',
    environment: { id: '<id>' },
    name: 'reporting',
    description: 'reads users',
    type: 'WORKER',
    protocol: 'OPENID_CONNECT',
    enabled: true,
    grantTypes: ['CLIENT_CREDENTIALS'],
    tokenEndpointAuthMethod: 'CLIENT_SECRET_BASIC',
    createdAt: '<time>',
    updatedAt: '<time>',
    ...extra,
  });

  test('create a WORKER: 201 with the whole resource and its secret (once), not cacheable; read has no secret', async () => {
    const res = await server.request('POST', apps(), { body: { name: 'reporting', description: 'reads users', type: 'WORKER' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.body.id, UUID);
    assert.match(res.body.secret, SECRET);
    assert.deepEqual(withoutVolatile({ ...res.body, secret: '<secret>' }), expectedApp({ secret: '<secret>' }));

    const read = await server.request('GET', apps(`/${res.body.id}`));
    assert.equal(read.status, 200, read.text);
    assert.equal('secret' in read.body, false);
    assert.deepEqual(withoutVolatile(read.body), expectedApp());
    assert.ok(!read.text.includes(res.body.secret));

    const secret = await server.request('GET', apps(`/${res.body.id}/secret`));
    assert.equal(secret.status, 200, secret.text);
    assert.equal(secret.headers['cache-control'], 'no-store');
    assert.deepEqual(secret.body, {
      _links: { self: { href: `${API}/environments/${envId}/applications/${res.body.id}/secret` }, application: { href: `${API}/environments/${envId}/applications/${res.body.id}` } },
      secret: res.body.secret,
    });
  });

  test('the full set of writable fields is accepted', async () => {
    const res = await server.request('POST', apps(), {
      body: { name: 'full', type: 'WORKER', protocol: 'OPENID_CONNECT', enabled: true, grantTypes: ['CLIENT_CREDENTIALS'], tokenEndpointAuthMethod: 'CLIENT_SECRET_POST' },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.tokenEndpointAuthMethod, 'CLIENT_SECRET_POST');
  });

  test('regenerating the secret (POST …/secret) retires the old one at the token endpoint; the new one works', async () => {
    const w = await createWorker(server, envId, 'rotating');
    const res = await server.request('POST', apps(`/${w.clientId}/secret`));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.body.secret, SECRET);
    assert.notEqual(res.body.secret, w.secret);
    assert.deepEqual(Object.keys(res.body).sort(), ['_links', 'secret']);

    const old = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: w.clientId, secret: w.secret });
    assert.equal(old.status, 401, old.text);
    assert.deepEqual(old.body, { error: 'invalid_client', error_description: 'client authentication failed' });
    const fresh = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: w.clientId, secret: res.body.secret });
    assert.equal(fresh.status, 200, fresh.text);
    assert.equal((await server.request('GET', apps(`/${w.clientId}/secret`))).body.secret, res.body.secret);
  });

  test('list: every application of the environment, with no secret in it', async () => {
    const env2 = await createEnvironment(server, 'apps-list');
    server.clock.advance(1);
    const a = await createWorker(server, env2, 'a');
    server.clock.advance(1);
    const b = await createWorker(server, env2, 'b');
    const res = await server.request('GET', `/v1/environments/${env2}/applications`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.count, 2);
    assert.equal(res.body.size, 2);
    assert.deepEqual(res.body._embedded.applications.map((x: { id: string; name: string }) => [x.id, x.name]), [[a.clientId, 'a'], [b.clientId, 'b']]);
    assert.ok(!res.text.includes(a.secret) && !res.text.includes(b.secret));
    assert.ok(res.body._embedded.applications.every((x: object) => !('secret' in x)));
  });

  test('delete: 204, then 404 NOT_FOUND, and its credentials get no token', async () => {
    const w = await createWorker(server, envId, 'doomed');
    const del = await server.request('DELETE', apps(`/${w.clientId}`));
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assertError(await server.request('GET', apps(`/${w.clientId}`)), 404, notFoundBody);
    assertError(await server.request('GET', apps(`/${w.clientId}/secret`)), 404, notFoundBody);
    assertError(await server.request('DELETE', apps(`/${w.clientId}`)), 404, notFoundBody);
    const token = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: w.clientId, secret: w.secret });
    assert.equal(token.status, 401);
  });

  test('the bootstrap administrator application cannot be deleted: 400 REQUEST_FAILED', async () => {
    const res = await server.request('DELETE', `/v1/environments/${server.boot.environmentId}/applications/${server.boot.clientId}`);
    assertError(res, 400, {
      code: 'REQUEST_FAILED', message: MSG.REQUEST_FAILED,
      details: [{ code: 'CONSTRAINT_VIOLATION', target: 'id', message: 'The administrator application made at bootstrap cannot be deleted' }],
    });
    assert.equal((await server.request('GET', `/v1/environments/${server.boot.environmentId}/applications/${server.boot.clientId}`)).status, 200);
  });

  test('an application cannot delete itself: 400 REQUEST_FAILED', async () => {
    const w = await createWorker(server, envId, 'self');
    const res = await server.request('DELETE', apps(`/${w.clientId}`), { token: w.token });
    assertError(res, 400, {
      code: 'REQUEST_FAILED', message: MSG.REQUEST_FAILED,
      details: [{ code: 'CONSTRAINT_VIOLATION', target: 'id', message: 'An application cannot delete itself' }],
    });
  });

  test('a type other than WORKER or NATIVE_APP → 400 INVALID_DATA, INVALID_VALUE on type', async () => {
    for (const type of ['WEB_APP', 'SERVICE', 'worker']) {
      const res = await server.request('POST', apps(), { body: { name: 'x', type } });
      assertError(res, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'type', message: 'type must be one of WORKER, NATIVE_APP', innerError: { allowedValues: ['WORKER', 'NATIVE_APP'] } }));
    }
    assertError(await server.request('POST', apps(), { body: { name: 'x' } }), 400, invalidDataBody({ code: 'REQUIRED_VALUE', target: 'type', message: 'type is required' }));
  });

  test('a client-chosen secret or id is not accepted: 400 on each', async () => {
    const res = await server.request('POST', apps(), { body: { name: 'x', type: 'WORKER', secret: 'hunter2', id: 'mine' } });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body.details.map((d: { target: string }) => d.target).sort(), ['id', 'secret']);
    assert.ok(!res.text.includes('hunter2'));
  });
});

describe(`a worker manages its own environment only (${DIALECT})`, () => {
  let server: TestServer;
  let home: string;
  let away: string;
  let worker: { clientId: string; secret: string; token: string };
  before(async () => {
    server = await startTestServer();
    home = await createEnvironment(server, 'home');
    away = await createEnvironment(server, 'away');
    worker = await createWorker(server, home);
  });
  after(() => server.close());

  test('in its own environment: 200 on reads, 201 on creates', async () => {
    const { token } = worker;
    assert.equal((await server.request('GET', `/v1/environments/${home}`, { token })).status, 200);
    assert.equal((await server.request('GET', `/v1/environments/${home}/users`, { token })).status, 200);
    assert.equal((await server.request('GET', `/v1/environments/${home}/populations`, { token })).status, 200);
    assert.equal((await server.request('GET', `/v1/environments/${home}/applications`, { token })).status, 200);
    assert.equal((await server.request('POST', `/v1/environments/${home}/users`, { token, body: { username: 'made-by-worker' } })).status, 201);
    const made = await server.request('POST', `/v1/environments/${home}/applications`, { token, body: { name: 'child', type: 'WORKER' } });
    assert.equal(made.status, 201, made.text);
  });

  test('a token of environment A cannot touch environment B: 403 ACCESS_FAILED on every route', async () => {
    const { token } = worker;
    const userB = await createUser(server, away, 'b-user');
    const appB = await createWorker(server, away, 'b-app');
    const calls: Array<[string, string, unknown?]> = [
      ['GET', `/v1/environments/${away}`],
      ['PUT', `/v1/environments/${away}`, { name: 'x', region: 'NA', type: 'SANDBOX' }],
      ['DELETE', `/v1/environments/${away}`],
      ['GET', `/v1/environments/${away}/users`],
      ['POST', `/v1/environments/${away}/users`, { username: 'intruder' }],
      ['GET', `/v1/environments/${away}/users/${userB}`],
      ['PATCH', `/v1/environments/${away}/users/${userB}`, { nickname: 'pwned' }],
      ['DELETE', `/v1/environments/${away}/users/${userB}`],
      ['GET', `/v1/environments/${away}/populations`],
      ['GET', `/v1/environments/${away}/applications`],
      ['POST', `/v1/environments/${away}/applications`, { name: 'x', type: 'WORKER' }],
      ['GET', `/v1/environments/${away}/applications/${appB.clientId}/secret`],
      ['POST', `/v1/environments/${away}/applications/${appB.clientId}/secret`],
      ['DELETE', `/v1/environments/${away}/applications/${appB.clientId}`],
    ];
    for (const [method, url, body] of calls) {
      const res = await server.request(method, url, body === undefined ? { token } : { token, body });
      assertError(res, 403, forbiddenBody);
    }
    // Nothing changed over there.
    assert.equal((await server.request('GET', `/v1/environments/${away}/users/${userB}`)).body.nickname, undefined);
    assert.equal((await tokenRequest(server, away, { grant_type: 'client_credentials' }, { id: appB.clientId, secret: appB.secret })).status, 200);
  });

  test('an environment that does not exist looks the same to a worker: 403 ACCESS_FAILED', async () => {
    assertError(await server.request('GET', '/v1/environments/6c796712-0f16-4062-815a-e0a92f4a2143', { token: worker.token }), 403, forbiddenBody);
  });

  test('a worker of the bootstrap environment cannot escalate to administrator: reading or regenerating the admin secret → 403', async () => {
    const insider = await createWorker(server, server.boot.environmentId, 'insider');
    const refused = {
      code: 'ACCESS_FAILED', message: MSG.FORBIDDEN,
      details: [{ code: 'INSUFFICIENT_PERMISSIONS', message: 'Only an administrator application may read or regenerate the administrator application secret' }],
    };
    const url = `/v1/environments/${server.boot.environmentId}/applications/${server.boot.clientId}/secret`;
    const read = await server.request('GET', url, { token: insider.token });
    assertError(read, 403, refused);
    assert.ok(!read.text.includes(server.boot.clientSecret));
    assertError(await server.request('POST', url, { token: insider.token }), 403, refused);
    // The administrator's credentials still work, and it still reads its own secret.
    const admin = await tokenRequest(server, server.boot.environmentId, { grant_type: 'client_credentials' }, { id: server.boot.clientId, secret: server.boot.clientSecret });
    assert.equal(admin.status, 200, admin.text);
    assert.equal((await server.request('GET', url)).body.secret, server.boot.clientSecret);
    // Its own environment it still manages, its own secret it still reads.
    assert.equal((await server.request('GET', `/v1/environments/${server.boot.environmentId}/applications/${insider.clientId}/secret`, { token: insider.token })).body.secret, insider.secret);
  });

  test('the bootstrap environment is out of a worker’s reach: 403 on its applications', async () => {
    assertError(await server.request('GET', `/v1/environments/${server.boot.environmentId}/applications/${server.boot.clientId}/secret`, { token: worker.token }), 403, forbiddenBody);
  });
});
