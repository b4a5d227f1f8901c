/** Environments, populations and users: the CRUD shapes devices live in (reference §10). */
import { randomUUID } from 'node:crypto';
import { envelope, isDate, isLink, isUuid, made, keys, type Area } from '../runner.js';

const REGIONS = ['AP', 'AU', 'CA', 'EU', 'NA', 'SG'];

export const environments: Area = {
  name: 'environments',
  async run(run) {
    const { client } = run;
    const read = await client.call('GET', client.env());
    run.check('GET /environments/{envID} → 200', 200, read.status);
    const env = read.json;
    run.check('id is the environment ID', client.environmentId, env?.id);
    run.holds('region', `one of ${REGIONS.join(' ')}`, env?.region, REGIONS.includes(env?.region));
    run.holds('type', 'PRODUCTION or SANDBOX', env?.type, ['PRODUCTION', 'SANDBOX'].includes(env?.type));
    run.check('status', 'ACTIVE', env?.status);
    run.holds('organization.id', 'a UUID', env?.organization?.id, isUuid(env?.organization?.id));
    run.holds('createdAt, updatedAt', 'ISO-8601 UTC with milliseconds', [env?.createdAt, env?.updatedAt], isDate(env?.createdAt) && isDate(env?.updatedAt));
    run.holds('_links.self', 'a link to itself', env?._links?.self?.href, env?._links?.self?.href === client.env());

    const list = await client.call('GET', `${client.apiPath}/environments?limit=1`);
    run.check('GET /environments?limit=1 → 200', 200, list.status);
    const page = list.json?._embedded?.environments;
    run.holds('_embedded.environments holds at most limit items', 'an array of ≤ 1', Array.isArray(page) ? `${page.length} item(s)` : page, Array.isArray(page) && page.length <= 1);
    run.holds('size is the page\'s length', 'size = items on the page', list.json?.size, list.json?.size === page?.length);

    // Creating an environment needs organisation rights a worker may lack (403, reference §9.3).
    const name = `${run.tag}-env`;
    const created = await client.call('POST', `${client.apiPath}/environments`, {
      body: { name, region: env?.region ?? 'NA', type: 'SANDBOX', license: env?.license ?? { id: randomUUID() } },
    });
    if (created.status === 403) {
      run.notApplicable('POST /environments → 201', 201, 'the worker may not create environments (403)');
      return;
    }
    run.check('POST /environments → 201', 201, created.status);
    const id = created.json?.id;
    if (!made(created)) return;
    const url = `${client.apiPath}/environments/${id}`;
    run.remember('environment', url);
    run.check('the new environment: name, type, status', { name, type: 'SANDBOX', status: 'ACTIVE' }, { name: created.json.name, type: created.json.type, status: created.json.status });
    const renamed = await client.call('PUT', url, { body: { name: `${name}-renamed`, region: created.json.region, type: 'SANDBOX', ...(created.json.license ? { license: created.json.license } : {}) } });
    run.check('PUT /environments/{id} → 200 with the new name', `200 ${name}-renamed`, `${renamed.status} ${renamed.json?.name}`);
    const gone = await client.call('DELETE', url);
    run.check('DELETE /environments/{id} → 204', 204, gone.status);
    if (gone.status === 204) run.deleted(url);
    const after = await client.call('GET', url);
    run.holds('a deleted environment is gone', '403 or 404', after.status, after.status === 403 || after.status === 404);
  },
};

export const populations: Area = {
  name: 'populations',
  async run(run) {
    const { client } = run;
    const name = `${run.tag}-population`;
    const created = await client.call('POST', client.env('/populations'), { body: { name, description: 'made by the conformance suite' } });
    run.check('POST /populations → 201', 201, created.status);
    const p = created.json;
    if (!made(created)) return;
    const url = client.env(`/populations/${p.id}`);
    run.remember('population', url);
    run.check('the new population: name, description, default, userCount', { name, description: 'made by the conformance suite', default: false, userCount: 0 },
      { name: p.name, description: p.description, default: p.default, userCount: p.userCount });
    run.check('environment.id', client.environmentId, p.environment?.id);
    run.holds('_links.self, _links.environment', 'links', keys(p._links), isLink(p._links?.self) && isLink(p._links?.environment));
    const read = await client.call('GET', url);
    run.check('GET /populations/{id} → 200, the same population', { status: 200, id: p.id, name }, { status: read.status, id: read.json?.id, name: read.json?.name });
    const put = await client.call('PUT', url, { body: { name, description: 'renamed' } });
    run.check('PUT /populations/{id} → 200 with the new description', '200 renamed', `${put.status} ${put.json?.description}`);
    const dup = await client.call('POST', client.env('/populations'), { body: { name } });
    run.check('a second population of the same name → 400 (names are unique)', 400, dup.status);
    if (made(dup)) run.remember('population', client.env(`/populations/${dup.json.id}`));
    run.population = p.id;
  },
};

