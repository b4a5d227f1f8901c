/**
 * A push answered (mobile-protocol §2 steps 3–4): POST {authPath}/{envID}/mobile/pushes/{pushID}, a
 * JWS by the key stored when the device paired. Checked: signature (that device's key, never
 * another's), claims (`aud`, `sub` = the push, times, `jti` unseen), the challenge, that the
 * push is pending and unexpired. Then one transaction, conditional on the push still pending
 * and the flow still waiting for this push (its challenge), with the device usable: APPROVE with
 * the right number → COMPLETED; DENY → FAILED (PUSH_REJECTED); a wrong number → FAILED and a
 * push failure. A second answer finds the push no longer pending: refused, nothing changes.
 */
import { Type } from 'typebox';
import type { Context } from '../../context.js';
import { digestEquals, sha256Hex } from '../../crypto/hash.js';
import { invalidData, notFound, requestFailed, type ApiError } from '../../http/errors.js';
import { stillUsable } from '../store.js';
import { ACTIVE } from '../model.js';
import type { EnvironmentsTable, MobilePushesTable } from '../../store/schema.js';
import { TYP } from '../../protocol/mobile.js';
import { findMobileDevice, verifyDeviceJwt } from './device-jwt.js';
import { clearPushFailures, recordPushFailures, settleTimedOut } from './push-fails.js';

const AnswerClaims = Type.Object({
  challenge: Type.String({ minLength: 1, maxLength: 256 }),
  decision: Type.Enum(['APPROVE', 'DENY']),
  number: Type.Optional(Type.String({ minLength: 1, maxLength: 8 })),
});

const refused = (target: string, message: string, code: 'INVALID_VALUE' | 'INVALID_SIGNATURE' | 'EXPIRED' = 'INVALID_VALUE'): ApiError => invalidData({ code, target, message });
const notPending = (): ApiError => requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The push is no longer waiting for an answer' });

export async function findPush(ctx: Context, environmentId: string, pushId: string): Promise<MobilePushesTable | undefined> {
  if (pushId.length > 64) return undefined;
  return ctx.store.db.selectFrom('mobile_pushes').selectAll().where('environment_id', '=', environmentId).where('id', '=', pushId).executeTakeFirst();
}

export async function answerPush(ctx: Context, environment: EnvironmentsTable, pushId: string, token: string, now: number): Promise<{ id: string; status: string }> {
  const { store } = ctx;
  const push = await findPush(ctx, environment.id, pushId);
  if (!push) throw notFound();
  const device = await findMobileDevice(store.db, environment.id, push.device_id);
  if (!device) throw notFound();
  const checked = await verifyDeviceJwt(ctx, device, token, { typ: TYP.response, what: 'push answer', subject: push.id, claims: AnswerClaims, now });
  if (!checked.ok) throw refused('answer', checked.message, checked.code);
  const claims = checked.payload as { challenge: string; decision: 'APPROVE' | 'DENY'; number?: string };
  if (!digestEquals(sha256Hex(claims.challenge), push.challenge_hash)) throw refused('challenge', 'The answer is for another push (challenge)');
  if (push.status !== 'PENDING') throw notPending();
  if (push.expires_at <= now) {
    await settleTimedOut(ctx, device.id, now);
    throw refused('answer', 'The push timed out before it was answered', 'EXPIRED');
  }
  const wrongNumber = claims.decision === 'APPROVE' && push.number !== null && claims.number !== push.number;
  const outcome = claims.decision === 'DENY' ? 'DENIED' : wrongNumber ? 'WRONG_NUMBER' : 'APPROVED';
  const flowChange = outcome === 'APPROVED'
    ? { status: 'COMPLETED', error: null }
    : { status: 'FAILED', error: JSON.stringify(outcome === 'DENIED'
      ? { code: 'PUSH_REJECTED', message: 'The user rejected the push' }
      : { code: 'PUSH_NUMBER_MISMATCH', message: 'The number picked on the device is not the number shown' }) };

  await store.transaction(async () => {
    const taken = await store.db.updateTable('mobile_pushes').set({ status: outcome, answered_at: now })
      .where('id', '=', push.id).where('status', '=', 'PENDING').where('expires_at', '>', now).executeTakeFirst();
    if (Number(taken.numUpdatedRows) !== 1) throw notPending();
    const moved = await store.db.updateTable('device_authentications').set({ ...flowChange, challenge_hash: null, challenge_expires_at: null, updated_at: now })
      .where('id', '=', push.flow_id).where('status', '=', 'PUSH_CONFIRMATION_REQUIRED').where('challenge_hash', '=', push.challenge_hash).where('expires_at', '>', now)
      .where((eb) => stillUsable(eb, device.id, ACTIVE, null, now))
      .executeTakeFirst();
    // The flow moved on (cancelled, another device, expired) or the device was blocked or locked: nothing changes.
    if (Number(moved.numUpdatedRows) !== 1) throw notPending();
    if (outcome === 'APPROVED') await clearPushFailures(ctx, device);
    else await recordPushFailures(ctx, device.id, [now], now);
  });
  // Protocol §2.4: a wrong number fails the flow and is refused.
  if (outcome === 'WRONG_NUMBER') throw refused('number', 'The number is not the one shown on the signing-in device; the sign-in failed');
  return { id: push.id, status: outcome };
}
