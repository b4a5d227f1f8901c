/** The device types this server implements, by `type`. */
import type { DeviceKind } from './kind.js';
import type { DeviceType } from './model.js';
import { pingIdDesktop } from './pingid-desktop/kind.js';

export const kinds: Record<DeviceType, DeviceKind> = {
  PINGID_DESKTOP_GEN2: pingIdDesktop,
};
