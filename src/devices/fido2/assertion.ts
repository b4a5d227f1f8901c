/**
 * Checking a FIDO2 assertion (wave-2 reference §1.5): `assertion` is Ping's JS output,
 * `JSON.stringify({id, rawId, type, response: {clientDataJSON, authenticatorData, signature,
 * userHandle}})`, binary members standard base64 (`btoa`) or base64url. In order: the options
 * have not expired; the origin the body names is the relying party's domain or a subdomain of
 * it (the rule of registration); the credential is one the flow allows (this user's, in this
 * environment); a user handle, when given, is this user's; then @simplewebauthn/server checks
 * clientDataJSON's type, challenge (SHA-256 of it was stored) and origin, the RP ID hash,
 * user presence, user verification when the FIDO2 policy requires it, and the signature with
 * the COSE key stored at activation; last, the signature counter must move forward (W3C
 * WebAuthn Level 2 §7.2 step 21; devices/store.ts advanceSignCount makes it so atomically) and
 * the policy's authentication-time rules hold. Refusals
 * are values; no message echoes what the client sent.
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { Type } from 'typebox';
import { digestEquals, sha256Hex } from '../../crypto/hash.js';
import type { DetailCode } from '../../http/errors.js';
import type { Fido2PolicyBody } from '../../policies/fido2/model.js';
import { checkOrigin } from '../../protocol/desktop.js';
import { binaryMembers, readCredential } from './credential-json.js';
import { toBase64Url } from './encoding.js';

/** Largest assertion taken: authenticator data with extensions, a signature and a user handle fit many times over. */
export const MAX_ASSERTION = 8192;

const b64 = Type.String({ minLength: 1, maxLength: MAX_ASSERTION });
const AssertionJson = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 1366 }),
  rawId: b64,
  type: Type.Literal('public-key'),
  response: Type.Object({
    clientDataJSON: b64,
    authenticatorData: b64,
    signature: b64,
    // Ping's helper turns a null userHandle into "" (§1.5).
    userHandle: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()])),
  }),
  authenticatorAttachment: Type.Optional(Type.Union([Type.Literal('platform'), Type.Literal('cross-platform'), Type.Null()])),
  clientExtensionResults: Type.Optional(Type.Object({})),
});

/** A credential the flow accepts: the selected device's, or every usable FIDO2 device's of the user when the policy aggregates them. */
export interface Candidate {
  deviceId: string;
  credentialId: string;
  publicKeyCose: string;
  counter: number;
  /** The flow whose assertion stored `counter` (an equal counter is this flow's own copy, not a regression). */
  counterFlowId: string | null;
  /** The AAGUID stored at activation (fidoDeviceMetadata.mdsIdentifier), when not zero. */
  aaguid: string | undefined;
}

export interface AssertionExpectations {
  flowId: string;
  rpId: string;
  challengeHash: string | null;
  expiresAt: number | null;
  now: number;
  candidates: readonly Candidate[];
  /** SHA-256 of environment and user: what registration gave as user.id. */
  userHandle: Buffer;
  policy: Fido2PolicyBody;
}

export type AssertionRefusal = { ok: false; code: DetailCode; target: string; message: string; regression?: { deviceId: string; stored: number; received: number } };
export type AssertionResult = { ok: true; deviceId: string; counter: number } | AssertionRefusal;

export const REGRESSION = 'The authenticator\'s signature counter did not move forward: the credential may have been cloned';

const refuse = (code: DetailCode, message: string, target = 'assertion'): AssertionRefusal => ({ ok: false, code, target, message });

/** The library's failure, in our words: its messages quote client data (challenges, origins). */
function libraryRefusal(message: string): AssertionRefusal {
  if (/challenge/i.test(message)) return refuse('INVALID_VALUE', 'The assertion answers another challenge, or one already used');
  if (/origin/i.test(message)) return refuse('INVALID_VALUE', 'The origin in clientDataJSON is not the origin the body names');
  if (/RP ID/i.test(message)) return refuse('INVALID_VALUE', 'The RP ID hash in authenticatorData is not that of the relying party');
  if (/User verification/i.test(message)) return refuse('INVALID_VALUE', 'The FIDO2 policy requires user verification; the authenticator did not verify the user');
  if (/User not present/i.test(message)) return refuse('INVALID_VALUE', 'The authenticator reports no user presence');
  if (/response type/i.test(message)) return refuse('INVALID_VALUE', 'clientDataJSON is not of type webauthn.get');
  return refuse('INVALID_VALUE', 'The assertion does not verify: its client data, authenticator data or signature is malformed');
}

