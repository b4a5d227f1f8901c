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
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.js';
import { clearAttempts, releaseAttempt, reserveAttempt, unlockedOrMine } from '../devices/attempts.js';
import { kinds } from '../devices/kinds.js';
import { ACTIVE, isLocked, lockOf, type DeviceType } from '../devices/model.js';
import { listDevices } from '../devices/store.js';
import { environmentOf } from '../http/access.js';
import { ApiError, invalidValue, notFound, requestFailed } from '../http/errors.js';
import { validateBody } from '../http/validation.js';
import { failureRule, policyForDevice } from '../policies/model.js';
import { requireUser } from '../platform/users.js';
import type { Database, DeviceAuthenticationsTable, DevicesTable } from '../store/schema.js';
import { requireEnabledUser } from './enabled-user.js';
import { TERMINAL, effective, presentFlow } from './model.js';
import { startMethod } from './start.js';

export type FlowRequest = FastifyRequest<{ Params: { envId: string; flowId: string } }>;

export const SelectBody = Type.Object({
  device: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  compatibility: Type.Optional(Type.Enum(['FULL', 'PARTIAL', 'NONE'])),
}, { additionalProperties: false });
export const OtpCheckBody = Type.Object({ otp: Type.String({ minLength: 1, maxLength: 10, pattern: '^[0-9]{6,10}$' }) }, { additionalProperties: false });
export const AssertionCheckBody = Type.Object({
  origin: Type.String({ minLength: 1, maxLength: 2048 }),
  assertion: Type.String({ minLength: 1, maxLength: 8192 }),
}, { additionalProperties: false });
export const CancelInput = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const CancelBody = Type.Union([Type.Undefined(), CancelInput]);

export async function loadFlow(ctx: Context, request: FlowRequest): Promise<DeviceAuthenticationsTable> {
  const environment = environmentOf(request);
  const id = request.params.flowId;
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
  const devices = await listDevices(ctx.store.db, row.environment_id, row.user_id);
  const selected = devices.find((d) => d.id === row.selected_device_id);
  const authenticator = selected ? kinds[selected.type as DeviceType].authentication.name : undefined;
  return presentFlow(ctx, row, devices, authenticator, shownOnce);
}

export async function readFlow(ctx: Context, request: FlowRequest) {
  return show(ctx, await loadFlow(ctx, request));
}

export async function selectDevice(ctx: Context, request: FlowRequest) {
  const flow = await loadFlow(ctx, request);
  await requireEnabledUser(ctx.store.db, flow.environment_id, flow.user_id);
  const now = ctx.clock.now();
  requireOpen(flow, now);
  const body = validateBody(SelectBody, request.body);
  const environment = environmentOf(request);
  const user = await requireUser(ctx.store.db, environment.id, flow.user_id);
  const device = (await listDevices(ctx.store.db, environment.id, user.id)).find((d) => d.id === body.device.id);
  if (!device || device.status !== ACTIVE) throw invalidValue('device.id', 'No active device with this ID belongs to the user');
  if (device.blocked_at !== null) throw invalidValue('device.id', 'The device is blocked');
  if (isLocked(device, now)) throw invalidValue('device.id', 'The device is locked after too many failed attempts', 'INVALID_VALUE', { lock: lockOf(device, now) });
  const policy = await policyForDevice(ctx.store.db, environment.id, flow.policy_id);
  const started = await startMethod(ctx, { environment, user, flow, device, policy });
  return show(ctx, started.row, started.shownOnce);
}

type Expected = 'OTP_REQUIRED' | 'ASSERTION_REQUIRED';

