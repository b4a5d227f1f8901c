/**
 * Verification of the creation and request options JWTs with the server's verifier
 * (crypto/jwt.ts), in the order of protocol §1.2 step 2: alg, typ, iss (trust list, in the key
 * resolver), signature (issuer JWKS by kid), aud, exp/iat, and then the shape of the claims the
 * agent uses. Returns values, never throws on input.
 */
import { AGENT_AUDIENCE, CLOCK_SKEW_S, TYP, checkRpId } from '../protocol/desktop.js';
import type { Clock } from '../clock.js';
import { Type, type Static } from 'typebox';
import type { Alg } from '../crypto/jws.js';
import { verifyJwt, type JwtFailure } from '../crypto/jwt.js';
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
const text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The claims the agent uses (protocol §1.1, §2 step 1), checked after the registered ones. */
const CreationClaims = Type.Object({
  sub: text(256),
  env: text(256),
  challenge: text(512),
  rp: Type.Object({ id: text(253), name: Type.String({ maxLength: 256 }) }),
  user: Type.Object({ id: text(256), name: Type.String({ maxLength: 256 }) }),
  jti: text(256),
});
const RequestClaims = Type.Object({
  ...CreationClaims.properties,
  allowCredentials: Type.Array(Type.Object({ id: text(256) }), { maxItems: MAX_ALLOW_CREDENTIALS }),
});
const CLAIMS: Readonly<Record<OptionsKind, typeof CreationClaims | typeof RequestClaims>> = { creation: CreationClaims, request: RequestClaims };

function shapeMessage(path: string): string {
  if (path.startsWith('rp.name')) return 'rp.name must be a string';
  if (path.startsWith('rp')) return 'rp.id must be a host name';
  if (path.startsWith('user.name')) return 'user.name must be a string';
  if (path.startsWith('user')) return 'user.id must be a non-empty string';
  if (path.startsWith('allowCredentials.')) return 'allowCredentials[].id must be a non-empty string';
  if (path === 'allowCredentials') return `allowCredentials must be an array of at most ${MAX_ALLOW_CREDENTIALS} entries`;
  if (path === 'challenge') return 'challenge must be base64url';
  if (path === 'jti') return 'jti must be a non-empty string: the agent answers each options JWT once';
  return `${path} must be a non-empty string`;
}

function refusal(f: JwtFailure<OptionsFailure>): OptionsFailure {
  switch (f.code) {
    case 'malformed': return fail(400, 'malformed_jwt', f.message);
    case 'alg': return fail(400, 'unsupported_alg', f.message);
    case 'typ': return fail(400, 'invalid_typ', f.message);
    case 'header': return fail(400, 'invalid_header', f.message);
    case 'key': return f.detail ?? fail(400, 'unknown_key', f.message);
    case 'signature': return fail(400, 'invalid_signature', f.message);
    case 'shape': return fail(400, 'invalid_claims', shapeMessage(f.claim ?? ''));
    case 'expired': return fail(400, 'expired', f.message);
    case 'claim': return f.claim === 'aud' ? fail(400, 'invalid_audience', `aud must be ${AGENT_AUDIENCE}`) : fail(400, `invalid_${f.claim}`, f.message);
  }
}

/** The rp.id rule is the server's too: src/protocol/desktop.ts checkRpId. */
export const isValidRpId = (id: string): boolean => checkRpId(id).ok;

/** Verifies one options JWT of `kind` with the one verifier (crypto/jwt.ts). */
export async function verifyOptions(token: string, kind: OptionsKind, deps: VerifyOptionsDeps): Promise<OptionsResult> {
  const verified = await verifyJwt<undefined, OptionsFailure>(token, {
    algorithms: ALLOWED_ALGS,
    typ: OPTIONS_TYP[kind],
    // The trust list before anything is fetched: an untrusted issuer's JWKS is never asked for.
    key: async ({ header, payload }) => {
      const iss = payload.iss;
      if (typeof iss !== 'string' || !isTrustedIssuer(iss, deps.trust)) {
        return { ok: false, message: 'untrusted', detail: fail(403, 'untrusted_issuer', 'the issuer is not on the agent\'s trust list') };
      }
      const kid = header.kid;
      if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) return { ok: false, message: 'no kid', detail: fail(400, 'invalid_kid', 'the JWT header has no kid') };
      const lookup = await deps.jwks.getKey(iss, kid, header.alg as Alg);
      return lookup.ok ? { ok: true, key: lookup.key, context: undefined } : { ok: false, message: lookup.message, detail: fail(lookup.status, lookup.code, lookup.message) };
    },
    audience: AGENT_AUDIENCE,
    clockTolerance: CLOCK_SKEW_SECONDS,
    now: deps.clock.now(),
    maxLength: MAX_JWT_BYTES,
    claims: CLAIMS[kind],
  });
  if (!verified.ok) return refusal(verified);
  const claims = verified.payload as Static<typeof RequestClaims> & { iss: string; iat: number; exp: number };
  const { sub, env, challenge, rp, user, jti, iss } = claims;
  if (!b64uDecode(challenge)) return fail(400, 'invalid_claims', 'challenge must be base64url');
  const rpId = checkRpId(rp.id);
  if (!rpId.ok) return fail(400, 'invalid_claims', `rp.id ${rpId.reason}`);
  if (CONTROL.test(rp.name)) return fail(400, 'invalid_claims', 'rp.name must be a string');

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
      iat: claims.iat,
      exp: claims.exp,
      jti,
      allowCredentials: kind === 'request' ? claims.allowCredentials.map((c) => ({ id: c.id })) : undefined,
    },
  };
}
