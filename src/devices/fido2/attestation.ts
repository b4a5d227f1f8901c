/**
 * Checking a FIDO2 activation (wave-2 reference §1.4): `attestation` is a JSON-serialised
 * PublicKeyCredential whose binary members are standard base64 (Ping's `btoa`) or base64url;
 * it is verified by @simplewebauthn/server against the pending registration — the origin the
 * body names (which must be the relying party's domain or a subdomain of it, and must be the
 * origin in clientDataJSON), the RP ID hash, the challenge (SHA-256 of it was stored), user
 * presence, and user verification when the FIDO2 policy requires it — and then against the
 * policy: the attestation format (`attestationRequirements`), backup eligibility, and the
 * allowed authenticators (`mdsAuthenticatorsRequirements`). Refusals are values.
 */
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Type } from 'typebox';
import { digestEquals, sha256Hex } from '../../crypto/hash.js';
import type { DetailCode } from '../../http/errors.js';
import type { Fido2PolicyBody } from '../../policies/fido2/model.js';
import { checkOrigin } from '../../protocol/desktop.js';
import { binaryMembers, readCredential } from './credential-json.js';
import { SUPPORTED_ALGORITHMS } from './creation-options.js';

/** Largest attestation taken: a TPM attestation with its certificate chain fits with room to spare. */
export const MAX_ATTESTATION = 32_768;

/** Wave-2 reference §1.4: `{origin, attestation}`; the device's other members are not changed by an activation. */
export const Fido2ActivateBody = Type.Object({
  origin: Type.String({ minLength: 1, maxLength: 2048 }),
  attestation: Type.String({ minLength: 1, maxLength: MAX_ATTESTATION }),
}, { additionalProperties: false });

const b64 = Type.String({ minLength: 1, maxLength: MAX_ATTESTATION });
/** The PublicKeyCredential inside `attestation` (§1.4); `transports` and `authenticatorAttachment` are taken when a client adds them. */
const CredentialJson = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 1366 }),
  rawId: b64,
  type: Type.Literal('public-key'),
  response: Type.Object({
    clientDataJSON: b64,
    attestationObject: b64,
    transports: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 8 })),
  }),
  authenticatorAttachment: Type.Optional(Type.Union([Type.Literal('platform'), Type.Literal('cross-platform'), Type.Null()])),
  clientExtensionResults: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Object({ rk: Type.Optional(Type.Boolean()) })) })),
});

export interface RegisteredCredential {
  credentialId: string;
  publicKeyCose: string;
  counter: number;
  aaguid: string;
  fmt: string;
  backedUp: boolean;
  backupEligible: boolean;
  transports: string[] | undefined;
  attachment: 'platform' | 'cross-platform' | undefined;
  residentKey: boolean | undefined;
}

export type Refusal = { ok: false; code: DetailCode; target: string; message: string };
export type AttestationResult = { ok: true; credential: RegisteredCredential } | Refusal;

export interface Expectations {
  rpId: string;
  challengeHash: string;
  expiresAt: number;
  now: number;
  policy: Fido2PolicyBody;
}

const refuse = (code: DetailCode, message: string, target = 'attestation'): Refusal => ({ ok: false, code, target, message });
export const ZERO_AAGUID = '00000000-0000-0000-0000-000000000000';

/** Parses and verifies; the body itself was checked (Fido2ActivateBody). */
export async function checkFido2Attestation(body: { origin: string; attestation: string }, expect: Expectations): Promise<AttestationResult> {
  if (expect.now >= expect.expiresAt) return refuse('EXPIRED', 'The registration options have expired; delete the device and create it again');
  const origin = checkOrigin(body.origin, expect.rpId);
  if (!origin.ok) return refuse('INVALID_VALUE', `The origin is refused: ${origin.reason}`, 'origin');

  const read = readCredential(body.attestation, CredentialJson, 'attestation');
  if (!read.ok) return refuse('INVALID_VALUE', read.message);
  const c = read.value;
  const members = binaryMembers('attestation', { id: c.id, rawId: c.rawId, clientDataJSON: c.response.clientDataJSON, attestationObject: c.response.attestationObject });
  if (!members.ok) return refuse('INVALID_VALUE', members.message);
  const { id, rawId, clientDataJSON, attestationObject } = members.value;

  const response: RegistrationResponseJSON = {
    id, rawId, type: 'public-key',
    response: { clientDataJSON, attestationObject, ...(c.response.transports ? { transports: c.response.transports as never } : {}) },
    clientExtensionResults: {},
  };
  const policy = expect.policy;
  let verified;
  try {
    // Loaded on the first FIDO2 activation: the library and its ASN.1 stack are ~200 modules,
    // which every start would otherwise load (README: start in about a second).
    const { verifyRegistrationResponse } = await import('@simplewebauthn/server');
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: (challenge) => digestEquals(sha256Hex(challenge), expect.challengeHash),
      expectedOrigin: body.origin,
      expectedRPID: expect.rpId,
      expectedType: 'webauthn.create',
      requireUserPresence: true,
      requireUserVerification: policy.userVerification.option === 'REQUIRED',
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (e) {
    // The library's message names the failed check (challenge, origin, RP ID hash, UV, signature, CBOR …).
    return refuse('INVALID_VALUE', `The attestation does not verify: ${String((e as Error).message).slice(0, 300)}`);
  }
  if (!verified.verified) return refuse('INVALID_SIGNATURE', 'The attestation does not verify');
  const info = verified.registrationInfo;

  if (policy.attestationRequirements !== 'NONE' && info.fmt === 'none') {
    return refuse('INVALID_VALUE', `The FIDO2 policy requires an attestation (${policy.attestationRequirements}); this one is of format none`);
  }
  const backupEligible = info.credentialDeviceType === 'multiDevice';
  if (backupEligible && !policy.backupEligibility.allow) return refuse('INVALID_VALUE', 'The FIDO2 policy does not allow backup-eligible (synced) credentials');
  const mds = policy.mdsAuthenticatorsRequirements;
  const aaguid = info.aaguid.toLowerCase();
  if (mds.option === 'SPECIFIC' && !(mds.allowedAuthenticators ?? []).some((a) => a.id.toLowerCase() === aaguid)) {
    return refuse('INVALID_VALUE', `The authenticator (AAGUID ${aaguid}) is not one the FIDO2 policy allows`);
  }
  if ((mds.option === 'GLOBAL' || mds.option === 'CERTIFIED') && aaguid === ZERO_AAGUID) {
    return refuse('INVALID_VALUE', 'The FIDO2 policy requires an identified authenticator; this one gives no AAGUID');
  }
  const attachment = c.authenticatorAttachment ?? undefined;
  return {
    ok: true,
    credential: {
      credentialId: info.credential.id,
      publicKeyCose: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      aaguid,
      fmt: info.fmt,
      backedUp: info.credentialBackedUp,
      backupEligible,
      transports: c.response.transports,
      attachment,
      residentKey: c.clientExtensionResults?.credProps?.rk,
    },
  };
}
