/**
 * The auth host's token and JWKS endpoints (reference §9.1, §9.2): client_credentials with
 * client_secret_basic and client_secret_post, the access-token JWT, OAuth-form errors, and
 * every way a bearer token must be refused (expired, tampered, foreign key, `alg: none`,
 * deleted application).
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, createHmac, sign as cryptoSign, verify as cryptoVerify, type JsonWebKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { createEnvironment, createWorker, DIALECT, startTestServer, type TestServer } from '../helper.js';
import { assertError, tokenRequest, unauthorizedBody, UUID } from './support.js';

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const decodePart = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

function decode(token: string) {
  const [h, p, s] = token.split('.') as [string, string, string];
  return { header: decodePart(h), payload: decodePart(p), signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

const OAUTH_INVALID_CLIENT = { error: 'invalid_client', error_description: 'client authentication failed' };

describe(`token endpoint (${DIALECT})`, () => {
  let server: TestServer;
  let envId: string;
  let worker: { clientId: string; secret: string; token: string };
  let postApp: { id: string; secret: string };
  let otherEnvId: string;

  before(async () => {
    server = await startTestServer();
    envId = await createEnvironment(server, 'token env');
    otherEnvId = await createEnvironment(server, 'other env');
    worker = await createWorker(server, envId);
    const res = await server.request('POST', `/v1/environments/${envId}/applications`, {
      body: { name: 'post client', type: 'WORKER', tokenEndpointAuthMethod: 'CLIENT_SECRET_POST' },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.tokenEndpointAuthMethod, 'CLIENT_SECRET_POST');
    postApp = { id: res.body.id, secret: res.body.secret };
  });
  after(() => server.close());

  test('client_secret_basic: 200 {access_token, token_type: Bearer, expires_in: 3600}, not cacheable', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: worker.clientId, secret: worker.secret });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers.pragma, 'no-cache');
    assert.deepEqual(Object.keys(res.body).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.deepEqual({ ...res.body, access_token: '<jwt>' }, { access_token: '<jwt>', token_type: 'Bearer', expires_in: 3600 });
    assert.match(res.body.access_token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  test('client_secret_post: an application configured for it gets a token from client_id/client_secret in the form', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials', client_id: postApp.id, client_secret: postApp.secret });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual({ ...res.body, access_token: '<jwt>' }, { access_token: '<jwt>', token_type: 'Bearer', expires_in: 3600 });
    const me = await server.request('GET', `/v1/environments/${envId}`, { token: res.body.access_token });
    assert.equal(me.status, 200, me.text);
  });

  test('a form Content-Type with a charset parameter is accepted', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: worker.clientId, secret: worker.secret }, 'application/x-www-form-urlencoded; charset=UTF-8');
    assert.equal(res.status, 200, res.text);
  });

  test('an application set to one client authentication method cannot use the other: 401 invalid_client', async () => {
    const basicOnPost = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: postApp.id, secret: postApp.secret });
    assert.equal(basicOnPost.status, 401, basicOnPost.text);
    assert.deepEqual(basicOnPost.body, { error: 'invalid_client', error_description: 'this application authenticates with CLIENT_SECRET_POST' });
    const postOnBasic = await tokenRequest(server, envId, { grant_type: 'client_credentials', client_id: worker.clientId, client_secret: worker.secret });
    assert.equal(postOnBasic.status, 401, postOnBasic.text);
    assert.deepEqual(postOnBasic.body, { error: 'invalid_client', error_description: 'this application authenticates with CLIENT_SECRET_BASIC' });
  });

  test('the access token is an RS256 at+jwt with kid and the documented claims', async () => {
    const org = (await server.request('GET', `/v1/environments/${envId}`)).body.organization.id as string;
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: worker.clientId, secret: worker.secret });
    const { header, payload } = decode(res.body.access_token);
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.typ, 'at+jwt');
    assert.match(String(header.kid), UUID);
    const iat = Math.floor(server.clock.now() / 1000);
    assert.match(String(payload.jti), UUID);
    assert.deepEqual({ ...payload, jti: '<jti>' }, {
      client_id: worker.clientId,
      iss: `${server.config.authPath}/${envId}/as`,
      aud: [server.config.apiPath],
      iat,
      exp: iat + 3600,
      jti: '<jti>',
      env: envId,
      org,
    });
    assert.equal(payload.sub, undefined, 'client-credentials tokens have no sub');
  });

  test('the access token verifies against GET /<envId>/as/jwks, which publishes no private key material', async () => {
    const jwks = await server.request('GET', `/${envId}/as/jwks`, { token: null });
    assert.equal(jwks.status, 200, jwks.text);
    const keys = jwks.body.keys as Array<Record<string, string>>;
    assert.equal(keys.length, 1);
    const jwk = keys[0]!;
    assert.deepEqual(Object.keys(jwk).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
    assert.deepEqual({ kty: jwk.kty, alg: jwk.alg, use: jwk.use }, { kty: 'RSA', alg: 'RS256', use: 'sig' });
    const { header, signingInput, signature } = decode(worker.token);
    assert.equal(jwk.kid, header.kid);
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    assert.equal(cryptoVerify('sha256', Buffer.from(signingInput), key, signature), true);
    // Another environment signs with another key.
    const other = await server.request('GET', `/${otherEnvId}/as/jwks`, { token: null });
    assert.equal(other.status, 200);
    assert.notEqual(other.body.keys[0].kid, jwk.kid);
    assert.equal(cryptoVerify('sha256', Buffer.from(signingInput), createPublicKey({ key: other.body.keys[0], format: 'jwk' }), signature), false);
  });

  test('JWKS of an unknown environment: 404 NOT_FOUND', async () => {
    const res = await server.request('GET', '/00000000-0000-4000-8000-000000000000/as/jwks', { token: null });
    assertError(res, 404, { code: 'NOT_FOUND', message: 'The request could not be completed. The requested resource was not found.' });
  });

  test('a guessed secret gets no token: wrong secret → 401 invalid_client with WWW-Authenticate: Basic', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: worker.clientId, secret: worker.secret + 'x' });
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.body, OAUTH_INVALID_CLIENT);
    assert.match(String(res.headers['www-authenticate']), /^Basic /);
    assert.equal(res.headers['cache-control'], 'no-store');
    const post = await tokenRequest(server, envId, { grant_type: 'client_credentials', client_id: postApp.id, client_secret: 'nope' });
    assert.equal(post.status, 401, post.text);
    assert.deepEqual(post.body, OAUTH_INVALID_CLIENT);
  });

  test('client IDs cannot be enumerated: an unknown client gets the same 401 invalid_client as a wrong secret', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: '6c796712-0f16-4062-815a-e0a92f4a2143', secret: 'whatever' });
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.body, OAUTH_INVALID_CLIENT);
  });

  test('a client of environment A cannot get a token at environment B’s endpoint: 401 invalid_client', async () => {
    const res = await tokenRequest(server, otherEnvId, { grant_type: 'client_credentials' }, { id: worker.clientId, secret: worker.secret });
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.body, OAUTH_INVALID_CLIENT);
    const post = await tokenRequest(server, otherEnvId, { grant_type: 'client_credentials', client_id: postApp.id, client_secret: postApp.secret });
    assert.equal(post.status, 401, post.text);
    assert.deepEqual(post.body, OAUTH_INVALID_CLIENT);
  });

  test('no client authentication at all: 401 invalid_client', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials' });
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.body, { error: 'invalid_client', error_description: 'client authentication is required' });
  });

  test('missing grant_type: 400 invalid_request', async () => {
    const res = await tokenRequest(server, envId, {}, { id: worker.clientId, secret: worker.secret });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'grant_type is required once' });
  });

  test('grant_type=password: 400 unsupported_grant_type', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'password', username: 'u', password: 'p' }, { id: worker.clientId, secret: worker.secret });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body, { error: 'unsupported_grant_type', error_description: 'only client_credentials is supported' });
  });

  test('two client authentication methods at once are refused: 400 invalid_request', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials', client_secret: worker.secret }, { id: worker.clientId, secret: worker.secret });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'use one client authentication method, not two' });
  });

  test('a JSON body is not a token request: 415 in OAuth form', async () => {
    const res = await server.request('POST', `/${envId}/as/token`, {
      token: null,
      body: { grant_type: 'client_credentials', client_id: postApp.id, client_secret: postApp.secret },
    });
    assert.equal(res.status, 415, res.text);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'Content-Type application/json is not accepted here' });
  });

  test('an oversized token request (> 64 KiB): 413 in OAuth form', async () => {
    const res = await tokenRequest(server, envId, { grant_type: 'client_credentials', padding: 'x'.repeat(70 * 1024) }, { id: worker.clientId, secret: worker.secret });
    assert.equal(res.status, 413, res.text);
    assert.deepEqual(res.body, { error: 'invalid_request', error_description: 'the request body is too large' });
  });

  test('an application created disabled gets no token: 401 invalid_client', async () => {
    const res = await server.request('POST', `/v1/environments/${envId}/applications`, { body: { name: 'off', type: 'WORKER', enabled: false } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.enabled, false);
    const token = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: res.body.id, secret: res.body.secret });
    assert.equal(token.status, 401, token.text);
    assert.deepEqual(token.body, { error: 'invalid_client', error_description: 'the application is disabled' });
  });

  describe('bearer tokens that must be refused', () => {
    const probe = (token: string) => server.request('GET', `/v1/environments/${envId}`, { token });

    test('a tampered payload (another client_id, same signature) is refused: 401 ACCESS_FAILED', async () => {
      const [h, p, s] = worker.token.split('.') as [string, string, string];
      const claims = decodePart(p);
      const forged = `${h}.${b64u({ ...claims, client_id: server.boot.clientId })}.${s}`;
      const res = await probe(forged);
      assertError(res, 401, unauthorizedBody('the access token signature is invalid'));
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    });

    test('a tampered signature is refused: 401 ACCESS_FAILED', async () => {
      const [h, p, s] = worker.token.split('.') as [string, string, string];
      const sig = Buffer.from(s, 'base64url');
      sig[10] = sig[10]! ^ 0x01;
      assertError(await probe(`${h}.${p}.${sig.toString('base64url')}`), 401, unauthorizedBody('the access token signature is invalid'));
    });

    test('a token signed by an attacker’s RSA key under a real kid is refused: 401 ACCESS_FAILED', async () => {
      const { header, payload } = decode(worker.token);
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const input = `${b64u(header)}.${b64u({ ...payload, client_id: server.boot.clientId })}`;
      const forged = `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
      assertError(await probe(forged), 401, unauthorizedBody('the access token signature is invalid'));
    });

    test('alg: none is refused, with or without a signature: 401 ACCESS_FAILED', async () => {
      const { header, payload } = decode(worker.token);
      const input = `${b64u({ ...header, alg: 'none' })}.${b64u(payload)}`;
      assertError(await probe(`${input}.`), 401, unauthorizedBody('the JWT has no signature'));
      const [, , s] = worker.token.split('.');
      assertError(await probe(`${input}.${s}`), 401, unauthorizedBody('the access token is not RS256'));
    });

    test('HS256 keyed with the environment’s public key is refused: 401 ACCESS_FAILED', async () => {
      const { header, payload } = decode(worker.token);
      const jwks = await server.request('GET', `/${envId}/as/jwks`, { token: null });
      const pem = createPublicKey({ key: jwks.body.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const input = `${b64u({ ...header, alg: 'HS256' })}.${b64u(payload)}`;
      const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      assertError(await probe(forged), 401, unauthorizedBody('the access token is not RS256'));
    });

    test('a token whose kid this server never issued is refused: 401 ACCESS_FAILED', async () => {
      const { header, payload } = decode(worker.token);
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const input = `${b64u({ ...header, kid: '11111111-1111-4111-8111-111111111111' })}.${b64u(payload)}`;
      const forged = `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
      assertError(await probe(forged), 401, unauthorizedBody('the access token was signed by an unknown key'));
    });
  });

  test('a token of a deleted application stops working at once: 401 ACCESS_FAILED', async () => {
    const doomed = await createWorker(server, envId, 'doomed');
    assert.equal((await server.request('GET', `/v1/environments/${envId}`, { token: doomed.token })).status, 200);
    const del = await server.request('DELETE', `/v1/environments/${envId}/applications/${doomed.clientId}`);
    assert.equal(del.status, 204, del.text);
    const res = await server.request('GET', `/v1/environments/${envId}`, { token: doomed.token });
    assertError(res, 401, unauthorizedBody('The application that holds this token no longer exists or is disabled'));
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    const again = await tokenRequest(server, envId, { grant_type: 'client_credentials' }, { id: doomed.clientId, secret: doomed.secret });
    assert.equal(again.status, 401);
    assert.deepEqual(again.body, OAUTH_INVALID_CLIENT);
  });
});

describe(`token expiry with an injected clock (${DIALECT})`, () => {
  let server: TestServer;
  const clock = new ManualClock('2026-02-17T13:34:34.840Z');
  before(async () => {
    server = await startTestServer({ clock });
  });
  after(() => server.close());

  test('an expired token is refused: valid for its hour, 401 ACCESS_FAILED once 3600 s have passed', async () => {
    const envId = await createEnvironment(server, 'expiry');
    const { token } = await createWorker(server, envId);
    assert.equal((await server.request('GET', `/v1/environments/${envId}`, { token })).status, 200);
    clock.advance(3599_000);
    assert.equal((await server.request('GET', `/v1/environments/${envId}`, { token })).status, 200, 'still valid one second before expiry');
    clock.advance(1_000);
    const res = await server.request('GET', `/v1/environments/${envId}`, { token });
    assertError(res, 401, unauthorizedBody('the access token has expired'));
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('an expired token is refused even when the server has never seen it before (no cache)', async () => {
    const envId = await createEnvironment(server, 'expiry 2');
    const w = await createWorker(server, envId);
    const fresh = await server.token(w.clientId, w.secret, envId);
    clock.advance(3600_000);
    assertError(await server.request('GET', `/v1/environments/${envId}`, { token: fresh }), 401, unauthorizedBody('the access token has expired'));
  });
});
