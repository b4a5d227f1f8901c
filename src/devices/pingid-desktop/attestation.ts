/**
 * Protocol §1.3 steps 5–7: checking the agent's attestation JWT. Returns a value, not an
 * exception: the caller counts a failure and answers 400 INVALID_DATA naming the check.
 * The key is the header `jwk` and nothing else: `jku`, `x5u`, `x5c` and `kid` are refused,
 * not followed.
 */
import { sha256Hex, digestEquals } from '../../crypto/hash.js';
import { checkTimes, decodeCompact, importPublicEcJwk, verifySignature, type PublicJwk } from '../../crypto/jws.js';
import type { DetailCode } from '../../http/errors.js';
import { textProblemAt, textProblemMessage } from '../../http/text.js';
import { AGENT_ISSUER, CLOCK_SKEW_S, TYP, checkOrigin } from '../../protocol/desktop.js';

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
const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkAttestation(token: string, expect: AttestationExpectations): AttestationResult {
  const decoded = decodeCompact(token, 8192);
  if (!decoded.ok) return fail('INVALID_VALUE', `The attestation is not a well-formed JWT: ${decoded.reason}`);
  const { header, payload } = decoded.jws;

  // Step 5: the header.
  if (header.alg !== 'ES256') return fail('INVALID_VALUE', 'The attestation must be signed with ES256');
  if (header.typ !== TYP.attestation) return fail('INVALID_VALUE', `The attestation typ must be ${TYP.attestation}`);
  for (const p of ['jku', 'x5u', 'x5c', 'kid']) {
    if (p in header) return fail('INVALID_VALUE', `The attestation header must not carry ${p}; its key is the jwk header alone`);
  }
  const imported = importPublicEcJwk(header.jwk);
  if (!imported.ok) return fail('INVALID_VALUE', `The attestation jwk is not acceptable: ${imported.reason}`);

  // Step 6: the signature.
  if (!verifySignature('ES256', imported.key, decoded.jws)) return fail('INVALID_SIGNATURE', 'The attestation signature does not verify with its jwk');

  // Step 7: the claims. Their strings are stored (credentialId, unitId, nickname, os, model,
  // application), so they follow the rule for every stored string (http/text.ts): no control
  // character (PostgreSQL would refuse a NUL with an error), no unpaired surrogate.
  const bad = textProblemAt(payload);
  if (bad !== undefined) return fail('INVALID_VALUE', textProblemMessage(`The attestation claim ${bad.path}`, bad.problem));
  if (payload.iss !== AGENT_ISSUER) return fail('INVALID_VALUE', `The attestation iss must be ${AGENT_ISSUER}`);
  if (payload.aud !== expect.issuer) return fail('INVALID_VALUE', 'The attestation is for another environment (aud)');
  if (payload.sub !== expect.deviceId) return fail('INVALID_VALUE', 'The attestation is for another device (sub)');
  const times = checkTimes(payload, expect.now, CLOCK_SKEW_S);
  if (!times.ok) return fail(times.claim === 'exp' ? 'EXPIRED' : 'INVALID_VALUE', `The attestation ${times.reason.replace(/^the JWT /, '')}`);
  if (!str(payload.challenge, 256) || !digestEquals(sha256Hex(payload.challenge), expect.challengeHash)) {
    return fail('INVALID_VALUE', 'The attestation answers another pairing (challenge)');
  }
  if (expect.now >= expect.pairingExpiresAt) return fail('EXPIRED', 'The pairing has expired; delete the device and create it again');
  const origin = checkOrigin(payload.origin, expect.rpId);
  if (!origin.ok) return fail('INVALID_VALUE', `The attestation origin is refused: ${origin.reason}`);

  const { credentialId, unitId, nickname, os, model, application } = payload;
  if (!str(credentialId, 128)) return fail('INVALID_VALUE', 'The attestation lacks a credentialId');
  if (!str(unitId, 128)) return fail('INVALID_VALUE', 'The attestation lacks a unitId');
  if (nickname !== undefined && !str(nickname, 256)) return fail('INVALID_VALUE', 'The attestation nickname is not a string');
  if (!isObject(os) || !['MAC', 'WINDOWS', 'LINUX'].includes(os.type as string) || !str(os.version, 64)) {
    return fail('INVALID_VALUE', 'The attestation os must be {type: MAC|WINDOWS|LINUX, version}');
  }
  if (!isObject(model) || (model.name !== undefined && !str(model.name, 128))) return fail('INVALID_VALUE', 'The attestation model must be an object');
  if (!isObject(application) || !str(application.id, 64) || !str(application.nativeName, 128) || !str(application.version, 64) || typeof application.pushSandbox !== 'boolean') {
    return fail('INVALID_VALUE', 'The attestation application must be {id, nativeName, version, pushSandbox}');
  }
  return {
    ok: true,
    credential: {
      credentialId,
      publicJwk: imported.jwk,
      unitId,
      nickname,
      os: { version: os.version as string, type: os.type as string },
      model: model.name !== undefined ? { name: model.name } : {},
      application: { id: application.id, nativeName: application.nativeName, version: application.version, pushSandbox: application.pushSandbox },
    },
  };
}
