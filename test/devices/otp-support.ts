/**
 * Shared by the OTP/TOTP device suites (lifecycle, otp, totp, order, otp-threats); not a test
 * file itself. Whole-body expectations for devices and errors, the outbox reader, and small
 * setup steps (a policy, MFA settings, a user's device collection).
 */
import assert from 'node:assert/strict';
import { iso } from '../../src/clock.js';
import type { DevicesTable } from '../../src/store/schema.js';
import { createUser, type Response, type TestServer } from '../helper.js';
import { assertError as assertWholeError, MSG, type ExpectedDetail as Detail } from '../support/errors.js';

export const CT = {
  activate: 'application/vnd.pingidentity.device.activate+json',
  block: 'application/vnd.pingidentity.device.block+json',
  unblock: 'application/vnd.pingidentity.device.unblock+json',
  unlock: 'application/vnd.pingidentity.device.unlock+json',
  sendActivationCode: 'application/vnd.pingidentity.device.sendActivationCode+json',
  reorder: 'application/vnd.pingidentity.devices.reorder+json',
  orderRemove: 'application/vnd.pingidentity.devices.order.remove+json',
} as const;

export { MSG, UUID } from '../support/errors.js';
export type { ExpectedDetail as Detail } from '../support/errors.js';

/** test/support/errors.ts assertError, with code and message given in place. */
export const assertError = (res: Response, status: number, code: string, message: string, details?: Detail[]): void =>
  assertWholeError(res, status, { code, message, ...(details !== undefined ? { details } : {}) });

/** 400 INVALID_DATA with one detail. */
export const assertInvalidData = (res: Response, detail: Detail): void => assertError(res, 400, 'INVALID_DATA', MSG.INVALID_DATA, [detail]);
/** 400 REQUEST_FAILED with one detail. */
export const assertRequestFailed = (res: Response, detail: Detail): void => assertError(res, 400, 'REQUEST_FAILED', MSG.REQUEST_FAILED, [detail]);
/** 415 INVALID_REQUEST naming the refused Content-Type. */
export function assertUnsupported(res: Response, contentType: string): void {
  assertError(res, 415, 'INVALID_REQUEST', MSG.UNSUPPORTED_MEDIA_TYPE, [
    { code: 'INVALID_VALUE', target: 'Content-Type', message: `Content-Type ${contentType} is not accepted here` },
  ]);
}

/** A wrong one-time passcode on activation (reference §6.2). */
export const WRONG_OTP: Detail = { code: 'INVALID_OTP', target: 'otp', message: 'The passcode is not correct' };
/** A device locked until `until` (ms): the refusal names lock.status and shows the lock. */
export const locked = (until: number): Detail => ({
  code: 'INVALID_VALUE', target: 'lock.status', message: 'The device is locked after too many failed attempts',
  innerError: { lock: { status: 'LOCKED', expiresAt: iso(until) } },
});

/** Reference §7.3, the documented max-devices body. */
export const limitExceeded = (maximumAllowed: number) => [{ code: 'LIMIT_EXCEEDED', message: 'Maximum allowed devices has been reached', innerError: { maximumAllowed } }];

export interface UserDevices {
  env: string;
  userId: string;
  /** …/users/{userId}/devices (a path the harness injects). */
  devices: string;
  device: (id: string) => string;
}

export async function newUser(server: TestServer, env: string, username?: string, extra: Record<string, unknown> = {}): Promise<UserDevices> {
  const userId = await createUser(server, env, username, extra);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  return { env, userId, devices, device: (id) => `${devices}/${id}` };
}

export interface ExpectedDevice {
  id: string;
  type: string;
  status: 'ACTIVE' | 'ACTIVATION_REQUIRED';
  createdAt: number;
  updatedAt: number;
  nickname?: string;
  lock?: { status: 'UNLOCKED' } | { status: 'LOCKED'; expiresAt: string };
  block?: { status: 'UNBLOCKED' } | { status: 'BLOCKED'; blockedAt: string };
  phone?: string;
  email?: string;
  testMode?: true;
  /** Fields the response carries once (test.otp, secret, keyUri). */
  once?: Record<string, unknown>;
}

