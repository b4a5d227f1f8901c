/**
 * Shared by the OATH suites (wave-2 reference §4); not a test file itself. A tenant (an
 * environment and its worker, test/authentication/support.ts), token imports, OATH_TOKEN
 * devices, and the whole bodies the API answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { iso } from '../../src/clock.js';
import type { Response } from '../helper.js';
import type { Tenant } from '../authentication/support.js';

export const CT = {
  createJob: 'application/vnd.pingidentity.job.oathtokens.create+json',
  revokeJob: 'application/vnd.pingidentity.job.oathtokens.revoke+json',
  resync: 'application/vnd.pingidentity.device.resync+json',
  activate: 'application/vnd.pingidentity.device.activate+json',
} as const;

export const newSecret = (bytes = 20): string => randomBytes(bytes).toString('hex').toUpperCase();
export const newSerial = (): string => `SN${randomBytes(6).toString('hex').toUpperCase()}`;

export const jobs = (t: Tenant) => `/v1/environments/${t.env}/oathJobs`;
export const tokens = (t: Tenant) => `/v1/environments/${t.env}/oathTokens`;
export const token = (t: Tenant, id: string) => `${tokens(t)}/${id}`;

export async function importJob(t: Tenant, list: Array<Record<string, unknown>>): Promise<Response> {
  return t.call('POST', jobs(t), { contentType: CT.createJob, body: { type: 'CREATE_OATH_TOKENS', tokens: list } });
}

export interface Imported {
  id: string;
  serialNumber: string;
  secret: string;
}

/** Imports one token and answers its id (found through the documented filter). */
export async function importToken(t: Tenant, spec: Record<string, unknown>): Promise<Imported> {
  const serialNumber = (spec.serialNumber as string | undefined) ?? newSerial();
  const secret = (spec.secret as string | undefined) ?? newSecret();
  const res = await importJob(t, [{ otpLength: 6, ...spec, serialNumber, secret }]);
  assert.equal(res.status, 202, res.text);
  assert.equal(res.body.result.created, 1, res.text);
  const found = await t.call('GET', `${tokens(t)}?filter=${encodeURIComponent(`serialNumber eq "${serialNumber}"`)}`);
  assert.equal(found.status, 200, found.text);
  return { id: found.body._embedded.oathTokens[0].id as string, serialNumber, secret };
}

export async function oathDevice(t: Tenant, userId: string, serialNumber: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return t.call('POST', t.devices(userId), { body: { type: 'OATH_TOKEN', serialNumber, ...extra } });
}

export const activate = (t: Tenant, userId: string, deviceId: string, body: Record<string, unknown>): Promise<Response> =>
  t.call('POST', t.device(userId, deviceId), { contentType: CT.activate, body });

export interface ExpectedToken {
  id: string;
  serialNumber: string;
  type: 'HOTP' | 'TOTP';
  otpLength: number;
  hashAlgorithm?: string;
  counter?: number;
  timeStep?: number;
  drift?: number;
  rowNumber?: number;
  devices?: Array<{ id: string; user: { id: string } }>;
  createdAt: number;
  updatedAt: number;
}

/** The whole token body (wave-2 reference §4.1): no secret. */
export function tokenBody(t: Tenant, e: ExpectedToken): Record<string, unknown> {
  const api = t.server.config.apiPath;
  return {
    _links: { self: { href: `${api}/environments/${t.env}/oathTokens/${e.id}` }, environment: { href: `${api}/environments/${t.env}` } },
    id: e.id,
    environment: { id: t.env },
    type: e.type,
    serialNumber: e.serialNumber,
    otpLength: e.otpLength,
    hashAlgorithm: e.hashAlgorithm ?? 'HmacSHA1',
    ...(e.type === 'HOTP' ? { hotp: { counter: e.counter ?? 0 } } : { totp: { timeStep: e.timeStep ?? 30, drift: e.drift ?? 0 } }),
    ...(e.rowNumber !== undefined ? { rowNumber: e.rowNumber } : {}),
    devices: e.devices ?? [],
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

/** The whole job body (wave-2 reference §4.2, the verbatim examples' shape: `self` under /jobs/). */
export function jobBody(t: Tenant, id: string, type: string, result: Record<string, unknown>, async = true): Record<string, unknown> {
  const api = t.server.config.apiPath;
  return {
    _links: { self: { href: `${api}/environments/${t.env}/jobs/${id}` }, environment: { href: `${api}/environments/${t.env}` } },
    id,
    environment: { id: t.env },
    type,
    async,
    status: 'DONE',
    result,
  };
}

/** The whole OATH_TOKEN device body (reference §2.1; `serialNumber` after the common members). */
export function oathDeviceBody(t: Tenant, userId: string, d: { id: string; serialNumber: string; status: string; createdAt: number; updatedAt: number; lock?: unknown }): Record<string, unknown> {
  const api = t.server.config.apiPath;
  const self = `${api}/environments/${t.env}/users/${userId}/devices/${d.id}`;
  return {
    _links: {
      self: { href: self },
      environment: { href: `${api}/environments/${t.env}` },
      user: { href: `${api}/environments/${t.env}/users/${userId}` },
      ...(d.status === 'ACTIVATION_REQUIRED' ? { activate: { href: self } } : {}),
    },
    id: d.id,
    environment: { id: t.env },
    user: { id: userId },
    type: 'OATH_TOKEN',
    lock: d.lock ?? { status: 'UNLOCKED' },
    block: { status: 'UNBLOCKED' },
    status: d.status,
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
    serialNumber: d.serialNumber,
  };
}

export const tokenRow = async (t: Tenant, id: string) =>
  t.server.store.db.selectFrom('oath_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
export const tokenCount = async (t: Tenant): Promise<number> => {
  const { n } = await t.server.store.db.selectFrom('oath_tokens').select((eb) => eb.fn.countAll<number>().as('n')).where('environment_id', '=', t.env).executeTakeFirstOrThrow();
  return Number(n);
};
