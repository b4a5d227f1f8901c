/** The device types this server implements, by `type`. */
import { fido2 } from './fido2/kind.js';
import type { DeviceKind } from './kind.js';
import type { DeviceType } from './model.js';
import { mobile } from './mobile/kind.js';
import { oathToken } from './oath-token/kind.js';
import { offlineKind } from './otp/kind.js';
import { pingIdDesktop } from './pingid-desktop/kind.js';
import { totp } from './totp/kind.js';

export const kinds: Record<DeviceType, DeviceKind> = {
  EMAIL: offlineKind('EMAIL'),
  SMS: offlineKind('SMS'),
  VOICE: offlineKind('VOICE'),
  WHATSAPP: offlineKind('WHATSAPP'),
  TOTP: totp,
  PINGID_DESKTOP_GEN2: pingIdDesktop,
  FIDO2: fido2,
  MOBILE: mobile,
  OATH_TOKEN: oathToken,
};
