/**
 * Verification of the creation and request options JWTs, in the order of protocol §1.2
 * step 2: typ, alg, iss (trust list), signature (issuer JWKS by kid), aud, exp/iat, and
 * then the shape of the claims the agent uses. Returns values, never throws on input.
 */
import { AGENT_AUDIENCE, CLOCK_SKEW_S, TYP, checkRpId } from '../protocol/desktop.js';
import type { Clock } from '../clock.js';
import { checkTimes, decodeCompact, verifySignature, type Alg } from '../crypto/jws.js';
import { decode as b64uDecode } from '../crypto/base64url.js';
import type { JwksCache } from './jwks.js';
import { isTrustedIssuer } from './trust.js';

export type OptionsKind = 'creation' | 'request';

export const OPTIONS_TYP: Readonly<Record<OptionsKind, string>> = Object.freeze({ creation: TYP.creation, request: TYP.request });

export { AGENT_AUDIENCE };
export const CLOCK_SKEW_SECONDS = CLOCK_SKEW_S;
export const MAX_JWT_BYTES = 16 * 1024;
const ALLOWED_ALGS: readonly Alg[] = ['RS256', 'ES256'];
const MAX_ALLOW_CREDENTIALS = 64;

export interface OptionsClaims {
  readonly iss: string;
  readonly aud: string;
  /** Creation options: the device ID. Request options: the device authentication ID. */
  readonly sub: string;
  readonly env: string;
  readonly challenge: string;
  readonly rp: { readonly id: string; readonly name: string };
  readonly user: { readonly id: string; readonly name: string };
  readonly iat: number;
  readonly exp: number;
  /** Required: the agent answers each (iss, jti) once (keystore.ts `answered`). */
  readonly jti: string;
  /** Present (possibly empty) for request options only. */
  readonly allowCredentials?: readonly { readonly id: string }[] | undefined;
}

export type OptionsFailure = { ok: false; status: 400 | 403 | 502; code: string; message: string };
export type OptionsResult = { ok: true; claims: OptionsClaims } | OptionsFailure;

export interface VerifyOptionsDeps {
  trust: readonly string[];
  jwks: Pick<JwksCache, 'getKey'>;
  clock: Clock;
}

const fail = (status: 400 | 403 | 502, code: string, message: string): OptionsFailure => ({ ok: false, status, code, message });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown, max = 1024): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The rp.id rule is the server's too: src/protocol/desktop.ts checkRpId. */
export const isValidRpId = (id: string): boolean => checkRpId(id).ok;

/** Verifies one options JWT of `kind`. */
export async function verifyOptions(token: string, kind: OptionsKind, deps: VerifyOptionsDeps): Promise<OptionsResult> {
  const decoded = decodeCompact(token, MAX_JWT_BYTES);
  if (!decoded.ok) return fail(400, 'malformed_jwt', decoded.reason);
  const { header, payload } = decoded.jws;

  if (header.typ !== OPTIONS_TYP[kind]) return fail(400, 'invalid_typ', `typ must be ${OPTIONS_TYP[kind]}`);

  const alg = header.alg;
  if (typeof alg !== 'string' || !(ALLOWED_ALGS as readonly string[]).includes(alg)) {
    return fail(400, 'unsupported_alg', 'alg must be RS256 or ES256');
  }

  const iss = payload.iss;
  if (typeof iss !== 'string' || !isTrustedIssuer(iss, deps.trust)) {
    return fail(403, 'untrusted_issuer', 'the issuer is not on the agent\'s trust list');
  }

  const kid = header.kid;
  if (!isString(kid, 256)) return fail(400, 'invalid_kid', 'the JWT header has no kid');
  const lookup = await deps.jwks.getKey(iss, kid, alg as Alg);
  if (!lookup.ok) return fail(lookup.status, lookup.code, lookup.message);
  if (!verifySignature(alg as Alg, lookup.key, decoded.jws)) return fail(400, 'invalid_signature', 'the signature does not verify');

  if (payload.aud !== AGENT_AUDIENCE) return fail(400, 'invalid_audience', `aud must be ${AGENT_AUDIENCE}`);

  const times = checkTimes(payload, deps.clock.now(), CLOCK_SKEW_SECONDS);
  if (!times.ok) return fail(400, times.claim === 'exp' && typeof payload.exp === 'number' ? 'expired' : `invalid_${times.claim}`, times.reason);

  const { sub, env, challenge, rp, user, jti } = payload;
  if (!isString(sub, 256)) return fail(400, 'invalid_claims', 'sub must be a non-empty string');
  if (!isString(env, 256)) return fail(400, 'invalid_claims', 'env must be a non-empty string');
  if (!isString(challenge, 512) || !b64uDecode(challenge)) return fail(400, 'invalid_claims', 'challenge must be base64url');
  if (!isObject(rp) || !isString(rp.id, 253)) return fail(400, 'invalid_claims', 'rp.id must be a host name');
  const rpId = checkRpId(rp.id);
  if (!rpId.ok) return fail(400, 'invalid_claims', `rp.id ${rpId.reason}`);
  if (typeof rp.name !== 'string' || rp.name.length > 256 || CONTROL.test(rp.name)) return fail(400, 'invalid_claims', 'rp.name must be a string');
  if (!isObject(user) || !isString(user.id, 256)) return fail(400, 'invalid_claims', 'user.id must be a non-empty string');
  if (typeof user.name !== 'string' || user.name.length > 256) return fail(400, 'invalid_claims', 'user.name must be a string');
  if (!isString(jti, 256)) return fail(400, 'invalid_claims', 'jti must be a non-empty string: the agent answers each options JWT once');

  let allowCredentials: { id: string }[] | undefined;
  if (kind === 'request') {
    const list = payload.allowCredentials;
    if (!Array.isArray(list) || list.length > MAX_ALLOW_CREDENTIALS) {
      return fail(400, 'invalid_claims', `allowCredentials must be an array of at most ${MAX_ALLOW_CREDENTIALS} entries`);
    }
    allowCredentials = [];
    for (const item of list) {
      if (!isObject(item) || !isString(item.id, 256)) return fail(400, 'invalid_claims', 'allowCredentials[].id must be a non-empty string');
      allowCredentials.push({ id: item.id });
    }
  }

  return {
    ok: true,
    claims: {
      iss,
      aud: AGENT_AUDIENCE,
      sub,
      env,
      challenge,
      rp: { id: rp.id, name: rp.name },
      user: { id: user.id, name: user.name },
      iat: payload.iat as number,
      exp: payload.exp as number,
      jti,
      allowCredentials,
    },
  };
}
