/**
 * POST {authPath}/{envID}/deviceAuthentications/{id}: the actions, chosen by Content-Type.
 * For the two checks the order is: the flow exists (404); its user is enabled (400 on
 * `user.id`, enabled-user.ts — select checks it too); it has not ended (400 REQUEST_FAILED on
 * `status`); it waits for this kind of proof (400); its device is still active, unblocked,
 * unlocked (400 on `selectedDevice`); the body (400 INVALID_DATA); the proof — whose failure
 * counts toward the device's lock; then one conditional UPDATE completes the flow, so a proof
 * is used once however many requests carry it.
 */
import { sql, type ExpressionBuilder } from 'kysely';
import { Type } from 'typebox';
import type { Context } from '../context.js';
import { clearAttempts, releaseAttempt, reserveAttemptWhile } from '../devices/attempts.js';
import type { ProofSpend } from '../devices/kind.js';
import { kinds } from '../devices/kinds.js';
import { ACTIVE, isLocked, lockOf, type DeviceType } from '../devices/model.js';
import { findDevice, listDevices, stillUsable, unusable } from '../devices/store.js';
import { ApiError, invalidValue, notFound, requestFailed } from '../http/errors.js';
import { validateBody } from '../http/validation.js';
import { failureRule, policyForDevice } from '../policies/model.js';
import { requireUser } from '../platform/users.js';
import { COMPATIBILITY } from '../protocol/fido2.js';
import type { Db } from '../store/db.js';
import type { Database, DeviceAuthenticationsTable, DevicesTable, EnvironmentsTable } from '../store/schema.js';
import { requireEnabledUser } from './enabled-user.js';
import { PUSH_REQUIRED, TERMINAL, effective, presentFlow } from './model.js';
import { pushNumberOf } from '../devices/mobile/flow.js';
import { withdrawPushes } from '../devices/mobile/kind.js';
import { startMethod } from './start.js';

/** What a flow action is given: plain values the route handler unpacked from the request. */
export interface FlowAction {
  environment: EnvironmentsTable;
  flowId: string;
  body: unknown;
  now: number;
}

export const SelectBody = Type.Object({
  device: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  compatibility: Type.Optional(Type.Enum(COMPATIBILITY)),
}, { additionalProperties: false });
export const OtpCheckBody = Type.Object({ otp: Type.String({ minLength: 1, maxLength: 10, pattern: '^[0-9]{6,10}$' }) }, { additionalProperties: false });
export const AssertionCheckBody = Type.Object({
  origin: Type.String({ minLength: 1, maxLength: 2048 }),
  assertion: Type.String({ minLength: 1, maxLength: 8192 }),
  compatibility: Type.Optional(Type.Enum(COMPATIBILITY)),
}, { additionalProperties: false });
export const CancelInput = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const CancelBody = Type.Union([Type.Undefined(), CancelInput]);

export async function loadFlow(ctx: Context, { environment, flowId: id }: Pick<FlowAction, 'environment' | 'flowId'>): Promise<DeviceAuthenticationsTable> {
  const row = id.length > 64 ? undefined : await ctx.store.db.selectFrom('device_authentications').selectAll()
    .where('environment_id', '=', environment.id).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound();
  return row;
}

