/**
 * The INVALID_DATA detail for an agent JWT the verifier (crypto/jwt.ts) refused: one mapping
 * for attestations (protocol §1.3 steps 5–7) and assertions (§2 step 3). An expired or
 * missing exp is EXPIRED, every other refusal INVALID_VALUE, a bad signature INVALID_SIGNATURE.
 */
import type { JwtFailure } from '../../crypto/jwt.js';
import { AGENT_ISSUER, TYP } from '../../protocol/desktop.js';

export interface Refusal {
  code: 'INVALID_VALUE' | 'INVALID_SIGNATURE' | 'EXPIRED';
  message: string;
}

/** What differs between the two JWTs' messages. */
export interface RefusalTexts {
  /** Why a header parameter that names a key is refused. */
  keyRule: string;
  /** Whose key the signature failed with. */
  signer: string;
  /** What `sub` names. */
  subject: string;
  /** Messages for claims of the wrong shape, by top-level claim. */
  shapes?: Readonly<Record<string, string>>;
}

export function desktopJwtRefusal(kind: 'attestation' | 'assertion', f: JwtFailure, texts: RefusalTexts): Refusal {
  const invalid = (message: string): Refusal => ({ code: 'INVALID_VALUE', message });
  const The = `The ${kind}`;
  switch (f.code) {
    case 'malformed': return invalid(`${The} is not a well-formed JWT: ${f.message}`);
    case 'alg': return invalid(`${The} must be signed with ES256`);
    case 'typ': return invalid(`${The} typ must be ${TYP[kind]}`);
    case 'header': return invalid(`${The} header must not carry ${f.claim}; ${texts.keyRule}`);
    case 'key': return invalid(f.message);
    case 'signature': return { code: 'INVALID_SIGNATURE', message: `${The} signature does not verify with ${texts.signer}` };
    case 'shape': {
      const shape = texts.shapes?.[(f.claim ?? '').split('.')[0] ?? ''];
      if (shape !== undefined) return invalid(shape);
      break;
    }
    case 'expired':
    case 'claim':
      break;
  }
  if (f.claim === 'iss') return invalid(`${The} iss must be ${AGENT_ISSUER}`);
  if (f.claim === 'aud') return invalid(`${The} is for another environment (aud)`);
  if (f.claim === 'sub') return invalid(`${The} is for another ${texts.subject} (sub)`);
  return { code: f.claim === 'exp' ? 'EXPIRED' : 'INVALID_VALUE', message: `${The} ${f.message.replace(/^the JWT /, '')}` };
}