export const users: Area = {
  name: 'users',
  async run(run) {
    const { client } = run;
    const username = `${run.tag}-user`;
    const body = { username, email: `${username}@example.com`, name: { given: 'Con', family: 'Formance' }, ...(run.population ? { population: { id: run.population } } : {}) };
    const created = await client.call('POST', client.env('/users'), { body });
    run.check('POST /users → 201', 201, created.status);
    const u = created.json;
    if (!made(created)) return;
    const url = client.env(`/users/${u.id}`);
    run.remember('user', url);
    run.check('the new user: username, email, name, enabled', { username, email: body.email, name: body.name, enabled: true },
      { username: u.username, email: u.email, name: u.name, enabled: u.enabled });
    run.check('environment.id, population.id', { environment: client.environmentId, population: run.population ?? u.population?.id },
      { environment: u.environment?.id, population: u.population?.id });
    run.holds('mfaEnabled', 'a boolean', u.mfaEnabled, typeof u.mfaEnabled === 'boolean');
    run.holds('account.status', 'OK or LOCKED', u.account?.status, ['OK', 'LOCKED'].includes(u.account?.status));
    run.holds('lifecycle.status', 'ACCOUNT_OK or VERIFICATION_REQUIRED', u.lifecycle?.status, ['ACCOUNT_OK', 'VERIFICATION_REQUIRED'].includes(u.lifecycle?.status));
    run.holds('createdAt, updatedAt', 'ISO-8601 UTC with milliseconds', [u.createdAt, u.updatedAt], isDate(u.createdAt) && isDate(u.updatedAt));
    run.holds('_links.self', 'a link to the user', u._links?.self?.href, u._links?.self?.href === url);

    const read = await client.call('GET', url);
    run.check('GET /users/{id} → 200, the same user', { status: 200, id: u.id, username }, { status: read.status, id: read.json?.id, username: read.json?.username });
    const filter = new URLSearchParams({ filter: `username eq "${username}"` });
    const found = await client.call('GET', client.env(`/users?${filter}`));
    run.check('GET /users?filter=username eq "…" → that user alone', { status: 200, ids: [u.id] },
      { status: found.status, ids: (found.json?._embedded?.users ?? []).map((x: { id: string }) => x.id) });
    const patched = await client.call('PATCH', url, { body: { name: { given: 'Patched' } } });
    run.check('PATCH /users/{id} → 200, name.given changed', '200 Patched', `${patched.status} ${patched.json?.name?.given}`);
    run.check('PATCH keeps what it does not name', username, patched.json?.username);
    const put = await client.call('PUT', url, { body: { username, email: body.email, name: { given: 'Put', family: 'Formance' } } });
    run.check('PUT /users/{id} → 200, the replacement', '200 Put', `${put.status} ${put.json?.name?.given}`);
    const dup = await client.call('POST', client.env('/users'), { body: { username } });
    run.check('a second user of the same username → 400 UNIQUENESS_VIOLATION', `400 INVALID_DATA UNIQUENESS_VIOLATION@username`, envelope(dup));
    if (made(dup)) run.remember('user', client.env(`/users/${dup.json.id}`));

    const gone = await client.call('DELETE', url);
    run.check('DELETE /users/{id} → 204', 204, gone.status);
    if (gone.status === 204) run.deleted(url);
    const after = await client.call('GET', url);
    run.check('GET a deleted user → 404 NOT_FOUND', '404 NOT_FOUND', envelope(after));
  },
};
