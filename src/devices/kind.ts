/**
 * What each device type contributes. The shared actions (create, activate) run the checks
 * every type has in common, in the order the protocol gives, and ask the type for the rest.
 */
import type { Context } from '../context.js';
import type { ApiError } from '../http/errors.js';
import type { PolicyRecord } from '../policies/model.js';
import type { DevicesTable, EnvironmentsTable, UsersTable } from '../store/schema.js';
import type { DeviceCreateInput } from './create.js';
import type { DeviceExtra, DeviceType } from './model.js';

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
  challengeHash?: string | null;
  challengeExpiresAt?: number | null;
  /** Fields shown once, in the 201 response only (creation options, a TOTP secret, a test OTP). */
  shownOnce?: Record<string, unknown>;
}

export interface ActivateRequest {
  ctx: Context;
  environment: EnvironmentsTable;
  device: DevicesTable;
  policy: PolicyRecord;
  body: unknown;
  now: number;
}

export type ActivateOutcome =
  | { ok: true; row: DevicesTable }
  | { ok: false; error: ApiError; countsAsFailure: boolean };

export interface DeviceKind {
  type: DeviceType;
  /** Validates the type-specific part of a create and prepares the row; throws ApiError. */
  prepare(request: CreateRequest): Promise<PreparedDevice>;
  /** Checks an activation body and applies it atomically. Expected failures are values. */
  activate(request: ActivateRequest): Promise<ActivateOutcome>;
  /** Failure count and lock length that apply to this device's method. */
  failurePolicy(request: Pick<ActivateRequest, 'ctx' | 'environment' | 'policy'>): Promise<{ count: number; lockMs: number }>;
}
