/**
 * Quality bar S4: a corpus of hostile JWTs, each named, against the three places the server
 * verifies a JWT: worker access tokens (Bearer on a GET), PingID Desktop attestations
 * (activating a pending device, protocol §1.3) and assertions (assertion.check, protocol §2).
 * Every case must be refused with a 4xx — never a 5xx, never a success — and must change
 * nothing: the device stays ACTIVATION_REQUIRED, the flow stays ASSERTION_REQUIRED.
 *
 * Each target first proves its builder: the unmutated token is accepted, so every refusal
 * below is the mutation's doing.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { after, before, test } from 'node:test';
import { compactVerify } from 'jose';
import { epochSeconds } from '../../src/clock.js';
import { TYP } from '../../src/protocol/desktop.js';
import { createEnvironment, createWorker, startTestServer, type Response, type TestServer } from '../helper.js';
import { ACTIVATE, attest, claimsOf, newCredential, pendingDesktop } from '../devices/desktop-fixtures.js';
import { CT, ORIGIN } from '../authentication/support.js';

type Rec = Record<string, unknown>;
type TargetName = 'access' | 'attestation' | 'assertion';

/** Everything a case needs to forge a token for one target. */
interface Kit {
  target: TargetName;
  /** The legitimate header and claims, and the key that makes them valid. */
  header: Rec;
  claims: Rec;
  key: KeyObject;
  publicKey: KeyObject;
  /** A key of the same kind held by someone else (the other environment, another device). */
  otherKey: KeyObject;
  otherKid: string;
  /** Claims that make the token another environment's, another subject's, a replay. */
  otherEnv: Rec;
  otherSub: Rec;
  replay: Rec;
}

interface Built {
  token: string;
  /** assertion.check's body origin (defaults to the claim's). */
  origin?: string;
}

interface Case {
  name: string;
  /** undefined: the case does not apply to this target (said why in `skip`). */
  build(k: Kit): Built | undefined;
}

// ─── forging ────────────────────────────────────────────────────────────────────────────────────

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const ed = generateKeyPairSync('ed25519');

