/**
 * Environments (reference §10.1): create, read, replace, list with cursor paging, delete,
 * validation, and who may do what (only the bootstrap administrator creates environments;
 * a worker sees its own).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEnvironment, createWorker, DIALECT, startTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { assertError, forbiddenBody, invalidDataBody, MSG, pathOf, UUID, walk } from './support.js';

const PUBLIC_URL = 'https://mfa.example.test/base';
const API = `${PUBLIC_URL}/v1`;

const envLinks = {
  self: { href: `${API}/environments/<id>` },
  populations: { href: `${API}/environments/<id>/populations` },
  users: { href: `${API}/environments/<id>/users` },
  applications: { href: `${API}/environments/<id>/applications` },
  mfaSettings: { href: `${API}/environments/<id>/mfaSettings` },
  deviceAuthenticationPolicies: { href: `${API}/environments/<id>/deviceAuthenticationPolicies` },
};

describe(`environments (${DIALECT})`, () => {
  let server: TestServer;
  let organizationId: string;

  before(async () => {
    server = await startTestServer({ publicUrl: PUBLIC_URL + '/' });
    const boot = await server.request('GET', `/v1/environments/${server.boot.environmentId}`);
    assert.equal(boot.status, 200, boot.text);
    organizationId = boot.body.organization.id;
    assert.match(organizationId, UUID);
  });
  after(() => server.close());

  const full = {
    name: 'mfa-test',
    description: 'for the MFA tests',
    region: 'EU',
    type: 'PRODUCTION',
    subtype: 'QA',
    license: { id: '2f6b4d4c-8b48-4b8e-9a8c-5f0f0d7c3a11' },
    billOfMaterials: { products: [{ type: 'PING_ONE_BASE' }, { type: 'PING_ONE_MFA', description: 'MFA' }] },
  };

  test('create: 201 with the whole resource, license.id kept, organization, status ACTIVE, absolute _links from the public URL', async () => {
    const res = await server.request('POST', '/v1/environments', { body: full });
    assert.equal(res.status, 201, res.text);
    assert.match(res.body.id, UUID);
    assert.equal(res.body.organization.id, organizationId);
    assert.equal(res.body.createdAt, new Date(server.clock.now()).toISOString());
    assert.equal(res.body.updatedAt, res.body.createdAt);
    assert.equal(res.body._links.self.href, `${API}/environments/${res.body.id}`);
    assert.deepEqual(withoutVolatile(res.body), {
      _links: envLinks,
      id: '<id>',
      name: 'mfa-test',
      description: 'for the MFA tests',
      organization: { id: '<id>' },
      region: 'EU',
      type: 'PRODUCTION',
      subtype: 'QA',
      license: { id: '<id>' },
      billOfMaterials: full.billOfMaterials,
      status: 'ACTIVE',
      createdAt: '<time>',
      updatedAt: '<time>',
    });
    assert.equal(res.body.license.id, full.license.id);

    const read = await server.request('GET', `/v1/environments/${res.body.id}`);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, res.body);
  });

  test('a minimal create leaves the optional fields out', async () => {
    const res = await server.request('POST', '/v1/environments', { body: { name: 'small', region: 'NA', type: 'SANDBOX' } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(withoutVolatile(res.body), {
      _links: envLinks, id: '<id>', name: 'small', organization: { id: '<id>' }, region: 'NA', type: 'SANDBOX', status: 'ACTIVE', createdAt: '<time>', updatedAt: '<time>',
    });
  });

  test('update (PUT) replaces the writable fields and moves updatedAt only', async () => {
    const created = await server.request('POST', '/v1/environments', { body: full });
    const createdAt = created.body.createdAt as string;
    server.clock.advance(1_000);
    const res = await server.request('PUT', `/v1/environments/${created.body.id}`, { body: { name: 'renamed', region: 'AU', type: 'SANDBOX' } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      _links: created.body._links,
      id: created.body.id,
      name: 'renamed',
      organization: { id: organizationId },
      region: 'AU',
      type: 'SANDBOX',
      status: 'ACTIVE',
      createdAt,
      updatedAt: new Date(server.clock.now()).toISOString(),
    });
    const read = await server.request('GET', `/v1/environments/${created.body.id}`);
    assert.deepEqual(read.body, res.body);
  });

  test('PUT is validated like create: missing region → 400 REQUIRED_VALUE on region', async () => {
    const id = await createEnvironment(server, 'put-validate');
    const res = await server.request('PUT', `/v1/environments/${id}`, { body: { name: 'x', type: 'SANDBOX' } });
    assertError(res, 400, invalidDataBody({ code: 'REQUIRED_VALUE', target: 'region', message: 'region is required' }));
  });

  test('delete: 204 with no body, then reads answer 403 exactly as for an environment that never existed', async () => {
    const id = await createEnvironment(server, 'doomed');
    const del = await server.request('DELETE', `/v1/environments/${id}`);
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    const gone = await server.request('GET', `/v1/environments/${id}`);
    assertError(gone, 403, forbiddenBody);
    const never = await server.request('GET', '/v1/environments/6c796712-0f16-4062-815a-e0a92f4a2143');
    assertError(never, 403, forbiddenBody);
    assert.deepEqual({ ...gone.body, id: '' }, { ...never.body, id: '' });
    assertError(await server.request('DELETE', `/v1/environments/${id}`), 403, forbiddenBody);
    assertError(await server.request('GET', `/v1/environments/${id}/users`), 403, forbiddenBody);
    // Its keys went with it.
    assert.equal((await server.request('GET', `/${id}/as/jwks`, { token: null })).status, 404);
  });

  test('a token of a deleted environment’s worker stops working at once: 401 ACCESS_FAILED everywhere', async () => {
    const id = await createEnvironment(server, 'doomed with worker');
    const worker = await createWorker(server, id);
    assert.equal((await server.request('GET', '/v1/environments', { token: worker.token })).status, 200);
    assert.equal((await server.request('DELETE', `/v1/environments/${id}`)).status, 204);
    for (const url of ['/v1/environments', `/v1/environments/${id}`, `/v1/environments/${id}/users`]) {
      const res = await server.request('GET', url, { token: worker.token });
      assert.equal(res.status, 401, `${url}: ${res.text}`);
      assert.equal(res.body.code, 'ACCESS_FAILED');
    }
  });

  test('the bootstrap environment cannot be deleted: 400 REQUEST_FAILED', async () => {
    const res = await server.request('DELETE', `/v1/environments/${server.boot.environmentId}`);
    assertError(res, 400, {
      code: 'REQUEST_FAILED',
      message: MSG.REQUEST_FAILED,
      details: [{ code: 'CONSTRAINT_VIOLATION', target: 'id', message: 'This environment holds the application making the request or the administrator application and cannot be deleted' }],
    });
    assert.equal((await server.request('GET', `/v1/environments/${server.boot.environmentId}`)).status, 200);
  });

  describe('validation', () => {
    test('missing name → 400 INVALID_DATA, REQUIRED_VALUE on name', async () => {
      const res = await server.request('POST', '/v1/environments', { body: { region: 'NA', type: 'SANDBOX' } });
      assertError(res, 400, invalidDataBody({ code: 'REQUIRED_VALUE', target: 'name', message: 'name is required' }));
    });

    test('empty name → 400 INVALID_DATA, EMPTY_VALUE on name', async () => {
      const res = await server.request('POST', '/v1/environments', { body: { name: '', region: 'NA', type: 'SANDBOX' } });
      assertError(res, 400, invalidDataBody({ code: 'EMPTY_VALUE', target: 'name', message: 'name must not be empty' }));
    });

    test('bad region → 400 INVALID_DATA, INVALID_VALUE on region with innerError.allowedValues', async () => {
      const res = await server.request('POST', '/v1/environments', { body: { name: 'x', region: 'MARS', type: 'SANDBOX' } });
      assertError(res, 400, invalidDataBody({
        code: 'INVALID_VALUE', target: 'region', message: 'region must be one of AP, AU, CA, EU, NA, SG',
        innerError: { allowedValues: ['AP', 'AU', 'CA', 'EU', 'NA', 'SG'] },
      }));
    });

    test('bad type → 400 INVALID_DATA, INVALID_VALUE on type', async () => {
      const res = await server.request('POST', '/v1/environments', { body: { name: 'x', region: 'NA', type: 'TEST' } });
      assertError(res, 400, invalidDataBody({
        code: 'INVALID_VALUE', target: 'type', message: 'type must be one of PRODUCTION, SANDBOX', innerError: { allowedValues: ['PRODUCTION', 'SANDBOX'] },
      }));
    });

    test('an unknown property → 400 INVALID_DATA, INVALID_VALUE targeting that property', async () => {
      const res = await server.request('POST', '/v1/environments', { body: { name: 'x', region: 'NA', type: 'SANDBOX', colour: 'blue' } });
      assertError(res, 400, invalidDataBody({ code: 'INVALID_VALUE', target: 'colour', message: 'colour is not a recognised property here' }));
    });

    test('a bloated bill of materials (junk members, a sixth bookmark, 33 products) is refused member by member: 400 INVALID_DATA, nothing stored', async () => {
      // The threat: billOfMaterials took any member, so one environment could carry 64 KiB of junk into every read and list.
      const post = (billOfMaterials: unknown) => server.request('POST', '/v1/environments', { body: { name: 'bom', region: 'NA', type: 'SANDBOX', billOfMaterials } });
      assertError(await post({ products: [{ type: 'PING_ONE_MFA', junk: 'x' }] }), 400,
        invalidDataBody({ code: 'INVALID_VALUE', target: 'billOfMaterials.products[0].junk', message: 'billOfMaterials.products[0].junk is not a recognised property here' }));
      assertError(await post({ products: [{ type: 'PING_ONE_MFA' }], junk: {} }), 400,
        invalidDataBody({ code: 'INVALID_VALUE', target: 'billOfMaterials.junk', message: 'billOfMaterials.junk is not a recognised property here' }));
      const bookmarks = Array.from({ length: 6 }, (_, i) => ({ name: `b${i}`, href: 'https://example.com' }));
      for (const bad of [{ products: [{ type: 'PING_ONE_MFA', bookmarks }] }, { products: Array.from({ length: 33 }, () => ({ type: 'PING_ONE_MFA' })) }]) {
        const res = await post(bad);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.code, 'INVALID_DATA');
      }
      const list = await server.request('GET', '/v1/environments?filter=' + encodeURIComponent('name eq "bom"'));
      assert.equal(list.body.count, 0);
      // PingOne's declared members are all taken.
      const product = { id: 'p1', type: 'PING_ONE_MFA', description: 'MFA', console: { href: 'https://console.example.com' }, tags: ['DIRECTORY'], deployment: { id: 'd1', status: 'ACTIVE' }, bookmarks: bookmarks.slice(0, 5) };
      const ok = await post({ products: [product], solutionType: 'CUSTOMER' });
      assert.equal(ok.status, 201, ok.text);
      assert.deepEqual(ok.body.billOfMaterials, { products: [product], solutionType: 'CUSTOMER' });
    });

    test('a bill of materials stored with junk before it was declared reads back with declared members only', async () => {
      const id = await createEnvironment(server, 'bom row');
      await server.store.db.updateTable('environments').set({ extra: JSON.stringify({ billOfMaterials: { products: [{ type: 'PING_ONE_MFA', junk: 'x'.repeat(10_000) }], junk: [1] } }) }).where('id', '=', id).execute();
      const res = await server.request('GET', `/v1/environments/${id}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.billOfMaterials, { products: [{ type: 'PING_ONE_MFA' }] });
    });

    test('read-only fields are not taken from input: id, status, organization → 400 on each', async () => {
      const res = await server.request('POST', '/v1/environments', {
        body: { name: 'x', region: 'NA', type: 'SANDBOX', id: 'mine', status: 'DELETE_PENDING', organization: { id: 'o' } },
      });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body.details.map((d: { target: string }) => d.target).sort(), ['id', 'organization', 'status']);
      assert.ok(res.body.details.every((d: { code: string }) => d.code === 'INVALID_VALUE'));
    });
  });

  test('an ordinary worker cannot create environments (403) and lists only its own', async () => {
    const own = await createEnvironment(server, 'worker home');
    const worker = await createWorker(server, own);
    const create = await server.request('POST', '/v1/environments', { token: worker.token, body: { name: 'sneaky', region: 'NA', type: 'SANDBOX' } });
    assertError(create, 403, forbiddenBody);
    const list = await server.request('GET', '/v1/environments', { token: worker.token });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.count, 1);
    assert.equal(list.body.size, 1);
    assert.deepEqual(list.body._embedded.environments.map((e: { id: string }) => e.id), [own]);
    assertError(await server.request('GET', `/v1/environments/${server.boot.environmentId}`, { token: worker.token }), 403, forbiddenBody);
    assertError(await server.request('PUT', `/v1/environments/${server.boot.environmentId}`, { token: worker.token, body: { name: 'x', region: 'NA', type: 'SANDBOX' } }), 403, forbiddenBody);
  });

  test('a worker cannot delete the environment it lives in: 400 REQUEST_FAILED', async () => {
    const own = await createEnvironment(server, 'self-delete');
    const worker = await createWorker(server, own);
    const res = await server.request('DELETE', `/v1/environments/${own}`, { token: worker.token });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'REQUEST_FAILED');
    assert.equal(res.body.details[0].code, 'CONSTRAINT_VIOLATION');
  });
});

describe(`environments list paging (${DIALECT})`, () => {
  let server: TestServer;
  const ids: string[] = [];
  before(async () => {
    server = await startTestServer();
    ids.push(server.boot.environmentId);
    for (let i = 0; i < 5; i++) {
      server.clock.advance(1);
      ids.push(await createEnvironment(server, `page-${i}`));
    }
  });
  after(() => server.close());

  test('limit=2 walks 3 pages through _links.next verbatim, with count and size, and prev walks back', async () => {
    const first = await server.request('GET', '/v1/environments?limit=2');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body._links.self.href, `${server.config.publicUrl}/v1/environments?limit=2`);
    assert.equal(first.body._links.prev, undefined);
    const pages = await walk(server, '/v1/environments?limit=2', 'next');
    assert.equal(pages.length, 3);
    assert.deepEqual(pages.map((p) => p.size), [2, 2, 2]);
    assert.deepEqual(pages.map((p) => p.count), [6, 6, 6]);
    const seen = pages.flatMap((p) => p._embedded.environments.map((e: { id: string }) => e.id));
    assert.deepEqual(seen, ids, 'every environment once, oldest first');
    assert.equal(pages[2]._links.next, undefined);
    assert.ok(pages[1]._links.prev && pages[2]._links.prev);

    const back = await walk(server, pathOf(server, pages[2]._links.prev.href), 'prev');
    assert.deepEqual(back.map((p) => p._embedded.environments.map((e: { id: string }) => e.id)), [ids.slice(2, 4), ids.slice(0, 2)]);
    assert.equal(back[1]._links.prev, undefined);
  });

  test('bad limit or cursor → 400 INVALID_DATA on limit / cursor', async () => {
    assertError(await server.request('GET', '/v1/environments?limit=0'), 400, invalidDataBody({
      code: 'INVALID_PARAMETER', target: 'limit', message: 'limit must be a whole number from 1 to 1000', innerError: { rangeMinimumValue: 1, rangeMaximumValue: 1000 },
    }));
    assertError(await server.request('GET', '/v1/environments?cursor=not-a-cursor'), 400, invalidDataBody({
      code: 'INVALID_PARAMETER', target: 'cursor', message: 'cursor is not one this server issued',
    }));
  });
});
