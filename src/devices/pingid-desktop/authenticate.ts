/**
 * PingID Desktop in a device authentication (protocol §2): the flow answers request options
 * (`pingIdDesktopCredentialRequestOptions`, +2 minutes) naming the device's credential; the
 * agent answers an assertion signed with the credential key; assertion.check verifies it with
 * the public key stored at activation — never with a key the token brings.
 */
import { randomBytes, createPublicKey } from 'node:crypto';
import { epochSeconds } from '../../clock.js';
import { digestEquals, sha256Hex } from '../../crypto/hash.js';
import { PublicJwkSchema, signCompact } from '../../crypto/jws.js';
import { verifyJwt, type KeyResolver } from '../../crypto/jwt.js';
import { newId } from '../../crypto/random.js';
import { invalidData, type DetailCode } from '../../http/errors.js';
import { textProblemAt, textProblemMessage } from '../../http/text.js';
import { parseStored } from '../../http/validation.js';
import { AGENT_AUDIENCE, AGENT_ISSUER, CLOCK_SKEW_S, TYP, checkOrigin } from '../../protocol/desktop.js';
import type { AuthenticationCheck, DeviceAuthentication } from '../kind.js';
import { desktopJwtRefusal, type RefusalTexts } from './jwt-refusal.js';
import { extraOf } from '../model.js';

export const REQUEST_OPTIONS_LIFETIME_MS = 2 * 60_000;

const fail = (code: DetailCode, message: string): AuthenticationCheck =>
  ({ ok: false, countsAsFailure: true, error: invalidData({ code, target: 'assertion', message }) });

/**
 * The key is found by the device the flow selected; a kid naming another credential (another
 * device's key) is refused before any signature check.
 */
const deviceKey = (device: { credential_id: string | null; public_jwk: string | null }): KeyResolver<undefined, never> => ({ header }) => {
  if (typeof header.kid !== 'string' || device.credential_id === null || header.kid !== device.credential_id || device.public_jwk === null) {
    return { ok: false, message: 'The assertion was not made with the selected device\'s credential (kid)' };
  }
  return { ok: true, key: createPublicKey({ key: parseStored(PublicJwkSchema, device.public_jwk, 'device key'), format: 'jwk' }), context: undefined };
};

const TEXTS: RefusalTexts = { keyRule: 'the key is the one stored at pairing', signer: 'the device\'s key', subject: 'device authentication' };

export const desktopAuthentication: DeviceAuthentication = {
  name: 'desktop',

  async start({ ctx, environment, user, device, flowId, now }) {
    const key = await ctx.keys.signingKey(environment.id);
    const challenge = randomBytes(32).toString('base64url');
    const iat = epochSeconds(now);
    const exp = epochSeconds(now + REQUEST_OPTIONS_LIFETIME_MS);
    const rp = extraOf(device).rp ?? { id: ctx.config.rpId, name: ctx.config.rpName };
    const jwt = signCompact('RS256', key.privateKey, { kid: key.kid, typ: TYP.request }, {
      iss: ctx.links.issuer(environment.id),
      aud: AGENT_AUDIENCE,
      sub: flowId,
      env: environment.id,
      user: { id: user.id, name: user.username },
      rp,
      challenge,
      allowCredentials: device.credential_id ? [{ id: device.credential_id }] : [],
      iat,
      exp,
      jti: newId(),
    });
    return {
      status: 'ASSERTION_REQUIRED',
      challengeHash: sha256Hex(challenge),
      challengeExpiresAt: exp * 1000,
      shownOnce: { pingIdDesktopCredentialRequestOptions: jwt },
    };
  },

  async check({ ctx, environment, device, flow, body, now }) {
    const verified = await verifyJwt(body.assertion ?? '', {
      algorithms: ['ES256'],
      typ: TYP.assertion,
      forbiddenHeaders: ['jwk', 'jku', 'x5u', 'x5c'],
      key: deviceKey(device),
      issuer: AGENT_ISSUER,
      audience: ctx.links.issuer(environment.id),
      subject: flow.id,
      clockTolerance: CLOCK_SKEW_S,
      now,
      maxLength: 8192,
    });
    if (!verified.ok) {
      const r = desktopJwtRefusal('assertion', verified, TEXTS);
      return fail(r.code, r.message);
    }
    const { payload } = verified;
    // The same rule as for an attestation's claims (http/text.ts).
    const bad = textProblemAt(payload);
    if (bad !== undefined) return fail('INVALID_VALUE', textProblemMessage(`The assertion claim ${bad.path}`, bad.problem));
    if (payload.credentialId !== device.credential_id) return fail('INVALID_VALUE', 'The assertion credentialId does not match its kid');
    if (flow.challengeHash === null || typeof payload.challenge !== 'string' || !digestEquals(sha256Hex(payload.challenge), flow.challengeHash)) {
      return fail('INVALID_VALUE', 'The assertion answers another challenge, or one already used');
    }
    if (flow.challengeExpiresAt === null || flow.challengeExpiresAt <= now) return fail('EXPIRED', 'The request options have expired; select the device again');
    if (payload.origin !== body.origin) return fail('INVALID_VALUE', 'The assertion origin differs from the request origin');
    const rpId = extraOf(device).rp?.id ?? ctx.config.rpId;
    const origin = checkOrigin(body.origin, rpId);
    if (!origin.ok) return fail('INVALID_VALUE', `The origin is refused: ${origin.reason}`);
    return { ok: true };
  },
};
