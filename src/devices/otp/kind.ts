/**
 * EMAIL, SMS, VOICE and WHATSAPP devices (reference §5, §6.2): the "offline" methods, whose
 * pairing proof is a code the server sends. An administrator's device is ACTIVE unless asked
 * for ACTIVATION_REQUIRED, which sends a code; `testMode` (EMAIL, SMS, VOICE) returns the code
 * as `test.otp` and delivers nothing.
 */
import { Type } from 'typebox';
import { digestEquals } from '../../crypto/hash.js';
import { invalidData, invalidValue, requestFailed } from '../../http/errors.js';
import { sentOrThrow } from '../../notify/refusal.js';
import { checkBody } from '../../http/validation.js';
import type { Channel } from '../../notify/notifier.js';
import type { PolicyBody } from '../../policies/defaults.js';
import { durationMs, mfaSettings } from '../../policies/model.js';
import { EMAIL_PATTERN } from '../../platform/users.js';
import type { DeviceKind } from '../kind.js';
import { extraOf, type DeviceExtra } from '../model.js';
import { codeHash, issueCode, messageFor } from './one-time-code.js';
import { offlineAuthentication } from './authenticate.js';
import { normalizePhone } from './phone.js';
import { activateWithCode, replaceCode } from '../store.js';

type OfflineType = 'EMAIL' | 'SMS' | 'VOICE' | 'WHATSAPP';
const POLICY_KEY: Record<OfflineType, 'email' | 'sms' | 'voice' | 'whatsApp'> = { EMAIL: 'email', SMS: 'sms', VOICE: 'voice', WHATSAPP: 'whatsApp' };
const TEST_MODE_TYPES: readonly OfflineType[] = ['EMAIL', 'SMS', 'VOICE'];
const EMAIL_RE = new RegExp(EMAIL_PATTERN);

export const OtpBody = Type.Object({ otp: Type.String({ minLength: 1, maxLength: 10, pattern: '^[0-9]{6,10}$' }) }, { additionalProperties: false });

export const methodOf = (policy: PolicyBody, type: OfflineType) => policy[POLICY_KEY[type]];

export function otpSettings(policy: PolicyBody, type: OfflineType) {
  const otp = methodOf(policy, type).otp;
  return { length: otp.otpLength ?? 6, lifetimeMs: durationMs(otp.lifeTime ?? { duration: 10, timeUnit: 'MINUTES' }) };
}

/** The recipient a device of this type sends to. */
export const recipientOf = (extra: DeviceExtra): string => extra.email ?? extra.phone ?? '';

export function offlineKind(type: OfflineType): DeviceKind {
  return {
    type,

    async prepare({ ctx, environment, user, policy, body, deviceId, now }) {
      const method = methodOf(policy.body, type);
      if (!method.enabled) throw invalidValue('policy.id', `The device authentication policy does not allow ${type} devices`);
      if (method.pairingDisabled) throw invalidValue('policy.id', `The device authentication policy does not allow new ${type} pairings`);
      if (body.testMode && !TEST_MODE_TYPES.includes(type)) throw invalidValue('testMode', 'testMode is available for EMAIL, SMS and VOICE devices only');

      const extra: DeviceExtra = {};
      if (type === 'EMAIL') {
        if (body.email === undefined) throw invalidValue('email', 'email is required for an EMAIL device', 'REQUIRED_VALUE');
        if (!EMAIL_RE.test(body.email)) throw invalidValue('email', 'email is not a valid email address');
        extra.email = body.email;
      } else {
        if (body.phone === undefined) throw invalidValue('phone', `phone is required for a ${type} device`, 'REQUIRED_VALUE');
        const phone = normalizePhone(body.phone);
        if (!phone.ok) throw invalidValue('phone', phone.reason, 'INVALID_VALUE', { allowedPattern: '^\\+[1-9][0-9 .()-]{6,}$' });
        if (phone.extension !== undefined) {
          const settings = await mfaSettings(ctx.store.db, environment.id);
          if (type !== 'VOICE' || !settings.phoneExtensions.enabled) {
            throw invalidValue('phone', 'Phone extensions are allowed only for VOICE devices, and only when mfaSettings.phoneExtensions.enabled is true');
          }
        }
        extra.phone = phone.phone;
      }
      if (body.testMode) extra.testMode = true;

      const status = body.status ?? 'ACTIVE';
      if (status === 'ACTIVE') return { status, nickname: body.nickname ?? null, extra };

      const { length, lifetimeMs } = otpSettings(policy.body, type);
      const issued = issueCode(ctx, deviceId, length, lifetimeMs, now);
      const text = messageFor(issued.code, lifetimeMs);
      return {
        status,
        nickname: body.nickname ?? null,
        extra,
        challengeHash: issued.hash,
        challengeExpiresAt: issued.expiresAt,
        ...(body.testMode
          ? { shownOnce: { test: { otp: issued.code } } }
          : { deliver: async () => sentOrThrow(await ctx.notifier.send({ environmentId: environment.id, userId: user.id, deviceId, channel: type as Channel, recipient: recipientOf(extra), purpose: 'ACTIVATION', ...text })) }),
      };
    },

    async activate({ ctx, device, body, now, attempt }) {
      const parsed = checkBody(OtpBody, body);
      if (!parsed.ok) return { ok: false, error: parsed.error, countsAsFailure: true };
      const { otp } = parsed.value;
      if (device.challenge_hash === null || device.challenge_expires_at === null || device.challenge_expires_at <= now) {
        return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode has expired; ask for a new one with sendActivationCode' }) };
      }
      const hash = codeHash(ctx, device.id, otp);
      if (!digestEquals(hash, device.challenge_hash)) {
        return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' }) };
      }
      // Single use: only the request that still finds this code's hash changes the device.
      const row = await activateWithCode(ctx.store.db, device.id, hash, attempt.lockedUntil, now);
      if (!row) return { ok: false, countsAsFailure: false, error: requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device is no longer waiting for this passcode' }) };
      return { ok: true, row };
    },

    authentication: offlineAuthentication(type, (policy) => otpSettings(policy, type)),

    failure: (policy) => methodOf(policy, type).otp.failure,

    async resendCode({ ctx, environment, device, policy, now }) {
      const { length, lifetimeMs } = otpSettings(policy.body, type);
      const issued = issueCode(ctx, device.id, length, lifetimeMs, now);
      const extra = extraOf(device);
      // The new code replaces the old one, which dies with it.
      const row = await replaceCode(ctx.store.db, device.id, issued.hash, issued.expiresAt, now);
      if (!row) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device is not waiting for activation' });
      if (extra.testMode) return { row, shownOnce: { test: { otp: issued.code } } };
      sentOrThrow(await ctx.notifier.send({ environmentId: environment.id, userId: device.user_id, deviceId: device.id, channel: type as Channel, recipient: recipientOf(extra), purpose: 'ACTIVATION', ...messageFor(issued.code, lifetimeMs) }));
      return { row };
    },
  };
}
