/**
 * The OATH token inventory and its jobs (wave-2 reference §4.1, §4.2): request and response
 * schemas, and how a stored row is shown. A token's secret is input only: no response schema
 * declares it, and a job names a duplicate by its serial number and a masked secret.
 */
import { Type, type Static } from 'typebox';
import { iso } from '../clock.js';
import type { Context } from '../context.js';
import { link } from '../http/links.js';
import { Links, Ref, Timestamp, responseForm } from '../http/schemas.js';
import { parseStored } from '../http/validation.js';
import type { OathJobsTable, OathTokensTable } from '../store/schema.js';

export const CREATE_JOB = 'application/vnd.pingidentity.job.oathtokens.create+json';
export const REVOKE_JOB = 'application/vnd.pingidentity.job.oathtokens.revoke+json';
export const RESYNC = 'application/vnd.pingidentity.device.resync+json';

/** Tokens one import job takes (PingOne states no limit per job [gap]; ours bounds a request). */
export const MAX_JOB_TOKENS = 1000;
/** The import route's body limit: 1,000 tokens of the longest serial number and secret fit. */
export const JOB_BODY_LIMIT = 512 * 1024;
/** Wave-2 reference §4.1. */
export const MAX_ENVIRONMENT_TOKENS = 100_000;

const Serial = Type.String({ minLength: 1, maxLength: 50, pattern: '^[A-Za-z0-9]+$' });
const TokenId = Type.String({ minLength: 1, maxLength: 64 });
/** Hex, whole bytes, 128 bits at least (RFC 4226 §4 R6) and at most PingOne's 200 characters. */
const Secret = Type.String({ minLength: 1, maxLength: 200, pattern: '^([0-9A-Fa-f]{2}){16,100}$' });

export const ImportToken = Type.Object({
  serialNumber: Serial,
  secret: Secret,
  type: Type.Enum(['HOTP', 'TOTP']),
  otpLength: Type.Union([Type.Literal(6), Type.Literal(8)]),
  hashAlgorithm: Type.Optional(Type.Enum(['HmacSHA1', 'HmacSHA256', 'HmacSHA512'])),
  hotp: Type.Optional(Type.Object({ counter: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 48 })) }, { additionalProperties: false })),
  totp: Type.Optional(Type.Object({ timeStep: Type.Optional(Type.Union([Type.Literal(30), Type.Literal(60)])) }, { additionalProperties: false })),
  rowNumber: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
}, { additionalProperties: false });
export type ImportToken = Static<typeof ImportToken>;

export const ImportJobInput = Type.Object({
  type: Type.Literal('CREATE_OATH_TOKENS'),
  async: Type.Optional(Type.Boolean()),
  tokens: Type.Array(ImportToken, { minItems: 1, maxItems: MAX_JOB_TOKENS }),
}, { additionalProperties: false });

export const RevokeJobInput = Type.Object({
  type: Type.Literal('REVOKE_OATH_TOKENS'),
  async: Type.Optional(Type.Boolean()),
  forceUnpair: Type.Optional(Type.Boolean()),
  tokenIds: Type.Array(TokenId, { minItems: 1, maxItems: MAX_JOB_TOKENS }),
}, { additionalProperties: false });

/** Two consecutive codes in one call, or one per call in two calls (§4.2). */
export const ResyncInput = Type.Object({
  otps: Type.Array(Type.String({ minLength: 1, maxLength: 10, pattern: '^[0-9]{6,10}$' }), { minItems: 1, maxItems: 2 }),
}, { additionalProperties: false });

// ---- tokens -----------------------------------------------------------------------------------

/**
 * Nothing required (http/schemas.ts responseForm): the serializer writes required members
 * first, and `hotp`/`totp` and `rowNumber` sit before `devices` and the times.
 */
export const OathTokenSchema = responseForm(Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  type: Type.String(),
  serialNumber: Type.String(),
  otpLength: Type.Integer(),
  hashAlgorithm: Type.String(),
  hotp: Type.Optional(Type.Object({ counter: Type.Integer() })),
  totp: Type.Optional(Type.Object({ timeStep: Type.Integer(), drift: Type.Integer() })),
  rowNumber: Type.Optional(Type.Integer()),
  devices: Type.Array(Type.Object({ id: Type.String(), user: Ref })),
  createdAt: Timestamp,
  updatedAt: Timestamp,
}));

export const tokenUrl = (ctx: Context, environmentId: string, tokenId: string) => `${ctx.links.environment(environmentId)}/oathTokens/${tokenId}`;

export function presentToken(ctx: Context, row: OathTokensTable) {
  return {
    _links: { self: link(tokenUrl(ctx, row.environment_id, row.id)), environment: link(ctx.links.environment(row.environment_id)) },
    id: row.id,
    environment: { id: row.environment_id },
    type: row.type,
    serialNumber: row.serial_number,
    otpLength: row.otp_length,
    hashAlgorithm: row.hash_algorithm,
    ...(row.type === 'HOTP' ? { hotp: { counter: Number(row.counter ?? 0) } } : { totp: { timeStep: row.time_step ?? 30, drift: row.drift ?? 0 } }),
    ...(row.row_number !== null ? { rowNumber: row.row_number } : {}),
    devices: row.device_id !== null && row.device_user_id !== null ? [{ id: row.device_id, user: { id: row.device_user_id } }] : [],
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

// ---- jobs -------------------------------------------------------------------------------------

const Duplicate = Type.Object({ serialNumber: Type.String(), maskedSecret: Type.String() });
const JobBody = Type.Object({
  async: Type.Boolean(),
  status: Type.Enum(['IN_PROGRESS', 'DONE', 'FAILED']),
  reason: Type.Optional(Type.String()),
  result: Type.Optional(Type.Object({
    created: Type.Optional(Type.Integer()),
    duplicates: Type.Optional(Type.Array(Duplicate)),
    revoked: Type.Optional(Type.Integer()),
  })),
});
export type JobBody = Static<typeof JobBody>;

export const OathJobSchema = Type.Object({
  _links: Links,
  id: Type.String(),
  environment: Ref,
  type: Type.String(),
  ...JobBody.properties,
});

/** PingOne's mask: the secret's first two characters, then six asterisks (§4.2: `"6E******"`). */
export const maskSecret = (secret: string): string => `${secret.slice(0, 2).toUpperCase()}******`;

/**
 * The job as PingOne answers it (§4.2, verbatim examples). Its `self` link is `/jobs/{id}` as in
 * PingOne's examples, not `/oathJobs/{id}`; OpenMFA serves both paths (README, decisions).
 */
export function presentJob(ctx: Context, row: OathJobsTable) {
  const body = parseStored(JobBody, row.body, 'OATH job');
  return {
    _links: { self: link(`${ctx.links.environment(row.environment_id)}/jobs/${row.id}`), environment: link(ctx.links.environment(row.environment_id)) },
    id: row.id,
    environment: { id: row.environment_id },
    type: row.type,
    async: body.async,
    status: body.status,
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
    ...(body.result !== undefined ? { result: body.result } : {}),
  };
}
