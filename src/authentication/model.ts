/**
 * Device authentication flows (reference §3.5, §4.5): statuses, how a flow is shown, and the
 * device summaries inside it. A flow ends after FLOW_LIFETIME_MS: one that has not completed
 * by then reads as FAILED with error EXPIRED, and takes no more actions.
 */
import { Type } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { ACTIVE, blockOf, extraOf, isLocked, shownExtra } from '../devices/model.js';
import { link, type Links } from '../http/links.js';
import { Links as LinksSchema, Ref, Timestamp } from '../http/schemas.js';
import { parseStored } from '../http/validation.js';
import type { DeviceAuthenticationsTable, DevicesTable } from '../store/schema.js';

const StoredFlowError = Type.Object({ code: Type.String(), message: Type.String() });

export const FLOW_LIFETIME_MS = 5 * 60_000;
export const TERMINAL = new Set(['COMPLETED', 'FAILED']);

export const ACTIONS = {
  select: 'application/vnd.pingidentity.device.select+json',
  otpCheck: 'application/vnd.pingidentity.otp.check+json',
  assertionCheck: 'application/vnd.pingidentity.assertion.check+json',
  cancel: 'application/vnd.pingidentity.authentication.cancel+json',
  cancelPush: 'application/vnd.pingidentity.cancel.push.authentication+json',
} as const;

const DeviceSummary = Type.Object({
  id: Type.String(),
  type: Type.String(),
  status: Type.String(),
  usableStatus: Type.Object({ status: Type.String(), reason: Type.Optional(Type.String()) }),
  nickname: Type.Optional(Type.String()),
  block: Type.Optional(Type.Object({ status: Type.String(), blockedAt: Type.Optional(Timestamp) })),
  email: Type.Optional(Type.String()),
  phone: Type.Optional(Type.String()),
  os: Type.Optional(Type.Object({ version: Type.Optional(Type.String()), type: Type.Optional(Type.String()) })),
  model: Type.Optional(Type.Object({ name: Type.Optional(Type.String()) })),
  application: Type.Optional(Type.Object({
    id: Type.Optional(Type.String()), nativeName: Type.Optional(Type.String()), version: Type.Optional(Type.String()), pushSandbox: Type.Optional(Type.Boolean()),
  })),
  // A FIDO2 device's members, in the order of wave-2 reference §1.6's summaries.
  attributes: Type.Optional(Type.Object({
    transports: Type.Optional(Type.Array(Type.String())), isCrossPlatform: Type.Optional(Type.Boolean()), isResidentKey: Type.Optional(Type.Boolean()),
  })),
  rp: Type.Optional(Type.Object({ id: Type.String(), name: Type.String() })),
  credentialId: Type.Optional(Type.String()),
  backup: Type.Optional(Type.Object({ backupEligibility: Type.Boolean(), backupState: Type.Boolean() })),
  fidoDeviceMetadata: Type.Optional(Type.Object({ mdsIdentifier: Type.String() })),
  displayName: Type.Optional(Type.String()),
  unitId: Type.Optional(Type.String()),
});

