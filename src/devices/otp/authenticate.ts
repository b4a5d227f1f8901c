/**
 * EMAIL, SMS, VOICE and WHATSAPP in a device authentication: a fresh code is sent (or, for a
 * test device, returned as `test.otp`), kept as a keyed hash bound to the flow, and checked
 * by otp.check; the flow's conditional update makes it single use.
 */
import { digestEquals } from '../../crypto/hash.js';
import { invalidData } from '../../http/errors.js';
import { sentOrThrow } from '../../notify/refusal.js';
import type { Channel } from '../../notify/notifier.js';
import type { PolicyBody } from '../../policies/defaults.js';
import type { DeviceAuthentication } from '../kind.js';
import { extraOf } from '../model.js';
import { codeHash, issueCode, messageFor } from './one-time-code.js';

type OfflineType = 'EMAIL' | 'SMS' | 'VOICE' | 'WHATSAPP';
const flowContext = (flowId: string) => `flow:${flowId}`;

export function offlineAuthentication(type: OfflineType, otpSettings: (policy: PolicyBody) => { length: number; lifetimeMs: number }): DeviceAuthentication {
  return {
    name: type.toLowerCase(),

    async start({ ctx, environment, user, device, policy, flowId, now }) {
      const { length, lifetimeMs } = otpSettings(policy.body);
      const issued = issueCode(ctx, flowContext(flowId), length, lifetimeMs, now);
      const extra = extraOf(device);
      const base = { status: 'OTP_REQUIRED' as const, challengeHash: issued.hash, challengeExpiresAt: issued.expiresAt };
      if (extra.testMode) return { ...base, shownOnce: { test: { otp: issued.code } } };
      return {
        ...base,
        deliver: async () => sentOrThrow(await ctx.notifier.send({
          environmentId: environment.id, userId: user.id, deviceId: device.id, channel: type as Channel,
          recipient: extra.email ?? extra.phone ?? '', flowId, purpose: 'AUTHENTICATION', ...messageFor(issued.code, lifetimeMs),
        })),
      };
    },

    async check({ ctx, flow, body, now }) {
      if (flow.challengeHash === null || flow.challengeExpiresAt === null || flow.challengeExpiresAt <= now) {
        return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode has expired; select the device again for a new one' }) };
      }
      const hash = codeHash(ctx, flowContext(flow.id), body.otp ?? '');
      if (!digestEquals(hash, flow.challengeHash)) {
        return { ok: false, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' }) };
      }
      return { ok: true };
    },
  };
}
