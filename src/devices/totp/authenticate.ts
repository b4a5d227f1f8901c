/**
 * TOTP in a device authentication: nothing is sent; otp.check takes a code within ±1 step
 * that is newer than the last one the device accepted; the flow's completion records its step
 * in a conditional UPDATE of the same transaction, so one code completes at most one flow. A code that is right for its
 * step but not newer than the last accepted one (a replay, or the loser of a race with the
 * request that used it) is refused, and its reserved attempt given back (attempts.ts) — as a
 * proof sent to a flow that another request has just completed is — so a user's own double
 * submit cannot lock the device; wrong codes count.
 */
import { invalidData } from '../../http/errors.js';
import type { DeviceAuthentication } from '../kind.js';
import { openTotpSecret } from './secret.js';
import { matchingStep } from './totp.js';
import { takeStep } from '../store.js';

export const totpAuthentication: DeviceAuthentication = {
  name: 'totp',

  async start() {
    return { status: 'OTP_REQUIRED', challengeHash: null, challengeExpiresAt: null };
  },

  async check({ ctx, device, body, now, attempt }) {
    const wrong = { ok: false as const, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' }) };
    if (!device.secret_sealed) return wrong;
    const step = matchingStep(openTotpSecret(ctx.box, device.id, device.secret_sealed), body.otp ?? '', now);
    if (step === undefined) return wrong;
    const used = { ok: false as const, countsAsFailure: false, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode has already been used; wait for the next one' }) };
    if (device.last_otp_step !== null && step <= Number(device.last_otp_step)) return used;
    // The step is taken, with the flow's completion, only while the device is usable for this very attempt.
    return { ok: true, spend: { take: (db) => takeStep(db, device.id, step, attempt.lockedUntil, now), used: used.error } };
  },
};
