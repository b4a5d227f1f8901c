/**
 * One-time codes sent to a device (quality bar S3): digits from the CSPRNG, kept only as a
 * keyed hash bound to the device, single use (the activation's conditional UPDATE clears it),
 * expiring with the policy's lifetime.
 */
import type { Context } from '../../context.js';
import { newNumericCode } from '../../crypto/random.js';

export interface IssuedCode {
  code: string;
  hash: string;
  expiresAt: number;
}

export const codeHash = (ctx: Context, deviceId: string, code: string): string => ctx.box.mac(code, `otp:${deviceId}`);

export function issueCode(ctx: Context, deviceId: string, length: number, lifetimeMs: number, now: number): IssuedCode {
  const code = newNumericCode(length);
  return { code, hash: codeHash(ctx, deviceId, code), expiresAt: now + lifetimeMs };
}

/** The message carrying `code`, and the code beside it (the outbox shows it as `otp`). */
export function messageFor(code: string, lifetimeMs: number): { subject: string; body: string; otp: string } {
  const minutes = Math.max(1, Math.round(lifetimeMs / 60_000));
  return { subject: 'Your passcode', body: `Your passcode is ${code}. It expires in ${minutes} minute${minutes === 1 ? '' : 's'}.`, otp: code };
}
