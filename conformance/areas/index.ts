/**
 * Every area, in the order they run: the platform first (the run's population and policies
 * are what the device areas use), then devices of every type, then the cross-cutting checks.
 * A new area is one file here and one line below.
 */
import type { Area } from '../runner.js';
import type { Credentials } from '../token.js';
import { tokenArea } from './token.js';
import { environments, populations, users } from './platform.js';
import { mfaSettings } from './mfa-settings.js';
import { deviceAuthenticationPolicies, fido2Policies } from './policies.js';
import { emailDevices, smsDevices, voiceDevices, whatsAppDevices } from './devices-otp.js';
import { totpDevices } from './devices-totp.js';
import { desktopDevices } from './devices-desktop.js';
import { fido2Devices } from './devices-fido2.js';
import { errors } from './errors.js';
import { paging } from './paging.js';
import { contentTypes } from './content-types.js';
import { deviceAuthentications } from './device-authentications.js';
import { userMfa } from './user-mfa.js';
import { pairingKeys } from './pairing-keys.js';
import { oathTokens } from './oath-tokens.js';

export function areas(credentials: Credentials): Area[] {
  return [
    tokenArea(credentials), environments, populations, users, mfaSettings, fido2Policies, deviceAuthenticationPolicies,
    emailDevices, smsDevices, voiceDevices, whatsAppDevices, totpDevices, desktopDevices, fido2Devices,
    deviceAuthentications, errors, paging, contentTypes, userMfa, oathTokens, pairingKeys,
  ];
}