export const FlowSchema = Type.Object({
  _links: LinksSchema,
  id: Type.String(),
  environment: Ref,
  user: Ref,
  policy: Ref,
  status: Type.String(),
  selectedDevice: Type.Optional(Ref),
  authenticators: Type.Optional(Type.Array(Type.String())),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  /** The number the accessing device shows while a push with number matching waits (mobile-protocol §2; ours). */
  numberMatching: Type.Optional(Type.Object({ number: Type.String() })),
  bypassAllowed: Type.Boolean(),
  userBypassEnabled: Type.Boolean(),
  _embedded: Type.Object({ devices: Type.Array(DeviceSummary), blockedDevices: Type.Array(DeviceSummary) }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  expiresAt: Timestamp,
});

/**
 * Shown once: the code of a test device and a desktop or FIDO2 device's request options, issued by the
 * answer that starts a method (create, device.select). Declared only on the POST answers,
 * never on GET, so the serializer (declared members only) keeps them out of every read.
 */
const ShownOnce = {
  pingIdDesktopCredentialRequestOptions: Type.Optional(Type.String()),
  /** Wave-2 reference §1.5: a JSON string in PingOne's encoding (a FIDO2 device's request options). */
  publicKeyCredentialRequestOptions: Type.Optional(Type.String()),
  test: Type.Optional(Type.Object({ otp: Type.String() })),
};
export const SHOWN_ONCE_FLOW_FIELDS = Object.keys(ShownOnce);
/** The 200 of POST …/deviceAuthentications and of its actions. */
export const FlowAnswerSchema = Type.Object({ ...FlowSchema.properties, ...ShownOnce });

export const usableStatusOf = (d: DevicesTable, now: number) =>
  isLocked(d, now) ? { status: 'DISABLED', reason: 'LOCKED' } : { status: 'ENABLED' };

export function summary(d: DevicesTable, now: number) {
  const x = extraOf(d);
  return {
    id: d.id,
    type: d.type,
    status: d.status,
    usableStatus: usableStatusOf(d, now),
    ...(d.nickname !== null ? { nickname: d.nickname } : {}),
    ...(d.blocked_at !== null ? { block: blockOf(d) } : {}),
    ...shownExtra(x),
    ...(x.rp ? { rp: x.rp } : {}),
    ...(d.credential_id ? { credentialId: d.credential_id } : {}),
  };
}

export const PUSH_REQUIRED = 'PUSH_CONFIRMATION_REQUIRED';
export const PUSH_TIMED_OUT = 'PUSH_CONFIRMATION_TIMED_OUT';

/**
 * The status as of `now`: an unfinished flow past its lifetime has failed; a push unanswered
 * past its timeout reads PUSH_CONFIRMATION_TIMED_OUT (wave-2 reference §3.4), from which the
 * device may be selected again.
 */
export function effective(row: DeviceAuthenticationsTable, now: number): { status: string; error: { code: string; message: string } | undefined } {
  if (!TERMINAL.has(row.status) && row.expires_at <= now) {
    return { status: 'FAILED', error: { code: 'EXPIRED', message: 'The device authentication expired before it completed' } };
  }
  if (row.status === PUSH_REQUIRED && row.challenge_expires_at !== null && row.challenge_expires_at <= now) return { status: PUSH_TIMED_OUT, error: undefined };
  return { status: row.status, error: row.error ? parseStored(StoredFlowError, row.error, 'flow error') : undefined };
}

export function flowUrl(ctx: Context, environmentId: string, id?: string): string {
  return `${ctx.links.auth}/${environmentId}/deviceAuthentications${id ? `/${id}` : ''}`;
}

export function presentFlow(ctx: Context, row: DeviceAuthenticationsTable, devices: DevicesTable[], authenticator: string | undefined, shownOnce: Record<string, unknown> = {}, numberToShow?: string) {
  const now = ctx.clock.now();
  const { status, error } = effective(row, now);
  const self = flowUrl(ctx, row.environment_id, row.id);
  const links: Links = { self: link(self) };
  if (!TERMINAL.has(status)) links['device.select'] = link(self);
  if (status === 'OTP_REQUIRED') links['otp.check'] = link(self);
  if (status === 'ASSERTION_REQUIRED') links['assertion.check'] = link(self);
  const active = devices.filter((d) => d.status === ACTIVE);
  return {
    _links: links,
    id: row.id,
    environment: { id: row.environment_id },
    user: { id: row.user_id },
    policy: { id: row.policy_id },
    status,
    ...(row.selected_device_id ? { selectedDevice: { id: row.selected_device_id } } : {}),
    ...(status === 'COMPLETED' && authenticator ? { authenticators: [authenticator, 'mfa', 'user'] } : {}),
    ...(error ? { error } : {}),
    ...(numberToShow !== undefined && status === PUSH_REQUIRED ? { numberMatching: { number: numberToShow } } : {}),
    // Wave-2 reference §5, §7.1: the flow ended by the user's bypass or disabled MFA (create.ts userMfaOutcome).
    bypassAllowed: row.bypass !== null,
    userBypassEnabled: row.bypass === 'USER_BYPASS',
    ...shownOnce,
    _embedded: {
      devices: active.filter((d) => d.blocked_at === null).map((d) => summary(d, now)),
      blockedDevices: active.filter((d) => d.blocked_at !== null).map((d) => summary(d, now)),
    },
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    expiresAt: iso(row.expires_at),
  };
}
