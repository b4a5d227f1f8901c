/**
 * Threat: a secret leaks into logs or into a response that should not carry it (quality bar
 * S8). A whole session — tokens with Basic and with post, an application made, its secret
 * read and regenerated, requests with bad and foreign tokens, a server error path — runs
 * against the log capture of the harness; then logs and responses are searched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEnvironment, DIALECT, startTestServer, type Response, type TestServer } from '../helper.js';
import { tokenRequest } from './support.js';

describe(`secrets never leak (${DIALECT})`, () => {
  let server: TestServer;
  const responses: Array<{ label: string; res: Response }> = [];
  const secrets = new Set<string>();
  const tokens = new Set<string>();
  const authorizations = new Set<string>();
  /** Responses allowed to carry a client secret: application create and …/secret. */
  const secretBearing = new Set<Response>();

  const call = async (label: string, method: string, url: string, options: Parameters<TestServer['request']>[2] = {}) => {
    const res = await server.request(method, url, options);
    responses.push({ label, res });
    if (options.token) authorizations.add(`Bearer ${options.token}`);
    for (const v of Object.values(options.headers ?? {})) authorizations.add(v);
    return res;
  };

  before(async () => {
    server = await startTestServer({ config: { logLevel: 'trace' } });
    secrets.add(server.boot.clientSecret);
    const admin = await server.adminToken();
    tokens.add(admin);
    authorizations.add(`Bearer ${admin}`);
    const envId = await createEnvironment(server, 'log session');

    // An application with client_secret_basic, one with client_secret_post.
    const basicApp = await call('create basic app', 'POST', `/v1/environments/${envId}/applications`, { token: admin, body: { name: 'basic', type: 'WORKER' } });
    const postApp = await call('create post app', 'POST', `/v1/environments/${envId}/applications`, { token: admin, body: { name: 'post', type: 'WORKER', tokenEndpointAuthMethod: 'CLIENT_SECRET_POST' } });
    secretBearing.add(basicApp).add(postApp);
    secrets.add(basicApp.body.secret).add(postApp.body.secret);

    const basicCreds = { id: basicApp.body.id as string, secret: basicApp.body.secret as string };
    const basicHeader = `Basic ${Buffer.from(`${basicCreds.id}:${basicCreds.secret}`).toString('base64')}`;
    authorizations.add(basicHeader);
    const t1 = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, basicCreds);
    responses.push({ label: 'token basic', res: t1 });
    assert.equal(t1.status, 200, t1.text);
    tokens.add(t1.body.access_token);
    const t2 = await tokenRequest(server, envId, { grant_type: 'client_credentials', client_id: postApp.body.id, client_secret: postApp.body.secret });
    responses.push({ label: 'token post', res: t2 });
    assert.equal(t2.status, 200, t2.text);
    tokens.add(t2.body.access_token);

    // Failed token requests carry secrets too (wrong ones, and right ones at the wrong place).
    const wrongSecret = `${basicCreds.secret}-wrong`;
    secrets.add(wrongSecret);
    authorizations.add(`Basic ${Buffer.from(`${basicCreds.id}:${wrongSecret}`).toString('base64')}`);
    responses.push({ label: 'token wrong secret', res: await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: basicCreds.id, secret: wrongSecret }) });
    responses.push({ label: 'token json body', res: await server.request('POST', `/${envId}/as/token`, { token: null, body: { grant_type: 'client_credentials', client_id: postApp.body.id, client_secret: postApp.body.secret } }) });
    responses.push({ label: 'token foreign env', res: await tokenRequest(server, server.boot.environmentId, { grant_type: 'client_credentials', client_id: postApp.body.id, client_secret: postApp.body.secret }) });

    // Use the tokens, read and regenerate a secret.
    await call('list users (basic token)', 'GET', `/v1/environments/${envId}/users`, { token: t1.body.access_token });
    await call('list apps (post token)', 'GET', `/v1/environments/${envId}/applications`, { token: t2.body.access_token });
    await call('read app', 'GET', `/v1/environments/${envId}/applications/${basicCreds.id}`, { token: admin });
    const read = await call('read secret', 'GET', `/v1/environments/${envId}/applications/${basicCreds.id}/secret`, { token: admin });
    secretBearing.add(read);
    const regen = await call('regenerate secret', 'POST', `/v1/environments/${envId}/applications/${basicCreds.id}/secret`, { token: admin });
    secretBearing.add(regen);
    assert.equal(regen.status, 200, regen.text);
    secrets.add(regen.body.secret);
    const t3 = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: basicCreds.id, secret: regen.body.secret });
    responses.push({ label: 'token after regenerate', res: t3 });
    tokens.add(t3.body.access_token);
    authorizations.add(`Basic ${Buffer.from(`${basicCreds.id}:${regen.body.secret}`).toString('base64')}`);

    // Bad-token requests: tampered, foreign, garbage, and a secret put where a token belongs.
    const [h, p, s] = (t1.body.access_token as string).split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    await call('tampered token', 'GET', `/v1/environments/${envId}/users`, { token: tampered });
    await call('secret as bearer', 'GET', `/v1/environments/${envId}/users`, { token: basicCreds.secret });
    await call('garbage bearer', 'GET', `/v1/environments/${envId}/users`, { token: 'eyJ.not.valid' });
    await call('secret in a header', 'GET', `/v1/environments/${envId}/users`, { token: null, headers: { authorization: `Basic ${Buffer.from(`${basicCreds.id}:${postApp.body.secret}`).toString('base64')}` } });
    await call('foreign env with valid token', 'GET', `/v1/environments/${server.boot.environmentId}/applications`, { token: t1.body.access_token });
    // A body that fails validation and echoes nothing secret back.
    await call('bad app body', 'POST', `/v1/environments/${envId}/applications`, { token: admin, body: { name: 'x', type: 'WORKER', secret: postApp.body.secret } });
  });
  after(() => server.close());

  test('the session was logged (the capture works)', () => {
    assert.ok(server.logs.lines.length > 20, 'request logs were captured');
    assert.match(server.logs.text, /\/as\/token/);
  });

  test('a client secret leaks into logs: none appears in the captured log', () => {
    const text = server.logs.text;
    for (const secret of secrets) assert.ok(!text.includes(secret), `a client secret is in the logs: ${secret.slice(0, 4)}…`);
  });

  test('an access token leaks into logs: none appears, not even its signature', () => {
    const text = server.logs.text;
    for (const token of tokens) {
      assert.ok(!text.includes(token), 'an access token is in the logs');
      assert.ok(!text.includes(token.split('.')[2]!), 'an access token signature is in the logs');
    }
  });

  test('an Authorization header leaks into logs: no value and no header of that name appears', () => {
    const text = server.logs.text;
    for (const value of authorizations) assert.ok(!text.includes(value), 'an Authorization value is in the logs');
    assert.doesNotMatch(text, /authorization/i);
  });

  test('a client secret leaks into a response: only application create and …/secret carry one', () => {
    const leaks: string[] = [];
    for (const { label, res } of responses) {
      if (secretBearing.has(res)) continue;
      for (const secret of secrets) if (res.text.includes(secret)) leaks.push(label);
    }
    assert.deepEqual(leaks, []);
    assert.ok(responses.length > 15);
  });
});
