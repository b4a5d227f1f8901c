import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { ManualClock, epochSeconds } from '../../src/clock.js';
import { decodeCompact, importPublicEcJwk, verifySignature } from '../../src/crypto/jws.js';
import { LOCAL_ORIGIN, signOptions, startAgent, startIssuer, type FakeIssuer, type TestAgent } from './helpers.js';

let issuer: FakeIssuer;
let other: FakeIssuer;
let agent: TestAgent;
let clock: ManualClock;
let credentialId: string;
let publicJwk: Record<string, unknown>;
let unitId: string;

before(async () => {
  issuer = await startIssuer();
  other = await startIssuer();
  clock = new ManualClock();
  agent = await startAgent({ trust: [issuer.iss, other.iss], clock });
  const res = await agent.post('/register', (await signOptions(issuer, clock)).jwt);
  assert.equal(res.status, 200, res.body);
  const d = decodeCompact(res.body);
  assert.ok(d.ok);
  credentialId = d.jws.payload.credentialId as string;
  unitId = d.jws.payload.unitId as string;
  publicJwk = d.jws.header.jwk as Record<string, unknown>;
});
after(async () => {
  await agent.close();
  await issuer.close();
  await other.close();
});

const requestOptions = (extra: Record<string, unknown> = {}, from: FakeIssuer = issuer) =>
  signOptions(from, clock, { kind: 'request', claims: { allowCredentials: [{ id: randomUUID() }, { id: credentialId }], ...extra } });

test('authenticate: request options for a stored credential yield an assertion signed by that credential key', async () => {
  clock.advance(5_000);
  const { jwt, claims } = await requestOptions();
  const res = await agent.post('/authenticate', jwt);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['content-type'], 'application/jwt');
  assert.equal(res.headers['access-control-allow-origin'], LOCAL_ORIGIN);

  const d = decodeCompact(res.body);
  assert.ok(d.ok);
  assert.deepEqual(d.jws.header, { typ: 'pingid-desktop-assertion+jwt', kid: credentialId, alg: 'ES256' });

  // Verify with the public key the server would have stored at activation (from the attestation)…
  const fromAttestation = importPublicEcJwk(publicJwk);
  assert.ok(fromAttestation.ok);
  assert.equal(verifySignature('ES256', fromAttestation.key, d.jws), true);
  // …which is the public half of the key in the key store.
  const stored = JSON.parse(await readFile(path.join(agent.stateDir, 'keystore.json'), 'utf8')) as { credentials: { credentialId: string; privateJwk: Record<string, string> }[] };
  const cred = stored.credentials.find((c) => c.credentialId === credentialId)!;
  assert.equal(cred.privateJwk.x, publicJwk.x);
  assert.equal(cred.privateJwk.y, publicJwk.y);

  const now = epochSeconds(clock.now());
  assert.deepEqual(d.jws.payload, {
    iss: 'pingid-desktop',
    aud: issuer.iss,
    sub: claims.sub,
    challenge: claims.challenge,
    origin: LOCAL_ORIGIN,
    credentialId,
    unitId,
    iat: now,
    exp: now + 60,
  });
});

test('authenticate: no stored credential in allowCredentials answers 404', async () => {
  const { jwt } = (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [{ id: randomUUID() }] } }));
  const res = await agent.post('/authenticate', jwt);
  assert.equal(res.status, 404);
  assert.equal(res.json().error, 'credential_not_found');
  const empty = await agent.post('/authenticate', (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials: [] } })).jwt);
  assert.equal(empty.status, 404);
});

test('authenticate: cross-issuer credential use — another trusted issuer naming our credential ID gets 404', async () => {
  const res = await agent.post('/authenticate', (await requestOptions({}, other)).jwt);
  assert.equal(res.status, 404);
  assert.equal(res.json().error, 'credential_not_found');
});

test('authenticate: cross-RP credential use — request options for another rp.id do not unlock the credential', async () => {
  const res = await agent.post('/authenticate', (await requestOptions({ rp: { id: 'example.com', name: 'Other' } })).jwt, { Origin: 'https://example.com' });
  assert.equal(res.status, 404);
});

test('authenticate: options type confusion — creation options are refused at /authenticate and request options at /register', async () => {
  const creation = await agent.post('/authenticate', (await signOptions(issuer, clock)).jwt);
  assert.equal(creation.status, 400);
  assert.equal(creation.json().error, 'invalid_typ');
  const req = await agent.post('/register', (await requestOptions()).jwt);
  assert.equal(req.status, 400);
  assert.equal(req.json().error, 'invalid_typ');
});

test('authenticate: malformed allowCredentials is refused', async () => {
  for (const allowCredentials of [undefined, 'x', [{}], [{ id: 5 }], [credentialId]]) {
    const { jwt } = (await signOptions(issuer, clock, { kind: 'request', claims: { allowCredentials }, omit: allowCredentials === undefined ? ['allowCredentials'] : [] }));
    const res = await agent.post('/authenticate', jwt);
    assert.equal(res.status, 400, JSON.stringify(allowCredentials));
    assert.equal(res.json().error, 'invalid_claims');
  }
});
