/**
 * What a device authentication policy's `mobile` section (wave-2 reference §3.5) says of one
 * native application, with PingOne's defaults filled in.
 */
import type { Static } from 'typebox';
import { durationMs, type MobileSection } from '../../policies/model.js';
import type { PolicyBody } from '../../policies/defaults.js';

type Mobile = Static<typeof MobileSection>;
export type MobileApplicationEntry = NonNullable<Mobile['applications']>[number];

/** The section as the schema declares it (the stored body was checked by storedPolicy). */
export const mobileOf = (policy: PolicyBody): Mobile => policy.mobile as Mobile;

export function entryFor(policy: PolicyBody, applicationId: string): MobileApplicationEntry | undefined {
  const mobile = mobileOf(policy);
  return mobile.enabled ? mobile.applications?.find((a) => a.id === applicationId) : undefined;
}

const MIN = 60_000;
export const pushTimeoutMs = (e: MobileApplicationEntry): number => (e.pushTimeout ? durationMs(e.pushTimeout) : 40_000);
export const pairingLifetimeMs = (e: MobileApplicationEntry): number => (e.pairingKeyLifetime ? durationMs(e.pairingKeyLifetime) : 10 * MIN);
export const pushLimitOf = (e: MobileApplicationEntry) => ({
  count: e.pushLimit?.count ?? 5,
  periodMs: e.pushLimit?.timePeriod ? durationMs(e.pushLimit.timePeriod) : 10 * MIN,
  lockMs: e.pushLimit?.lockDuration ? durationMs(e.pushLimit.lockDuration) : 30 * MIN,
});
export const pushEnabled = (e: MobileApplicationEntry): boolean => e.push?.enabled === true;
export const numberMatching = (e: MobileApplicationEntry): boolean => e.push?.numberMatching?.enabled === true;
export const otpEnabled = (e: MobileApplicationEntry): boolean => e.otp?.enabled === true;
/** Offline codes: 30 s steps unless `otp.window.stepSize` says otherwise. */
export const stepSeconds = (policy: PolicyBody): number => mobileOf(policy).otp?.window?.stepSize.duration ?? 30;
