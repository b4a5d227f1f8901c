/**
 * POST {authPath}/{envID}/deviceAuthentications (reference §3.5): starts a flow for a user.
 * Which device: the policy's `authentication.deviceSelection` over the user's device order —
 * DEFAULT_TO_FIRST takes the first usable device in order, PROMPT_TO_SELECT asks when there is
 * more than one, ALWAYS_DISPLAY_DEVICES always asks, and a user whose order was removed (no
 * default device) is always asked. Blocked devices are listed apart and never chosen; a
 * locked device cannot be chosen until its lock ends.
 */
import { Type, type Static } from 'typebox';
import type { Context } from '../context.js';
import { newId } from '../crypto/random.js';
import { ACTIVE } from '../devices/model.js';
import { listDevices, unusable } from '../devices/store.js';
import { pushNumberOf } from '../devices/mobile/flow.js';
import { notFound, requestFailed } from '../http/errors.js';
import { IdRef } from '../http/schemas.js';
import { resolvePolicy } from '../policies/model.js';
import { findUser } from '../platform/users.js';
import type { DeviceAuthenticationsTable, EnvironmentsTable } from '../store/schema.js';
import { assertUserEnabled } from './enabled-user.js';
import { FLOW_LIFETIME_MS, presentFlow } from './model.js';
import { startMethod } from './start.js';

export const FlowInput = Type.Object({
  user: IdRef(),
  policy: Type.Optional(IdRef()),
}, { additionalProperties: false });

/** The body was validated (FlowInput) by the route. */
export async function createFlow(ctx: Context, { environment, body, now }: { environment: EnvironmentsTable; body: Static<typeof FlowInput>; now: number }) {
  const { store } = ctx;
  // An ID of another environment's user is "not found", as everywhere (quality bar S5).
  const user = await findUser(store.db, environment.id, body.user.id);
  if (!user) throw notFound();
  assertUserEnabled(user);
  const policy = await resolvePolicy(store.db, environment.id, body.policy?.id);
  const devices = await listDevices(store.db, environment.id, user.id);
  // A locked device is a candidate (it is listed, and a prompt waits for its lock to end) but not usable now.
  const problems = new Map(devices.map((d) => [d, unusable(d, ACTIVE, now)]));
  const candidates = devices.filter((d) => problems.get(d) === undefined || problems.get(d) === 'locked');
  if (candidates.length === 0) {
    throw requestFailed({ code: 'NO_USABLE_DEVICES', target: 'user.id', message: 'The user has no active, unblocked device' });
  }
  const usable = candidates.filter((d) => problems.get(d) === undefined);
  const mode = policy.body.authentication?.deviceSelection ?? 'DEFAULT_TO_FIRST';
  const chosen = user.device_order === 'NONE' || mode === 'ALWAYS_DISPLAY_DEVICES' ? undefined
    : mode === 'PROMPT_TO_SELECT' ? (candidates.length === 1 ? usable[0] : undefined)
      : usable[0];

  const flow: DeviceAuthenticationsTable = {
    id: newId(),
    environment_id: environment.id,
    user_id: user.id,
    policy_id: policy.id,
    status: 'DEVICE_SELECTION_REQUIRED',
    selected_device_id: null,
    challenge_hash: null,
    challenge_expires_at: null,
    error: null,
    expires_at: now + FLOW_LIFETIME_MS,
    created_at: now,
    updated_at: now,
  };
  await store.db.insertInto('device_authentications').values(flow).execute();
  if (!chosen) return presentFlow(ctx, flow, devices, undefined);
  const started = await startMethod(ctx, { environment, user, flow, device: chosen, policy, now });
  return presentFlow(ctx, started.row, devices, undefined, started.shownOnce, await pushNumberOf(ctx, started.row, now));
}
