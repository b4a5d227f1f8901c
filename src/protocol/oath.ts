/**
 * The default `oathToken` section of a device authentication policy (wave-2 reference §4.3):
 * PingOne's 3 failures and 2-minute cool-down, but enabled, as every method OpenMFA supports
 * is. `otp.window` is OpenMFA's (PingOne states no window): how many counter values past the
 * expected one an HOTP code may be, and how many time steps either side of the token's
 * (drift-corrected) step a TOTP code may be. Here, below the store, so that migration 011 can
 * give it to the policies stored before it.
 */
export const defaultOathTokenSection = () => ({
  enabled: true,
  pairingDisabled: false,
  promptForNicknameOnPairing: false,
  otp: {
    failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } },
    window: { hotpLookAhead: 10, totpSteps: 1 },
  },
});
