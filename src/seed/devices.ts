/**
 * A seed file's device, made by the device create (devices/create.ts) with its own checks,
 * policy and device limit, and changed only where a seed says more than the API can: a TOTP
 * device's seed is the file's `secret` (sealed as every TOTP seed, devices/totp/secret.ts),
 * and a PingID Desktop device given `publicJwk` and `credentialId` is stored as the
 * activation stores an attested credential (protocol §1.3 step 8): ACTIVE, no pairing left.
 * A MOBILE device, which no create makes, is stored as pairing stores it (devices/mobile/
 * device-row.ts), with the policy's eligibility rules and the device limit of pairing.
 */
import type { Context } from '../context.js';
import { importPublicEcJwk } from '../crypto/jws.js';
import { ApiError, invalidValue, maxDevicesReached, notFound, under } from '../http/errors.js';
import { createDevice, type CreateOptions } from '../devices/create.js';
import type { PreparedDevice } from '../devices/kind.js';
import { ACTIVATION_REQUIRED, ACTIVE, type DeviceCreateInput } from '../devices/model.js';
import { sealTotpSecret } from '../devices/totp/secret.js';
import { pairedDeviceRow } from '../devices/mobile/device-row.js';
import { integrityVerdict } from '../devices/mobile/integrity.js';
import { pairableApplications } from '../devices/mobile/pairing-keys.js';
import { entryFor } from '../devices/mobile/policy.js';
import { addDevice } from '../devices/store.js';
import { requireUser } from '../platform/users.js';
import { mfaSettings, resolvePolicy } from '../policies/model.js';
import type { Db } from '../store/db.js';
import type { EnvironmentsTable } from '../store/schema.js';
import type { SeedDevice } from './format.js';
import { nameBasedId } from './ids.js';

const DESKTOP_ONLY = ['credentialId', 'publicJwk', 'unitId', 'os', 'model', 'application'] as const;
const MOBILE_TAKES = ['id', 'type', 'status', 'nickname', 'policy', 'publicJwk', 'secret', 'pairing'] as const;

export type DeviceOutcome = 'created' | 'unchanged';

/**
 * The device at `at` (`…users[1].devices[3]`) of user `userId`: left as it is when its ID
 * (given, or named after its user and place in the list) is stored already, else made.
 */
export async function seedDevice(ctx: Context, environment: EnvironmentsTable, userId: string, index: number, device: SeedDevice, at: string): Promise<DeviceOutcome> {
  const db: Db = ctx.store.db;
  const id = device.id ?? nameBasedId(`${environment.id}/users/${userId}/devices/${index}`);
  const stored = await db.selectFrom('devices').select(['environment_id', 'user_id', 'type']).where('id', '=', id).executeTakeFirst();
  if (stored) {
    if (stored.environment_id !== environment.id || stored.user_id !== userId) throw invalidValue(`${at}.id`, 'This ID belongs to a device of another user', 'UNIQUENESS_VIOLATION');
    if (stored.type !== device.type) {
      throw invalidValue(`${at}.type`, `The device stored for this place in the list is ${stored.type}; give each device an id when the list is reordered`);
    }
    return 'unchanged';
  }
  const request = device.type === 'MOBILE' ? undefined : createRequest(ctx, device, at);
  try {
    if (request === undefined) await seedMobile(ctx, environment, userId, id, device);
    else await createDevice(ctx, { environment, userId, body: request.body, now: ctx.clock.now() }, { ...request.options, deviceId: id });
  } catch (e) {
    if (e instanceof ApiError) throw under(at, e);
    throw e;
  }
  return 'created';
}

