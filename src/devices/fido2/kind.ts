/**
 * FIDO2 (wave-2 reference §1): create answers `publicKeyCredentialCreationOptions` in PingOne's
 * encoding for the FIDO2 policy the device authentication policy names; activate verifies the
 * browser's attestation and stores the credential (its COSE public key and counter, never shown).
 */
import { isIP } from 'node:net';
import { ApiError, invalidData, invalidValue, requestFailed } from '../../http/errors.js';
import { checkBody } from '../../http/validation.js';
import { fido2PolicyFor } from '../../policies/fido2/model.js';
import { checkRpId } from '../../protocol/desktop.js';
import type { DeviceKind } from '../kind.js';
import { extraOf, type DeviceExtra } from '../model.js';
import { activateWithFido2Credential, fido2CredentialsOf } from '../store.js';
import { Fido2ActivateBody, ZERO_AAGUID, checkFido2Attestation } from './attestation.js';
import { makeCreationOptions, timeoutMs, userHandle } from './creation-options.js';
import { displayNameOf } from './display-name.js';
import { fido2Authentication } from './authenticate.js';

/** PingOne's FIDO2 failure defaults where a policy gives none (§2.5 limits: 1–7, 2–30 minutes). */
const DEFAULT_FAILURE = { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } };

/** A failure of the body's shape names the member it is about, `attestation` when in doubt. */
function asBodyError(e: ApiError): ApiError {
  const first = e.details?.[0];
  if (first?.target === 'origin' || first?.target === 'attestation') return e;
  return invalidData({ code: 'INVALID_VALUE', target: 'attestation', message: 'The body must be exactly {"origin": "<URL>", "attestation": "<PublicKeyCredential JSON>"}' });
}

export const fido2: DeviceKind = {
  type: 'FIDO2',

  async prepare({ ctx, environment, user, policy, body, now }) {
    // Reference §1.2 lists no status for FIDO2: a device waits for its browser's attestation.
    if (body.status === 'ACTIVE') throw invalidValue('status', 'A FIDO2 device is created ACTIVATION_REQUIRED and activated with an attestation', 'INVALID_VALUE', { allowedValues: ['ACTIVATION_REQUIRED'] });
    const method = policy.body.fido2;
    if (!method.enabled) throw invalidValue('policy.id', 'The device authentication policy does not allow FIDO2 devices');
    if (method.pairingDisabled) throw invalidValue('policy.id', 'The device authentication policy does not allow new FIDO2 pairings');
    const fido2Policy = await fido2PolicyFor(ctx.store.db, environment.id, method.fido2PolicyId);
    // The device's rp wins over the policy's relyingPartyId (§1.2, as for desktop devices).
    const rp = body.rp ?? { id: fido2Policy.body.relyingPartyId, name: fido2Policy.body.relyingPartyId };
    const check = checkRpId(rp.id);
    if (!check.ok) throw invalidValue('rp.id', `rp.id ${check.reason}`);
    if (isIP(rp.id.replace(/^\[|\]$/g, '')) !== 0) throw invalidValue('rp.id', 'WebAuthn takes no IP address as a relying party ID; use localhost or a domain');
    const existing = await fido2CredentialsOf(ctx.store.db, environment.id, user.id);
    const displayName = displayNameOf(user, fido2Policy.body);
    const options = makeCreationOptions({
      rp,
      user: { handle: userHandle(environment.id, user.id), name: user.username, displayName },
      policy: fido2Policy.body,
      excludeCredentials: existing,
    });
    return {
      status: 'ACTIVATION_REQUIRED',
      nickname: body.nickname ?? null,
      extra: { rp, displayName: fido2Policy.body.deviceDisplayName },
      challengeHash: options.challengeHash,
      challengeExpiresAt: now + timeoutMs(fido2Policy.body),
      shownOnce: { publicKeyCredentialCreationOptions: options.json },
    };
  },

  async activate({ ctx, environment, device, policy, body, now, attempt }) {
    const parsed = checkBody(Fido2ActivateBody, body);
    if (!parsed.ok) return { ok: false, error: asBodyError(parsed.error), countsAsFailure: true };
    const extra = extraOf(device);
    const fido2Policy = await fido2PolicyFor(ctx.store.db, environment.id, policy.body.fido2.fido2PolicyId);
    const result = await checkFido2Attestation(parsed.value, {
      rpId: extra.rp?.id ?? fido2Policy.body.relyingPartyId,
      challengeHash: device.challenge_hash ?? '',
      expiresAt: device.challenge_expires_at ?? 0,
      now,
      policy: fido2Policy.body,
    });
    if (!result.ok) return { ok: false, countsAsFailure: true, error: invalidData({ code: result.code, target: result.target, message: result.message }) };
    const c = result.credential;
    const attributes = {
      ...(c.transports ? { transports: c.transports } : {}),
      ...(c.attachment ? { isCrossPlatform: c.attachment === 'cross-platform' } : {}),
      ...(c.residentKey !== undefined ? { isResidentKey: c.residentKey } : {}),
    };
    const next: DeviceExtra = {
      ...extra,
      credentialId: c.credentialId,
      ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
      backup: { backupEligibility: c.backupEligible, backupState: c.backedUp },
      ...(c.aaguid !== ZERO_AAGUID ? { fidoDeviceMetadata: { mdsIdentifier: c.aaguid } } : {}),
      fidoRegistrationArtifacts: { attestationType: c.fmt.toUpperCase() },
    };
    // One conditional write: on the challenge (used once), on the device still taking this
    // attempt, and on no other device of the environment holding the credential.
    const row = await activateWithFido2Credential(ctx.store.db, device, device.challenge_hash ?? '',
      { credentialId: c.credentialId, publicKeyCose: c.publicKeyCose, counter: c.counter, extra: JSON.stringify(next) }, attempt.lockedUntil, now);
    if (row === 'duplicate') {
      return { ok: false, countsAsFailure: true, error: invalidData({ code: 'UNIQUENESS_VIOLATION', target: 'attestation', message: 'This credential is already registered' }) };
    }
    if (!row) return { ok: false, countsAsFailure: false, error: requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device is no longer waiting for this activation' }) };
    return { ok: true, row };
  },

  authentication: fido2Authentication,

  failure: (policy) => policy.fido2.failure ?? DEFAULT_FAILURE,
};
