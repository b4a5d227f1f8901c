/**
 * POST …/users/{userID}/devices (reference §5, §11.2). Order: the user exists (404); the type's
 * own checks and the policy allow it (400); then, in one transaction holding the user's row, the
 * device limit is checked, the device inserted and its pairing code queued — so parallel
 * creates cannot pass the limit together (quality bar R4), and no device exists without its code.
 */
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { maxDevicesReached, notFound } from '../http/errors.js';
import { mfaSettings, resolvePolicy } from '../policies/model.js';
import { requireUser } from '../platform/users.js';
import type { DevicesTable } from '../store/schema.js';
import type { PreparedDevice } from './kind.js';
import { presentDevice, type DeviceCreateInput } from './model.js';
import { kinds } from './kinds.js';
import type { UserDevicesInput } from './operation.js';
import { addDevice } from './store.js';


/**
 * What a seed file (src/seed/) adds to a create: a chosen device ID, and a change to the
 * prepared row after the type's own checks (a TOTP seed it gives, a desktop key already paired).
 */
export interface CreateOptions {
  deviceId?: string;
  adjust?: (prepared: PreparedDevice, deviceId: string) => PreparedDevice;
}

/** The body was validated (DeviceCreateInput) by the route. */
export async function createDevice(ctx: Context, { environment, userId, body, now }: UserDevicesInput & { body: DeviceCreateInput }, options: CreateOptions = {}) {
  const { store } = ctx;
  const user = await requireUser(store.db, environment.id, userId);
  const kind = kinds[body.type];
  const policy = await resolvePolicy(store.db, environment.id, body.policy?.id);
  const deviceId = options.deviceId ?? newId();
  const made = await kind.prepare({ ctx, environment, user, policy, body, deviceId, now });
  const prepared = options.adjust ? options.adjust(made, deviceId) : made;
  const settings = await mfaSettings(store.db, environment.id);

  const row: DevicesTable = {
    id: deviceId,
    environment_id: environment.id,
    user_id: user.id,
    type: body.type,
    status: prepared.status,
    nickname: prepared.nickname,
    policy_id: policy.id,
    extra: JSON.stringify(prepared.extra),
    secret_sealed: prepared.secretSealed ?? null,
    credential_id: prepared.credentialId ?? null,
    public_jwk: prepared.publicJwk ?? null,
    challenge_hash: prepared.challengeHash ?? null,
    challenge_expires_at: prepared.challengeExpiresAt ?? null,
    failed_attempts: 0,
    locked_until: null,
    blocked_at: null,
    order_position: null,
    activated_at: prepared.status === 'ACTIVE' ? now : null,
    last_otp_step: null,
    public_key_cose: null,
    sign_count: null,
    sign_count_flow_id: null,
    created_at: now,
    updated_at: now,
  };

  // The code is queued in the insert's transaction: past a daily limit the device is not made,
  // and a made device always has its message (R7).
  const added = await addDevice(store, row, settings.pairing.maxAllowedDevices, prepared.deliver);
  if (!added.ok) throw added.reason === 'limit' ? maxDevicesReached(added.max) : notFound();

  return { ...presentDevice(ctx, row), ...(prepared.shownOnce ?? {}) };
}