/** The create body, and the change a seed makes to the prepared row; refuses members the type does not take. */
function createRequest(ctx: Context, device: SeedDevice, at: string): { body: DeviceCreateInput; options: CreateOptions } {
  const { id: _id, secret, credentialId, publicJwk, unitId, os, model, application, pairing, ...body } = device;
  if (secret !== undefined && device.type !== 'TOTP') throw invalidValue(`${at}.secret`, 'secret is taken for TOTP and MOBILE devices only');
  if (pairing !== undefined) throw invalidValue(`${at}.pairing`, 'pairing is taken for MOBILE devices only');
  if (device.type !== 'PINGID_DESKTOP_GEN2') {
    const extra = DESKTOP_ONLY.find((k) => device[k] !== undefined);
    if (extra !== undefined) throw invalidValue(`${at}.${extra}`, `${extra} is taken for PINGID_DESKTOP_GEN2 devices only`);
  }

  if (device.type === 'TOTP') {
    if (secret === undefined) throw invalidValue(`${at}.secret`, 'A TOTP device in a seed file needs its secret (base32)', 'REQUIRED_VALUE');
    const base32 = secret.toUpperCase().replace(/=+$/, '');
    const adjust = (prepared: PreparedDevice, deviceId: string): PreparedDevice => {
      const { shownOnce: _shown, ...rest } = prepared;
      return { ...rest, secretSealed: sealTotpSecret(ctx.box, deviceId, base32) };
    };
    return { body, options: { adjust } };
  }

  if (device.type !== 'PINGID_DESKTOP_GEN2') return { body, options: {} };

  const status = device.status ?? (publicJwk !== undefined ? ACTIVE : ACTIVATION_REQUIRED);
  if (status === ACTIVATION_REQUIRED) {
    const extra = DESKTOP_ONLY.find((k) => device[k] !== undefined);
    if (extra !== undefined) throw invalidValue(`${at}.${extra}`, `${extra} describes a paired device: leave it out of a device in ACTIVATION_REQUIRED`);
    return { body: { ...body, status }, options: {} };
  }
  if (publicJwk === undefined) throw invalidValue(`${at}.publicJwk`, 'An ACTIVE PINGID_DESKTOP_GEN2 device needs the public key it was paired with', 'REQUIRED_VALUE');
  if (credentialId === undefined) throw invalidValue(`${at}.credentialId`, 'An ACTIVE PINGID_DESKTOP_GEN2 device needs its credential ID (the kid of its assertions)', 'REQUIRED_VALUE');
  const key = importPublicEcJwk(publicJwk);
  if (!key.ok) throw invalidValue(`${at}.publicJwk`, `publicJwk is not acceptable: ${key.reason}`);
  const paired = { ...(os ? { os } : {}), ...(model ? { model } : {}), ...(application ? { application } : {}), ...(unitId ? { unitId } : {}) };
  // The type's own checks (rp.id, policy) run on a pending create; the pairing is then done.
  const adjust = (prepared: PreparedDevice): PreparedDevice => {
    const { shownOnce: _shown, ...rest } = prepared;
    return { ...rest, status: ACTIVE, challengeHash: null, challengeExpiresAt: null, extra: { ...prepared.extra, ...paired }, credentialId, publicJwk: JSON.stringify(key.jwk) };
  };
  return { body: { ...body, status: ACTIVATION_REQUIRED }, options: { adjust } };
}

/**
 * A phone already paired (mobile-protocol §1): `publicJwk` its device key, `secret` its offline
 * seed (base32), `pairing` what its pairing JWT said — the application (one the policy's mobile
 * section lists and keeps open to pairing; the only one when left out) and the device metadata.
 * ACTIVE only: a MOBILE device exists once paired. The integrity rule of pairing applies.
 * Targets are the device's own (seedDevice puts them under its path).
 */
async function seedMobile(ctx: Context, environment: EnvironmentsTable, userId: string, id: string, device: SeedDevice): Promise<void> {
  const extra = (Object.keys(device) as Array<keyof SeedDevice>).find((k) => !(MOBILE_TAKES as readonly string[]).includes(k) && device[k] !== undefined);
  if (extra !== undefined) throw invalidValue(extra, `${extra} is not taken for MOBILE devices (the pairing member holds what the phone says)`);
  if (device.status !== undefined && device.status !== ACTIVE) throw invalidValue('status', 'A MOBILE device in a seed file is a paired phone: ACTIVE');
  if (device.publicJwk === undefined) throw invalidValue('publicJwk', 'A MOBILE device needs the public device key it paired with', 'REQUIRED_VALUE');
  if (device.secret === undefined) throw invalidValue('secret', 'A MOBILE device needs its offline OTP seed (base32)', 'REQUIRED_VALUE');
  if (device.pairing === undefined) throw invalidValue('pairing', 'A MOBILE device needs pairing: {application?, device: {os, sdkVersion, …}}', 'REQUIRED_VALUE');
  const key = importPublicEcJwk(device.publicJwk);
  if (!key.ok) throw invalidValue('publicJwk', `publicJwk is not acceptable: ${key.reason}`);
  const { store } = ctx;
  const user = await requireUser(store.db, environment.id, userId);
  const policy = await resolvePolicy(store.db, environment.id, device.policy?.id);
  const named = device.pairing.application?.id;
  const { eligible } = await pairableApplications(store.db, environment.id, policy, named !== undefined ? [named] : undefined).catch((e: unknown) => {
    if (e instanceof ApiError) throw invalidValue('pairing.application.id', e.details?.[0]?.message ?? e.message);
    throw e;
  });
  const applicationId = named ?? (eligible.length === 1 ? eligible[0] : undefined);
  if (applicationId === undefined) throw invalidValue('pairing.application.id', 'The policy lists several native applications: name the one the phone paired for', 'REQUIRED_VALUE');
  const entry = entryFor(policy.body, applicationId);
  const now = ctx.clock.now();
  const integrity = integrityVerdict(entry, device.pairing.device.integrity, now);
  if (!integrity.ok) throw invalidValue('pairing.device.integrity', integrity.message);
  const row = pairedDeviceRow(ctx, {
    id, environmentId: environment.id, userId: user.id, policyId: policy.id, applicationId, entry,
    device: { ...device.pairing.device, ...(device.nickname !== undefined ? { nickname: device.nickname } : {}) },
    publicJwk: key.jwk, otpSeed: device.secret.toUpperCase().replace(/=+$/, ''), integrity: integrity.state, now,
  });
  const max = (await mfaSettings(store.db, environment.id)).pairing.maxAllowedDevices;
  const added = await addDevice(store, row, max);
  if (!added.ok) throw added.reason === 'limit' ? maxDevicesReached(added.max) : notFound();
}
