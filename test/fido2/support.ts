/**
 * Shared by the FIDO2 authentication suites; not a test file itself. Devices are registered
 * through the API with the software authenticator (src/testing/fido2-authenticator.ts, the
 * oracle: it shares only the WebAuthn specification with the server), and flows are driven
 * with the environment's own worker token (test/authentication/support.ts).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { SoftwareAuthenticator, type AuthenticatorOptions } from '../../src/testing/fido2-authenticator.js';
import { CT, ENABLED, type Tenant } from '../authentication/support.js';

export const ORIGIN = 'http://localhost:8080';
export const RP = { id: 'localhost', name: 'OpenMFA' };

export const signed = (b: Buffer): number[] => Array.from(b, (x) => (x > 127 ? x - 256 : x));

export interface Fido2Device {
  deviceId: string;
  credentialId: string;
  authenticator: SoftwareAuthenticator;
  /** The device as its activation answered it. */
  activated: Record<string, any>;
}

/** create → the software authenticator → activate, through the API. */
export async function registerFido2(t: Tenant, userId: string, o: { policyId?: string; authenticator?: SoftwareAuthenticator; options?: AuthenticatorOptions } = {}): Promise<Fido2Device> {
  const created = await t.call('POST', t.devices(userId), { body: { type: 'FIDO2', rp: RP, ...(o.policyId ? { policy: { id: o.policyId } } : {}) } });
  assert.equal(created.status, 201, created.text);
  const authenticator = o.authenticator ?? new SoftwareAuthenticator(o.options);
  const attestation = authenticator.register(created.body.publicKeyCredentialCreationOptions as string, ORIGIN);
  const activated = await t.call('POST', t.device(userId, created.body.id as string), { contentType: CT.activate, body: { origin: ORIGIN, attestation } });
  assert.equal(activated.status, 200, activated.text);
  assert.equal(activated.body.status, 'ACTIVE');
  return { deviceId: created.body.id as string, credentialId: activated.body.credentialId as string, authenticator, activated: activated.body };
}

/** How an active FIDO2 device of the default policy reads inside a flow (wave-2 reference §1.6). */
export const fido2Summary = (d: Fido2Device, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: d.deviceId,
  type: 'FIDO2',
  status: 'ACTIVE',
  usableStatus: ENABLED,
  rp: RP,
  credentialId: d.credentialId,
  backup: { backupEligibility: false, backupState: false },
  displayName: 'Passkey',
  ...extra,
});

/** The same authenticator's credential with another private key: a signature the device's key does not verify. */
export function forger(d: Fido2Device): SoftwareAuthenticator {
  const a = new SoftwareAuthenticator();
  const real = d.authenticator.credentials[0]!;
  a.credentials.push({ ...real, privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });
  return a;
}

/** Request options with every allowCredentials entry dropped: the authenticator then signs with any credential it holds for the RP. */
export const anyCredential = (options: string): string => JSON.stringify({ ...JSON.parse(options), allowCredentials: [] });

/** Rewrites members of an assertion string (a JSON-serialised PublicKeyCredential). */
export function tamper(assertion: string, change: (a: any) => void): string {
  const a = JSON.parse(assertion);
  change(a);
  return JSON.stringify(a);
}
