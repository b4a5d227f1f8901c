/**
 * Building attestations the way the agent does (protocol §1.2), so tests can also build the
 * ones it never would: wrong keys, wrong claims, hostile headers. Signed with jose, not the
 * server's signer (test/support/jws.ts).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { PublicJwk } from '../../src/crypto/jws.js';
import { signJws } from '../support/jws.js';
import { TYP } from '../../src/protocol/desktop.js';
import { createUser, type TestServer } from '../helper.js';

export interface Credential {
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

export function newCredential(): Credential {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as { kty: 'EC'; crv: 'P-256'; x: string; y: string };
  return { privateKey, publicJwk: { kty, crv, x, y } };
}

/** Decoded by jose, not by the server's decoder. */
export const claimsOf = (jwt: string): Record<string, any> => decodeJwt(jwt);
export const headerOf = (jwt: string): Record<string, any> => decodeProtectedHeader(jwt);

export interface AttestationOptions {
  credential?: Credential;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  origin?: string;
  now?: number;
}

/** An attestation answering `creationOptions`, valid unless the options say otherwise; signed with jose. */
export function attest(creationOptions: string, o: AttestationOptions = {}): Promise<string> {
  const options = claimsOf(creationOptions);
  const cred = o.credential ?? newCredential();
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {
    iss: 'pingid-desktop',
    aud: options.iss,
    sub: options.sub,
    challenge: options.challenge,
    origin: o.origin ?? `https://${options.rp.id}`,
    credentialId: 'cred-' + Math.random().toString(16).slice(2),
    unitId: '4d764d06-6aa5-4c15-ac8c-4df655cbf867',
    nickname: 'Desktop Mac 1',
    os: { type: 'MAC', version: '15.7.3' },
    model: {},
    application: { id: '941d6390-ec3a-4bf4-858a-949c47ccd36e', nativeName: 'PingID Desktop', version: '1.0.0', pushSandbox: false },
    iat,
    exp: iat + 300,
    ...o.claims,
  };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return signJws('ES256', cred.privateKey, { typ: TYP.attestation, jwk: cred.publicJwk, ...o.header }, claims);
}

export const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';

/** A user with a pending desktop device; returns what the flow needs next. */
export async function pendingDesktop(server: TestServer, envId: string, body: Record<string, unknown> = {}) {
  const userId = await createUser(server, envId);
  const res = await server.request('POST', `/v1/environments/${envId}/users/${userId}/devices`, {
    body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' }, ...body },
  });
  if (res.status !== 201) throw new Error(`create failed ${res.status} ${res.text}`);
  return { userId, deviceId: res.body.id as string, options: res.body.pingIdDesktopCredentialCreationOptions as string, created: res.body, path: `/v1/environments/${envId}/users/${userId}/devices/${res.body.id as string}` };
}

/** The seed document's example 200 response, verbatim (shared/seed/activate-mfa-user-device-pingid-desktop.txt). */
export const SEED = {
  _links: {
    self: { href: 'https://api.pingone.eu/v1/environments/abfba8f6-49eb-49f5-a5d9-80ad5c98f9f6/users/d4543f69-e508-4cc6-bd16-b61baa4b3caf/devices/0783541c-a172-8d40-0783-541ca1728d40' },
    environment: { href: 'https://api.pingone.eu/v1/environments/abfba8f6-49eb-49f5-a5d9-80ad5c98f9f6' },
    user: { href: 'https://api.pingone.eu/v1/environments/abfba8f6-49eb-49f5-a5d9-80ad5c98f9f6/users/d4543f69-e508-4cc6-bd16-b61baa4b3caf' },
  },
  rp: { id: 'pingone.eu', name: 'pingone.eu' },
  id: '0783541c-a172-8d40-0783-541ca1728d40',
  environment: { id: 'abfba8f6-49eb-49f5-a5d9-80ad5c98f9f6' },
  user: { id: 'd4543f69-e508-4cc6-bd16-b61baa4b3caf' },
  type: 'PINGID_DESKTOP_GEN2',
  nickname: 'Desktop Mac 1',
  lock: { status: 'UNLOCKED' },
  block: { status: 'UNBLOCKED' },
  status: 'ACTIVE',
  createdAt: '2026-02-17T13:34:34.840Z',
  updatedAt: '2026-02-17T13:36:33.257Z',
  os: { version: '15.7.3', type: 'MAC' },
  model: {},
  application: { id: '941d6390-ec3a-4bf4-858a-949c47ccd36e', nativeName: 'PingID Desktop', version: '1.0.0', pushSandbox: false },
  unitId: '4d764d06-6aa5-4c15-ac8c-4df655cbf867',
};

/** The seed's body with its IDs and host swapped for ours. */
export function seedFor(server: TestServer, ids: { env: string; user: string; device: string }): typeof SEED {
  const text = JSON.stringify(SEED)
    .replaceAll('https://api.pingone.eu/v1', server.config.apiPath)
    .replaceAll(SEED.environment.id, ids.env)
    .replaceAll(SEED.user.id, ids.user)
    .replaceAll(SEED.id, ids.device);
  return JSON.parse(text) as typeof SEED;
}
