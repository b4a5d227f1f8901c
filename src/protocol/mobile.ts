/**
 * The OpenMFA mobile protocol's fixed values (docs/mobile-protocol.md),
 * shared by the server (src/devices/mobile/) and the mobile authenticator (src/testing/).
 */
export const TYP = {
  pairing: 'openmfa-mobile-pairing+jwt',
  request: 'openmfa-mobile-request+jwt',
  response: 'openmfa-mobile-response+jwt',
  logs: 'openmfa-mobile-logs+jwt',
} as const;

/** `iss` of the pairing JWT. */
export const MOBILE_ISSUER = 'openmfa-mobile';
export const CLOCK_SKEW_S = 60;
/** The longest a device JWT may live (exp − iat): pairing +5 min, every other +60 s. */
export const PAIRING_JWT_LIFETIME_S = 5 * 60;
export const REQUEST_JWT_LIFETIME_S = 60;
/** The scheme of the push channel's Authorization header. */
export const DEVICE_AUTH_SCHEME = 'OpenMFA-Device';
/** Longest hold of the push channel (mobile-protocol §2). */
export const MAX_WAIT_S = 25;
/** The largest log upload (mobile-protocol §4). */
export const MAX_LOGS_BYTES = 1024 * 1024;
/** Pairing-key formats (mfaSettings.pairing.pairingKeyFormat): NUMERIC 12 digits, ALPHANUMERIC 16 characters without 0, 1, I, O. */
export const PAIRING_ALPHABETS = { NUMERIC: '0123456789', ALPHANUMERIC: '23456789ABCDEFGHJKLMNPQRSTUVWXYZ' } as const;
export const PAIRING_LENGTHS = { NUMERIC: 12, ALPHANUMERIC: 16 } as const;
/**
 * The first characters of a code name the bucket a guess is counted against (the code itself
 * is stored hashed): a wrong code spends an attempt of every live key of its bucket, so a key
 * takes at most five guesses, whoever makes them.
 */
export const LOCATOR_LENGTH = 4;
export const PAIRING_MAX_FAILURES = 5;
