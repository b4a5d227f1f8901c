/**
 * PINGID_DESKTOP_GEN2 (reference §4, protocol §1): create answers creation options for the
 * agent; activate takes the agent's attestation and stores the credential's public key.
 */
import { Type } from 'typebox';
import { sql } from 'kysely';
import { ApiError, invalidData, invalidValue, requestFailed } from '../../http/errors.js';
import { checkBody } from '../../http/validation.js';
import { checkRpId } from '../../protocol/desktop.js';
import { durationMs } from '../../policies/model.js';
import { CLEARED, unlockedOrMine } from '../attempts.js';
import type { DeviceKind } from '../kind.js';
import { extraOf, type DeviceExtra } from '../model.js';
import { checkAttestation } from './attestation.js';
import { desktopAuthentication } from './authenticate.js';
import { makeCreationOptions } from './creation-options.js';
import { prepare } from '../../store/prepared.js';
import type { DevicesTable } from '../../store/schema.js';

/** Protocol §1.3 step 4: exactly `{attestation: string}`, at most 8 KiB. */
const ActivateBody = Type.Object({ attestation: Type.String({ minLength: 1, maxLength: 8192 }) }, { additionalProperties: false });

/**
 * Protocol §1.3: a failure of steps 4–7 names `attestation` as its target, whatever is wrong
 * with the body (an extra property, no object at all), so clients can branch on one target.
 */
function asAttestationError(e: ApiError): ApiError {
  const first = e.details?.[0];
  if (first?.target === 'attestation') return e;
  if (first?.code === 'REQUIRED_VALUE') return invalidData({ code: 'REQUIRED_VALUE', target: 'attestation', message: 'attestation is required' });
  return invalidData({ code: 'INVALID_VALUE', target: 'attestation', message: 'The body must be exactly {"attestation": "<JWT>"}' });
}

/** The activation's one write (quality bar P3), compiled once; conditional on the attempt (attempts.ts). */
const activateWithAttestation = prepare<[string, string, string, string, string, string | null, number | null, number], DevicesTable>(8,
  (db, deviceId, challengeHash, credentialId, publicJwk, extra, nickname, attemptLock, now) => db.updateTable('devices').set({
    status: 'ACTIVE',
    credential_id: credentialId,
    public_jwk: publicJwk,
    extra,
    nickname: sql<string | null>`coalesce(nickname, ${nickname})`,
    challenge_hash: null,
    challenge_expires_at: null,
    activated_at: now,
    ...CLEARED,
    updated_at: now,
  })
    .where('id', '=', deviceId)
    .where('status', '=', 'ACTIVATION_REQUIRED')
    .where('challenge_hash', '=', challengeHash)
    .where('blocked_at', 'is', null)
    .where((eb) => unlockedOrMine(eb, attemptLock, now))
    .returningAll());

export const pingIdDesktop: DeviceKind = {
  type: 'PINGID_DESKTOP_GEN2',

  async prepare({ ctx, environment, user, policy, body, deviceId, now }) {
    // Reference §4.2: status is required here and must be ACTIVATION_REQUIRED.
    if (body.status === undefined) throw invalidValue('status', 'status is required for PINGID_DESKTOP_GEN2 and must be ACTIVATION_REQUIRED', 'REQUIRED_VALUE');
    if (body.status !== 'ACTIVATION_REQUIRED') throw invalidValue('status', 'A PINGID_DESKTOP_GEN2 device is created with status ACTIVATION_REQUIRED', 'INVALID_VALUE', { allowedValues: ['ACTIVATION_REQUIRED'] });
    const rp = body.rp ?? { id: ctx.config.rpId, name: ctx.config.rpName };
    const rpId = checkRpId(rp.id);
    if (!rpId.ok) {
      throw invalidValue('rp.id', body.rp ? `rp.id ${rpId.reason}`
        : `The server's default relying party ID (${rp.id}, the host of its public URL) ${rpId.reason}; give rp.id, or start the server with --rp-id`);
    }
    const method = policy.body.pingIdDesktopGen2;
    if (!method.enabled) throw invalidValue('policy.id', 'The device authentication policy does not allow PINGID_DESKTOP_GEN2 devices');
    if (method.pairingDisabled) throw invalidValue('policy.id', 'The device authentication policy does not allow new PINGID_DESKTOP_GEN2 pairings');
    const options = await makeCreationOptions(ctx, {
      environmentId: environment.id,
      deviceId,
      user: { id: user.id, name: user.username },
      rp,
      now,
      lifetimeMs: durationMs(method.pairingKeyLifetime ?? { duration: 10, timeUnit: 'MINUTES' }),
    });
    return {
      status: 'ACTIVATION_REQUIRED',
      nickname: body.nickname ?? null,
      extra: { rp },
      challengeHash: options.challengeHash,
      challengeExpiresAt: options.expiresAt,
      shownOnce: { pingIdDesktopCredentialCreationOptions: options.jwt },
    };
  },

  async activate({ ctx, environment, device, body, now, attempt }) {
    const parsed = checkBody(ActivateBody, body);
    if (!parsed.ok) return { ok: false, error: asAttestationError(parsed.error), countsAsFailure: true };
    const { attestation } = parsed.value;
    const extra = extraOf(device);
    const result = await checkAttestation(attestation, {
      issuer: ctx.links.issuer(environment.id),
      deviceId: device.id,
      rpId: extra.rp?.id ?? ctx.config.rpId,
      challengeHash: device.challenge_hash ?? '',
      pairingExpiresAt: device.challenge_expires_at ?? 0,
      now,
    });
    if (!result.ok) {
      return { ok: false, countsAsFailure: true, error: invalidData({ code: result.code, target: 'attestation', message: result.message }) };
    }
    const c = result.credential;
    const next: DeviceExtra = { ...extra, os: c.os, model: c.model, application: c.application, unitId: c.unitId };
    // Step 8: one conditional change. If another request activated (or locked, or blocked) the
    // device since it was read, nothing matches and nothing changes; the attempt is given back.
    const row = await activateWithAttestation.first(ctx.store.db,
      device.id, device.challenge_hash ?? '', c.credentialId, JSON.stringify(c.publicJwk), JSON.stringify(next), c.nickname ?? null, attempt.lockedUntil, now);
    if (!row) {
      return { ok: false, countsAsFailure: false, error: requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device is no longer waiting for this activation' }) };
    }
    return { ok: true, row };
  },

  authentication: desktopAuthentication,

  failure: (policy) => policy.pingIdDesktopGen2.otp.failure,
};
