import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ManualClock, epochSeconds } from '../../src/clock.js';
import { compactVerify, EmbeddedJWK } from 'jose';
import { decodeCompact } from '../../src/crypto/jws.js';
import { AGENT_APPLICATION_ID, AGENT_VERSION } from '../../src/agent/server.js';
import { LOCAL_ORIGIN, request, signOptions, startAgent, type FakeIssuer, type TestAgent, useAgent } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let issuer: FakeIssuer;
let agent: TestAgent;
let clock: ManualClock;

useAgent((stack) => ({ issuer, agent, clock } = stack));

test('register: a valid creation options JWT yields a self-attested P-256 credential bound to challenge, origin and issuer', async () => {
  const { jwt, claims } = (await signOptions(issuer, clock));
  const res = await agent.post('/register', jwt);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/jwt');
  assert.equal(res.headers['access-control-allow-origin'], LOCAL_ORIGIN);
  assert.equal(res.headers['cache-control'], 'no-store');

  const decoded = decodeCompact(res.body);
  assert.ok(decoded.ok);
  const { header, payload } = decoded.jws;

  assert.deepEqual(Object.keys(header).sort(), ['alg', 'jwk', 'typ']);
  assert.equal(header.alg, 'ES256');
  assert.equal(header.typ, 'pingid-desktop-attestation+jwt');
  const jwk = header.jwk as Record<string, unknown>;
  assert.deepEqual(Object.keys(jwk).sort(), ['crv', 'kty', 'x', 'y']);
  assert.equal(jwk.kty, 'EC');
  assert.equal(jwk.crv, 'P-256');
  assert.equal('d' in jwk, false, 'the private key must never leave the agent');
  assert.equal(res.body.includes('"d"'), false);

  // jose verifies it with its header jwk: an implementation independent of the agent's signer.
  await compactVerify(res.body, EmbeddedJWK, { algorithms: ['ES256'] });

  const now = epochSeconds(clock.now());
  assert.equal(payload.iss, 'pingid-desktop');
  assert.equal(payload.aud, issuer.iss);
  assert.equal(payload.sub, claims.sub);
  assert.equal(payload.challenge, claims.challenge);
  assert.equal(payload.origin, LOCAL_ORIGIN);
  assert.match(payload.credentialId as string, UUID);
  assert.match(payload.unitId as string, UUID);
  assert.equal(payload.nickname, 'Desktop Linux');
  assert.deepEqual(payload.os, { type: 'LINUX', version: '6.8.0' });
  assert.deepEqual(payload.model, {});
  assert.deepEqual(payload.application, {
    id: AGENT_APPLICATION_ID,
    nativeName: 'PingID Desktop',
    version: AGENT_VERSION,
    pushSandbox: false,
  });
  assert.equal(AGENT_APPLICATION_ID, '941d6390-ec3a-4bf4-858a-949c47ccd36e');
  assert.equal(AGENT_VERSION, '1.0.0');
  assert.equal(payload.iat, now);
  assert.equal(payload.exp, now + 300);
  assert.deepEqual(Object.keys(payload).sort(), [
    'application', 'aud', 'challenge', 'credentialId', 'exp', 'iat', 'iss', 'model', 'nickname', 'origin', 'os', 'sub', 'unitId',
  ]);
});

test('device name reveals no count: the default nickname is the same however many credentials the agent holds; a second pairing gets a fresh key and ID', async () => {
  const first = await agent.post('/register', (await signOptions(issuer, clock)).jwt);
  const second = await agent.post('/register', (await signOptions(issuer, clock)).jwt);
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  const a = decodeCompact(first.body);
  const b = decodeCompact(second.body);
  assert.ok(a.ok && b.ok);
  // An issuer (or the page) learns nothing about the agent's other pairings from the name.
  assert.equal(a.jws.payload.nickname, 'Desktop Linux');
  assert.equal(b.jws.payload.nickname, 'Desktop Linux');
  assert.doesNotMatch(String(b.jws.payload.nickname), /\d/);
  assert.notEqual(a.jws.payload.credentialId, b.jws.payload.credentialId);
  assert.notDeepEqual(a.jws.header.jwk, b.jws.header.jwk);
  assert.equal(a.jws.payload.unitId, b.jws.payload.unitId);
});

test('register: lost update — concurrent pairings are all persisted', async () => {
  const responses = await Promise.all(Array.from({ length: 8 }, async () => agent.post('/register', (await signOptions(issuer, clock)).jwt)));
  assert.ok(responses.every((r) => r.status === 200));
  const ids = responses.map((r) => {
    const d = decodeCompact(r.body);
    assert.ok(d.ok);
    return d.jws.payload.credentialId as string;
  });
  const nicknames = new Set(responses.map((r) => {
    const d = decodeCompact(r.body);
    assert.ok(d.ok);
    return d.jws.payload.nickname;
  }));
  assert.deepEqual([...nicknames], ['Desktop Linux'], 'no pairing\'s name tells how many came before it');
  const stored = JSON.parse(await readFile(`${agent.stateDir}/keystore.json`, 'utf8')) as { credentials: { credentialId: string }[] };
  const storedIds = new Set(stored.credentials.map((c) => c.credentialId));
  for (const id of ids) assert.ok(storedIds.has(id), `credential ${id} was lost`);
});

test('register: the configured nickname is used as is', async () => {
  const named = await startAgent({ trust: [issuer.iss], clock, nickname: 'Build box' });
  try {
    const res = await named.post('/register', (await signOptions(issuer, clock)).jwt);
    assert.equal(res.status, 200);
    const d = decodeCompact(res.body);
    assert.ok(d.ok);
    assert.equal(d.jws.payload.nickname, 'Build box');
  } finally {
    await named.close();
  }
});

test('register: an https RP origin on a subdomain of rp.id is accepted and echoed in the attestation', async () => {
  const { jwt } = (await signOptions(issuer, clock, { claims: { rp: { id: 'example.com', name: 'Example' } } }));
  const res = await agent.post('/register', jwt, { Origin: 'https://login.example.com' });
  assert.equal(res.status, 200, res.body);
  const d = decodeCompact(res.body);
  assert.ok(d.ok);
  assert.equal(d.jws.payload.origin, 'https://login.example.com');
});

test('health: GET /health answers {"status":"ok"}', async () => {
  const res = await request(`${agent.url}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
});

test('routing: unknown routes are 404 JSON errors and wrong methods are 405', async () => {
  const res = await request(`${agent.url}/nope`);
  assert.equal(res.status, 404);
  assert.deepEqual(res.json(), { error: 'not_found', message: 'no such endpoint' });
  const get = await request(`${agent.url}/register`);
  assert.equal(get.status, 405);
  assert.equal(get.json().error, 'method_not_allowed');
  assert.equal(get.headers.allow, 'POST, OPTIONS');
});
