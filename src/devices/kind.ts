/**
 * What each device type contributes. The shared actions (create, activate) run the checks
 * every type has in common, in the order the protocol gives, and ask the type for the rest.
 */
import type { Context } from '../context.js';
import type { ApiError } from '../http/errors.js';
import type { PolicyBody } from '../policies/defaults.js';
import type { MethodFailure, PolicyRecord } from '../policies/model.js';
import type { Db } from '../store/db.js';
import type { DevicesTable, EnvironmentsTable, UsersTable } from '../store/schema.js';
import type { Attempt } from './attempts.js';
import type { DeviceCreateInput, DeviceExtra, DeviceType } from './model.js';

export interface CreateRequest {
  ctx: Context;
  environment: EnvironmentsTable;
  user: UsersTable;
  policy: PolicyRecord;
  body: DeviceCreateInput;
  deviceId: string;
  now: number;
}

export interface PreparedDevice {
  status: string;
  nickname: string | null;
  extra: DeviceExtra;
  secretSealed?: string | null;
  /** A PingID Desktop credential paired already (a seed file's): its ID and public JWK (JSON). */
  credentialId?: string | null;
  publicJwk?: string | null;
  challengeHash?: string | null;
  challengeExpiresAt?: number | null;
  /** Fields shown once, in the 201 response only (creation options, a TOTP secret, a test OTP). */
  shownOnce?: Record<string, unknown>;
  /** Queues the pairing code in the transaction that stores the device; if it throws, no device is made. */
  deliver?: () => Promise<void>;
}

/** What every call on a device type is given. */
interface OnDevice {
  ctx: Context;
  environment: EnvironmentsTable;
  device: DevicesTable;
  now: number;
}

export interface ActivateRequest extends OnDevice {
  policy: PolicyRecord;
  body: unknown;
  /** The attempt reserved for this proof (attempts.ts): the final write is conditional on it. */
  attempt: Attempt;
}

export type ActivateOutcome =
  | { ok: true; row: DevicesTable }
  | { ok: false; error: ApiError; countsAsFailure: boolean };

/** What a device type does inside a device authentication flow (reference §3.5, protocol §2). */
export interface AuthenticationStartRequest extends OnDevice {
  user: UsersTable;
  policy: PolicyRecord;
  flowId: string;
  /** When the flow ends: a challenge need not outlive it. */
  flowExpiresAt: number;
}

export interface AuthenticationStart {
  /** OTP_REQUIRED, ASSERTION_REQUIRED, or PUSH_CONFIRMATION_REQUIRED (MOBILE). */
  status: 'OTP_REQUIRED' | 'ASSERTION_REQUIRED' | 'PUSH_CONFIRMATION_REQUIRED';
  challengeHash: string | null;
  challengeExpiresAt: number | null;
  shownOnce?: Record<string, unknown>;
  /** Queues the code in the transaction that stores the flow's challenge. */
  deliver?: () => Promise<void>;
}

export interface AuthenticationCheckRequest extends OnDevice {
  /** The flow's policy (an OATH token's windows are the policy's). */
  policy: PolicyRecord;
  flow: { id: string; challengeHash: string | null; challengeExpiresAt: number | null };
  /** The validated body of otp.check ({otp}) or assertion.check ({origin, assertion, compatibility?}). */
  body: { otp?: string; origin?: string; assertion?: string };
  /** The attempt reserved for this proof (attempts.ts). */
  attempt: Attempt;
}

/**
 * A proof with no per-flow challenge (a TOTP step, an OATH token's position) is spent by a write
 * of its own. That write runs in the flow completion's transaction: the proof is spent only with
 * the flow it completes, so a copy that checked out but could not complete its flow (a lock
 * another copy's reservation started meanwhile) leaves the proof for a copy that can.
 */
export interface ProofSpend {
  /** Spends the proof (a conditional UPDATE); false when another request spent it first. */
  take(db: Db): Promise<boolean>;
  /** The answer when it was spent first (a right proof that lost: its attempt is given back). */
  used: ApiError;
}

export type AuthenticationCheck = { ok: true; spend?: ProofSpend } | { ok: false; error: ApiError; countsAsFailure: boolean };

export interface DeviceAuthentication {
  /** The authenticator's name in a completed flow's `authenticators` (reference §4.5: "desktop"). */
  name: string;
  start(request: AuthenticationStartRequest): Promise<AuthenticationStart>;
  /**
   * Checks the proof. Single use is the flow's conditional update of its challenge; a type
   * without a per-flow challenge (TOTP, OATH) answers how its proof is spent (`ProofSpend`),
   * and the flow's completion spends it in the same transaction.
   */
  check(request: AuthenticationCheckRequest): Promise<AuthenticationCheck>;
}

export interface DeviceKind {
  type: DeviceType;
  /** Validates the type-specific part of a create and prepares the row; throws ApiError. */
  prepare(request: CreateRequest): Promise<PreparedDevice>;
  /**
   * Checks an activation body and applies it atomically, in a write conditional on
   * `unlockedOrMine(attempt)` that clears the count. Expected failures are values:
   * `countsAsFailure: false` (a right proof that lost a race) gives the attempt back.
   */
  activate(request: ActivateRequest): Promise<ActivateOutcome>;
  /** sendActivationCode: a new code replaces the old one (types that send codes only). */
  resendCode?(request: Omit<ActivateRequest, 'body' | 'attempt'>): Promise<{ row: DevicesTable; shownOnce?: Record<string, unknown> }>;
  authentication: DeviceAuthentication;
  /** What the policy says of failed attempts for this device's method (policies/model.ts failureRule applies it). */
  failure(policy: PolicyBody): MethodFailure;
}
