/**
 * The device resource (reference §2): its response schema, and how a stored row is shown.
 * Lock and block are sub-objects beside `status`, never statuses (§6.1); a lock ends by
 * itself when its time has passed, so it is computed at read time from `locked_until`.
 * The public key, challenge hashes and sealed secrets are never part of a response: the
 * schema does not declare them, and the serializer drops what a schema does not declare.
 */
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { link, type Links } from '../http/links.js';
import { IdRef, Links as LinksSchema, Ref, Timestamp, inOrder } from '../http/schemas.js';
import { parseStored } from '../http/validation.js';
import type { DevicesTable } from '../store/schema.js';

export const DEVICE_TYPES = ['EMAIL', 'SMS', 'VOICE', 'WHATSAPP', 'TOTP', 'PINGID_DESKTOP_GEN2', 'FIDO2', 'OATH_TOKEN', 'MOBILE'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];
export const ACTIVE = 'ACTIVE';
export const ACTIVATION_REQUIRED = 'ACTIVATION_REQUIRED';

/**
 * The public members of an active FIDO2 device (wave-2 reference §1.6); never its public key.
 * In the order of PingOne's FIDO2 examples (§1.6, reference §2.4).
 */
const Fido2Shown = {
  attributes: Type.Optional(Type.Object({
    transports: Type.Optional(Type.Array(Type.String())),
    isCrossPlatform: Type.Optional(Type.Boolean()),
    isResidentKey: Type.Optional(Type.Boolean()),
  })),
  credentialId: Type.Optional(Type.String()),
  fidoRegistrationArtifacts: Type.Optional(Type.Object({ attestationType: Type.String() })),
  backup: Type.Optional(Type.Object({ backupEligibility: Type.Boolean(), backupState: Type.Boolean() })),
  fidoDeviceMetadata: Type.Optional(Type.Object({ mdsIdentifier: Type.String() })),
  displayName: Type.Optional(Type.String()),
};

/** The members of a MOBILE device beside the common ones (wave-2 reference §3.3; mobile-protocol §1). */
const MobileShown = {
  sdkVersion: Type.Optional(Type.String()),
  apiVersion: Type.Optional(Type.String()),
  allowPushNotification: Type.Optional(Type.Boolean()),
  notificationProvider: Type.Optional(Type.String()),
  otpStatus: Type.Optional(Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) })),
  deviceIntegrityState: Type.Optional(Type.Object({ compromised: Type.String(), timestamp: Type.Integer() })),
  pushFails: Type.Optional(Type.Array(Type.Integer())),
};

/**
 * The serializer writes members in this order, so this is the order of every device body,
 * PingOne's: the seed document's for PingID Desktop (`_links, rp, id, environment, user, type,
 * nickname, lock, block, status, createdAt, updatedAt, os, model, application, unitId`), the
 * reference's SMS example for the others (`…, updatedAt, phone, testMode`), FIDO2's members in
 * the order of its examples. test/devices/key-order.test.ts compares the text.
 */
export const DeviceSchema = inOrder(Type.Object({
  _links: LinksSchema,
  rp: Type.Optional(Type.Object({ id: Type.String(), name: Type.String() })),
  id: Type.String(),
  environment: Ref,
  user: Ref,
  type: Type.String(),
  nickname: Type.Optional(Type.String()),
  lock: Type.Object({ status: Type.String(), expiresAt: Type.Optional(Timestamp) }),
  block: Type.Object({ status: Type.String(), blockedAt: Type.Optional(Timestamp) }),
  status: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  os: Type.Optional(Type.Object({ version: Type.Optional(Type.String()), type: Type.Optional(Type.String()) })),
  model: Type.Optional(Type.Object({ name: Type.Optional(Type.String()), marketingName: Type.Optional(Type.String()) })),
  application: Type.Optional(Type.Object({
    id: Type.Optional(Type.String()), nativeName: Type.Optional(Type.String()), version: Type.Optional(Type.String()), pushSandbox: Type.Optional(Type.Boolean()),
  })),
  unitId: Type.Optional(Type.String()),
  phone: Type.Optional(Type.String()),
  email: Type.Optional(Type.String()),
  ...Fido2Shown,
  /** An OATH_TOKEN device's token (wave-2 reference §4.3). */
  serialNumber: Type.Optional(Type.String()),
  ...MobileShown,
  testMode: Type.Optional(Type.Boolean()),
}));

/**
 * Shown once: a test device's code, a TOTP seed and its `otpauth://` URI, a desktop pairing's
 * creation options. Declared only on the responses that issue them — device create (201) and
 * sendActivationCode (`test.otp`) — never on a read or a list, so that whatever a handler or
 * a row holds, the serializer (which writes declared members only) cannot put them there.
 */
