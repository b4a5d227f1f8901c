// The device types the console creates: one entry per type, with what the type select shows
// beside the type (`description`). `fields` are the create form's
// inputs the type needs (each named by its body member, so a validation error's target finds
// it); `activation` says whether an administrator may create it ACTIVE ('optional') or it
// always waits for its pairing ('always'); `activateWith` how an ACTIVATION_REQUIRED device is
// activated: a code sent to it, a code from the app, the desktop agent, WebAuthn, or (MOBILE) a
// pairing key the phone claims; `body` adds what the type's create body needs beyond those
// fields. A new type is a new entry here.

export const DEVICE_TYPES = [
  { type: 'EMAIL', description: 'a code by email', fields: ['email'], activation: 'optional', activateWith: 'sentCode' },
  { type: 'SMS', description: 'a code by text message', fields: ['phone'], activation: 'optional', activateWith: 'sentCode' },
  { type: 'VOICE', description: 'a code read out by phone call', fields: ['phone'], activation: 'optional', activateWith: 'sentCode' },
  { type: 'WHATSAPP', description: 'a code by WhatsApp message', fields: ['phone'], activation: 'optional', activateWith: 'sentCode' },
  { type: 'TOTP', description: 'an authenticator app', fields: [], activation: 'optional', activateWith: 'appCode' },
  {
    type: 'PINGID_DESKTOP_GEN2',
    description: 'paired with the desktop agent',
    fields: [],
    activation: 'always',
    activateWith: 'agent',
    // The agent's origin rule: it accepts this page's Origin only when its host is rp.id.
    body: () => ({ rp: { id: location.hostname, name: 'OpenMFA console' } }),
  },
  {
    type: 'FIDO2',
    description: 'a passkey or security key',
    fields: [],
    activation: 'always',
    activateWith: 'webauthn',
    // WebAuthn takes no IP address as an RP ID: a console opened at 127.0.0.1 names localhost.
    body: () => ({ rp: { id: /^[\d.]+$|^\[/.test(location.hostname) ? 'localhost' : location.hostname, name: 'OpenMFA console' } }),
  },
  // POST …/devices makes no MOBILE device (wave-2 reference §3.1): the form makes a pairing key
  // (pairing-keys.js), and the phone's pairing makes the device.
  { type: 'MOBILE', description: 'a phone app, paired with a pairing key', fields: [], activation: 'always', activateWith: 'pairingKey' },
  // An imported hardware token (oathJobs), by its serial number; activated with a code it shows.
  { type: 'OATH_TOKEN', description: 'a hardware token, by serial number', fields: ['serialNumber'], activation: 'optional', activateWith: 'tokenCode' },
];

export const deviceType = (type) => DEVICE_TYPES.find((t) => t.type === type);

/** How a device of `type` is activated (undefined for a type the console does not create). */
export const activateWith = (type) => deviceType(type)?.activateWith;
