/**
 * The agent's key store: `<stateDir>/keystore.json`, readable by its owner only.
 *
 *   { "unitId": "<uuid>", "credentials": [ { credentialId, deviceId, issuer, rpId, privateJwk, createdAt } ],
 *     "answered": [ { issuer, jti, until } ] }
 *
 * `answered` lists the options JWTs the agent has answered (issuer and `jti`), each kept until
 * it could no longer be accepted (`exp` + the clock skew, epoch seconds), so the same options
 * are never answered twice — not even after a restart: a replayed creation options JWT would
 * otherwise write one more key each time (docs/pingid-desktop-protocol.md §1.2). A new credential and the options it
 * answers are written in ONE atomic write, so a crash cannot keep the key and forget the jti.
 * Both lists are bounded: at most `maxCredentials` keys (a clear error past it), and at most
 * `maxAnswered` unexpired answers (past it the agent refuses new options until some expire,
 * rather than forget one that could still be replayed). A file without `answered` (written
 * before it existed) reads as an empty list.
 *
 * Every write is atomic (src/state-file.ts: temp file in the same directory, fsync, rename, fsync the
 * directory), so a crash leaves either the old or the new file, never half of one. A
 * temp file left by a killed write is removed at start. A main file that does not parse
 * is an error at start: it holds private keys, so it is never silently replaced.
 * Writes are serialised through one promise chain, so concurrent registrations do not
 * overwrite each other's credentials.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { openStateFile, serialiser, writeStateFile } from '../state-file.js';

export const KEYSTORE_FILE = 'keystore.json';

export interface EcPrivateJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly d: string;
}

export interface StoredCredential {
  readonly credentialId: string;
  /** The device ID (the creation options' `sub`). */
  readonly deviceId: string;
  /** The creation options' `iss`. */
  readonly issuer: string;
  readonly rpId: string;
  readonly privateJwk: EcPrivateJwk;
  /** ISO 8601. */
  readonly createdAt: string;
}

/** One answered options JWT: remembered until `until` (epoch seconds). */
export interface AnsweredOptions {
  readonly issuer: string;
  readonly jti: string;
  readonly until: number;
}

interface KeyStoreFile {
  readonly unitId: string;
  readonly credentials: readonly StoredCredential[];
  readonly answered: readonly AnsweredOptions[];
}

export interface KeyStoreLimits {
  /** Credentials the store may hold (default DEFAULT_MAX_CREDENTIALS). */
  maxCredentials?: number | undefined;
  /** Unexpired answered options it remembers (default DEFAULT_MAX_ANSWERED). */
  maxAnswered?: number | undefined;
}

export const DEFAULT_MAX_CREDENTIALS = 100;
export const DEFAULT_MAX_ANSWERED = 10_000;

export interface KeyStore {
  /** A UUID made once per installation. */
  readonly unitId: string;
  /** Absolute path of keystore.json. */
  readonly file: string;
  readonly maxCredentials: number;
  list(): readonly StoredCredential[];
  /** The first credential whose ID is in `ids` and whose issuer (and rpId, when given) match. */
  find(issuer: string, ids: readonly string[], rpId?: string): StoredCredential | undefined;
  /** True when these options were answered and are still remembered at `nowSeconds`. */
  hasAnswered(issuer: string, jti: string, nowSeconds: number): boolean;
  /**
   * Persists one more credential together with the options it answers, in one write; resolves
   * once both are on disk, with the count after it. Rejects with OptionsReplayed, KeyStoreFull
   * or AnsweredFull (nothing written) when the options were answered already or a list is full.
   */
  add(credential: StoredCredential, answered: AnsweredOptions, nowSeconds: number): Promise<{ count: number }>;
  /** Persists that request options are answered (before the answer is sent); rejects as add does. */
  answer(answered: AnsweredOptions, nowSeconds: number): Promise<void>;
}

export class KeyStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyStoreError';
  }
}

/** The same options JWT (issuer, jti) again: it was answered once and is not answered twice. */
export class OptionsReplayed extends KeyStoreError {
  constructor() {
    super('these options were already answered');
    this.name = 'OptionsReplayed';
  }
}

export class KeyStoreFull extends KeyStoreError {
  readonly max: number;
  constructor(max: number) {
    super(`the key store holds its maximum of ${max} credentials`);
    this.name = 'KeyStoreFull';
    this.max = max;
  }
}

