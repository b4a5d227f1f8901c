/**
 * The one JWT verifier (src/crypto/jwt.ts) on its own, without HTTP: tokens are made by jose
 * (test/support/jws.ts), an implementation independent of the server's, and every refusal is
 * asserted whole ({ok: false, code, claim}). The clock rule is checked at its edges with
 * tolerance 0 (our access tokens) and 60 s (the agent's JWTs, protocol §1.3 step 7).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { Type } from 'typebox';
import { fixedKey, verifyJwt, type JwtVerifyOptions } from '../../src/crypto/jwt.js';
import { forgeJws, signJws } from '../support/jws.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const NOW = Date.UTC(2026, 1, 17, 13, 34, 34, 840);
const T = Math.floor(NOW / 1000);

const claims = (extra: Record<string, unknown> = {}) => ({ iss: 'https://issuer.example/as', aud: 'api', sub: 'device-1', iat: T, exp: T + 300, ...extra });
const options = (extra: Partial<JwtVerifyOptions<undefined, never>> = {}): JwtVerifyOptions<undefined, never> => ({
  algorithms: ['ES256'], typ: 'test+jwt', key: fixedKey(ec.publicKey), issuer: 'https://issuer.example/as', audience: 'api', subject: 'device-1',
  clockTolerance: 0, now: NOW, ...extra,
});
const token = (payload: Record<string, unknown> = claims(), header: Record<string, unknown> = { typ: 'test+jwt' }) => signJws('ES256', ec.privateKey, header, payload);
const refusal = (code: string, claim: string | undefined, message: string) => ({ ok: false, code, claim, message });

test('a jose-signed JWT with every expectation met verifies, with its header and payload', async () => {
  const payload = claims();
  assert.deepEqual(await verifyJwt(await token(payload), options()), { ok: true, header: { typ: 'test+jwt', alg: 'ES256' }, payload, context: undefined });
});

test('clock rule, tolerance 0: valid one second before exp, expired at exp exactly; iat one second ahead refused', async () => {
  const at = (ms: number) => options({ now: ms });
  assert.equal((await verifyJwt(await token(claims({ exp: T + 1 })), at(NOW))).ok, true);
  assert.deepEqual(await verifyJwt(await token(claims({ exp: T })), at(NOW)), refusal('expired', 'exp', 'the JWT has expired'));
  assert.deepEqual(await verifyJwt(await token(claims({ iat: T + 1 })), at(NOW)), refusal('claim', 'iat', 'iat is in the future'));
});

test('clock rule, tolerance 60 s: exp up to 60 s past and iat or nbf up to 60 s ahead pass; one second more does not', async () => {
  const skew = options({ clockTolerance: 60 });
  assert.equal((await verifyJwt(await token(claims({ exp: T - 59 })), skew)).ok, true);
  assert.deepEqual(await verifyJwt(await token(claims({ exp: T - 60 })), skew), refusal('expired', 'exp', 'the JWT has expired'));
  assert.equal((await verifyJwt(await token(claims({ iat: T + 60, nbf: T + 60 })), skew)).ok, true);
  assert.deepEqual(await verifyJwt(await token(claims({ iat: T + 61 })), skew), refusal('claim', 'iat', 'iat is in the future'));
  assert.deepEqual(await verifyJwt(await token(claims({ nbf: T + 61 })), skew), refusal('claim', 'nbf', 'the JWT is not yet valid'));
});

test('exp and iat are required numbers', async () => {
  const { exp: _exp, ...noExp } = claims();
  const { iat: _iat, ...noIat } = claims();
  assert.deepEqual(await verifyJwt(await token(noExp), options()), refusal('claim', 'exp', 'exp is missing or not a number'));
  assert.deepEqual(await verifyJwt(await token(claims({ exp: String(T + 300) })), options()), refusal('claim', 'exp', 'exp is missing or not a number'));
  assert.deepEqual(await verifyJwt(await token(noIat), options()), refusal('claim', 'iat', 'iat is missing or not a number'));
});

test('algorithm confusion: an alg outside the list (RS256 where ES256 is expected, none) is refused before any key is asked for', async () => {
  let asked = 0;
  const key = () => { asked++; return { ok: true as const, key: ec.publicKey, context: undefined }; };
  const rs = await signJws('RS256', rsa.privateKey, { typ: 'test+jwt' }, claims());
  assert.deepEqual(await verifyJwt(rs, options({ key })), refusal('alg', 'alg', 'alg must be ES256'));
  const [, p] = (await token()).split('.');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'test+jwt' })).toString('base64url')}.${p}.`;
  assert.deepEqual(await verifyJwt(none, options({ key })), refusal('malformed', undefined, 'the JWT has no signature'));
  assert.equal(asked, 0);
});

test('typ: required exactly; typOptional accepts none but never another', async () => {
  assert.deepEqual(await verifyJwt(await token(claims(), { typ: 'JWT' }), options()), refusal('typ', 'typ', 'typ must be test+jwt'));
  assert.deepEqual(await verifyJwt(await token(claims(), {}), options()), refusal('typ', 'typ', 'typ must be test+jwt'));
  assert.equal((await verifyJwt(await token(claims(), {}), options({ typOptional: true }))).ok, true);
  assert.deepEqual(await verifyJwt(await token(claims(), { typ: 'JWT' }), options({ typOptional: true })), refusal('typ', 'typ', 'typ must be test+jwt'));
});

test('a token naming its own key (jku, x5u, jwk, kid) is refused when the caller forbids it', async () => {
  for (const p of ['jku', 'x5u', 'jwk', 'kid']) {
    const t = await token(claims(), { typ: 'test+jwt', [p]: p === 'jwk' ? { kty: 'EC' } : 'https://evil.example/k' });
    assert.deepEqual(await verifyJwt(t, options({ forbiddenHeaders: ['jku', 'x5u', 'jwk', 'kid'] })), refusal('header', p, `the JWT header must not carry ${p}`));
  }
});

test('signature by another key, or the ES256 label over a P-384 key, is refused', async () => {
  const forged = await signJws('ES256', other.privateKey, { typ: 'test+jwt' }, claims());
  assert.deepEqual(await verifyJwt(forged, options()), refusal('signature', undefined, 'the signature does not verify'));
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  assert.deepEqual(await verifyJwt(forgeJws('ES256', p384.privateKey, { typ: 'test+jwt' }, claims()), options({ key: fixedKey(p384.publicKey) })), refusal('signature', undefined, 'the signature does not verify'));
});

test('the key resolver sees the unverified header and payload; its refusal and detail come back as code key', async () => {
  const seen: unknown[] = [];
  const res = await verifyJwt<undefined, { status: number }>(await token(claims(), { typ: 'test+jwt', kid: 'k1' }), {
    ...options(),
    key: ({ header, payload }) => { seen.push(header.kid, payload.iss); return { ok: false, message: 'unknown kid', detail: { status: 403 } }; },
  });
  assert.deepEqual(res, { ok: false, code: 'key', claim: undefined, message: 'unknown kid', detail: { status: 403 } });
  assert.deepEqual(seen, ['k1', 'https://issuer.example/as']);
});

test('issuer may be computed from what the resolver found (the key of one environment)', async () => {
  const key = () => ({ ok: true as const, key: ec.publicKey, context: { env: 'env-1' } });
  const good = await verifyJwt(await token(claims({ iss: 'https://as/env-1' })), { ...options(), key, issuer: (c: { env: string }) => `https://as/${c.env}` });
  assert.equal(good.ok, true);
  const bad = await verifyJwt(await token(claims({ iss: 'https://as/env-2' })), { ...options(), key, issuer: (c: { env: string }) => `https://as/${c.env}` });
  assert.deepEqual(bad, refusal('claim', 'iss', 'iss must be https://as/env-1'));
});

test('audience: a string wants exactly that string; [x] wants an array holding x (RFC 9068)', async () => {
  const wrongAud = refusal('claim', 'aud', 'the JWT is for another audience');
  assert.deepEqual(await verifyJwt(await token(claims({ aud: ['api'] })), options()), wrongAud);
  assert.deepEqual(await verifyJwt(await token(claims({ aud: 'API' })), options()), wrongAud);
  assert.equal((await verifyJwt(await token(claims({ aud: ['other', 'api'] })), options({ audience: ['api'] }))).ok, true);
  assert.deepEqual(await verifyJwt(await token(claims({ aud: 'api' })), options({ audience: ['api'] })), wrongAud);
  assert.deepEqual(await verifyJwt(await token(claims({ sub: 'device-2' })), options()), refusal('claim', 'sub', 'the JWT is for another subject'));
});

test('claim shapes come last and name the first bad claim by path (rp.id for a missing member)', async () => {
  const schema = Type.Object({ rp: Type.Object({ id: Type.String(), name: Type.String() }), jti: Type.String({ minLength: 1 }) });
  const o = options({ claims: schema });
  assert.equal((await verifyJwt(await token(claims({ rp: { id: 'a', name: 'b' }, jti: 'j' })), o)).ok, true);
  assert.deepEqual(await verifyJwt(await token(claims({ rp: { name: 'b' }, jti: 'j' })), o), refusal('shape', 'rp.id', 'the JWT claim rp.id does not have the expected shape'));
  assert.deepEqual(await verifyJwt(await token(claims({ rp: { id: 'a', name: 1 }, jti: 'j' })), o), refusal('shape', 'rp.name', 'the JWT claim rp.name does not have the expected shape'));
  // An expired token with a bad shape is expired: the registered claims are checked first.
  assert.deepEqual(await verifyJwt(await token(claims({ exp: T - 10 })), o), refusal('expired', 'exp', 'the JWT has expired'));
});
