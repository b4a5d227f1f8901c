/**
 * What an OATH_TOKEN device asks of its policy and answers about a code: the policy's
 * `oathToken` section and windows, and the refusals (reference §6.2, wave-2 reference §4.3).
 */
import { invalidData, requestFailed } from '../../http/errors.js';
import { defaultOathTokenSection, type PolicyBody } from '../../policies/defaults.js';
import type { Window } from '../../oath/codes.js';

/** A policy stored before OATH tokens existed has no section (migration 011 adds it): the defaults. */
export const oathSection = (policy: PolicyBody) => policy.oathToken ?? defaultOathTokenSection();

export function windowOf(policy: PolicyBody): Window {
  const d = defaultOathTokenSection().otp.window;
  const w = oathSection(policy).otp?.window;
  return { hotpLookAhead: w?.hotpLookAhead ?? d.hotpLookAhead, totpSteps: w?.totpSteps ?? d.totpSteps };
}

/** Reference §6.2, verbatim: the token has drifted; send the next code with `oathResync`. */
export const extraOtpRequired = (target = 'otp') => invalidData({ code: 'EXTRA_OTP_REQUIRED', target, message: 'An extra OTP is required' });
export const wrongOtp = (target = 'otp') => invalidData({ code: 'INVALID_OTP', target, message: 'The passcode is not correct' });
export const usedOtp = (target = 'otp') => invalidData({ code: 'INVALID_OTP', target, message: 'The passcode has already been used; wait for the next one' });
export const tokenChanged = () => requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The OATH token was used or changed by another request' });
