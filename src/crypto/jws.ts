/**
 * Compact JWS (RFC 7515) with exactly two algorithms: RS256 for the environment's tokens and
 * options JWTs, ES256 for PingID Desktop credentials. Built on node:crypto rather than a
 * WebCrypto path because verification is on the hot path (quality bar, t_verify).
 *
 * Decoding is strict: three canonical base64url parts, JSON objects, no `crit` we do not
 * understand (we understand none, RFC 7515 §4.1.11), and a bounded size.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject, type JsonWebKey } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { decode as b64uDecode, encode as b64uEncode } from './base64url.js';

export type Alg = 'RS256' | 'ES256';

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export type DecodeResult = { ok: true; jws: DecodedJws } | { ok: false; reason: string };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJsonObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    return isPlainObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function decodeCompact(token: string, maxLength = 16 * 1024): DecodeResult {
  if (typeof token !== 'string') return { ok: false, reason: 'the JWT is not a string' };
  if (token.length > maxLength) return { ok: false, reason: 'the JWT is too large' };
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'the JWT does not have three parts' };
  const [h, p, s] = parts as [string, string, string];
  const hb = b64uDecode(h);
  const pb = b64uDecode(p);
  const sb = b64uDecode(s);
  if (!hb || !pb || !sb || h.length === 0 || p.length === 0) return { ok: false, reason: 'the JWT is not canonical base64url' };
  const header = parseJsonObject(hb);
  if (!header) return { ok: false, reason: 'the JWT header is not a JSON object' };
  const payload = parseJsonObject(pb);
  if (!payload) return { ok: false, reason: 'the JWT payload is not a JSON object' };
  if ('crit' in header) return { ok: false, reason: 'the JWT header has a crit parameter this server does not understand' };
  if ('b64' in header) return { ok: false, reason: 'the JWT header has an unsupported b64 parameter' };
  if (sb.length === 0) return { ok: false, reason: 'the JWT has no signature' };
  return { ok: true, jws: { header, payload, signingInput: `${h}.${p}`, signature: sb } };
}

export function verifySignature(alg: Alg, key: KeyObject, jws: DecodedJws): boolean {
  if (key.type !== 'public') return false;
  try {
    if (alg === 'RS256') {
      if (key.asymmetricKeyType !== 'rsa') return false;
      return cryptoVerify('sha256', Buffer.from(jws.signingInput), key, jws.signature);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return false;
    if (jws.signature.length !== 64) return false;
    return cryptoVerify('sha256', Buffer.from(jws.signingInput), { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
  } catch {
    return false;
  }
}

export function signCompact(alg: Alg, key: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const signingInput = `${b64uEncode(JSON.stringify({ ...header, alg }))}.${b64uEncode(JSON.stringify(payload))}`;
  const signature = alg === 'RS256'
    ? cryptoSign('sha256', Buffer.from(signingInput), key)
    : cryptoSign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${b64uEncode(signature)}`;
}

const JwkMembers = { kid: Type.Optional(Type.String()), alg: Type.Optional(Type.String()), use: Type.Optional(Type.String()) };

/** A public JWK of the two shapes we accept, with nothing private in it. */
export const PublicJwkSchema = Type.Union([
  Type.Object({ kty: Type.Literal('RSA'), n: Type.String(), e: Type.String(), ...JwkMembers }, { additionalProperties: false }),
  Type.Object({ kty: Type.Literal('EC'), crv: Type.Literal('P-256'), x: Type.String(), y: Type.String(), ...JwkMembers }, { additionalProperties: false }),
]);
export type PublicJwk = Static<typeof PublicJwkSchema>;

/** A private JWK of those shapes (RFC 7518 §6.2.2, §6.3.2: `d` and, for RSA, the CRT members). */
export const PrivateJwkSchema = Type.Object({ kty: Type.Union([Type.Literal('RSA'), Type.Literal('EC')]), d: Type.String() }, { additionalProperties: Type.String() });

export type ImportResult = { ok: true; key: KeyObject; jwk: PublicJwk } | { ok: false; reason: string };

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Imports a public EC P-256 JWK; refuses private members, other curves, other key types. */
export function importPublicEcJwk(value: unknown): ImportResult {
  if (!isPlainObject(value)) return { ok: false, reason: 'jwk is not an object' };
  if (PRIVATE_MEMBERS.some((m) => m in value)) return { ok: false, reason: 'jwk contains private key material' };
  if (value.kty !== 'EC') return { ok: false, reason: 'jwk is not an EC key' };
  if (value.crv !== 'P-256') return { ok: false, reason: 'jwk is not on the P-256 curve' };
  const { x, y } = value;
  if (typeof x !== 'string' || typeof y !== 'string') return { ok: false, reason: 'jwk lacks x or y' };
  const xb = b64uDecode(x);
  const yb = b64uDecode(y);
  if (!xb || !yb || xb.length !== 32 || yb.length !== 32) return { ok: false, reason: 'jwk coordinates are not 32 bytes' };
  try {
    const jwk: PublicJwk = { kty: 'EC', crv: 'P-256', x, y };
    return { ok: true, key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }), jwk };
  } catch {
    return { ok: false, reason: 'jwk is not a point on the curve' };
  }
}

export function importPublicRsaJwk(value: unknown): ImportResult {
  if (!isPlainObject(value)) return { ok: false, reason: 'jwk is not an object' };
  if (PRIVATE_MEMBERS.some((m) => m in value)) return { ok: false, reason: 'jwk contains private key material' };
  if (value.kty !== 'RSA' || typeof value.n !== 'string' || typeof value.e !== 'string') return { ok: false, reason: 'jwk is not an RSA public key' };
  try {
    const jwk: PublicJwk = { kty: 'RSA', n: value.n, e: value.e };
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return { ok: false, reason: 'RSA key is shorter than 2048 bits' };
    return { ok: true, key, jwk };
  } catch {
    return { ok: false, reason: 'jwk is not a valid RSA key' };
  }
}

export const privateKeyFromJwk = (jwk: JsonWebKey): KeyObject => createPrivateKey({ key: jwk, format: 'jwk' });