function requireOpen(row: DeviceAuthenticationsTable, now: number): void {
  const { status } = effective(row, now);
  if (TERMINAL.has(status)) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device authentication is ${status}; it takes no more actions` });
}

async function show(ctx: Context, row: DeviceAuthenticationsTable, shownOnce?: Record<string, unknown>) {
  const number = await pushNumberOf(ctx, row, ctx.clock.now());
  const devices = await listDevices(ctx.store.db, row.environment_id, row.user_id);
  const selected = devices.find((d) => d.id === row.selected_device_id);
  const authenticator = selected ? kinds[selected.type as DeviceType].authentication.name : undefined;
  return presentFlow(ctx, row, devices, authenticator, shownOnce, number);
}

export async function readFlow(ctx: Context, input: Pick<FlowAction, 'environment' | 'flowId'>) {
  return show(ctx, await loadFlow(ctx, input));
}

export async function selectDevice(ctx: Context, input: FlowAction) {
  const { environment, now } = input;
  const flow = await loadFlow(ctx, input);
  await requireEnabledUser(ctx.store.db, flow.environment_id, flow.user_id);
  requireOpen(flow, now);
  const body = validateBody(SelectBody, input.body);
  const user = await requireUser(ctx.store.db, environment.id, flow.user_id);
  const device = (await listDevices(ctx.store.db, environment.id, user.id)).find((d) => d.id === body.device.id);
  switch (device ? unusable(device, ACTIVE, now) : 'status') {
    case 'status': throw invalidValue('device.id', 'No active device with this ID belongs to the user');
    case 'blocked': throw invalidValue('device.id', 'The device is blocked');
    case 'locked': throw invalidValue('device.id', 'The device is locked after too many failed attempts', 'INVALID_VALUE', { lock: lockOf(device!, now) });
    case undefined:
  }
  const policy = await policyForDevice(ctx.store.db, environment.id, flow.policy_id);
  const started = await startMethod(ctx, { environment, user, flow, device: device!, policy, now });
  return show(ctx, started.row, started.shownOnce);
}

type Expected = 'OTP_REQUIRED' | 'ASSERTION_REQUIRED';

/** The flow and its selected device as they are now (the device row is read fresh each time). */
async function loadProofState(ctx: Context, input: FlowAction) {
  const flow = await loadFlow(ctx, input);
  const device = flow.selected_device_id === null ? undefined : await findDevice(ctx.store.db, flow.environment_id, flow.user_id, flow.selected_device_id);
  return { flow, device };
}

/**
 * The state checks of a proof, in order: the flow is open and waits for this kind of proof,
 * its device is still active, unblocked and unlocked. The same answers whether they run
 * before the attempt is reserved or after a reservation was refused — so a locked device
 * answers a right proof exactly as a wrong one.
 */
function requireProofState(flow: DeviceAuthenticationsTable, device: DevicesTable | undefined, expected: Expected, now: number): DevicesTable {
  requireOpen(flow, now);
  // Protocol §3: a flow waiting for a push also takes the app's offline code.
  if (flow.status !== expected && !(expected === 'OTP_REQUIRED' && flow.status === PUSH_REQUIRED)) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device authentication is ${flow.status}, not ${expected}` });
  switch (device ? unusable(device, ACTIVE, now) : 'status') {
    case 'status': throw requestFailed({ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is no longer active' });
    case 'blocked': throw requestFailed({ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is blocked' });
    case 'locked': throw requestFailed({ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is locked after too many failed attempts', innerError: { lock: lockOf(device!, now) } });
    case undefined:
  }
  return device!;
}

const changedMeanwhile = () => requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device authentication was completed or changed by another request' });

/**
 * otp.check and assertion.check: the state checks, an attempt reserved on the device
 * (devices/attempts.ts — no reservation, no comparison), the body and the proof, then one
 * conditional UPDATE completes the flow — only while the flow still holds the challenge that
 * was checked and the device is unlocked or locked by this attempt — so a proof is used once
 * however many requests carry it, and at most N proofs are compared per lock window.
 */
async function checkProof(ctx: Context, input: FlowAction, expected: Expected) {
  const { db } = ctx.store;
  const { environment, now } = input;
  let { flow, device } = await loadProofState(ctx, input);
  await requireEnabledUser(db, flow.environment_id, flow.user_id);
  const selected = requireProofState(flow, device, expected, now);
  const kind = kinds[selected.type as DeviceType];
  const policy = await policyForDevice(db, environment.id, flow.policy_id);
  const rule = await failureRule(db, environment.id, kind.failure(policy.body));
  const challenge = flow.challenge_hash;
  const waitingFor = flow.status;
  const sameChallenge = (eb: ExpressionBuilder<Database, 'device_authentications'>) =>
    challenge === null ? eb('device_authentications.challenge_hash', 'is', null) : eb('device_authentications.challenge_hash', '=', challenge);
  // Counted only while the flow still waits for this proof: a request that arrives after the
  // flow completed, was cancelled or got a new challenge counts nothing.
  const attempt = await reserveAttemptWhile(ctx.store, selected.id, now, rule, ACTIVE, (eb) =>
    eb.exists(eb.selectFrom('device_authentications').select(sql<number>`1`.as('one'))
      .where('device_authentications.id', '=', flow.id)
      .where('device_authentications.status', '=', waitingFor)
      .where('device_authentications.expires_at', '>', now)
      .where((f) => sameChallenge(f))));
  if (!attempt) {
    ({ flow, device } = await loadProofState(ctx, input));
    requireProofState(flow, device, expected, now);
    throw changedMeanwhile();
  }
  // After a refused proof that was right but not usable, the answer is the device's state
  // if that changed meanwhile (a lock set by other attempts): a right proof never answers
  // differently from a wrong one once the device is locked.
  const refuse = async (error: ApiError, countsAsFailure: boolean): Promise<never> => {
    if (!countsAsFailure) {
      await releaseAttempt(db, attempt);
      ({ flow, device } = await loadProofState(ctx, input));
      if (device && isLocked(device, now)) requireProofState(flow, device, expected, now);
    }
    throw error;
  };

  // A malformed proof counts like a wrong one: its reservation stands.
  const body: { otp?: string; origin?: string; assertion?: string } = expected === 'OTP_REQUIRED'
    ? validateBody(OtpCheckBody, input.body) : validateBody(AssertionCheckBody, input.body);
  const outcome = await kind.authentication.check({
    ctx, environment, device: selected, policy, body, now, attempt, flow: { id: flow.id, challengeHash: flow.challenge_hash, challengeExpiresAt: flow.challenge_expires_at },
  });
  if (!outcome.ok) return refuse(outcome.error, outcome.countsAsFailure);
  const complete = (d: Db) => d.updateTable('device_authentications').set({ status: 'COMPLETED', challenge_hash: null, challenge_expires_at: null, updated_at: now })
    .where('id', '=', flow.id).where('status', '=', waitingFor).where('expires_at', '>', now)
    .where((eb) => sameChallenge(eb))
    .where((eb) => stillUsable(eb, selected.id, ACTIVE, attempt.lockedUntil, now))
    .returningAll().executeTakeFirst();
  const { spend } = outcome;
  const settled: Settled = spend ? await completeAndSpend(ctx, complete, spend) : { row: await complete(db) };
  if (!settled.row) return refuse(settled.refused ?? changedMeanwhile(), false);
  const { row } = settled;
  // A success ends the run of failures (the count is of consecutive failures).
  await clearAttempts(db, attempt, now);
  // The user typed the app's code instead of answering the push: the channel stops offering it.
  if (waitingFor === PUSH_REQUIRED) await withdrawPushes(db, flow.id, now);
  return show(ctx, row);
}

class Spent extends Error {}

type Settled = { row?: DeviceAuthenticationsTable | undefined; refused?: ApiError };

/**
 * The flow's completion and the spending of a proof that has no per-flow challenge, in one
 * transaction (devices/kind.ts ProofSpend): a proof is never spent without the flow it
 * completes, so when several flows race for one code, the copy that completes is the copy that
 * spends it — there is always one.
 */
async function completeAndSpend(ctx: Context, complete: (d: Db) => Promise<DeviceAuthenticationsTable | undefined>, spend: ProofSpend): Promise<Settled> {
  try {
    return await ctx.store.transaction(async (trx) => {
      const row = await complete(trx);
      if (!row) return {};
      if (!(await spend.take(trx))) throw new Spent();
      return { row };
    });
  } catch (e) {
    if (e instanceof Spent) return { refused: spend.used };
    throw e;
  }
}

export const checkOtp = (ctx: Context, input: FlowAction) => checkProof(ctx, input, 'OTP_REQUIRED');
export const checkAssertion = (ctx: Context, input: FlowAction) => checkProof(ctx, input, 'ASSERTION_REQUIRED');

/**
 * cancel.push.authentication (wave-2 reference §3.4): the push is withdrawn (the channel stops
 * offering it; an answer to it is refused) and the flow goes back to DEVICE_SELECTION_REQUIRED,
 * `selectedDevice` still the mobile device.
 */
export async function cancelPush(ctx: Context, input: FlowAction) {
  const { now } = input;
  const flow = await loadFlow(ctx, input);
  requireOpen(flow, now);
  validateBody(CancelBody, input.body);
  if (flow.status !== PUSH_REQUIRED) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device authentication is ${effective(flow, now).status}, not waiting for a push` });
  const row = await ctx.store.transaction(async () => {
    const moved = await ctx.store.db.updateTable('device_authentications').set({ status: 'DEVICE_SELECTION_REQUIRED', challenge_hash: null, challenge_expires_at: null, updated_at: now })
      .where('id', '=', flow.id).where('status', '=', PUSH_REQUIRED).where('expires_at', '>', now).returningAll().executeTakeFirst();
    if (moved) await withdrawPushes(ctx.store.db, flow.id, now);
    return moved;
  });
  if (!row) throw changedMeanwhile();
  return show(ctx, row);
}

export async function cancelFlow(ctx: Context, input: FlowAction) {
  const { now } = input;
  const flow = await loadFlow(ctx, input);
  requireOpen(flow, now);
  const body = validateBody(CancelBody, input.body);
  const reason = body?.reason ?? 'CANCELED';
  const row = await ctx.store.db.updateTable('device_authentications').set({
    status: 'FAILED', challenge_hash: null, challenge_expires_at: null, updated_at: now,
    error: JSON.stringify({ code: 'CANCELED', message: `The device authentication was canceled (${reason})` }),
  }).where('id', '=', flow.id).where('status', 'not in', [...TERMINAL]).returningAll().executeTakeFirst();
  if (!row) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device authentication has already ended' });
  await withdrawPushes(ctx.store.db, flow.id, now);
  return show(ctx, row);
}