function signature(alg: string, key: KeyObject | string | Buffer, input: string): Buffer {
  const data = Buffer.from(input);
  switch (alg) {
    case 'HS256': return createHmac('sha256', key as string | Buffer).update(data).digest();
    case 'HS512': return createHmac('sha512', key as string | Buffer).update(data).digest();
    case 'RS256': return cryptoSign('sha256', data, key as KeyObject);
    case 'PS256': return cryptoSign('sha256', data, { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
    case 'ES256': return cryptoSign('sha256', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    case 'ES384': return cryptoSign('sha384', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    case 'ES512': return cryptoSign('sha512', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA': return cryptoSign(null, data, key as KeyObject);
    default: throw new Error(`no signer for ${alg}`);
  }
}

/** A compact JWS; header/payload objects are JSON-encoded, strings are taken as the raw JSON text. */
function forge(header: Rec | string, payload: Rec | string | unknown, sign: { alg: string; key: KeyObject | string | Buffer } | null): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign ? signature(sign.alg, sign.key, input).toString('base64url') : ''}`;
}

const legitAlg = (k: Kit): string => (k.target === 'access' ? 'RS256' : 'ES256');
/** Header and claims as given, signed the legitimate way. */
const signed = (k: Kit, header: Rec, claims: Rec | unknown = k.claims): string => forge(header, claims, { alg: legitAlg(k), key: k.key });
const legit = (k: Kit): string => signed(k, k.header);
const withClaims = (k: Kit, patch: Rec): string => signed(k, k.header, { ...k.claims, ...patch });
const without = (o: Rec, ...keys: string[]): Rec => Object.fromEntries(Object.entries(o).filter(([key]) => !keys.includes(key)));
const parts = (t: string): [string, string, string] => t.split('.') as [string, string, string];
const publicPem = (k: Kit): string => k.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const publicJwkJson = (k: Kit): string => JSON.stringify(k.publicKey.export({ format: 'jwk' }));
const jwkOf = (key: KeyObject): Rec => createPublicKey(key).export({ format: 'jwk' }) as Rec;
const desktopOnly = (k: Kit, f: () => Built): Built | undefined => (k.target === 'access' ? undefined : f());
/** The forger's legitimate token verifies with jose too (an implementation independent of the server's): the control proves the forger, not only the server. */
async function joseAccepts(k: Kit): Promise<void> {
  const { protectedHeader, payload } = await compactVerify(legit(k), k.publicKey, { algorithms: [legitAlg(k)] });
  assert.deepEqual(protectedHeader, k.header);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), k.claims);
}

/** The corpus. */
const CASES: Case[] = [
  // alg none and signature games
  { name: 'alg none', build: (k) => ({ token: forge({ ...k.header, alg: 'none' }, k.claims, null) }) },
  { name: 'alg None', build: (k) => ({ token: forge({ ...k.header, alg: 'None' }, k.claims, null) }) },
  { name: 'alg NONE', build: (k) => ({ token: forge({ ...k.header, alg: 'NONE' }, k.claims, null) }) },
  { name: 'alg nOnE with the legitimate signature kept', build: (k) => { const [, , s] = parts(legit(k)); const [h, p] = parts(forge({ ...k.header, alg: 'nOnE' }, k.claims, null)); return { token: `${h}.${p}.${s}` }; } },
  { name: 'alg missing', build: (k) => { const [, p, s] = parts(legit(k)); return { token: `${b64(without(k.header, 'alg'))}.${p}.${s}` }; } },
  { name: 'alg lower case', build: (k) => ({ token: forge({ ...k.header, alg: legitAlg(k).toLowerCase() }, k.claims, { alg: legitAlg(k), key: k.key }) }) },
  { name: 'alg with a Cyrillic homoglyph', build: (k) => ({ token: forge({ ...k.header, alg: legitAlg(k).replace('S', '\u0405') }, k.claims, { alg: legitAlg(k), key: k.key }) }) },
  { name: 'empty signature', build: (k) => { const [h, p] = parts(legit(k)); return { token: `${h}.${p}.` }; } },
  { name: 'truncated signature', build: (k) => { const [h, p, s] = parts(legit(k)); return { token: `${h}.${p}.${s.slice(0, Math.floor(s.length / 2))}` }; } },
  { name: 'signature part stripped', build: (k) => { const [h, p] = parts(legit(k)); return { token: `${h}.${p}` }; } },
  { name: 'signature bit flipped', build: (k) => { const [h, p, s] = parts(legit(k)); const sig = Buffer.from(s, 'base64url'); sig[5] ^= 1; return { token: `${h}.${p}.${sig.toString('base64url')}` }; } },
  { name: 'signature over a different payload', build: (k) => { const [, , s] = parts(withClaims(k, { jti: 'other', extra: 1 })); const [h, p] = parts(legit(k)); return { token: `${h}.${p}.${s}` }; } },
  { name: 'signature by another party (other environment / other device)', build: (k) => ({ token: forge(k.header, k.claims, { alg: legitAlg(k), key: k.otherKey }) }) },
  // algorithm confusion
  { name: 'HS256 keyed with the public key (PEM)', build: (k) => ({ token: forge({ ...k.header, alg: 'HS256' }, k.claims, { alg: 'HS256', key: publicPem(k) }) }) },
  { name: 'HS256 keyed with the public key (JWK JSON)', build: (k) => ({ token: forge({ ...k.header, alg: 'HS256' }, k.claims, { alg: 'HS256', key: publicJwkJson(k) }) }) },
  { name: 'HS512 keyed with the public key (PEM)', build: (k) => ({ token: forge({ ...k.header, alg: 'HS512' }, k.claims, { alg: 'HS512', key: publicPem(k) }) }) },
  { name: 'HS256 with an empty secret', build: (k) => ({ token: forge({ ...k.header, alg: 'HS256' }, k.claims, { alg: 'HS256', key: '' }) }) },
  { name: 'RS256 where ES256 is expected / ES256 where RS256 is expected', build: (k) => ({ token: k.target === 'access' ? forge({ ...k.header, alg: 'ES256' }, k.claims, { alg: 'ES256', key: p256.privateKey }) : forge({ ...k.header, alg: 'RS256' }, k.claims, { alg: 'RS256', key: rsa.privateKey }) }) },
  { name: 'header alg swapped, signature still the legitimate algorithm', build: (k) => ({ token: forge({ ...k.header, alg: k.target === 'access' ? 'ES256' : 'RS256' }, k.claims, { alg: legitAlg(k), key: k.key }) }) },
  { name: 'ES384', build: (k) => ({ token: forge({ ...k.header, alg: 'ES384' }, k.claims, { alg: 'ES384', key: p384.privateKey }) }) },
  { name: 'ES512', build: (k) => ({ token: forge({ ...k.header, alg: 'ES512' }, k.claims, { alg: 'ES512', key: p521.privateKey }) }) },
  { name: 'PS256', build: (k) => ({ token: forge({ ...k.header, alg: 'PS256' }, k.claims, { alg: 'PS256', key: k.target === 'access' ? k.key : rsa.privateKey }) }) },
  { name: 'EdDSA', build: (k) => ({ token: forge({ ...k.header, alg: 'EdDSA' }, k.claims, { alg: 'EdDSA', key: ed.privateKey }) }) },
  // typ
  { name: 'wrong typ (JWT)', build: (k) => ({ token: signed(k, { ...k.header, typ: 'JWT' }) }) },
  { name: 'typ of another message (options / assertion / attestation)', build: (k) => ({ token: signed(k, { ...k.header, typ: k.target === 'access' ? TYP.request : k.target === 'attestation' ? TYP.assertion : TYP.attestation }) }) },
  // RFC 9068 makes typ at+jwt a SHOULD and the server never mints a typ-less token; only the desktop JWTs require it.
  { name: 'typ missing', build: (k) => desktopOnly(k, () => ({ token: signed(k, without(k.header, 'typ')) })) },
  { name: 'typ with a Cyrillic homoglyph', build: (k) => ({ token: signed(k, { ...k.header, typ: String(k.header.typ).replace('t', '\u0442') }) }) },
  { name: 'typ upper case', build: (k) => ({ token: signed(k, { ...k.header, typ: String(k.header.typ).toUpperCase() }) }) },
  // claims
  { name: "other environment's aud/iss", build: (k) => ({ token: withClaims(k, k.otherEnv) }) },
  { name: 'wrong iss', build: (k) => ({ token: withClaims(k, { iss: 'https://evil.example.com/as' }) }) },
  { name: 'iss missing', build: (k) => ({ token: signed(k, k.header, without(k.claims, 'iss')) }) },
  { name: 'expired an hour ago', build: (k) => ({ token: withClaims(k, { iat: Number(k.claims.iat) - 7200, exp: Number(k.claims.iat) - 3600 }) }) },
  { name: 'expired just past the allowed skew', build: (k) => ({ token: withClaims(k, { iat: Number(k.claims.iat) - 300, exp: Number(k.claims.iat) - 61 }) }) },
  { name: 'nbf an hour in the future', build: (k) => ({ token: withClaims(k, { nbf: Number(k.claims.iat) + 3600 }) }) },
  { name: 'iat an hour in the future', build: (k) => ({ token: withClaims(k, { iat: Number(k.claims.iat) + 3600, exp: Number(k.claims.iat) + 7200 }) }) },
  { name: 'exp missing', build: (k) => ({ token: signed(k, k.header, without(k.claims, 'exp')) }) },
  { name: 'exp a string', build: (k) => ({ token: withClaims(k, { exp: String(k.claims.exp) }) }) },
  { name: 'iat missing', build: (k) => ({ token: signed(k, k.header, without(k.claims, 'iat')) }) },
  { name: 'replayed (a used challenge / a deleted application)', build: (k) => ({ token: withClaims(k, k.replay) }) },
  { name: 'wrong challenge', build: (k) => desktopOnly(k, () => ({ token: withClaims(k, { challenge: randomBytes(32).toString('base64url') }) })) },
  { name: 'challenge missing', build: (k) => desktopOnly(k, () => ({ token: signed(k, k.header, without(k.claims, 'challenge')) })) },
  { name: 'sub / client_id mismatch', build: (k) => ({ token: withClaims(k, k.otherSub) }) },
  { name: 'aud an array holding the right value', build: (k) => ({ token: withClaims(k, { aud: k.target === 'access' ? (k.claims.aud as string[])[0] : [k.claims.aud] }) }) },
  { name: 'aud an array with the right value and another', build: (k) => ({ token: withClaims(k, { aud: k.target === 'access' ? ['https://evil.example.com/v1'] : [k.claims.aud, 'https://evil.example.com/as'] }) }) },
  { name: 'duplicate claim: the legitimate value first, another last', build: (k) => { const key = k.target === 'access' ? 'iss' : 'sub'; const json = JSON.stringify(k.claims).slice(0, -1) + `,"${key}":"evil"}`; return { token: signed(k, k.header, json) }; } },
  { name: 'duplicate header member: alg none last', build: (k) => ({ token: forge(JSON.stringify(k.header).slice(0, -1) + ',"alg":"none"}', k.claims, null) }) },
  // key-selection tricks
  { name: 'jku pointing elsewhere', build: (k) => ({ token: signed(k, { ...k.header, jku: 'https://evil.example.com/jwks.json' }) }) },
  { name: 'x5u pointing elsewhere', build: (k) => ({ token: signed(k, { ...k.header, x5u: 'https://evil.example.com/cert.pem' }) }) },
  { name: 'x5c with a certificate chain', build: (k) => ({ token: signed(k, { ...k.header, x5c: [randomBytes(300).toString('base64')] }) }) },
  { name: 'kid pointing to another key', build: (k) => ({ token: signed(k, { ...k.header, kid: k.otherKid }) }) },
  { name: 'kid with path traversal', build: (k) => ({ token: signed(k, { ...k.header, kid: '../../../../../../etc/passwd' }) }) },
  { name: 'kid SQL-ish', build: (k) => ({ token: signed(k, { ...k.header, kid: "' OR '1'='1' --" }) }) },
  { name: 'kid huge', build: (k) => ({ token: signed(k, { ...k.header, kid: 'k'.repeat(4000) }) }) },
  { name: 'kid a number', build: (k) => ({ token: signed(k, { ...k.header, kid: 1 }) }) },
  // An attestation's key IS its header jwk (protocol §1.3: trust on first use); for it this is the legitimate shape.
  { name: 'attacker jwk in the header, signed by the attacker', build: (k) => (k.target === 'attestation' ? undefined : { token: forge({ ...without(k.header, 'kid'), jwk: jwkOf(p256.privateKey) }, k.claims, { alg: 'ES256', key: p256.privateKey }) }) },
  // crit and b64
  { name: 'unknown crit', build: (k) => ({ token: signed(k, { ...k.header, crit: ['x-unknown'], 'x-unknown': true }) }) },
  { name: 'crit an empty array', build: (k) => ({ token: signed(k, { ...k.header, crit: [] }) }) },
  { name: 'b64 false', build: (k) => ({ token: signed(k, { ...k.header, b64: false, crit: ['b64'] }) }) },
  // jwk contents
  { name: 'jwk carrying the private d', build: (k) => { const priv = k.target === 'access' ? p256.privateKey : k.key; return { token: forge({ ...k.header, jwk: priv.export({ format: 'jwk' }) }, k.claims, { alg: 'ES256', key: priv }) }; } },
  { name: 'jwk on P-384', build: (k) => ({ token: forge({ ...k.header, jwk: jwkOf(p384.privateKey) }, k.claims, { alg: 'ES384', key: p384.privateKey }) }) },
  { name: 'jwk on secp256k1', build: (k) => ({ token: forge({ ...k.header, jwk: jwkOf(k256.privateKey) }, k.claims, { alg: 'ES256', key: k256.privateKey }) }) },
  { name: 'jwk kty RSA', build: (k) => ({ token: forge({ ...k.header, jwk: jwkOf(rsa.privateKey) }, k.claims, { alg: 'RS256', key: rsa.privateKey }) }) },
  { name: 'jwk kty oct', build: (k) => ({ token: forge({ ...k.header, alg: 'HS256', jwk: { kty: 'oct', k: b64('secret') } }, k.claims, { alg: 'HS256', key: 'secret' }) }) },
  { name: 'jwk x/y of the wrong length', build: (k) => { const j = jwkOf(k.target === 'access' ? p256.privateKey : k.key); return { token: signed(k, { ...k.header, jwk: { ...j, x: Buffer.from(String(j.x), 'base64url').subarray(1).toString('base64url') } }) }; } },
  { name: 'jwk point not on the curve', build: (k) => ({ token: signed(k, { ...k.header, jwk: { kty: 'EC', crv: 'P-256', x: b64(randomBytes(32).toString('latin1')).slice(0, 43), y: randomBytes(32).toString('base64url') } }) }) },
  // encoding
  { name: 'huge token (over 16 KiB)', build: (k) => ({ token: withClaims(k, { pad: 'A'.repeat(17 * 1024) }) }) },
  { name: 'non-base64url characters', build: (k) => { const [h, p, s] = parts(legit(k)); return { token: `${h}.${p.slice(0, 4)}+/${p.slice(6)}.${s}` }; } },
  { name: 'base64 padding', build: (k) => { const [h, p, s] = parts(legit(k)); return { token: `${h}==.${p}=.${s}=` }; } },
  { name: 'extra dots', build: (k) => ({ token: `${legit(k)}.` }) },
  { name: 'five parts (JWE-shaped)', build: (k) => { const [h, p, s] = parts(legit(k)); return { token: `${h}..${p}.${s}.` }; } },
  { name: 'header a JSON array', build: (k) => ({ token: forge(JSON.stringify([k.header]), k.claims, { alg: legitAlg(k), key: k.key }) }) },
  { name: 'payload a JSON number', build: (k) => ({ token: signed(k, k.header, '12345') }) },
  { name: 'payload a JSON array', build: (k) => ({ token: signed(k, k.header, JSON.stringify([k.claims])) }) },
  { name: 'payload not JSON', build: (k) => ({ token: signed(k, k.header, '{"sub":') }) },
  { name: 'nested JWT (cty JWT, payload a JWT)', build: (k) => ({ token: signed(k, { ...k.header, cty: 'JWT' }, legit(k)) }) },
  { name: 'empty token', build: () => ({ token: '' }) },
  { name: 'whitespace inside the token', build: (k) => desktopOnly(k, () => { const [h, p, s] = parts(legit(k)); return { token: `${h}.\n${p}.${s}` }; }) },
  // origins (protocol §1.2 step 3)
  ...['https://evil.pingone.eu.attacker.com', 'https://pingone.eu@evil.com', 'http://pingone.eu', 'https://app.pingone.eu/', 'https://APP.PINGONE.EU', 'https://evilpingone.eu', 'null'].map((origin): Case => ({
    name: `origin ${origin}`,
    build: (k) => desktopOnly(k, () => ({ token: withClaims(k, { origin }), origin })),
  })),
  { name: 'claimed origin differs from the request origin', build: (k) => (k.target === 'assertion' ? { token: withClaims(k, { origin: 'https://other.pingone.eu' }), origin: ORIGIN } : undefined) },
];

// ─── the world ──────────────────────────────────────────────────────────────────────────────────

let server: TestServer;
let envA: string;
let envB: string;
let worker: { clientId: string; secret: string; token: string };
let accessKit: Kit;
const counts: Record<TargetName, { run: number; rejected: number; fiveXX: number; notApplicable: string[] }> = {
  access: { run: 0, rejected: 0, fiveXX: 0, notApplicable: [] },
  attestation: { run: 0, rejected: 0, fiveXX: 0, notApplicable: [] },
  assertion: { run: 0, rejected: 0, fiveXX: 0, notApplicable: [] },
};
/** A challenge already answered (a pairing activated / a flow completed). */
let usedPairingChallenge: string;
let usedFlowChallenge = '';
/** Another paired device of environment A: its key and credential. */
let otherDevice: { privateKey: KeyObject; credentialId: string };

const issuer = (env: string) => server.ctx.links.issuer(env);
const now = () => server.clock.now();
const call = (method: string, url: string, body?: unknown, contentType?: string, token: string | null = worker.token): Promise<Response> =>
  server.request(method, url, { ...(body !== undefined ? { body } : {}), ...(contentType ? { contentType } : {}), token });

/** A user with a paired desktop device (hand-made attestation) and the credential behind it. */
async function pairedDesktop(env: string): Promise<{ userId: string; deviceId: string; credentialId: string; unitId: string; privateKey: KeyObject; publicKey: KeyObject }> {
  const p = await pendingDesktop(server, env);
  const cred = newCredential();
  const attestation = await attest(p.options, { credential: cred, now: now(), origin: ORIGIN });
  const res = await call('POST', p.path, { attestation }, ACTIVATE);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, 'ACTIVE');
  const c = claimsOf(attestation);
  return { userId: p.userId, deviceId: p.deviceId, credentialId: c.credentialId, unitId: c.unitId, privateKey: cred.privateKey, publicKey: createPublicKey(cred.privateKey) };
}

/** A fresh pending desktop device and the kit to forge its attestation. */
async function attestationKit(): Promise<{ kit: Kit; path: string }> {
  const p = await pendingDesktop(server, envA);
  const options = claimsOf(p.options);
  const cred = newCredential();
  const iat = epochSeconds(now());
  const other = newCredential();
  const kit: Kit = {
    target: 'attestation',
    header: { alg: 'ES256', typ: TYP.attestation, jwk: cred.publicJwk },
    claims: {
      iss: 'pingid-desktop', aud: options.iss, sub: options.sub, challenge: options.challenge, origin: ORIGIN,
      credentialId: `cred-${randomBytes(6).toString('hex')}`, unitId: '4d764d06-6aa5-4c15-ac8c-4df655cbf867', nickname: 'Desktop', os: { type: 'MAC', version: '15.7.3' }, model: {},
      application: { id: '941d6390-ec3a-4bf4-858a-949c47ccd36e', nativeName: 'PingID Desktop', version: '1.0.0', pushSandbox: false }, iat, exp: iat + 300,
    },
    key: cred.privateKey, publicKey: createPublicKey(cred.privateKey), otherKey: other.privateKey, otherKid: 'kid-1',
    otherEnv: { aud: issuer(envB) }, otherSub: { sub: (await pendingDesktop(server, envA)).deviceId },
    replay: { challenge: usedPairingChallenge },
  };
  return { kit, path: p.path };
}

/** A fresh paired device of envA, a flow waiting for its assertion, and the kit to forge one. */
async function assertionKit(): Promise<{ kit: Kit; flowId: string; userId: string; deviceId: string }> {
  const d = await pairedDesktop(envA);
  const flow = await call('POST', `/${envA}/deviceAuthentications`, { user: { id: d.userId } });
  assert.equal(flow.status, 200, flow.text);
  assert.equal(flow.body.status, 'ASSERTION_REQUIRED', flow.text);
  const options = claimsOf(flow.body.pingIdDesktopCredentialRequestOptions as string);
  const iat = epochSeconds(now());
  const kit: Kit = {
    target: 'assertion',
    header: { alg: 'ES256', typ: TYP.assertion, kid: d.credentialId },
    claims: { iss: 'pingid-desktop', aud: options.iss, sub: options.sub, challenge: options.challenge, origin: ORIGIN, credentialId: d.credentialId, unitId: d.unitId, iat, exp: iat + 60 },
    key: d.privateKey, publicKey: d.publicKey, otherKey: otherDevice.privateKey, otherKid: otherDevice.credentialId,
    otherEnv: { aud: issuer(envB) }, otherSub: { sub: randomBytes(16).toString('hex') },
    replay: { challenge: usedFlowChallenge },
  };
  return { kit, flowId: flow.body.id as string, userId: d.userId, deviceId: d.deviceId };
}

before(async () => {
  server = await startTestServer();
  envA = await createEnvironment(server, 'jwt A');
  envB = await createEnvironment(server, 'jwt B');
  worker = await createWorker(server, envA, 'jwt worker');
  const workerB = await createWorker(server, envB, 'jwt worker B');
  const gone = await createWorker(server, envA, 'deleted worker');
  const del = await server.request('DELETE', `/v1/environments/${envA}/applications/${gone.clientId}`);
  assert.equal(del.status, 204, del.text);
  const keyA = await server.ctx.keys.signingKey(envA);
  const keyB = await server.ctx.keys.signingKey(envB);
  const decoded = claimsOf(worker.token);
  accessKit = {
    target: 'access',
    header: { alg: 'RS256', kid: keyA.kid, typ: 'at+jwt' },
    claims: { ...decoded, iat: epochSeconds(now()), exp: epochSeconds(now()) + 3600, jti: randomBytes(8).toString('hex') },
    key: keyA.privateKey, publicKey: createPublicKey(keyA.privateKey), otherKey: keyB.privateKey, otherKid: keyB.kid,
    otherEnv: { iss: issuer(envB), env: envB }, otherSub: { client_id: workerB.clientId }, replay: { client_id: gone.clientId },
  };
  // A pairing and a flow that consumed their challenges, and another device of the environment.
  const used = await pendingDesktop(server, envA);
  usedPairingChallenge = claimsOf(used.options).challenge as string;
  const activated = await call('POST', used.path, { attestation: await attest(used.options, { now: now(), origin: ORIGIN }) }, ACTIVATE);
  assert.equal(activated.status, 200, activated.text);
  const o = await pairedDesktop(envA);
  otherDevice = { privateKey: o.privateKey, credentialId: o.credentialId };
  const done = await assertionKit();
  const completed = await call('POST', `/${envA}/deviceAuthentications/${done.flowId}`, { origin: ORIGIN, assertion: legit(done.kit) }, CT.assertionCheck);
  assert.equal(completed.status, 200, completed.text);
  assert.equal(completed.body.status, 'COMPLETED');
  usedFlowChallenge = done.kit.claims.challenge as string;
});
after(async () => {
  for (const [target, c] of Object.entries(counts)) {
    console.log(`jwt corpus, ${target}: ${c.run} cases run, ${c.rejected} rejected with 4xx, ${c.fiveXX} × 5xx; not applicable: ${c.notApplicable.join(', ') || 'none'}`);
  }
  await server?.close();
});

function rejected(target: TargetName, name: string, res: Response): void {
  if (res.status >= 500) counts[target].fiveXX++;
  assert.ok(res.status >= 400 && res.status < 500, `${target} / ${name}: expected a 4xx, got ${res.status} ${res.text.slice(0, 300)}`);
  counts[target].rejected++;
}

test('the corpus has at least 50 cases for each target', () => {
  assert.ok(CASES.length >= 50, `${CASES.length} cases`);
  for (const k of ['access', 'attestation', 'assertion'] as const) {
    const kit = { ...accessKit, target: k } as Kit;
    const applicable = CASES.filter((c) => c.build(kit) !== undefined).length;
    assert.ok(applicable >= 50, `${k}: ${applicable} applicable cases`);
  }
});

test('access tokens: the legitimate forge is accepted, every hostile one refused with 401', async () => {
  await joseAccepts(accessKit);
  const ok = await call('GET', `/v1/environments/${envA}/users`, undefined, undefined, legit(accessKit));
  assert.equal(ok.status, 200, `control: ${ok.text}`);
  for (const c of CASES) {
    const built = c.build(accessKit);
    if (!built) { counts.access.notApplicable.push(c.name); continue; }
    counts.access.run++;
    const res = await call('GET', `/v1/environments/${envA}/users`, undefined, undefined, built.token);
    rejected('access', c.name, res);
    assert.equal(res.status, 401, `access / ${c.name}: ${res.status} ${res.text}`);
  }
});

test('attestations: the legitimate forge activates, every hostile one is refused and the device stays pending', async () => {
  const control = await attestationKit();
  await joseAccepts(control.kit);
  const ok = await call('POST', control.path, { attestation: legit(control.kit) }, ACTIVATE);
  assert.equal(ok.status, 200, `control: ${ok.text}`);
  assert.equal(ok.body.status, 'ACTIVE');
  for (const c of CASES) {
    const { kit, path } = await attestationKit();
    const built = c.build(kit);
    if (!built) { counts.attestation.notApplicable.push(c.name); continue; }
    counts.attestation.run++;
    const res = await call('POST', path, { attestation: built.token }, ACTIVATE);
    rejected('attestation', c.name, res);
    const device = await call('GET', path);
    assert.equal(device.status, 200, device.text);
    assert.equal(device.body.status, 'ACTIVATION_REQUIRED', `attestation / ${c.name}: the device moved`);
  }
});

test('assertions: the legitimate forge completes, every hostile one is refused and the flow keeps waiting', async () => {
  const control = await assertionKit();
  await joseAccepts(control.kit);
  const ok = await call('POST', `/${envA}/deviceAuthentications/${control.flowId}`, { origin: ORIGIN, assertion: legit(control.kit) }, CT.assertionCheck);
  assert.equal(ok.status, 200, `control: ${ok.text}`);
  assert.equal(ok.body.status, 'COMPLETED');
  for (const c of CASES) {
    const { kit, flowId } = await assertionKit();
    const built = c.build(kit);
    if (!built) { counts.assertion.notApplicable.push(c.name); continue; }
    counts.assertion.run++;
    const res = await call('POST', `/${envA}/deviceAuthentications/${flowId}`, { origin: built.origin ?? ORIGIN, assertion: built.token }, CT.assertionCheck);
    rejected('assertion', c.name, res);
    const flow = await call('GET', `/${envA}/deviceAuthentications/${flowId}`);
    assert.equal(flow.status, 200, flow.text);
    assert.equal(flow.body.status, 'ASSERTION_REQUIRED', `assertion / ${c.name}: the flow moved to ${flow.body.status}`);
  }
});

test('no case of any target answered 5xx, and each target ran at least 50 cases', () => {
  for (const [target, c] of Object.entries(counts)) {
    assert.equal(c.fiveXX, 0, target);
    assert.ok(c.run >= 50, `${target}: ${c.run} cases`);
    assert.equal(c.rejected, c.run, target);
  }
});