export class AnsweredFull extends KeyStoreError {
  readonly max: number;
  constructor(max: number) {
    super(`the agent remembers its maximum of ${max} unexpired answered options`);
    this.name = 'AnsweredFull';
    this.max = max;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const B64U = /^[A-Za-z0-9_-]+$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function parseCredential(v: unknown, i: number): StoredCredential {
  const bad = (what: string): never => {
    throw new KeyStoreError(`credentials[${i}]: ${what}`);
  };
  if (!isObject(v)) return bad('is not an object');
  const { credentialId, deviceId, issuer, rpId, privateJwk, createdAt } = v;
  if (!nonEmpty(credentialId)) return bad('credentialId is missing');
  if (!nonEmpty(deviceId)) return bad('deviceId is missing');
  if (!nonEmpty(issuer)) return bad('issuer is missing');
  if (!nonEmpty(rpId)) return bad('rpId is missing');
  if (!nonEmpty(createdAt) || Number.isNaN(Date.parse(createdAt))) return bad('createdAt is not a date');
  if (!isObject(privateJwk)) return bad('privateJwk is missing');
  const { kty, crv, x, y, d } = privateJwk;
  if (kty !== 'EC' || crv !== 'P-256') return bad('privateJwk is not a P-256 key');
  for (const [name, part] of [['x', x], ['y', y], ['d', d]] as const) {
    if (typeof part !== 'string' || !B64U.test(part)) bad(`privateJwk.${name} is not base64url`);
  }
  return {
    credentialId,
    deviceId,
    issuer,
    rpId,
    privateJwk: { kty: 'EC', crv: 'P-256', x: x as string, y: y as string, d: d as string },
    createdAt,
  };
}

function parseAnswered(v: unknown, i: number): AnsweredOptions {
  if (!isObject(v) || !nonEmpty(v.issuer) || !nonEmpty(v.jti) || typeof v.until !== 'number' || !Number.isFinite(v.until)) {
    throw new KeyStoreError(`answered[${i}]: needs issuer, jti and until`);
  }
  return { issuer: v.issuer, jti: v.jti, until: v.until };
}

function parseFile(text: string): KeyStoreFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new KeyStoreError('not valid JSON');
  }
  if (!isObject(v)) throw new KeyStoreError('not a JSON object');
  if (typeof v.unitId !== 'string' || !UUID.test(v.unitId)) throw new KeyStoreError('unitId is not a UUID');
  if (!Array.isArray(v.credentials)) throw new KeyStoreError('credentials is not an array');
  const credentials = v.credentials.map(parseCredential);
  const ids = new Set<string>();
  for (const c of credentials) {
    if (ids.has(c.credentialId)) throw new KeyStoreError(`credentialId ${c.credentialId} appears twice`);
    ids.add(c.credentialId);
  }
  if (v.answered !== undefined && !Array.isArray(v.answered)) throw new KeyStoreError('answered is not an array');
  const answered = (v.answered ?? []).map(parseAnswered);
  return { unitId: v.unitId, credentials, answered };
}

const serialise = (state: KeyStoreFile): string =>
  `${JSON.stringify({ unitId: state.unitId, credentials: state.credentials, answered: state.answered }, null, 2)}\n`;

/**
 * Opens (or creates) the key store in `stateDir`. Rejects with a KeyStoreError when the main
 * file exists but is not a valid key store; it is left untouched for the owner to inspect.
 */
export async function openKeyStore(stateDir: string, limits: KeyStoreLimits = {}): Promise<KeyStore> {
  const maxCredentials = limits.maxCredentials ?? DEFAULT_MAX_CREDENTIALS;
  const maxAnswered = limits.maxAnswered ?? DEFAULT_MAX_ANSWERED;
  const dir = path.resolve(stateDir);
  const file = path.join(dir, KEYSTORE_FILE);
  const write = (next: KeyStoreFile): Promise<void> => writeStateFile(dir, KEYSTORE_FILE, serialise(next));

  let state: KeyStoreFile;
  const text = await openStateFile(dir, KEYSTORE_FILE);
  if (text === undefined) {
    state = { unitId: randomUUID(), credentials: [], answered: [] };
    await write(state);
  } else {
    try {
      state = parseFile(text);
    } catch (err) {
      throw new KeyStoreError(`the key store ${file} is corrupt (${(err as Error).message}); move it away or repair it, the agent will not replace it`);
    }
  }

  const unitId = state.unitId;
  const answeredNow = (issuer: string, jti: string, nowSeconds: number): boolean =>
    state.answered.some((a) => a.issuer === issuer && a.jti === jti && a.until > nowSeconds);
  /** The answered list with `answer` added and the expired dropped; throws when it cannot take it. */
  const remember = (answer: AnsweredOptions, nowSeconds: number): AnsweredOptions[] => {
    if (answeredNow(answer.issuer, answer.jti, nowSeconds)) throw new OptionsReplayed();
    const kept = state.answered.filter((a) => a.until > nowSeconds);
    if (kept.length >= maxAnswered) throw new AnsweredFull(maxAnswered);
    return [...kept, answer];
  };
  /** Runs `step` after every earlier write, so each sees the state the one before it left. */
  const serialised = serialiser();

  return {
    unitId,
    file,
    maxCredentials,
    list: () => state.credentials,
    find(issuer, ids, rpId) {
      const wanted = new Set(ids);
      return state.credentials.find((c) => wanted.has(c.credentialId) && c.issuer === issuer && (rpId === undefined || c.rpId === rpId));
    },
    hasAnswered: answeredNow,
    add(credential, answer, nowSeconds) {
      return serialised(async () => {
        if (state.credentials.some((c) => c.credentialId === credential.credentialId)) {
          throw new KeyStoreError('a credential with this ID already exists');
        }
        const answered = remember(answer, nowSeconds);
        if (state.credentials.length >= maxCredentials) throw new KeyStoreFull(maxCredentials);
        const next: KeyStoreFile = { unitId, credentials: [...state.credentials, credential], answered };
        await write(next);
        state = next;
        return { count: next.credentials.length };
      });
    },
    answer(answer, nowSeconds) {
      return serialised(async () => {
        const next: KeyStoreFile = { unitId, credentials: state.credentials, answered: remember(answer, nowSeconds) };
        await write(next);
        state = next;
      });
    },
  };
}
