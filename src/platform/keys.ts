/**
 * One RS256 signing key per environment (protocol "Keys"), kept in the store with the private
 * half sealed under the master key. Imported KeyObjects are cached so that no request imports
 * a key twice; retired public keys stay in the JWKS until what they signed has expired.
 */
import { createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../clock.js';
import { PrivateJwkSchema, PublicJwkSchema, privateKeyFromJwk, type PublicJwk } from '../crypto/jws.js';
import { newId } from '../crypto/random.js';
import type { SecretBox } from '../crypto/secretbox.js';
import { parseStored } from '../http/validation.js';
import type { Db, Store } from '../store/db.js';

const generate = promisify(generateKeyPair);

/** Longest lifetime of anything an environment key signs (access tokens: 1 hour). */
export const MAX_SIGNED_LIFETIME_MS = 3600_000;

export interface SigningKey {
  kid: string;
  environmentId: string;
  privateKey: KeyObject;
}

export interface VerifyingKey {
  kid: string;
  environmentId: string;
  publicKey: KeyObject;
}

export class KeyRing {
  readonly #store: Store;
  readonly #box: SecretBox;
  readonly #clock: Clock;
  readonly #signing = new Map<string, SigningKey>();
  readonly #verifying = new Map<string, VerifyingKey>();

  constructor(store: Store, box: SecretBox, clock: Clock) {
    this.#store = store;
    this.#box = box;
    this.#clock = clock;
  }

  /** Makes the environment's first (or next) key inside the caller's transaction. */
  async create(trx: Db, environmentId: string): Promise<void> {
    const { privateKey, publicKey } = await generate('rsa', { modulusLength: 2048 });
    const kid = newId();
    const publicJwk = { ...(publicKey.export({ format: 'jwk' }) as PublicJwk), kid, alg: 'RS256', use: 'sig' };
    const privateJwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
    await trx.insertInto('signing_keys').values({
      kid,
      environment_id: environmentId,
      public_jwk: JSON.stringify(publicJwk),
      private_sealed: this.#box.seal(privateJwk, `signing_key:${kid}`),
      status: 'ACTIVE',
      created_at: this.#clock.now(),
      retired_at: null,
    }).execute();
  }

  async signingKey(environmentId: string): Promise<SigningKey> {
    const cached = this.#signing.get(environmentId);
    if (cached) return cached;
    const row = await this.#store.db.selectFrom('signing_keys').select(['kid', 'private_sealed'])
      .where('environment_id', '=', environmentId).where('status', '=', 'ACTIVE')
      .orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    if (!row) throw new Error(`environment ${environmentId} has no active signing key`);
    const jwk = parseStored(PrivateJwkSchema, this.#box.open(row.private_sealed, `signing_key:${row.kid}`), 'signing key');
    const key: SigningKey = { kid: row.kid, environmentId, privateKey: privateKeyFromJwk(jwk) };
    this.#signing.set(environmentId, key);
    return key;
  }

  /** The public key for a `kid`, or undefined when this server never issued it. */
  async verifyingKey(kid: string): Promise<VerifyingKey | undefined> {
    const cached = this.#verifying.get(kid);
    if (cached) return cached;
    if (kid.length > 64) return undefined;
    const row = await this.#store.db.selectFrom('signing_keys').select(['kid', 'environment_id', 'public_jwk'])
      .where('kid', '=', kid).executeTakeFirst();
    if (!row) return undefined;
    const key: VerifyingKey = {
      kid: row.kid,
      environmentId: row.environment_id,
      publicKey: createPublicKey({ key: parseStored(PublicJwkSchema, row.public_jwk, 'public key'), format: 'jwk' }),
    };
    if (this.#verifying.size > 10_000) this.#verifying.clear();
    this.#verifying.set(kid, key);
    return key;
  }

  /** Public keys to publish: the active one, and retired ones whose signatures may still be live. */
  async jwks(environmentId: string): Promise<PublicJwk[]> {
    const horizon = this.#clock.now() - MAX_SIGNED_LIFETIME_MS;
    const rows = await this.#store.db.selectFrom('signing_keys').select(['public_jwk', 'status', 'retired_at'])
      .where('environment_id', '=', environmentId).orderBy('created_at', 'desc').execute();
    return rows
      .filter((r) => r.status === 'ACTIVE' || (r.retired_at ?? 0) > horizon)
      .map((r) => parseStored(PublicJwkSchema, r.public_jwk, 'public key'));
  }

  /** Forget every cached key (a snapshot was restored: the keys are the store's again). */
  forgetAll(): void {
    this.#signing.clear();
    this.#verifying.clear();
  }

  /** Forget cached keys of a deleted environment. */
  forget(environmentId: string): void {
    this.#signing.delete(environmentId);
    for (const [kid, k] of this.#verifying) if (k.environmentId === environmentId) this.#verifying.delete(kid);
  }
}
