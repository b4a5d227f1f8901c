/**
 * Protocol §1.3 steps 5–7: checking the agent's attestation JWT with the one verifier
 * (crypto/jwt.ts). Returns a value, not an exception: the caller counts a failure and answers
 * 400 INVALID_DATA naming the check.
 * The key is the header `jwk` and nothing else: `jku`, `x5u`, `x5c` and `kid` are refused,
 * not followed.
 */
import { Type, type Static } from 'typebox';
import { sha256Hex, digestEquals } from '../../crypto/hash.js';
import { importPublicEcJwk, type PublicJwk } from '../../crypto/jws.js';
import { verifyJwt, type KeyResolver } from '../../crypto/jwt.js';
import type { DetailCode } from '../../http/errors.js';
import { textProblemAt, textProblemMessage } from '../../http/text.js';
import { AGENT_ISSUER, CLOCK_SKEW_S, TYP, checkOrigin } from '../../protocol/desktop.js';
import { desktopJwtRefusal, type RefusalTexts } from './jwt-refusal.js';

export interface AttestedCredential {
  credentialId: string;
  publicJwk: PublicJwk;
  unitId: string;
  nickname: string | undefined;
  os: { type: string; version: string };
  model: { name?: string };
  application: { id: string; nativeName: string; version: string; pushSandbox: boolean };
}

export type AttestationResult = { ok: true; credential: AttestedCredential } | { ok: false; code: DetailCode; message: string };

export interface AttestationExpectations {
  issuer: string;
  deviceId: string;
  rpId: string;
  challengeHash: string;
  pairingExpiresAt: number;
  now: number;
}

const fail = (code: DetailCode, message: string): AttestationResult => ({ ok: false, code, message });
const text = (max: number) => Type.String({ minLength: 1, maxLength: max });

/** Step 7's claim shapes; the strings are stored with the device. */
export const AttestationClaims = Type.Object({
  credentialId: text(128),
  unitId: text(128),
  nickname: Type.Optional(text(256)),
  os: Type.Object({ type: Type.Union([Type.Literal('MAC'), Type.Literal('WINDOWS'), Type.Literal('LINUX')]), version: text(64) }),
  model: Type.Object({ name: Type.Optional(text(128)) }),
  application: Type.Object({ id: text(64), nativeName: text(128), version: text(64), pushSandbox: Type.Boolean() }),
});
type AttestationClaims = Static<typeof AttestationClaims>;

const SHAPE_MESSAGES: Readonly<Record<string, string>> = {
  credentialId: 'The attestation lacks a credentialId',
  unitId: 'The attestation lacks a unitId',
  nickname: 'The attestation nickname is not a string',
  os: 'The attestation os must be {type: MAC|WINDOWS|LINUX, version}',
  model: 'The attestation model must be an object',
  application: 'The attestation application must be {id, nativeName, version, pushSandbox}',
};

/** The key is the header jwk (protocol §1.3 step 5: trust on first use), P-256 and public. */
const headerJwk: KeyResolver<PublicJwk, never> = ({ header }) => {
  const imported = importPublicEcJwk(header.jwk);
  return imported.ok ? { ok: true, key: imported.key, context: imported.jwk } : { ok: false, message: `The attestation jwk is not acceptable: ${imported.reason}` };
};

const TEXTS: RefusalTexts = { keyRule: 'its key is the jwk header alone', signer: 'its jwk', subject: 'device', shapes: SHAPE_MESSAGES };

export async function checkAttestation(token: string, expect: AttestationExpectations): Promise<AttestationResult> {
  // Steps 5–7 up to the claim shapes: jku, x5u, x5c and kid are refused, not followed.
  const verified = await verifyJwt(token, {
    algorithms: ['ES256'],
    typ: TYP.attestation,
    forbiddenHeaders: ['jku', 'x5u', 'x5c', 'kid'],
    key: headerJwk,
    issuer: AGENT_ISSUER,
    audience: expect.issuer,
    subject: expect.deviceId,
    clockTolerance: CLOCK_SKEW_S,
    now: expect.now,
    maxLength: 8192,
    claims: AttestationClaims,
  });
  if (!verified.ok) {
    const r = desktopJwtRefusal('attestation', verified, TEXTS);
    return fail(r.code, r.message);
  }
  const payload = verified.payload;

  // The stored strings follow the rule for every stored string (http/text.ts): no control
  // character (PostgreSQL would refuse a NUL with an error), no unpaired surrogate.
  const bad = textProblemAt(payload);
  if (bad !== undefined) return fail('INVALID_VALUE', textProblemMessage(`The attestation claim ${bad.path}`, bad.problem));
  if (typeof payload.challenge !== 'string' || payload.challenge.length > 256 || !digestEquals(sha256Hex(payload.challenge), expect.challengeHash)) {
    return fail('INVALID_VALUE', 'The attestation answers another pairing (challenge)');
  }
  if (expect.now >= expect.pairingExpiresAt) return fail('EXPIRED', 'The pairing has expired; delete the device and create it again');
  const origin = checkOrigin(payload.origin, expect.rpId);
  if (!origin.ok) return fail('INVALID_VALUE', `The attestation origin is refused: ${origin.reason}`);

  const { credentialId, unitId, nickname, os, model, application } = payload as AttestationClaims;
  return {
    ok: true,
    credential: {
      credentialId,
      publicJwk: verified.context,
      unitId,
      nickname,
      os: { version: os.version, type: os.type },
      model: model.name !== undefined ? { name: model.name } : {},
      application: { id: application.id, nativeName: application.nativeName, version: application.version, pushSandbox: application.pushSandbox },
    },
  };
}