const ShownOnceAtCreate = {
  test: Type.Optional(Type.Object({ otp: Type.String() })),
  secret: Type.Optional(Type.String()),
  keyUri: Type.Optional(Type.String()),
  pingIdDesktopCredentialCreationOptions: Type.Optional(Type.String()),
  /** Wave-2 reference §1.3: a JSON string, not an object. */
  publicKeyCredentialCreationOptions: Type.Optional(Type.String()),
};
export const SHOWN_ONCE_DEVICE_FIELDS = Object.keys(ShownOnceAtCreate);

/** The 201 of device create. */
export const CreatedDeviceSchema = inOrder(Type.Object({ ...DeviceSchema.properties, ...ShownOnceAtCreate }));
/** The 200 of POST …/devices/{id}: sendActivationCode is one of its actions and answers a test device's new code. */
export const DeviceActionSchema = inOrder(Type.Object({ ...DeviceSchema.properties, test: ShownOnceAtCreate.test }));

/** Public, type-specific fields kept as JSON in `devices.extra`. */
const O = Type.Optional;
/** What a device row keeps in `extra`: the members of its body that no column holds. */
export const DeviceExtraSchema = Type.Object({
  rp: O(Type.Object({ id: Type.String(), name: Type.String() })),
  os: O(Type.Object({ version: O(Type.String()), type: O(Type.String()) })),
  model: O(Type.Object({ name: O(Type.String()), marketingName: O(Type.String()) })),
  application: O(Type.Object({ id: O(Type.String()), nativeName: O(Type.String()), version: O(Type.String()), pushSandbox: O(Type.Boolean()) })),
  unitId: O(Type.String()),
  phone: O(Type.String()),
  email: O(Type.String()),
  testMode: O(Type.Boolean()),
  displayName: O(Type.String()),
  credentialId: O(Type.String()),
  attributes: O(Type.Object({ transports: O(Type.Array(Type.String())), isCrossPlatform: O(Type.Boolean()), isResidentKey: O(Type.Boolean()) })),
  backup: O(Type.Object({ backupEligibility: Type.Boolean(), backupState: Type.Boolean() })),
  fidoDeviceMetadata: O(Type.Object({ mdsIdentifier: Type.String() })),
  fidoRegistrationArtifacts: O(Type.Object({ attestationType: Type.String() })),
  serialNumber: O(Type.String()),
  /** Never shown: the last signature-counter regression of a FIDO2 credential (devices/store.ts recordSignCountRegression). */
  signCounterRegression: O(Type.Object({ detectedAt: Type.Number(), storedCounter: Type.Number(), receivedCounter: Type.Number(), count: Type.Integer() })),
  sdkVersion: O(Type.String()),
  apiVersion: O(Type.String()),
  allowPushNotification: O(Type.Boolean()),
  notificationProvider: O(Type.String()),
  otpStatus: O(Type.Object({ status: Type.String(), reason: O(Type.String()) })),
  /** The integrity verdict at pairing (devices/mobile/integrity.ts). */
  deviceIntegrityState: O(Type.Object({ compromised: Type.String(), timestamp: Type.Integer() })),
});
export type DeviceExtra = Static<typeof DeviceExtraSchema>;

export const extraOf = (row: Pick<DevicesTable, 'extra'>): DeviceExtra => parseStored(DeviceExtraSchema, row.extra, 'device extra');

/** The public fields of `extra` that a device and a flow's device summary both show, each only when set. */
export function shownExtra(extra: DeviceExtra) {
  return {
    ...(extra.os ? { os: extra.os } : {}),
    ...(extra.model ? { model: extra.model } : {}),
    ...(extra.application ? { application: extra.application } : {}),
    ...(extra.unitId ? { unitId: extra.unitId } : {}),
    ...(extra.phone ? { phone: extra.phone } : {}),
    ...(extra.email ? { email: extra.email } : {}),
    ...(extra.attributes ? { attributes: extra.attributes } : {}),
    ...(extra.credentialId !== undefined ? { credentialId: extra.credentialId } : {}),
    ...(extra.fidoRegistrationArtifacts ? { fidoRegistrationArtifacts: extra.fidoRegistrationArtifacts } : {}),
    ...(extra.backup ? { backup: extra.backup } : {}),
    ...(extra.fidoDeviceMetadata ? { fidoDeviceMetadata: extra.fidoDeviceMetadata } : {}),
    ...(extra.displayName !== undefined ? { displayName: extra.displayName } : {}),
    ...(extra.serialNumber !== undefined ? { serialNumber: extra.serialNumber } : {}),
    ...(extra.sdkVersion !== undefined ? { sdkVersion: extra.sdkVersion } : {}),
    ...(extra.apiVersion !== undefined ? { apiVersion: extra.apiVersion } : {}),
    ...(extra.allowPushNotification !== undefined ? { allowPushNotification: extra.allowPushNotification } : {}),
    ...(extra.notificationProvider !== undefined ? { notificationProvider: extra.notificationProvider } : {}),
    ...(extra.otpStatus ? { otpStatus: extra.otpStatus } : {}),
    ...(extra.deviceIntegrityState ? { deviceIntegrityState: extra.deviceIntegrityState } : {}),
  };
}

