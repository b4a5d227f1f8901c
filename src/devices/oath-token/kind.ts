/**
 * OATH_TOKEN devices (wave-2 reference §4.3): created with the `serialNumber` of a token the
 * environment imported (oathJobs) and that no device holds — one device per token, paired in
 * the device's insert transaction — and activated with a code from the token. A token that has
 * drifted out of the policy's window answers 400 EXTRA_OTP_REQUIRED when the body says
 * `oathResync: true` and the code is in the resync window; the next code, again with
 * `oathResync`, activates the device. Every code goes through the one attempt path.
 */
import { Type } from 'typebox';
import { invalidData, invalidValue } from '../../http/errors.js';
import { checkBody } from '../../http/validation.js';
import { alreadyUsed, inWindow, resync } from '../../oath/codes.js';
import { holdResync, openToken, pairToken, takePosition, tokenBySerial, tokenOfDevice } from '../../oath/store.js';
import type { DeviceKind } from '../kind.js';
import { activateForProof } from '../store.js';
import { oathAuthentication } from './authenticate.js';
import { extraOtpRequired, oathSection, tokenChanged, usedOtp, windowOf, wrongOtp } from './codes.js';

/** Reference §6.2: `{"otp":"71053192","oathResync":true}`. */
export const OathActivateBody = Type.Object({
  otp: Type.String({ minLength: 1, maxLength: 10, pattern: '^[0-9]{6,10}$' }),
  oathResync: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const paired = () => invalidValue('serialNumber', 'The OATH token is paired with another device already', 'UNIQUENESS_VIOLATION');

/** Rolls the activation's transaction back when the token's position was taken meanwhile. */
class PositionTaken extends Error {}

export const oathToken: DeviceKind = {
  type: 'OATH_TOKEN',

  async prepare({ ctx, environment, user, policy, body, deviceId, now }) {
    const section = oathSection(policy.body);
    if (!section.enabled) throw invalidValue('policy.id', 'The device authentication policy does not allow OATH_TOKEN devices');
    if (section.pairingDisabled) throw invalidValue('policy.id', 'The device authentication policy does not allow new OATH_TOKEN pairings');
    if (body.testMode) throw invalidValue('testMode', 'testMode is available for EMAIL, SMS and VOICE devices only');
    if (body.serialNumber === undefined) throw invalidData({ code: 'REQUIRED_VALUE', target: 'serialNumber', message: 'serialNumber is required' });
    // Another environment's token is not found: the lookup is scoped to this one.
    const token = await tokenBySerial(ctx.store.db, environment.id, body.serialNumber);
    if (!token) throw invalidValue('serialNumber', 'No OATH token with this serial number exists in the environment');
    if (token.device_id !== null) throw paired();
    return {
      status: body.status ?? 'ACTIVATION_REQUIRED',
      nickname: body.nickname ?? null,
      extra: { serialNumber: token.serial_number },
      // In the insert's transaction: of two creates with one serial number, one pairs and the other makes no device.
      deliver: async () => {
        if (!(await pairToken(ctx.store.db, token.id, deviceId, user.id, now))) throw paired();
      },
    };
  },

  async activate({ ctx, device, policy, body, now, attempt }) {
    const parsed = checkBody(OathActivateBody, body);
    if (!parsed.ok) return { ok: false, error: parsed.error, countsAsFailure: true };
    const { otp, oathResync } = parsed.value;
    const { store } = ctx;
    const row = await tokenOfDevice(store.db, device.id);
    if (!row) return { ok: false, countsAsFailure: true, error: wrongOtp() };
    const token = openToken(ctx.box, row);
    const window = windowOf(policy.body);
    let at = inWindow(token, otp, now, window);
    if (at === undefined && oathResync === true) {
      const verdict = resync(token, [otp], now);
      if (verdict.ok) at = verdict.at;
      else if (verdict.extra !== undefined) {
        // The first code of a resync: kept; its attempt stays counted (a guess lands in the wide window more often).
        await holdResync(store.db, row.id, verdict.extra, now);
        return { ok: false, countsAsFailure: true, error: extraOtpRequired() };
      }
    }
    if (at === undefined) return alreadyUsed(token, otp, now, window) ? { ok: false, countsAsFailure: false, error: usedOtp() } : { ok: false, countsAsFailure: true, error: wrongOtp() };
    const position = at;
    try {
      const activated = await store.transaction(async (trx) => {
        const done = await activateForProof(trx, device.id, attempt.lockedUntil, now);
        if (!done || !(await takePosition(trx, row, position, now))) throw new PositionTaken();
        return done;
      });
      return { ok: true, row: activated };
    } catch (e) {
      if (e instanceof PositionTaken) return { ok: false, countsAsFailure: false, error: tokenChanged() };
      throw e;
    }
  },

  authentication: oathAuthentication,

  failure: (policy) => oathSection(policy).otp.failure,
};
