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
import { bypassActive } from '../platform/user-mfa.js';
import type { PolicyBody } from '../policies/defaults.js';
import type { DeviceAuthenticationsTable, EnvironmentsTable, UsersTable } from '../store/schema.js';
import { assertUserEnabled } from './enabled-user.js';
import { FLOW_LIFETIME_MS, presentFlow } from './model.js';
import { startMethod } from './start.js';

export const FlowInput = Type.Object({
  user: IdRef(),
  policy: Type.Optional(IdRef()),
}, { additionalProperties: false });

/**
 * What the user's MFA flags (wave-2 reference §5, §7.1; the semantics of the two policy flags
 * are ours, README decisions) make of a device authentication, before any device is looked at:
 * an active bypass (`bypassMFAEnabledUntil` later than now) completes it; so does `mfaEnabled:
 * false`, unless the policy's `blockUsersWithDisabledMfa` refuses such users — which an active
 * bypass still overrides unless `bypassBlockedWhenMfaDisabled`. `undefined`: ask for a device.
 */
export function userMfaOutcome(user: UsersTable, policy: PolicyBody, now: number): 'USER_BYPASS' | 'MFA_DISABLED' | undefined {
  const bypass = bypassActive(user, now);
  if (user.mfa_enabled !== 1 && policy.blockUsersWithDisabledMfa && !(bypass && !policy.bypassBlockedWhenMfaDisabled)) {
    throw requestFailed({ code: 'ACCOUNT_NOT_USABLE', target: 'user.id', message: 'MFA is disabled for the user (mfaEnabled: false) and the policy blocks such users' });
  }
  if (bypass) return 'USER_BYPASS';
  if (user.mfa_enabled !== 1) return 'MFA_DISABLED';
  return undefined;
}

/** The body was validated (FlowInput) by the route. */
export async function createFlow(ctx: Context, { environment, body, now }: { environment: EnvironmentsTable; body: Static<typeof FlowInput>; now: number }) {
  const { store } = ctx;
  // An ID of another environment's user is "not found", as everywhere (quality bar S5).
  const user = await findUser(store.db, environment.id, body.user.id);
  if (!user) throw notFound();
  assertUserEnabled(user);
  const policy = await resolvePolicy(store.db, environment.id, body.policy?.id);
  const bypass = userMfaOutcome(user, policy.body, now);
  const devices = await listDevices(store.db, environment.id, user.id);
  if (bypass) {
    // Completed at once: no device is asked for, none is selected, nothing is sent.
    const done = newFlow(environment.id, user.id, policy.id, now, { status: 'COMPLETED', bypass });
    await store.db.insertInto('device_authentications').values(done).execute();
    return presentFlow(ctx, done, devices, undefined);
  }
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

  const flow = newFlow(environment.id, user.id, policy.id, now);
  await store.db.insertInto('device_authentications').values(flow).execute();
  if (!chosen) return presentFlow(ctx, flow, devices, undefined);
  const started = await startMethod(ctx, { environment, user, flow, device: chosen, policy, now });
  return presentFlow(ctx, started.row, devices, undefined, started.shownOnce, await pushNumberOf(ctx, started.row, now));
}

function newFlow(environmentId: string, userId: string, policyId: string, now: number, end?: { status: string; bypass: string }): DeviceAuthenticationsTable {
  return {
    id: newId(),
    environment_id: environmentId,
    user_id: userId,
    policy_id: policyId,
    status: end?.status ?? 'DEVICE_SELECTION_REQUIRED',
    selected_device_id: null,
    challenge_hash: null,
    challenge_expires_at: null,
    error: null,
    bypass: end?.bypass ?? null,
    expires_at: now + FLOW_LIFETIME_MS,
    created_at: now,
    updated_at: now,
  };
}
