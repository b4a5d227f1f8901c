/**
 * TOTP devices (reference §5): create returns the shared `secret` and an `otpauth://` `keyUri`
 * whose issuer comes from the policy — shown in that response only, void after 30 minutes if
 * the device is not activated. Activation takes a code within ±1 time step and never the same
 * step twice.
 */
import { invalidData, invalidValue, requestFailed } from '../../http/errors.js';
import { checkBody } from '../../http/validation.js';
import type { DeviceKind } from '../kind.js';
import { OtpBody } from '../otp/kind.js';
import { totpAuthentication } from './authenticate.js';
import { openTotpSecret, sealTotpSecret } from './secret.js';
import { keyUri, matchingStep, newTotpSecret } from './totp.js';
import { activateWithStep } from '../store.js';

export const TOTP_PAIRING_MS = 30 * 60_000;

export const totp: DeviceKind = {
  type: 'TOTP',

  async prepare({ ctx, user, policy, body, deviceId, now }) {
    const method = policy.body.totp;
    if (!method.enabled) throw invalidValue('policy.id', 'The device authentication policy does not allow TOTP devices');
    if (method.pairingDisabled) throw invalidValue('policy.id', 'The device authentication policy does not allow new TOTP pairings');
    if (body.testMode) throw invalidValue('testMode', 'testMode is available for EMAIL, SMS and VOICE devices only');
    const secret = newTotpSecret();
    const status = body.status ?? 'ACTIVATION_REQUIRED';
    return {
      status,
      nickname: body.nickname ?? null,
      extra: {},
      secretSealed: sealTotpSecret(ctx.box, deviceId, secret),
      challengeExpiresAt: status === 'ACTIVATION_REQUIRED' ? now + TOTP_PAIRING_MS : null,
      shownOnce: { secret, keyUri: keyUri(secret, method.uriParameters.issuer ?? 'OpenMFA', user.username, method.uriParameters) },
    };
  },

  async activate({ ctx, device, body, now, attempt }) {
    const parsed = checkBody(OtpBody, body);
    if (!parsed.ok) return { ok: false, error: parsed.error, countsAsFailure: true };
    const { otp } = parsed.value;
    if (device.challenge_expires_at !== null && device.challenge_expires_at <= now) {
      return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The TOTP secret expired 30 minutes after creation; delete the device and create it again' }) };
    }
    const step = device.secret_sealed ? matchingStep(openTotpSecret(ctx.box, device.id, device.secret_sealed), otp, now) : undefined;
    if (step === undefined || (device.last_otp_step !== null && step <= device.last_otp_step)) {
      return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' }) };
    }
    const row = await activateWithStep(ctx.store.db, device.id, step, attempt.lockedUntil, now);
    if (!row) return { ok: false, countsAsFailure: false, error: requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device is no longer waiting for this passcode' }) };
    return { ok: true, row };
  },

  authentication: totpAuthentication,

  failure: (policy) => policy.totp.otp.failure,
};