const PushFails = Type.Array(Type.Integer());
/** A MOBILE device's consecutive failed pushes (epoch ms), as stored by src/devices/mobile/push-fails.ts. */
export const pushFailsOf = (row: Pick<DevicesTable, 'push_fails'>): number[] =>
  row.push_fails ? parseStored(PushFails, row.push_fails, 'push fails') : [];

export function lockOf(row: Pick<DevicesTable, 'locked_until'>, now: number): { status: 'LOCKED'; expiresAt: string } | { status: 'UNLOCKED' } {
  return row.locked_until !== null && row.locked_until > now ? { status: 'LOCKED', expiresAt: iso(row.locked_until) } : { status: 'UNLOCKED' };
}

export const isLocked = (row: Pick<DevicesTable, 'locked_until'>, now: number): boolean => row.locked_until !== null && row.locked_until > now;

export function blockOf(row: Pick<DevicesTable, 'blocked_at'>): { status: 'BLOCKED'; blockedAt: string } | { status: 'UNBLOCKED' } {
  return row.blocked_at !== null ? { status: 'BLOCKED', blockedAt: iso(row.blocked_at) } : { status: 'UNBLOCKED' };
}

/**
 * What a device's representation reads of its row (presentDevice), with what its list's order
 * and filters read (store.ts listShownDevices): never a secret, key or challenge column. The
 * GETs of a device and of a list select only these (quality bar P1, P1b).
 */
export const SHOWN_COLUMNS = ['id', 'type', 'status', 'nickname', 'extra', 'locked_until', 'blocked_at', 'order_position', 'activated_at', 'created_at', 'updated_at', 'push_fails'] as const;
/** A row as the GETs read it: the shown columns, and the environment and user they were asked for. */
export type ShownDevice = Pick<DevicesTable, (typeof SHOWN_COLUMNS)[number] | 'environment_id' | 'user_id'>;

export function deviceLinks(ctx: Context, row: Pick<DevicesTable, 'id' | 'environment_id' | 'user_id' | 'status'>): Links {
  const self = ctx.links.device(row.environment_id, row.user_id, row.id);
  const links: Links = {
    self: link(self),
    environment: link(ctx.links.environment(row.environment_id)),
    user: link(ctx.links.user(row.environment_id, row.user_id)),
  };
  // Reference §2.1: a pending device carries its activate link.
  if (row.status === ACTIVATION_REQUIRED) links.activate = link(self);
  return links;
}

/** The device as PingOne shows it (the seed document's shape for PingID Desktop). */
export function presentDevice(ctx: Context, row: ShownDevice) {
  const extra = extraOf(row);
  return {
    _links: deviceLinks(ctx, row),
    ...(extra.rp ? { rp: extra.rp } : {}),
    id: row.id,
    environment: { id: row.environment_id },
    user: { id: row.user_id },
    type: row.type,
    ...(row.nickname !== null ? { nickname: row.nickname } : {}),
    lock: lockOf(row, ctx.clock.now()),
    block: blockOf(row),
    status: row.status,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    ...shownExtra(extra),
    ...(extra.testMode ? { testMode: true } : {}),
    ...(row.type === 'MOBILE' ? { pushFails: pushFailsOf(row) } : {}),
  };
}

/** The body of POST …/users/{userID}/devices (create.ts); the device kinds read it too. */
export const DeviceCreateInput = Type.Object({
  type: Type.Enum(DEVICE_TYPES),
  status: Type.Optional(Type.Enum(['ACTIVE', 'ACTIVATION_REQUIRED'])),
  nickname: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  policy: Type.Optional(Type.Object({ id: IdRef().properties.id, type: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false })),
  phone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  testMode: Type.Optional(Type.Boolean()),
  rp: Type.Optional(Type.Object({
    id: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]-]+$' }),
    name: Type.String({ minLength: 1, maxLength: 256 }),
  }, { additionalProperties: false })),
  /** OATH_TOKEN: the serial number of an imported, unpaired token (wave-2 reference §4.3). */
  serialNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
}, { additionalProperties: false });
export type DeviceCreateInput = Static<typeof DeviceCreateInput>;
