/** The TOTP seed is sealed under the master key, bound to its device. */
import type { SecretBox } from '../../crypto/secretbox.js';

const context = (deviceId: string) => `totp_secret:${deviceId}`;
export const sealTotpSecret = (box: SecretBox, deviceId: string, secret: string): string => box.seal(secret, context(deviceId));
export const openTotpSecret = (box: SecretBox, deviceId: string, sealed: string): string => box.open(sealed, context(deviceId));
