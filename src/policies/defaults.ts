/**
 * What every environment starts with: a default device authentication policy and MFA
 * settings (reference §8.1, §8.2). Where PingOne leaves a default open we choose, and the
 * README lists the choices: every method OpenMFA supports is enabled in the default policy
 * (PingOne ships TOTP and PingID Desktop disabled; a stand-in should work at once), WhatsApp
 * stays off as in PingOne; lockout is 5 failures / 600 s as in PingOne's Terraform example;
 * OTPs live 10 minutes (quality bar S3; PingOne's example shows 30).
 */
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import type { Db } from '../store/db.js';
import { defaultOathTokenSection } from '../protocol/oath.js';
import { createDefaultFido2Policy } from './fido2/defaults.js';

export { defaultOathTokenSection };

const offline = (enabled: boolean) => ({
  enabled,
  pairingDisabled: false,
  promptForNicknameOnPairing: false,
  otp: {
    failure: { count: 3, coolDown: { duration: 0, timeUnit: 'MINUTES' } },
    lifeTime: { duration: 10, timeUnit: 'MINUTES' },
    otpLength: 6,
  },
});

/** No `fido2PolicyId`: the environment's default FIDO2 policy (wave-2 reference §2.5). */
const fido2Section = (): { enabled: boolean; pairingDisabled: boolean; promptForNicknameOnPairing: boolean; failure: { count: number; coolDown: { duration: number; timeUnit: string } }; fido2PolicyId?: string | null } => ({
  enabled: true,
  pairingDisabled: false,
  promptForNicknameOnPairing: false,
  failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } },
});

export function defaultPolicyBody(name = 'Default MFA Policy', isDefault = true) {
  return {
    name,
    default: isDefault,
    authentication: { deviceSelection: 'DEFAULT_TO_FIRST' },
    newDeviceNotification: 'NONE',
    ignoreUserLock: false,
    sms: offline(true),
    voice: offline(true),
    email: offline(true),
    whatsApp: offline(false),
    mobile: { enabled: false, otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } }, applications: [] },
    totp: {
      enabled: true,
      pairingDisabled: false,
      otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } },
      uriParameters: { issuer: 'OpenMFA' },
    },
    fido2: fido2Section(),
    pingIdDesktopGen2: {
      enabled: true,
      pairingDisabled: false,
      otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } },
      pairingKeyLifetime: { duration: 10, timeUnit: 'MINUTES' },
    },
    oathToken: defaultOathTokenSection(),
  };
}
export type PolicyBody = ReturnType<typeof defaultPolicyBody>;

export const defaultMfaSettings = () => ({
  pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'ALPHANUMERIC' },
  lockout: { failureCount: 5, durationSeconds: 600 },
  phoneExtensions: { enabled: false },
  users: { mfaEnabled: true },
});
export type MfaSettingsBody = ReturnType<typeof defaultMfaSettings>;

export async function onEnvironmentCreated(ctx: Context, trx: Db, environmentId: string): Promise<void> {
  const now = ctx.clock.now();
  const body = defaultPolicyBody();
  await trx.insertInto('device_authentication_policies').values({
    id: newId(), environment_id: environmentId, name: body.name, is_default: 1, body: JSON.stringify(body), created_at: now, updated_at: now,
  }).execute();
  await trx.insertInto('mfa_settings').values({ environment_id: environmentId, body: JSON.stringify(defaultMfaSettings()), updated_at: now }).execute();
  await createDefaultFido2Policy(ctx, trx, environmentId, now);
}
