/**
 * Worker access tokens (reference §9.2): RS256 JWTs with `kid`, signed by the environment's key.
 * Verification never runs RSA twice for one token: verified tokens are cached by SHA-256,
 * bounded, and dropped when they expire (quality bar, "Bearer checks").
 */
import { epochSeconds, type Clock } from '../clock.js';
import { sha256Hex } from '../crypto/hash.js';
import { Type } from 'typebox';
import { signCompact } from '../crypto/jws.js';
import { verifyJwt, type JwtFailure, type KeyResolver } from '../crypto/jwt.js';
import { newId } from '../crypto/random.js';
import type { LinkBuilder } from '../http/links.js';
import type { KeyRing, VerifyingKey } from './keys.js';

export const ACCESS_TOKEN_LIFETIME_S = 3600;
const CACHE_LIMIT = 50_000;

export interface Principal {
  clientId: string;
  /** The environment the application lives in. */
  environmentId: string;
  expiresAt: number;
}

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: string };

/** The claims `issue` writes that `verify` relies on (RFC 9068 §2.2). */
const AccessTokenClaims = Type.Object({ aud: Type.Array(Type.String()), client_id: Type.String(), env: Type.String() });

/** The 401 detail for each refusal (test/platform/token.test.ts asserts them). */
function reasonFor(f: JwtFailure): string {
  switch (f.code) {
    case 'malformed':
    case 'key':
      return f.message;
    case 'alg': return 'the access token is not RS256';
    case 'typ': return 'the access token has the wrong typ';
    case 'header': return 'the access token names its own key';
    case 'signature': return 'the access token signature is invalid';
    case 'expired': return 'the access token has expired';
    case 'shape': return f.claim === 'client_id' ? 'the access token has no client_id' : f.claim === 'aud' ? 'the access token is not for this API' : 'the access token issuer does not match its key';
    case 'claim':
      switch (f.claim) {
        case 'iss': return 'the access token issuer does not match its key';
        case 'aud': return 'the access token is not for this API';
        case 'iat': return f.message === 'iat is in the future' ? 'the access token was issued in the future' : 'the access token lacks exp or iat';
        case 'nbf': return 'the access token is not yet valid';
        default: return 'the access token lacks exp or iat';
      }
  }
}

export class AccessTokens {
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #links: LinkBuilder;
  readonly #audience: string;
  readonly #cache = new Map<string, Principal>();

  constructor(keys: KeyRing, clock: Clock, links: LinkBuilder) {
    this.#keys = keys;
    this.#clock = clock;
    this.#links = links;
    this.#audience = links.api;
  }

  async issue(environmentId: string, organizationId: string, clientId: string): Promise<{ token: string; expiresIn: number }> {
    const key = await this.#keys.signingKey(environmentId);
    const iat = epochSeconds(this.#clock.now());
    const token = signCompact('RS256', key.privateKey, { kid: key.kid, typ: 'at+jwt' }, {
      client_id: clientId,
      iss: this.#links.issuer(environmentId),
      aud: [this.#audience],
      iat,
      exp: iat + ACCESS_TOKEN_LIFETIME_S,
      jti: newId(),
      env: environmentId,
      org: organizationId,
    });
    return { token, expiresIn: ACCESS_TOKEN_LIFETIME_S };
  }

  readonly #resolveKey: KeyResolver<VerifyingKey, never> = async ({ header }) => {
    if (typeof header.kid !== 'string') return { ok: false, message: 'the access token has no kid' };
    const key = await this.#keys.verifyingKey(header.kid);
    return key ? { ok: true, key: key.publicKey, context: key } : { ok: false, message: 'the access token was signed by an unknown key' };
  };

  /** verify's answer for a token verified before (its cache entry), at the clock's now; undefined for one never verified here. */
  cached(token: string): VerifyResult | undefined {
    return this.#fromCache(sha256Hex(token), this.#clock.now());
  }

  #fromCache(digest: string, now: number): VerifyResult | undefined {
    const hit = this.#cache.get(digest);
    if (!hit) return undefined;
    if (hit.expiresAt > now) return { ok: true, principal: hit };
    this.#cache.delete(digest);
    return { ok: false, reason: 'the access token has expired' };
  }

  async verify(token: string): Promise<VerifyResult> {
    const now = this.#clock.now();
    const digest = sha256Hex(token);
    const hit = this.#fromCache(digest, now);
    if (hit) return hit;
    const verified = await verifyJwt(token, {
      algorithms: ['RS256'],
      // RFC 9068 §2.1 makes typ at+jwt a SHOULD: a token without typ passes, one of another typ not.
      typ: 'at+jwt',
      typOptional: true,
      forbiddenHeaders: ['jku', 'x5u', 'jwk', 'x5c'],
      key: this.#resolveKey,
      issuer: (key) => this.#links.issuer(key.environmentId),
      audience: [this.#audience],
      // Our own tokens: no skew; they expire at exp exactly (reference §9.2, one hour).
      clockTolerance: 0,
      now,
      maxLength: 8192,
      claims: AccessTokenClaims,
    });
    if (!verified.ok) return { ok: false, reason: reasonFor(verified) };
    const key = verified.context;
    const { payload } = verified;
    if (payload.env !== key.environmentId) return { ok: false, reason: 'the access token issuer does not match its key' };
    const clientId = payload.client_id as string;
    const exp = payload.exp as number;
    const principal: Principal = { clientId, environmentId: key.environmentId, expiresAt: exp * 1000 };
    if (this.#cache.size >= CACHE_LIMIT) this.#evict(now);
    this.#cache.set(digest, principal);
    return { ok: true, principal };
  }

  /** Forgets every verified token (a snapshot was restored: its key may be gone). */
  forgetAll(): void {
    this.#cache.clear();
  }

  /** Drops expired entries; if none expired, drops the oldest half (Map keeps insertion order). */
  #evict(now: number): void {
    for (const [k, p] of this.#cache) if (p.expiresAt <= now) this.#cache.delete(k);
    if (this.#cache.size < CACHE_LIMIT) return;
    let n = this.#cache.size / 2;
    for (const k of this.#cache.keys()) {
      if (n-- <= 0) break;
      this.#cache.delete(k);
    }
  }
}