/** The whole device body the API answers (reference §2.1, §2.2), with absolute links. */
export function deviceBody(server: TestServer, u: UserDevices, d: ExpectedDevice): Record<string, unknown> {
  const api = server.config.apiPath;
  const self = `${api}/environments/${u.env}/users/${u.userId}/devices/${d.id}`;
  return {
    _links: {
      self: { href: self },
      environment: { href: `${api}/environments/${u.env}` },
      user: { href: `${api}/environments/${u.env}/users/${u.userId}` },
      ...(d.status === 'ACTIVATION_REQUIRED' ? { activate: { href: self } } : {}),
    },
    id: d.id,
    environment: { id: u.env },
    user: { id: u.userId },
    type: d.type,
    ...(d.nickname !== undefined ? { nickname: d.nickname } : {}),
    lock: d.lock ?? { status: 'UNLOCKED' },
    block: d.block ?? { status: 'UNBLOCKED' },
    status: d.status,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    ...(d.phone !== undefined ? { phone: d.phone } : {}),
    ...(d.email !== undefined ? { email: d.email } : {}),
    ...(d.testMode ? { testMode: true } : {}),
    ...(d.once ?? {}),
  };
}

export const deviceRow = async (server: TestServer, id: string): Promise<DevicesTable> => {
  const row = await server.store.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
  assert.ok(row, `device ${id} is stored`);
  return row;
};

export const deviceCount = async (server: TestServer, userId: string): Promise<number> => {
  const { n } = await server.store.db.selectFrom('devices').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(n);
};

export interface Snapshot {
  path: string;
  body: unknown;
  row: DevicesTable;
}

export async function snapshot(server: TestServer, path: string): Promise<Snapshot> {
  const res = await server.request('GET', path);
  assert.equal(res.status, 200, res.text);
  return { path, body: res.body, row: await deviceRow(server, path.split('/').pop()!) };
}

/** The device reads back as before and its stored row is untouched (`failedAttempts` aside, when given). */
export async function assertUnchanged(server: TestServer, before: Snapshot, failedAttempts?: number): Promise<void> {
  const res = await server.request('GET', before.path);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, before.body);
  const { failed_attempts: a, ...now } = await deviceRow(server, before.row.id);
  const { failed_attempts: b, ...then } = before.row;
  assert.deepEqual(now, then);
  assert.equal(Number(a), failedAttempts ?? Number(b), 'failed_attempts');
}

export const activate = (server: TestServer, path: string, otp: unknown) =>
  server.request('POST', path, { contentType: CT.activate, body: { otp } });

export const action = (server: TestServer, path: string, contentType: string, body?: unknown) =>
  server.request('POST', path, { contentType, ...(body !== undefined ? { body } : {}) });

/** Creates a device policy (merged onto the defaults) and returns its id. */
export async function createPolicy(server: TestServer, env: string, body: Record<string, unknown>): Promise<string> {
  const res = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, { body: { name: `policy ${Math.random()}`, ...body } });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

export async function putMfaSettings(server: TestServer, env: string, body: Record<string, unknown>): Promise<void> {
  const res = await server.request('PUT', `/v1/environments/${env}/mfaSettings`, { body: { pairing: {}, ...body } });
  assert.equal(res.status, 200, res.text);
}

export interface OutboxMessage {
  id: string;
  channel: string;
  recipient: string;
  subject?: string;
  body: string;
  otp?: string;
  userId?: string;
  deviceId?: string;
  flowId?: string;
  purpose?: 'ACTIVATION' | 'AUTHENTICATION';
  createdAt: string;
}

export async function outbox(server: TestServer, env: string, recipient: string): Promise<OutboxMessage[]> {
  const res = await server.request('GET', `/v1/environments/${env}/outbox?recipient=${encodeURIComponent(recipient)}`);
  assert.equal(res.status, 200, res.text);
  return res.body._embedded.messages as OutboxMessage[];
}

/** The code in the newest message to `recipient`. */
export async function latestCode(server: TestServer, env: string, recipient: string): Promise<string> {
  const [newest] = await outbox(server, env, recipient);
  assert.ok(newest, `a message to ${recipient} is in the outbox`);
  assert.ok(newest.otp, 'the message carries a code');
  assert.ok(newest.body.includes(newest.otp), 'the text carries the same code');
  return newest.otp;
}

/** A code of `length` digits that is not `avoid` (nor any of them). */
export function otherCode(avoid: string | readonly string[], seed: number, length = 6): string {
  const bad = new Set(typeof avoid === 'string' ? [avoid] : avoid);
  for (let i = seed; ; i++) {
    const c = String((i * 7919 + 123457) % 10 ** length).padStart(length, '0');
    if (!bad.has(c)) return c;
  }
}

/** `n` distinct wrong codes. */
export function wrongCodes(avoid: string | readonly string[], n: number, length = 6): string[] {
  const out = new Set<string>();
  for (let i = 0; out.size < n; i++) out.add(otherCode(avoid, i, length));
  return [...out];
}

export const count = <T>(items: readonly T[], pred: (t: T) => boolean): number => items.filter(pred).length;
