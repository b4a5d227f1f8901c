/**
 * A software FIDO2 authenticator for tests and for the CLI (`openmfa fido2 register|
 * authenticate`): it reads PingOne's option strings (wave-2 reference §1.3, §1.5) and answers as
 * a browser with a CTAP2 authenticator would, in the encodings of §1.4 (`id` base64url, the
 * other binary members standard base64). It shares nothing with the server's code but the
 * WebAuthn specification (W3C WebAuthn Level 2 §6.1 authenticator data, §6.5 attestation,
 * §8.2 packed self attestation, §8.7 none): P-256 keys (ES256), `none` or `packed` self
 * attestation, user verification on demand, resident credentials, signature counters; CBOR
 * from @levischuck/tiny-cbor. Its knobs exist so tests can forge what an attacker would send.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';

export interface SoftwareCredential {
  id: Buffer;
  rpId: string;
  userHandle: Buffer;
  privateKey: KeyObject;
  counter: number;
}

export interface AuthenticatorOptions {
  /** AAGUID as a UUID (default all zeros, as a `none` attestation gives). */
  aaguid?: string;
  attestation?: 'none' | 'packed';
  /** Sets UV (default true). */
  userVerified?: boolean;
  /** Sets BE and BS (a synced passkey). */
  backupEligible?: boolean;
}

/** What a test may forge for one ceremony. */
export interface Ceremony {
  /** The RP ID whose hash the authenticator data carries (default the options' rp.id / rpId). */
  rpIdForHash?: string;
  /** clientDataJSON's type (default webauthn.create / webauthn.get). */
  type?: string;
  userVerified?: boolean;
  /** Signs with this counter instead of the next one. */
  counter?: number;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();
/** PingOne's signed-byte arrays to bytes (typed arrays take values mod 256, as Ping's `new Uint8Array(array)`). */
export const bytesOf = (signed: readonly number[]): Buffer => Buffer.from(Uint8Array.from(signed));

function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** The credential public key as COSE_Key (RFC 9053 §7.1.1: kty EC2, alg ES256, crv P-256). */
function coseKey(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: 'jwk' });
  return encodeCBOR(new Map<number, CBORType>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
}

export class SoftwareAuthenticator {
  readonly credentials: SoftwareCredential[] = [];
  readonly options: Required<AuthenticatorOptions>;

  constructor(options: AuthenticatorOptions = {}) {
    this.options = { aaguid: '00000000-0000-0000-0000-000000000000', attestation: 'none', userVerified: true, backupEligible: false, ...options };
  }

  private flags(extra: number, uv: boolean): number {
    return 0x01 | (uv ? 0x04 : 0) | (this.options.backupEligible ? 0x18 : 0) | extra;
  }

  /** navigator.credentials.create(): the `attestation` string of an activation body. */
  register(creationOptions: string, origin: string, ceremony: Ceremony = {}): string {
    const o = JSON.parse(creationOptions) as { rp: { id: string }; user: { id: number[] }; challenge: number[] };
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const credential: SoftwareCredential = { id: randomBytes(32), rpId: o.rp.id, userHandle: bytesOf(o.user.id), privateKey, counter: 0 };
    const clientDataJSON = Buffer.from(JSON.stringify({ type: ceremony.type ?? 'webauthn.create', challenge: b64url(bytesOf(o.challenge)), origin, crossOrigin: false }));
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credential.id.length);
    const authData = Buffer.concat([
      sha256(ceremony.rpIdForHash ?? o.rp.id),
      Buffer.from([this.flags(0x40, ceremony.userVerified ?? this.options.userVerified)]),
      u32(ceremony.counter ?? 0),
      uuidBytes(this.options.aaguid),
      idLength,
      credential.id,
      coseKey(privateKey),
    ]);
    const attStmt = this.options.attestation === 'packed'
      ? new Map<string, CBORType>([['alg', -7], ['sig', sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), privateKey)]])
      : new Map<string, CBORType>();
    const attestationObject = encodeCBOR(new Map<string, CBORType>([['fmt', this.options.attestation], ['attStmt', attStmt], ['authData', authData]]));
    this.credentials.push(credential);
    return JSON.stringify({
      id: b64url(credential.id),
      rawId: b64(credential.id),
      type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), attestationObject: b64(attestationObject) },
      clientExtensionResults: {},
    });
  }

  /** navigator.credentials.get(): the `assertion` string of assertion.check (§1.5). */
  authenticate(requestOptions: string, origin: string, ceremony: Ceremony = {}): string {
    const o = JSON.parse(requestOptions) as { rpId: string; challenge: number[]; allowCredentials?: Array<{ id: number[] }> };
    const allowed = (o.allowCredentials ?? []).map((c) => bytesOf(c.id));
    const credential = this.credentials.find((c) => c.rpId === o.rpId && (allowed.length === 0 || allowed.some((a) => a.equals(c.id))));
    if (!credential) throw new Error('no credential of this authenticator is allowed by the request options');
    credential.counter = ceremony.counter ?? credential.counter + 1;
    const clientDataJSON = Buffer.from(JSON.stringify({ type: ceremony.type ?? 'webauthn.get', challenge: b64url(bytesOf(o.challenge)), origin, crossOrigin: false }));
    const authData = Buffer.concat([sha256(ceremony.rpIdForHash ?? o.rpId), Buffer.from([this.flags(0, ceremony.userVerified ?? this.options.userVerified)]), u32(credential.counter)]);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    return JSON.stringify({
      id: b64url(credential.id),
      rawId: b64(credential.id),
      type: 'public-key',
      response: { clientDataJSON: b64(clientDataJSON), authenticatorData: b64(authData), signature: b64(signature), userHandle: b64(credential.userHandle) },
    });
  }

  /** The credentials as JSON (private keys included: a test authenticator's state file, never a real one). */
  save(): string {
    return JSON.stringify({
      options: this.options,
      credentials: this.credentials.map((c) => ({ id: b64url(c.id), rpId: c.rpId, userHandle: b64url(c.userHandle), privateKey: c.privateKey.export({ format: 'jwk' }), counter: c.counter })),
    });
  }

  static load(text: string): SoftwareAuthenticator {
    const state = JSON.parse(text) as { options: AuthenticatorOptions; credentials: Array<{ id: string; rpId: string; userHandle: string; privateKey: Record<string, string>; counter: number }> };
    const a = new SoftwareAuthenticator(state.options);
    for (const c of state.credentials) {
      a.credentials.push({ id: Buffer.from(c.id, 'base64url'), rpId: c.rpId, userHandle: Buffer.from(c.userHandle, 'base64url'), privateKey: createPrivateKey({ key: c.privateKey, format: 'jwk' }), counter: c.counter });
    }
    return a;
  }
}
