/**
 * The `publicKeyCredentialCreationOptions` of a FIDO2 create (wave-2 reference §1.3): a JSON
 * string in PingOne's encoding, built from the device's relying party and the FIDO2 policy.
 * Only SHA-256 of the challenge (as base64url, the form clientDataJSON carries) is kept with
 * the device; the challenge itself lives in the string alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sha256Hex } from '../../crypto/hash.js';
import type { Fido2PolicyBody } from '../../policies/fido2/model.js';
import { signedBytes } from './encoding.js';

/** ES256, PS256, RS256, with `alg` as a string, as PingOne serialises it (§1.3). */
export const PUB_KEY_CRED_PARAMS = [{ type: 'public-key', alg: '-7' }, { type: 'public-key', alg: '-37' }, { type: 'public-key', alg: '-257' }] as const;
export const SUPPORTED_ALGORITHMS = PUB_KEY_CRED_PARAMS.map((p) => Number(p.alg));

const ATTESTATION = { NONE: 'none', DIRECT: 'direct', ENTERPRISE: 'enterprise' } as const;
const ATTACHMENT = { PLATFORM: 'platform', CROSS_PLATFORM: 'cross-platform', BOTH: undefined } as const;
const HINTS = { SECURITY_KEY: 'security-key', CLIENT_DEVICE: 'client-device', HYBRID: 'hybrid' } as const;

/** The user handle: SHA-256 of environment and user (32 bytes, stable, and naming nothing). */
export const userHandle = (environmentId: string, userId: string): Buffer => createHash('sha256').update(`${environmentId}:${userId}`).digest();

export const timeoutMs = (policy: Fido2PolicyBody): number => {
  const t = policy.userPresenceTimeout ?? { duration: 2, timeUnit: 'MINUTES' };
  return t.duration * (t.timeUnit === 'MINUTES' ? 60_000 : 1000);
};

export interface CreationOptions {
  json: string;
  challengeHash: string;
}

export function makeCreationOptions(args: {
  rp: { id: string; name: string };
  user: { handle: Buffer; name: string; displayName: string };
  policy: Fido2PolicyBody;
  excludeCredentials: readonly string[];
}): CreationOptions {
  const { policy } = args;
  const challenge = randomBytes(32);
  const attachment = ATTACHMENT[policy.authenticatorAttachment];
  const options = {
    rp: args.rp,
    user: { id: signedBytes(args.user.handle), displayName: args.user.displayName, name: args.user.name },
    challenge: signedBytes(challenge),
    pubKeyCredParams: PUB_KEY_CRED_PARAMS,
    timeout: timeoutMs(policy),
    excludeCredentials: args.excludeCredentials.map((id) => ({ type: 'public-key', id: signedBytes(Buffer.from(id, 'base64url')) })),
    authenticatorSelection: {
      ...(attachment ? { authenticatorAttachment: attachment } : {}),
      residentKey: policy.discoverableCredentials.toLowerCase(),
      requireResidentKey: policy.discoverableCredentials === 'REQUIRED',
      userVerification: policy.userVerification.option.toLowerCase(),
    },
    attestation: ATTESTATION[policy.attestationRequirements],
    ...(policy.publicKeyCredentialHints ? { hints: policy.publicKeyCredentialHints.map((h) => HINTS[h]) } : {}),
  };
  return { json: JSON.stringify(options), challengeHash: sha256Hex(challenge.toString('base64url')) };
}
