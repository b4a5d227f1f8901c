/**
 * An OATH token in a device authentication: nothing is sent; otp.check takes a code within the
 * policy's window (wave-2 reference §4.3); the flow's completion takes its position on the token
 * (oath/store.ts) in the same transaction, only while the device takes this attempt — so one code
 * completes at most one flow, an HOTP counter only moves forward, and a TOTP step is never taken
 * twice. A right code already used (a double submit, or the loser of a race) gives its attempt
 * back; a wrong one counts (devices/attempts.ts).
 */
import { alreadyUsed, inWindow } from '../../oath/codes.js';
import { openToken, takePosition, tokenOfDevice } from '../../oath/store.js';
import type { DeviceAuthentication } from '../kind.js';
import { usedOtp, windowOf, wrongOtp } from './codes.js';

export const oathAuthentication: DeviceAuthentication = {
  name: 'otp',

  async start() {
    return { status: 'OTP_REQUIRED', challengeHash: null, challengeExpiresAt: null };
  },

  async check({ ctx, device, policy, body, now }) {
    const wrong = { ok: false as const, countsAsFailure: true, error: wrongOtp() };
    const used = { ok: false as const, countsAsFailure: false, error: usedOtp() };
    const row = await tokenOfDevice(ctx.store.db, device.id);
    if (!row) return wrong;
    const token = openToken(ctx.box, row);
    const otp = body.otp ?? '';
    const window = windowOf(policy.body);
    const at = inWindow(token, otp, now, window);
    if (at === undefined) return alreadyUsed(token, otp, now, window) ? used : wrong;
    // Taken with the flow's completion, which already requires the device usable for this attempt.
    return { ok: true, spend: { take: (db) => takePosition(db, row, at, now), used: used.error } };
  },
};
