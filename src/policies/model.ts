/**
 * Device authentication policies (reference §8.2, §4.6) and MFA settings (§8.1): their input
 * schemas, and the questions the device code asks of them.
 */
import { Type, type Static } from 'typebox';
import { Duration } from '../http/schemas.js';
import { invalidValue } from '../http/errors.js';
import type { Db } from '../store/db.js';
import { prepare } from '../store/prepared.js';
import { defaultMfaSettings, type MfaSettingsBody, type PolicyBody } from './defaults.js';

/** S1: no setting allows more than a handful of consecutive failures before a lock. */
const Failure = Type.Object({
  count: Type.Integer({ minimum: 1, maximum: 7 }),
  coolDown: Duration(['SECONDS', 'MINUTES'], 1800),
}, { additionalProperties: false });

const Otp = Type.Object({
  failure: Type.Optional(Failure),
  lifeTime: Type.Optional(Duration(['SECONDS', 'MINUTES'], 1800)),
  otpLength: Type.Optional(Type.Integer({ minimum: 6, maximum: 10 })),
}, { additionalProperties: false });

const Offline = Type.Object({
  enabled: Type.Boolean(),
  pairingDisabled: Type.Optional(Type.Boolean()),
  promptForNicknameOnPairing: Type.Optional(Type.Boolean()),
  otp: Type.Optional(Otp),
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
  mobile: Type.Optional(Type.Object({ enabled: Type.Boolean() }, { additionalProperties: true })),
  totp: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    pairingDisabled: Type.Optional(Type.Boolean()),
    otp: Type.Optional(Type.Object({ failure: Type.Optional(Failure) }, { additionalProperties: false })),
    uriParameters: Type.Optional(Type.Object({ issuer: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })),
  }, { additionalProperties: false })),
  fido2: Type.Optional(Type.Object({ enabled: Type.Boolean() }, { additionalProperties: true })),
  pingIdDesktopGen2: Type.Optional(Type.Object({
    enabled: Type.Boolean(),
    pairingDisabled: Type.Optional(Type.Boolean()),
    otp: Type.Optional(Type.Object({ failure: Type.Optional(Failure) }, { additionalProperties: false })),
    pairingKeyLifetime: Type.Optional(Duration(['MINUTES', 'HOURS'], 2880)),
  }, { additionalProperties: false })),
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
 * Reference §4.6 (PingID device settings): a pairing window of 1 minute to 48 hours, a cool-down
 * of at most 30 minutes. The schema bounds a duration's number whatever its unit (2880 HOURS,
 * 1800 MINUTES would pass it), so the span itself is checked here.
 */
export function checkDesktopDurations(input: Static<typeof PolicyInput>): void {
  const span = (target: string, d: { duration: number; timeUnit: string }, minMs: number, maxMs: number, what: string) => {
    const ms = durationMs(d);
    if (ms >= minMs && ms <= maxMs) return;
    const unit = UNIT_MS[d.timeUnit]!;
    throw invalidValue(target, what, 'OUT_OF_RANGE', { rangeMinimumValue: Math.ceil(minMs / unit), rangeMaximumValue: Math.floor(maxMs / unit) });
  };
  const desktop = input.pingIdDesktopGen2;
  if (desktop?.pairingKeyLifetime) {
    span('pingIdDesktopGen2.pairingKeyLifetime.duration', desktop.pairingKeyLifetime, 60_000, 48 * 3_600_000, 'The pairing key lifetime must be between 1 minute and 48 hours');
  }
  const coolDown = desktop?.otp?.failure?.coolDown;
  if (coolDown) span('pingIdDesktopGen2.otp.failure.coolDown.duration', coolDown, 0, 30 * 60_000, 'The cool-down must be at most 30 minutes');
}

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
  return { id: row.id, body: JSON.parse(row.body) as PolicyBody };
}

export async function mfaSettings(db: Db, environmentId: string): Promise<MfaSettingsBody> {
  const row = await db.selectFrom('mfa_settings').select('body').where('environment_id', '=', environmentId).executeTakeFirst();
  return row ? (JSON.parse(row.body) as MfaSettingsBody) : defaultMfaSettings();
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
    if (row) return { id: row.id, body: JSON.parse(row.body) as PolicyBody };
  }
  return resolvePolicy(db, environmentId);
}
