/**
 * The `publicKeyCredentialRequestOptions` of a FIDO2 device selected in a device
 * authentication (wave-2 reference §1.5): a JSON string in PingOne's encoding — `challenge`
 * and each `allowCredentials[].id` as arrays of signed bytes — with the relying party's ID,
 * the FIDO2 policy's timeout and user verification. As at registration, only SHA-256 of the
 * challenge (base64url, the form clientDataJSON carries) is kept, with the flow.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../crypto/hash.js';
import type { Fido2PolicyBody } from '../../policies/fido2/model.js';
import { timeoutMs } from './creation-options.js';
import { signedBytes } from './encoding.js';

export interface AllowedCredential {
  /** base64url, as the device stores it. */
  id: string;
  transports?: readonly string[] | undefined;
}

export function makeRequestOptions(args: { rpId: string; policy: Fido2PolicyBody; allow: readonly AllowedCredential[] }): { json: string; challengeHash: string } {
  const challenge = randomBytes(32);
  const options = {
    challenge: signedBytes(challenge),
    timeout: timeoutMs(args.policy),
    rpId: args.rpId,
    allowCredentials: args.allow.map((c) => ({
      type: 'public-key',
      id: signedBytes(Buffer.from(c.id, 'base64url')),
      ...(c.transports && c.transports.length > 0 ? { transports: c.transports } : {}),
    })),
    userVerification: args.policy.userVerification.option.toLowerCase(),
  };
  return { json: JSON.stringify(options), challengeHash: sha256Hex(challenge.toString('base64url')) };
}
