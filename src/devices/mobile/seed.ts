/** A MOBILE device's OTP seed (protocol "Actors and keys"): sealed under the master key, bound to its device. */
import type { SecretBox } from '../../crypto/secretbox.js';

const context = (deviceId: string) => `mobile_otp_seed:${deviceId}`;
export const sealMobileSeed = (box: SecretBox, deviceId: string, seed: string): string => box.seal(seed, context(deviceId));
export const openMobileSeed = (box: SecretBox, deviceId: string, sealed: string): string => box.open(sealed, context(deviceId));
