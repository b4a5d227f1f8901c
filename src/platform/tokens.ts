/**
 * Worker access tokens (reference §9.2): RS256 JWTs with `kid`, signed by the environment's key.
 * Verification never runs RSA twice for one token: verified tokens are cached by SHA-256,
 * bounded, and dropped when they expire (quality bar, "Bearer checks").
 */
import { epochSeconds, type Clock } from '../clock.js';
import { sha256Hex } from '../crypto/hash.js';
import { decodeCompact, signCompact, verifySignature } from '../crypto/jws.js';
import { newId } from '../crypto/random.js';
import type { LinkBuilder } from '../http/links.js';
import type { KeyRing } from './keys.js';

export const ACCESS_TOKEN_LIFETIME_S = 3600;
const CACHE_LIMIT = 50_000;

export interface Principal {
  clientId: string;
  /** The environment the application lives in. */
  environmentId: string;
  expiresAt: number;
}

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: string };

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

  async verify(token: string): Promise<VerifyResult> {
    const now = this.#clock.now();
    const digest = sha256Hex(token);
    const hit = this.#cache.get(digest);
    if (hit) {
      if (hit.expiresAt > now) return { ok: true, principal: hit };
      this.#cache.delete(digest);
      return { ok: false, reason: 'the access token has expired' };
    }
    const decoded = decodeCompact(token, 8192);
    if (!decoded.ok) return decoded;
    const { header, payload } = decoded.jws;
    if (header.alg !== 'RS256') return { ok: false, reason: 'the access token is not RS256' };
    if (header.typ !== undefined && header.typ !== 'at+jwt') return { ok: false, reason: 'the access token has the wrong typ' };
    if (typeof header.kid !== 'string') return { ok: false, reason: 'the access token has no kid' };
    if ('jku' in header || 'x5u' in header || 'jwk' in header || 'x5c' in header) return { ok: false, reason: 'the access token names its own key' };
    const key = await this.#keys.verifyingKey(header.kid);
    if (!key) return { ok: false, reason: 'the access token was signed by an unknown key' };
    if (!verifySignature('RS256', key.publicKey, decoded.jws)) return { ok: false, reason: 'the access token signature is invalid' };
    const { iss, exp, iat, env, client_id: clientId, aud } = payload;
    if (iss !== this.#links.issuer(key.environmentId) || env !== key.environmentId) return { ok: false, reason: 'the access token issuer does not match its key' };
    if (!Array.isArray(aud) || !aud.includes(this.#audience)) return { ok: false, reason: 'the access token is not for this API' };
    if (typeof clientId !== 'string') return { ok: false, reason: 'the access token has no client_id' };
    if (typeof exp !== 'number' || typeof iat !== 'number') return { ok: false, reason: 'the access token lacks exp or iat' };
    if (exp * 1000 <= now) return { ok: false, reason: 'the access token has expired' };
    if (iat * 1000 > now + 60_000) return { ok: false, reason: 'the access token was issued in the future' };
    if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf * 1000 > now + 60_000)) return { ok: false, reason: 'the access token is not yet valid' };
    const principal: Principal = { clientId, environmentId: key.environmentId, expiresAt: exp * 1000 };
    if (this.#cache.size >= CACHE_LIMIT) this.#evict(now);
    this.#cache.set(digest, principal);
    return { ok: true, principal };
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
