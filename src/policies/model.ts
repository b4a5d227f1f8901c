/**
 * Device authentication policies (reference §8.2, §4.6) and MFA settings (§8.1): their input
 * schemas, and the questions the device code asks of them.
 */
import { Type, type Static } from 'typebox';
import { Duration, responseForm } from '../http/schemas.js';
import { invalidValue } from '../http/errors.js';
import { parseStored } from '../http/validation.js';
import type { Db } from '../store/db.js';
import { prepare } from '../store/prepared.js';
import { defaultMfaSettings, type MfaSettingsBody, type PolicyBody } from './defaults.js';

/** S1: no setting allows more than a handful of consecutive failures before a lock. */
export const FailureSection = Type.Object({
  count: Type.Integer({ minimum: 1, maximum: 7 }),
  coolDown: Duration(['SECONDS', 'MINUTES'], 1800),
}, { additionalProperties: false });

const Otp = Type.Object({
  failure: Type.Optional(FailureSection),
  lifeTime: Type.Optional(Duration(['SECONDS', 'MINUTES'], 1800)),
  otpLength: Type.Optional(Type.Integer({ minimum: 6, maximum: 10 })),
}, { additionalProperties: false });

const Offline = Type.Object({
  enabled: Type.Boolean(),
  pairingDisabled: Type.Optional(Type.Boolean()),
  promptForNicknameOnPairing: Type.Optional(Type.Boolean()),
  otp: Type.Optional(Otp),
}, { additionalProperties: false });

const Enabled = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });

/** Most applications a policy's `mobile` section names (PingOne states no limit; ours bounds a policy's size). */
export const MAX_MOBILE_APPLICATIONS = 20;

/**
 * One native application of the `mobile` section (wave-2 reference §3.5), with PingOne's
 * limits. The PingID-only members (`type`, `biometricsEnabled`, `ipPairingConfiguration`,
 * `newRequestDurationConfiguration`) are not taken: OpenMFA has no PingID policies.
 */
const MobileApplication = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  push: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    numberMatching: Type.Optional(Enabled),
  }, { additionalProperties: false })),
  otp: Type.Optional(Enabled),
  pushTimeout: Type.Optional(Type.Object({
    duration: Type.Integer({ minimum: 40, maximum: 150 }),
    timeUnit: Type.Enum(['SECONDS']),
  }, { additionalProperties: false })),
  pushLimit: Type.Optional(Type.Object({
    count: Type.Integer({ minimum: 1, maximum: 50 }),
    timePeriod: Type.Optional(Duration(['SECONDS', 'MINUTES'], 7200)),
    lockDuration: Type.Optional(Duration(['SECONDS', 'MINUTES'], 7200)),
  }, { additionalProperties: false })),
  pairingKeyLifetime: Type.Optional(Duration(['MINUTES', 'HOURS'], 2880)),
  pairingDisabled: Type.Optional(Type.Boolean()),
  autoEnrollment: Type.Optional(Enabled),
  deviceAuthorization: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    extraVerification: Type.Optional(Type.Enum(['permissive', 'restrictive'])),
  }, { additionalProperties: false })),
  integrityDetection: Type.Optional(Type.Enum(['permissive', 'restrictive'])),
}, { additionalProperties: false });

/** Wave-2 reference §3.5. `otp.window.stepSize` is taken (and, as in PingOne, not echoed back by its own reads). */
export const MobileSection = Type.Object({
  enabled: Type.Boolean(),
  otp: Type.Optional(Type.Object({
    failure: Type.Optional(FailureSection),
    window: Type.Optional(Type.Object({
      stepSize: Type.Object({ duration: Type.Integer({ minimum: 10, maximum: 300 }), timeUnit: Type.Enum(['SECONDS']) }, { additionalProperties: false }),
    }, { additionalProperties: false })),
  }, { additionalProperties: false })),
  promptForNicknameOnPairing: Type.Optional(Type.Boolean()),
  applications: Type.Optional(Type.Array(MobileApplication, { maxItems: MAX_MOBILE_APPLICATIONS })),
}, { additionalProperties: false });

/** Wave-2 reference §2.5: `failure` sits directly in the section (not under `otp`). */
const Fido2 = Type.Object({
  enabled: Type.Boolean(),
  fido2PolicyId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  pairingDisabled: Type.Optional(Type.Boolean()),
  promptForNicknameOnPairing: Type.Optional(Type.Boolean()),
  failure: Type.Optional(FailureSection),
}, { additionalProperties: false });

