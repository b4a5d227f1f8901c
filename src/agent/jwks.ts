/**
 * Verification keys of trusted issuers, fetched from `{iss}/jwks` (protocol §1.2 step 2).
 *
 * - The trust list is checked before anything else: an untrusted issuer is never fetched.
 * - One fetch per issuer at a time; at most one fetch per issuer per 30 s (on an unknown
 *   `kid` or a stale cache), so a flood of tokens with made-up `kid`s cannot make the agent
 *   hammer the issuer.
 * - 5 s timeout, at most 64 KiB of body, no redirects.
 * - RS256 keys are RSA ≥ 2048 bits; ES256 keys are P-256. A key whose `alg` or `use` says
 *   otherwise is not used for the other algorithm. Keys that fail to import are skipped.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../clock.js';
import { importPublicEcJwk, importPublicRsaJwk, type Alg } from '../crypto/jws.js';
import { isTrustedIssuer, jwksUrlFor } from './trust.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface JwksOptions {
  trust: readonly string[];
  clock: Clock;
  fetch?: FetchLike | undefined;
  timeoutMs?: number;
  maxBytes?: number;
  /** Minimum time between two fetches for one issuer. */
  refetchIntervalMs?: number;
  /** Keys older than this are refreshed before use (so a key removed from the JWKS stops working). */
  maxAgeMs?: number;
  /** Upper bound on cached issuers (prefix trust can name many). */
  maxIssuers?: number;
}

interface CachedKey {
  readonly kid: string;
  readonly alg: Alg;
  readonly key: KeyObject;
}

interface IssuerEntry {
  keys: readonly CachedKey[];
  /** When keys were last fetched successfully (ms), or undefined. */
  fetchedAt: number | undefined;
  /** When a fetch was last started (ms), successful or not. */
  attemptedAt: number | undefined;
  inflight: Promise<void> | undefined;
  lastError: string | undefined;
}

export type KeyLookup =
  | { ok: true; key: KeyObject }
  | { ok: false; status: 400 | 403 | 502; code: string; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a JWK Set into the keys we can use; pure, exported for tests. */
export function parseJwks(doc: unknown, maxKeys = 32): CachedKey[] {
  if (!isObject(doc) || !Array.isArray(doc.keys)) throw new Error('the JWKS is not an object with a keys array');
  const out: CachedKey[] = [];
  for (const jwk of doc.keys.slice(0, maxKeys)) {
    if (!isObject(jwk) || typeof jwk.kid !== 'string' || jwk.kid === '') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    let alg: Alg;
    if (jwk.kty === 'RSA') alg = 'RS256';
    else if (jwk.kty === 'EC') alg = 'ES256';
    else continue;
    if (jwk.alg !== undefined && jwk.alg !== alg) continue;
    const imported = alg === 'RS256' ? importPublicRsaJwk(jwk) : importPublicEcJwk(jwk);
    if (!imported.ok) continue;
    out.push({ kid: jwk.kid, alg, key: imported.key });
  }
  return out;
}

async function readLimited(res: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error('the JWKS is too large');
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error('the JWKS is too large');
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

export class JwksCache {
  readonly #trust: readonly string[];
  readonly #clock: Clock;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #refetchMs: number;
  readonly #maxAgeMs: number;
  readonly #maxIssuers: number;
  readonly #issuers = new Map<string, IssuerEntry>();

  constructor(options: JwksOptions) {
    this.#trust = options.trust;
    this.#clock = options.clock;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024;
    this.#refetchMs = options.refetchIntervalMs ?? 30_000;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#maxIssuers = options.maxIssuers ?? 64;
  }

  /** Finds the key for `kid` usable with `alg`, fetching the issuer's JWKS when needed and allowed. */
  async getKey(iss: string, kid: string, alg: Alg): Promise<KeyLookup> {
    if (!isTrustedIssuer(iss, this.#trust)) {
      return { ok: false, status: 403, code: 'untrusted_issuer', message: 'the issuer is not on the agent\'s trust list' };
    }
    let entry = this.#issuers.get(iss);
    if (!entry) {
      entry = { keys: [], fetchedAt: undefined, attemptedAt: undefined, inflight: undefined, lastError: undefined };
      this.#remember(iss, entry);
    }
    const now = this.#clock.now();
    const stale = entry.fetchedAt === undefined || now - entry.fetchedAt >= this.#maxAgeMs;
    let found = stale ? undefined : this.#find(entry, kid, alg);
    if (!found) {
      const mayFetch = entry.attemptedAt === undefined || now - entry.attemptedAt >= this.#refetchMs;
      if (entry.inflight) await entry.inflight;
      else if (mayFetch) await this.#refresh(iss, entry);
      const fresh = entry.fetchedAt !== undefined && this.#clock.now() - entry.fetchedAt < this.#maxAgeMs;
      if (!fresh) {
        return { ok: false, status: 502, code: 'jwks_unavailable', message: `the issuer's keys could not be fetched${entry.lastError ? `: ${entry.lastError}` : ''}` };
      }
      found = this.#find(entry, kid, alg);
    }
    if (!found) return { ok: false, status: 400, code: 'unknown_key', message: 'the issuer publishes no key with this kid for this alg' };
    return { ok: true, key: found.key };
  }

  #find(entry: IssuerEntry, kid: string, alg: Alg): CachedKey | undefined {
    return entry.keys.find((k) => k.kid === kid && k.alg === alg);
  }

  #remember(iss: string, entry: IssuerEntry): void {
    if (this.#issuers.size >= this.#maxIssuers) {
      const oldest = this.#issuers.keys().next();
      if (!oldest.done) this.#issuers.delete(oldest.value);
    }
    this.#issuers.set(iss, entry);
  }

  #refresh(iss: string, entry: IssuerEntry): Promise<void> {
    entry.attemptedAt = this.#clock.now();
    const run = (async () => {
      try {
        const res = await this.#fetch(jwksUrlFor(iss), {
          method: 'GET',
          headers: { accept: 'application/json, application/jwk-set+json' },
          redirect: 'error',
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        if (res.status !== 200) {
          await res.body?.cancel().catch(() => undefined);
          throw new Error(`the JWKS endpoint answered ${res.status}`);
        }
        const body = await readLimited(res, this.#maxBytes);
        let doc: unknown;
        try {
          doc = JSON.parse(body.toString('utf8'));
        } catch {
          throw new Error('the JWKS is not JSON');
        }
        entry.keys = parseJwks(doc);
        entry.fetchedAt = this.#clock.now();
        entry.lastError = undefined;
      } catch (err) {
        const e = err as Error;
        entry.lastError = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timed out' : e.message;
      }
    })();
    entry.inflight = run;
    return run.finally(() => {
      entry.inflight = undefined;
    });
  }
}
