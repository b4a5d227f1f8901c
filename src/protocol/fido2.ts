/**
 * FIDO2 values shared by the server's layers: the default FIDO2 policy every environment starts
 * with (wave-2 reference §2.2: every environment has one, which PingOne's console calls
 * "Passkeys"), used by environment creation (policies/fido2/defaults.ts) and by the migration
 * that gives existing environments theirs (store/migrations/008_fido2.ts).
 */
export function defaultFido2PolicyBody(relyingPartyId: string) {
  return {
    name: 'Passkeys',
    description: 'Passkeys and security keys (the environment default)',
    relyingPartyId,
    deviceDisplayName: 'Passkey',
    discoverableCredentials: 'REQUIRED',
    authenticatorAttachment: 'BOTH',
    userVerification: { enforceDuringAuthentication: true, option: 'REQUIRED' },
    userPresenceTimeout: { duration: 2, timeUnit: 'MINUTES' },
    backupEligibility: { enforceDuringAuthentication: false, allow: true },
    userDisplayNameAttributes: { attributes: [{ name: 'username' }, { name: 'email' }] },
    attestationRequirements: 'NONE',
    mdsAuthenticatorsRequirements: { enforceDuringAuthentication: false, option: 'NONE' },
    aggregateDevices: false,
  } as const;
}

/**
 * `compatibility` of device.select and assertion.check (wave-2 reference §1.5, §7.2): Ping's
 * `getCompatibility()` answers FULL, SECURITY_KEY_ONLY or NONE; FV's copy of the helper answers
 * FIDO2_ONLY for the second, so both are taken.
 */
export const COMPATIBILITY = ['FULL', 'SECURITY_KEY_ONLY', 'FIDO2_ONLY', 'NONE'] as const;