/** Wave-2 reference §4.3; `otp.window` is OpenMFA's (defaults.ts defaultOathTokenSection). */
export const OathTokenSection = Type.Object({
  enabled: Type.Boolean(),
  pairingDisabled: Type.Optional(Type.Boolean()),
  promptForNicknameOnPairing: Type.Optional(Type.Boolean()),
  otp: Type.Optional(Type.Object({
    failure: Type.Optional(FailureSection),
    window: Type.Optional(Type.Object({
      hotpLookAhead: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      totpSteps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
    }, { additionalProperties: false })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export const PolicyInput = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 256 }),
  default: Type.Optional(Type.Boolean()),
  authentication: Type.Optional(Type.Object({ deviceSelection: Type.Enum(['DEFAULT_TO_FIRST', 'PROMPT_TO_SELECT', 'ALWAYS_DISPLAY_DEVICES']) }, { additionalProperties: false })),
  newDeviceNotification: Type.Optional(Type.Enum(['NONE', 'EMAIL_THEN_SMS', 'SMS_THEN_EMAIL'])),
  ignoreUserLock: Type.Optional(Type.Boolean()),
  forSignOnPolicy: Type.Optional(Type.Boolean()),
  sms: Type.Optional(Offline),
  voice: Type.Optional(Offline),
  email: Type.Optional(Offline),
  whatsApp: Type.Optional(Offline),
  mobile: Type.Optional(MobileSection),
  totp: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    pairingDisabled: Type.Optional(Type.Boolean()),
    otp: Type.Optional(Type.Object({ failure: Type.Optional(FailureSection) }, { additionalProperties: false })),
    uriParameters: Type.Optional(Type.Object({ issuer: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })),
  }, { additionalProperties: false })),
  fido2: Type.Optional(Fido2),
  pingIdDesktopGen2: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    pairingDisabled: Type.Optional(Type.Boolean()),
    otp: Type.Optional(Type.Object({ failure: Type.Optional(FailureSection) }, { additionalProperties: false })),
    pairingKeyLifetime: Type.Optional(Duration(['MINUTES', 'HOURS'], 2880)),
  }, { additionalProperties: false })),
  oathToken: Type.Optional(OathTokenSection),
}, { additionalProperties: false });

export const MfaSettingsInput = Type.Object({
  pairing: Type.Object({
    maxAllowedDevices: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
    pairingKeyFormat: Type.Optional(Type.Enum(['ALPHANUMERIC', 'NUMERIC'])),
  }, { additionalProperties: false }),
  lockout: Type.Optional(Type.Object({
    failureCount: Type.Integer({ minimum: 1, maximum: 100 }),
    durationSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400 })),
  }, { additionalProperties: false })),
  phoneExtensions: Type.Optional(Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false })),
  users: Type.Optional(Type.Object({ mfaEnabled: Type.Boolean() }, { additionalProperties: false })),
  authentication: Type.Optional(Type.Object({ deviceSelection: Type.Enum(['DEFAULT_TO_FIRST', 'PROMPT_TO_SELECT']) }, { additionalProperties: false })),
}, { additionalProperties: false });

const UNIT_MS: Record<string, number> = { SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 };
export const durationMs = (d: { duration: number; timeUnit: string }): number => d.duration * (UNIT_MS[d.timeUnit] ?? 0);

/**
 * Spans the schema cannot bound (it bounds a duration's number whatever its unit: 2880 HOURS,
 * 1800 MINUTES would pass it), checked here, each with PingOne's limits: the desktop pairing
 * window 1 minute–48 hours and cool-down at most 30 minutes (reference §4.6); the mobile and
 * FIDO2 cool-downs 2–30 minutes, a mobile application's pairing window 1 minute–48 hours, its
 * push-limit period and lock 1–120 minutes (wave-2 reference §2.5, §3.5).
 */