/** The flow and its selected device as they are now (the device row is read fresh each time). */
async function loadProofState(ctx: Context, request: FlowRequest) {
  const flow = await loadFlow(ctx, request);
  const device = flow.selected_device_id === null ? undefined
    : await ctx.store.db.selectFrom('devices').selectAll().where('id', '=', flow.selected_device_id).where('user_id', '=', flow.user_id).executeTakeFirst();
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
  if (flow.status !== expected) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: `The device authentication is ${flow.status}, not ${expected}` });
  if (!device || device.status !== ACTIVE) throw requestFailed({ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is no longer active' });
  if (device.blocked_at !== null) throw requestFailed({ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is blocked' });
  if (isLocked(device, now)) throw requestFailed({ code: 'INVALID_VALUE', target: 'selectedDevice', message: 'The selected device is locked after too many failed attempts', innerError: { lock: lockOf(device, now) } });
  return device;
}

const changedMeanwhile = () => requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device authentication was completed or changed by another request' });

/**
 * otp.check and assertion.check: the state checks, an attempt reserved on the device
 * (devices/attempts.ts — no reservation, no comparison), the body and the proof, then one
 * conditional UPDATE completes the flow — only while the flow still holds the challenge that
 * was checked and the device is unlocked or locked by this attempt — so a proof is used once
 * however many requests carry it, and at most N proofs are compared per lock window.
 */
async function checkProof(ctx: Context, request: FlowRequest, expected: Expected) {
  const { db } = ctx.store;
  const now = ctx.clock.now();
  const environment = environmentOf(request);
  let { flow, device } = await loadProofState(ctx, request);
  await requireEnabledUser(db, flow.environment_id, flow.user_id);
  const selected = requireProofState(flow, device, expected, now);
  const kind = kinds[selected.type as DeviceType];
  const policy = await policyForDevice(db, environment.id, flow.policy_id);
  const rule = await failureRule(db, environment.id, kind.failure(policy.body));
  const challenge = flow.challenge_hash;
  const sameChallenge = (eb: ExpressionBuilder<Database, 'device_authentications'>) =>
    challenge === null ? eb('device_authentications.challenge_hash', 'is', null) : eb('device_authentications.challenge_hash', '=', challenge);
  // Counted only while the flow still waits for this proof: a request that arrives after the
  // flow completed, was cancelled or got a new challenge counts nothing.
  const attempt = await reserveAttempt(db, selected.id, now, rule, (eb) => eb.and([
    eb('status', '=', ACTIVE),
    eb('blocked_at', 'is', null),
    eb.exists(eb.selectFrom('device_authentications').select(sql<number>`1`.as('one'))
      .where('device_authentications.id', '=', flow.id)
      .where('device_authentications.status', '=', expected)
      .where('device_authentications.expires_at', '>', now)
      .where((f) => sameChallenge(f))),
  ]));
  if (!attempt) {
    ({ flow, device } = await loadProofState(ctx, request));
    requireProofState(flow, device, expected, now);
    throw changedMeanwhile();
  }
  // After a refused proof that was right but not usable, the answer is the device's state
  // if that changed meanwhile (a lock set by other attempts): a right proof never answers
  // differently from a wrong one once the device is locked.
  const refuse = async (error: ApiError, countsAsFailure: boolean): Promise<never> => {
    if (!countsAsFailure) {
      await releaseAttempt(db, attempt);
      ({ flow, device } = await loadProofState(ctx, request));
      if (device && isLocked(device, now)) requireProofState(flow, device, expected, now);
    }
    throw error;
  };

  // A malformed proof counts like a wrong one: its reservation stands.
  const body: { otp?: string; origin?: string; assertion?: string } = expected === 'OTP_REQUIRED'
    ? validateBody(OtpCheckBody, request.body) : validateBody(AssertionCheckBody, request.body);
  const outcome = await kind.authentication.check({
    ctx, environment, device: selected, body, now, attempt, flow: { id: flow.id, challengeHash: flow.challenge_hash, challengeExpiresAt: flow.challenge_expires_at },
  });
  if (!outcome.ok) return refuse(outcome.error, outcome.countsAsFailure);
  const row = await db.updateTable('device_authentications').set({ status: 'COMPLETED', challenge_hash: null, challenge_expires_at: null, updated_at: now })
    .where('id', '=', flow.id).where('status', '=', expected).where('expires_at', '>', now)
    .where((eb) => sameChallenge(eb))
    .where((eb) => eb.exists(eb.selectFrom('devices').select(sql<number>`1`.as('one'))
      .where('devices.id', '=', selected.id)
      .where((d) => unlockedOrMine(d, attempt.lockedUntil, now))))
    .returningAll().executeTakeFirst();
  if (!row) return refuse(changedMeanwhile(), false);
  // A success ends the run of failures (the count is of consecutive failures).
  await clearAttempts(db, attempt, now);
  return show(ctx, row);
}

export const checkOtp = (ctx: Context, request: FlowRequest) => checkProof(ctx, request, 'OTP_REQUIRED');
export const checkAssertion = (ctx: Context, request: FlowRequest) => checkProof(ctx, request, 'ASSERTION_REQUIRED');

export async function cancelFlow(ctx: Context, request: FlowRequest) {
  const flow = await loadFlow(ctx, request);
  const now = ctx.clock.now();
  requireOpen(flow, now);
  const body = validateBody(CancelBody, request.body);
  const reason = body?.reason ?? 'CANCELED';
  const row = await ctx.store.db.updateTable('device_authentications').set({
    status: 'FAILED', challenge_hash: null, challenge_expires_at: null, updated_at: now,
    error: JSON.stringify({ code: 'CANCELED', message: `The device authentication was canceled (${reason})` }),
  }).where('id', '=', flow.id).where('status', 'not in', [...TERMINAL]).returningAll().executeTakeFirst();
  if (!row) throw requestFailed({ code: 'INVALID_VALUE', target: 'status', message: 'The device authentication has already ended' });
  return show(ctx, row);
}
