/**
 * MOBILE (wave-2 reference §3; mobile-protocol §2, §3). POST …/devices cannot make one (§3.1: only
 * pairing does, pairing.ts). In a device authentication the device's application entry in the
 * policy decides: push enabled → PUSH_CONFIRMATION_REQUIRED and a push on the device's channel;
 * else offline codes (`otp.enabled`) → OTP_REQUIRED. otp.check takes the authenticator's TOTP
 * from the pairing seed through the one attempt path (authentication/actions.ts, attempts.ts),
 * in either status.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { sha256Hex } from '../../crypto/hash.js';
import { newId } from '../../crypto/random.js';
import { invalidData, invalidValue, requestFailed } from '../../http/errors.js';
import { recordPush } from '../../notify/push.js';
import { policyForDevice } from '../../policies/model.js';
import type { Db } from '../../store/db.js';
import type { DeviceKind, DeviceAuthentication } from '../kind.js';
import { extraOf, isLocked, lockOf } from '../model.js';
import { findDevice, takeStep } from '../store.js';
import { matchingStep } from '../totp/totp.js';
import { settleTimedOut } from './push-fails.js';
import { entryFor, mobileOf, numberMatching, otpEnabled, pushEnabled, pushTimeoutMs, stepSeconds } from './policy.js';
import { openMobileSeed } from './seed.js';

/** Number matching (mobile-protocol §2): the number 10–99 and two other numbers, in random order. */
export function numberChoices(): { number: string; choices: string[] } {
  const picked = new Set<number>();
  while (picked.size < 3) picked.add(randomInt(10, 100));
  const [number, ...decoys] = [...picked];
  const choices = [number!, ...decoys];
  for (let i = choices.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [choices[i], choices[j]] = [choices[j]!, choices[i]!];
  }
  return { number: String(number), choices: choices.map(String) };
}

const withdrawPending = (db: Db, flowId: string, now: number) =>
  db.updateTable('mobile_pushes').set({ status: 'WITHDRAWN', answered_at: now }).where('flow_id', '=', flowId).where('status', '=', 'PENDING').execute();

export const mobileAuthentication: DeviceAuthentication = {
  name: 'mobile',

  async start({ ctx, environment, user, device, policy, flowId, now }) {
    const applicationId = extraOf(device).application?.id ?? '';
    const entry = entryFor(policy.body, applicationId);
    if (!entry) throw invalidValue('device.id', 'The device authentication policy does not allow this MOBILE device\'s application');
    if (!pushEnabled(entry)) {
      if (otpEnabled(entry)) return { status: 'OTP_REQUIRED', challengeHash: null, challengeExpiresAt: null };
      throw invalidValue('device.id', 'The device authentication policy allows neither push nor offline codes for this MOBILE device\'s application');
    }
    // Earlier pushes past their timeout count now, and may have locked the device (pushLimit).
    await settleTimedOut(ctx, device.id, now);
    const fresh = await findDevice(ctx.store.db, environment.id, user.id, device.id);
    if (fresh && isLocked(fresh, now)) {
      throw invalidValue('device.id', 'The device is locked after too many unanswered or rejected pushes', 'INVALID_VALUE', { lock: lockOf(fresh, now) });
    }
    const challenge = randomBytes(32).toString('base64url');
    const pushId = newId();
    const expiresAt = now + pushTimeoutMs(entry);
    const matching = numberMatching(entry) ? numberChoices() : undefined;
    return {
      status: 'PUSH_CONFIRMATION_REQUIRED',
      challengeHash: sha256Hex(challenge),
      challengeExpiresAt: expiresAt,
      // In the transaction that moves the flow (start.ts withdrew its earlier push): the push
      // is stored (challenge hashed and sealed) and recorded in the outbox.
      async deliver() {
        const { db } = ctx.store;
        await db.insertInto('mobile_pushes').values({
          id: pushId,
          environment_id: environment.id,
          device_id: device.id,
          flow_id: flowId,
          challenge_hash: sha256Hex(challenge),
          challenge_sealed: ctx.box.seal(challenge, `mobile_push:${pushId}`),
          number: matching?.number ?? null,
          number_choices: matching ? JSON.stringify(matching.choices) : null,
          application_id: applicationId,
          status: 'PENDING',
          expires_at: expiresAt,
          created_at: now,
          answered_at: null,
        }).execute();
        await recordPush(ctx.store, ctx.box, ctx.notifier.arrivals, {
          environmentId: environment.id, userId: user.id, deviceId: device.id, flowId, now,
          body: matching ? `Sign in? Pick ${matching.number} on your phone.` : 'Sign in? Approve on your phone.',
          ...(matching ? { number: matching.number } : {}),
        });
      },
    };
  },

  async check({ ctx, device, body, now, attempt }) {
    const wrong = { ok: false as const, countsAsFailure: true, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' }) };
    if (!device.secret_sealed) return wrong;
    const policy = await policyForDevice(ctx.store.db, device.environment_id, device.policy_id);
    // Protocol §3: offline codes only where the application's entry has otp.enabled (a flow waiting for a push included).
    const entry = entryFor(policy.body, extraOf(device).application?.id ?? '');
    if (!entry || !otpEnabled(entry)) {
      return { ok: false, countsAsFailure: false, error: requestFailed({ code: 'INVALID_VALUE', target: 'otp', message: 'The device authentication policy does not take offline codes from this MOBILE device\'s application (otp.enabled)' }) };
    }
    const step = matchingStep(openMobileSeed(ctx.box, device.id, device.secret_sealed), body.otp ?? '', now, 1, stepSeconds(policy.body));
    if (step === undefined) return wrong;
    const used = { ok: false as const, countsAsFailure: false, error: invalidData({ code: 'INVALID_OTP', target: 'otp', message: 'The passcode has already been used; wait for the next one' }) };
    if (device.last_otp_step !== null && step <= Number(device.last_otp_step)) return used;
    return { ok: true, spend: { take: (db) => takeStep(db, device.id, step, attempt.lockedUntil, now), used: used.error } };
  },
};

export const mobile: DeviceKind = {
  type: 'MOBILE',
  async prepare() {
    throw invalidValue('type', 'A MOBILE device is made by pairing the authenticator with a pairing key (POST …/users/{userID}/pairingKeys), not here');
  },
  async activate() {
    return { ok: false, countsAsFailure: false, error: requestFailed({ code: 'INVALID_VALUE', target: 'type', message: 'A MOBILE device is active once paired; it takes no activation' }) };
  },
  authentication: mobileAuthentication,
  failure: (policy) => mobileOf(policy).otp?.failure ?? { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } },
};

/** Withdraws the flow's pending push (otp.check used instead, cancel.push.authentication). */
export const withdrawPushes = withdrawPending;