/** Parses and verifies; the body itself was checked (AssertionCheckBody). */
export async function checkFido2Assertion(body: { origin: string; assertion: string }, expect: AssertionExpectations): Promise<AssertionResult> {
  if (expect.challengeHash === null || expect.expiresAt === null) return refuse('INVALID_VALUE', 'The assertion answers another challenge, or one already used');
  if (expect.now >= expect.expiresAt) return refuse('EXPIRED', 'The request options have expired; select the device again');
  const origin = checkOrigin(body.origin, expect.rpId);
  if (!origin.ok) return refuse('INVALID_VALUE', `The origin is refused: ${origin.reason}`, 'origin');

  const read = readCredential(body.assertion, AssertionJson, 'assertion');
  if (!read.ok) return refuse('INVALID_VALUE', read.message);
  const a = read.value;
  const members = binaryMembers('assertion', {
    id: a.id, rawId: a.rawId, clientDataJSON: a.response.clientDataJSON, authenticatorData: a.response.authenticatorData, signature: a.response.signature,
  });
  if (!members.ok) return refuse('INVALID_VALUE', members.message);
  const { id, rawId, clientDataJSON, authenticatorData, signature } = members.value;
  // Ping's helper turns a null userHandle into "" (§1.5): none given.
  const handle = a.response.userHandle ? toBase64Url(a.response.userHandle) : '';
  if (handle === undefined) return refuse('INVALID_VALUE', 'assertion holds a member that is neither base64 nor base64url');
  const candidate = expect.candidates.find((c) => c.credentialId === rawId);
  if (!candidate) return refuse('INVALID_VALUE', 'The assertion was not made with a credential this authentication allows');
  if (handle !== '' && !Buffer.from(handle, 'base64url').equals(expect.userHandle)) {
    return refuse('INVALID_VALUE', 'The assertion\'s user handle is not this user\'s');
  }

  const response: AuthenticationResponseJSON = {
    id, rawId, type: 'public-key',
    response: { clientDataJSON, authenticatorData, signature, ...(handle !== '' ? { userHandle: handle } : {}) },
    clientExtensionResults: {},
  };
  const { policy } = expect;
  const challengeHash = expect.challengeHash;
  let verified;
  try {
    // Loaded on first use, as at registration (attestation.ts).
    const { verifyAuthenticationResponse } = await import('@simplewebauthn/server');
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: (challenge) => digestEquals(sha256Hex(challenge), challengeHash),
      expectedOrigin: body.origin,
      expectedRPID: expect.rpId,
      expectedType: 'webauthn.get',
      // The counter is compared below, after the signature: only a genuine signature records a regression.
      credential: { id: candidate.credentialId, publicKey: Buffer.from(candidate.publicKeyCose, 'base64url'), counter: 0 },
      requireUserVerification: policy.userVerification.option === 'REQUIRED' && policy.userVerification.enforceDuringAuthentication,
    });
  } catch (e) {
    return libraryRefusal(String((e as Error).message));
  }
  if (!verified.verified) return refuse('INVALID_SIGNATURE', 'The assertion signature does not verify with the credential\'s public key');
  const info = verified.authenticationInfo;
  const received = info.newCounter;
  const sameFlow = received === candidate.counter && candidate.counterFlowId === expect.flowId;
  if ((received > 0 || candidate.counter > 0) && received <= candidate.counter && !sameFlow) {
    return { ...refuse('INVALID_VALUE', REGRESSION), regression: { deviceId: candidate.deviceId, stored: candidate.counter, received } };
  }
  if (policy.backupEligibility.enforceDuringAuthentication && !policy.backupEligibility.allow && info.credentialDeviceType === 'multiDevice') {
    return refuse('INVALID_VALUE', 'The FIDO2 policy does not allow backup-eligible (synced) credentials');
  }
  const mds = policy.mdsAuthenticatorsRequirements;
  if (mds.enforceDuringAuthentication && mds.option === 'SPECIFIC' && !(mds.allowedAuthenticators ?? []).some((x) => x.id.toLowerCase() === candidate.aaguid)) {
    return refuse('INVALID_VALUE', 'The authenticator of this credential is not one the FIDO2 policy allows');
  }
  return { ok: true, deviceId: candidate.deviceId, counter: received };
}
