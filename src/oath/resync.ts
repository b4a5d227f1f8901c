/**
 * POST …/oathTokens/{id}, `application/vnd.pingidentity.device.resync+json` (wave-2 reference
 * §4.2): `{"otps": [a, b]}` — two consecutive codes in one call, or one per call in two calls
 * (the first answers 400 EXTRA_OTP_REQUIRED). The token moves to the later code's position.
 *
 * A paired token's codes go through its device's attempt path (devices/attempts.ts): an attempt
 * is reserved on the device before anything is compared, so a locked or blocked device takes no
 * resync, and a resync cannot be used to guess codes past the policy's failure count. An
 * unpaired token has no device to count on; its guard is that two consecutive codes are needed
 * (README, decisions).
 */
import type { Context } from '../context.js';
import { requestFailed } from '../http/errors.js';
import { validateBody } from '../http/validation.js';
import { clearAttempts, releaseAttempt, reserveAttempt, type Attempt } from '../devices/attempts.js';
import { extraOtpRequired, oathSection, tokenChanged, wrongOtp } from '../devices/oath-token/codes.js';
import { lockOf } from '../devices/model.js';
import { stillUsable, unusable } from '../devices/store.js';
import { failureRule, policyForDevice } from '../policies/model.js';
import type { DevicesTable } from '../store/schema.js';
import { resync } from './codes.js';
import { ResyncInput, presentToken } from './model.js';
import type { OnToken } from './operation.js';
import { holdResync, openToken, requireToken, takePosition } from './store.js';

function requireUsable(device: DevicesTable, now: number): void {
  switch (unusable(device, device.status, now)) {
    case 'blocked': throw requestFailed({ code: 'INVALID_VALUE', target: 'block.status', message: 'The device paired with this token is blocked' });
    case 'locked': throw requestFailed({ code: 'INVALID_VALUE', target: 'lock.status', message: 'The device is locked after too many failed attempts', innerError: { lock: lockOf(device, now) } });
    default:
  }
}

export async function resyncToken(ctx: Context, { environment, tokenId, now, body }: OnToken & { body: unknown }) {
  const { db } = ctx.store;
  const row = await requireToken(db, environment.id, tokenId);
  const device = row.device_id === null ? undefined : await db.selectFrom('devices').selectAll().where('id', '=', row.device_id).executeTakeFirst();
  let attempt: Attempt | undefined;
  if (device) {
    requireUsable(device, now);
    const policy = await policyForDevice(db, environment.id, device.policy_id);
    const rule = await failureRule(db, environment.id, oathSection(policy.body).otp.failure);
    attempt = await reserveAttempt(db, device.id, now, rule, device.status);
    if (!attempt) {
      const current = await db.selectFrom('devices').selectAll().where('id', '=', device.id).executeTakeFirst();
      if (current) requireUsable(current, now);
      throw tokenChanged();
    }
  }
  // A malformed body counts like a wrong code: its reservation stands.
  const { otps } = validateBody(ResyncInput, body);
  const verdict = resync(openToken(ctx.box, row), otps, now);
  if (!verdict.ok) {
    if (verdict.extra === undefined) throw wrongOtp('otps');
    await holdResync(db, row.id, verdict.extra, now);
    throw extraOtpRequired('otps');
  }
  const held = attempt;
  const taken = await takePosition(db, row, verdict.at, now, held && device ? (eb) => stillUsable(eb, device.id, device.status, held.lockedUntil, now) : undefined);
  if (!taken) {
    if (held) await releaseAttempt(db, held);
    throw tokenChanged();
  }
  if (held) await clearAttempts(db, held, now);
  return presentToken(ctx, await requireToken(db, environment.id, tokenId));
}