export function checkPolicyDurations(input: Static<typeof PolicyInput>): void {
  const span = (target: string, d: { duration: number; timeUnit: string } | undefined, minMs: number, maxMs: number, what: string) => {
    if (!d) return;
    const ms = durationMs(d);
    if (ms >= minMs && ms <= maxMs) return;
    const unit = UNIT_MS[d.timeUnit]!;
    throw invalidValue(`${target}.duration`, what, 'OUT_OF_RANGE', { rangeMinimumValue: Math.ceil(minMs / unit), rangeMaximumValue: Math.floor(maxMs / unit) });
  };
  const MIN = 60_000;
  const HOUR = 3_600_000;
  const desktop = input.pingIdDesktopGen2;
  span('pingIdDesktopGen2.pairingKeyLifetime', desktop?.pairingKeyLifetime, MIN, 48 * HOUR, 'The pairing key lifetime must be between 1 minute and 48 hours');
  span('pingIdDesktopGen2.otp.failure.coolDown', desktop?.otp?.failure?.coolDown, 0, 30 * MIN, 'The cool-down must be at most 30 minutes');
  span('mobile.otp.failure.coolDown', input.mobile?.otp?.failure?.coolDown, 2 * MIN, 30 * MIN, 'The cool-down must be between 2 and 30 minutes');
  span('oathToken.otp.failure.coolDown', input.oathToken?.otp?.failure?.coolDown, 0, 30 * MIN, 'The cool-down must be at most 30 minutes');
  span('fido2.failure.coolDown', input.fido2?.failure?.coolDown, 2 * MIN, 30 * MIN, 'The cool-down must be between 2 and 30 minutes');
  const seen = new Set<string>();
  input.mobile?.applications?.forEach((app, i) => {
    const at = `mobile.applications[${i}]`;
    if (seen.has(app.id)) throw invalidValue(`${at}.id`, 'An application appears only once in a policy', 'UNIQUENESS_VIOLATION');
    seen.add(app.id);
    span(`${at}.pairingKeyLifetime`, app.pairingKeyLifetime, MIN, 48 * HOUR, 'The pairing key lifetime must be between 1 minute and 48 hours');
    span(`${at}.pushLimit.timePeriod`, app.pushLimit?.timePeriod, MIN, 120 * MIN, 'The push limit period must be between 1 and 120 minutes');
    span(`${at}.pushLimit.lockDuration`, app.pushLimit?.lockDuration, MIN, 120 * MIN, 'The push lock must be between 1 and 120 minutes');
  });
}

/**
 * Stored policy and settings bodies, checked rather than cast (http/validation.ts parseStored):
 * every member PolicyInput declares has its declared type, and members a row written before a
 * section was declared may hold are let through (the response schema drops them). The writer
 * fills every section (defaults.ts), so a body that passes is the whole PolicyBody.
 */
const StoredPolicy = responseForm(PolicyInput);
const StoredMfaSettings = responseForm(MfaSettingsInput);
export const storedPolicy = (text: string): PolicyBody => parseStored(StoredPolicy, text, 'device authentication policy') as PolicyBody;

export interface PolicyRecord {
  id: string;
  body: PolicyBody;
}

/** The named policy of the environment, or its default; a named policy that is not there is a 400 on `policy.id`. */
export async function resolvePolicy(db: Db, environmentId: string, policyId?: string): Promise<PolicyRecord> {
  let q = db.selectFrom('device_authentication_policies').select(['id', 'body']).where('environment_id', '=', environmentId);
  q = policyId !== undefined ? q.where('id', '=', policyId) : q.where('is_default', '=', 1);
  const row = policyId !== undefined && policyId.length > 64 ? undefined : await q.executeTakeFirst();
  if (!row) {
    if (policyId !== undefined) throw invalidValue('policy.id', 'No device authentication policy with this ID exists in the environment');
    throw new Error(`environment ${environmentId} has no default policy`);
  }
  return { id: row.id, body: storedPolicy(row.body) };
}

export async function mfaSettings(db: Db, environmentId: string): Promise<MfaSettingsBody> {
  const row = await db.selectFrom('mfa_settings').select('body').where('environment_id', '=', environmentId).executeTakeFirst();
  return row ? (parseStored(StoredMfaSettings, row.body, 'MFA settings') as MfaSettingsBody) : defaultMfaSettings();
}

export interface MethodFailure {
  count: number;
  coolDown: { duration: number; timeUnit: string };
}

/**
 * When failed attempts lock a device, and for how long (reference §6.3): after the lower of
 * the method's `otp.failure.count` and the environment's `lockout.failureCount`, for the
 * method's cool-down. A cool-down of zero (PingOne's example for SMS) would mean no lock at
 * all, so the environment's `lockout.durationSeconds` applies instead: failures are always
 * bounded (quality bar S1).
 */
export async function failureRule(db: Db, environmentId: string, failure: MethodFailure): Promise<{ count: number; lockMs: number }> {
  const settings = await mfaSettings(db, environmentId);
  const ms = durationMs(failure.coolDown);
  return {
    count: Math.min(failure.count, settings.lockout.failureCount),
    lockMs: ms > 0 ? ms : settings.lockout.durationSeconds * 1000,
  };
}

// Read by every activation and authentication of a device (quality bar P2, P3).
const policyById = prepare<[string, string], PolicyRow>(2, (db, environmentId, policyId) =>
  db.selectFrom('device_authentication_policies').select(['id', 'body']).where('environment_id', '=', environmentId).where('id', '=', policyId));
type PolicyRow = { id: string; body: string };

/** The device's policy; if it has since been deleted, the environment's default. */
export async function policyForDevice(db: Db, environmentId: string, policyId: string | null): Promise<PolicyRecord> {
  if (policyId !== null) {
    const row = await policyById.first(db, environmentId, policyId);
    if (row) return { id: row.id, body: storedPolicy(row.body) };
  }
  return resolvePolicy(db, environmentId);
}
