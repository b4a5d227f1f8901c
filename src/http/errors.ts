/**
 * The one error catalogue: every error the API answers is made here and rendered by
 * `renderError` in PingOne's envelope (reference §7.3): `{id, code, message, details[]}`.
 */
import { randomUUID } from 'node:crypto';

/**
 * Every detail code the API can answer (README, Decisions → Errors, lists each; a test keeps
 * the two in step). PingOne's own where it has one (reference §7.3).
 */
export const DETAIL_CODES = [
  'INVALID_VALUE', 'REQUIRED_VALUE', 'EMPTY_VALUE', 'SIZE_LIMIT_EXCEEDED', 'OUT_OF_RANGE',
  'INVALID_PARAMETER', 'INVALID_FILTER', 'UNIQUENESS_VIOLATION', 'CONSTRAINT_VIOLATION',
  'INVALID_OTP', 'EXTRA_OTP_REQUIRED', 'INVALID_SIGNATURE', 'EXPIRED', 'LIMIT_EXCEEDED', 'NO_USABLE_DEVICES', 'USER_DISABLED', 'ACCOUNT_NOT_USABLE',
  'INVALID_TOKEN', 'INSUFFICIENT_PERMISSIONS', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_FLIGHT',
] as const;
export type DetailCode = (typeof DETAIL_CODES)[number];

/** Every top-level code, with the statuses it is answered with. */
export const ERROR_CODES = {
  INVALID_DATA: [400],
  REQUEST_FAILED: [400, 409, 422],
  INVALID_REQUEST: [400, 408, 413, 415, 431],
  ACCESS_FAILED: [401, 403],
  NOT_FOUND: [404],
  METHOD_NOT_ALLOWED: [405],
  REQUEST_LIMITED: [429],
  UNEXPECTED_ERROR: [500],
  SERVICE_UNAVAILABLE: [503],
} as const satisfies Record<string, readonly number[]>;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  code: DetailCode;
  target?: string;
  message: string;
  innerError?: Record<string, unknown>;
}

export interface ErrorBody {
  id: string;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

export const MESSAGES = {
  INVALID_DATA: 'The request could not be completed. One or more validation errors were in the request.',
  REQUEST_FAILED: 'The request could not be completed. There was an issue processing the request.',
  INVALID_REQUEST: 'The request could not be completed. The request was malformed or invalid.',
  UNSUPPORTED_MEDIA_TYPE: 'The request could not be completed. The Content-Type of the request is not supported here.',
  TOO_LARGE: 'The request could not be completed. The request body is too large.',
  UNAUTHORIZED: 'The request could not be completed. The access token is missing, invalid or expired.',
  FORBIDDEN: 'The request could not be completed. You do not have access to this resource.',
  NOT_FOUND: 'The request could not be completed. The requested resource was not found.',
  REQUEST_LIMITED: 'The request could not be completed. Too many requests were made; try again later.',
  UNEXPECTED_ERROR: 'The request could not be completed. An unexpected error occurred.',
  UNAVAILABLE: 'The request could not be completed. The service is temporarily unavailable.',
  REQUEST_TIMEOUT: 'The request could not be completed. The request was not received in full within the time allowed.',
  HEADERS_TOO_LARGE: 'The request could not be completed. The request headers are too large.',
} as const;

export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;
  /** Made only by the functions below: the catalogue. */
  constructor(status: number, code: ErrorCode, message: string, details?: ErrorDetail[], headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details && details.length > 0 ? details : undefined;
    this.headers = headers;
  }
}

/**
 * The same refusal with every detail's target put under `prefix` (a seed file's JSON path,
 * `environments[0].users[2]`): `email` becomes `environments[0].users[2].email`.
 */
export function under(prefix: string, error: ApiError): ApiError {
  const details = error.details ?? [{ code: 'INVALID_VALUE' as const, message: error.message }];
  return new ApiError(error.status, error.code, error.message, details.map((d) => ({ ...d, target: d.target ? `${prefix}.${d.target}` : prefix })), error.headers);
}

export const invalidData = (...details: ErrorDetail[]): ApiError =>
  new ApiError(400, 'INVALID_DATA', MESSAGES.INVALID_DATA, details);

/** One field's problem, the most common shape. */
export const invalidValue = (target: string, message: string, code: DetailCode = 'INVALID_VALUE', innerError?: Record<string, unknown>): ApiError =>
  invalidData({ code, target, message, ...(innerError ? { innerError } : {}) });

export const requestFailed = (...details: ErrorDetail[]): ApiError =>
  new ApiError(400, 'REQUEST_FAILED', MESSAGES.REQUEST_FAILED, details);

export const invalidRequest = (message: string = MESSAGES.INVALID_REQUEST, details?: ErrorDetail[]): ApiError =>
  new ApiError(400, 'INVALID_REQUEST', message, details);

export const unsupportedMediaType = (contentType: string | undefined): ApiError =>
  new ApiError(415, 'INVALID_REQUEST', MESSAGES.UNSUPPORTED_MEDIA_TYPE, [
    { code: 'INVALID_VALUE', target: 'Content-Type', message: contentType ? `Content-Type ${contentType.slice(0, 100)} is not accepted here` : 'a Content-Type header is required' },
  ]);

export const payloadTooLarge = (): ApiError => new ApiError(413, 'INVALID_REQUEST', MESSAGES.TOO_LARGE);

/**
 * Answered on the socket, before any route, when a request's headers or body did not arrive
 * by the deadline (--headers-timeout, --request-timeout; quality bar S9). PingOne has no
 * 408 code: INVALID_REQUEST, as for the other malformed-request answers (413, 415).
 */
export const requestTimedOut = (): ApiError => new ApiError(408, 'INVALID_REQUEST', MESSAGES.REQUEST_TIMEOUT);

export const headersTooLarge = (): ApiError => new ApiError(431, 'INVALID_REQUEST', MESSAGES.HEADERS_TOO_LARGE);

export const unauthorized = (message = 'The access token is missing, malformed, expired or not issued by this server'): ApiError =>
  new ApiError(401, 'ACCESS_FAILED', MESSAGES.UNAUTHORIZED, [{ code: 'INVALID_TOKEN', message }], { 'WWW-Authenticate': 'Bearer' });

/** Same body whether the environment does not exist or is someone else's (reference §9.3). */
export const forbidden = (): ApiError =>
  new ApiError(403, 'ACCESS_FAILED', MESSAGES.FORBIDDEN, [{ code: 'INSUFFICIENT_PERMISSIONS', message: 'The access token does not grant access to this environment' }]);

/**
 * The FIDO metadata set (wave-2 reference §2.4) is bundled with the server: adding or deleting
 * an entry is refused like any other action the caller may not take (README, Decisions).
 */
export const metadataReadOnly = (): ApiError =>
  new ApiError(403, 'ACCESS_FAILED', MESSAGES.FORBIDDEN, [
    { code: 'INSUFFICIENT_PERMISSIONS', message: 'The FIDO metadata set is read-only in OpenMFA: it is bundled with the server' },
  ]);

/**
 * The administrator application's secret manages every environment: another worker of the
 * bootstrap environment must not read or replace it (that would be an escalation to admin).
 */
export const adminSecretRefused = (): ApiError =>
  new ApiError(403, 'ACCESS_FAILED', MESSAGES.FORBIDDEN, [
    { code: 'INSUFFICIENT_PERMISSIONS', message: 'Only an administrator application may read or regenerate the administrator application secret' },
  ]);

/**
 * OpenMFA's administration API (/openmfa/v1/: reset, snapshots, clock) acts on every
 * environment at once: only the bootstrap administrator application may call it.
 */
export const administratorOnly = (): ApiError =>
  new ApiError(403, 'ACCESS_FAILED', MESSAGES.FORBIDDEN, [
    { code: 'INSUFFICIENT_PERMISSIONS', message: 'Only the bootstrap administrator application may use the OpenMFA administration API' },
  ]);

/** `--clock system`: the clock cannot be set or moved (PingOne has no such API). */
export const clockNotManual = (): ApiError =>
  new ApiError(409, 'REQUEST_FAILED', MESSAGES.REQUEST_FAILED, [
    { code: 'INVALID_VALUE', target: 'clock', message: 'The server runs on the system clock; start it with --clock manual to set or advance the time' },
  ]);

/** Idempotency-Key (draft-ietf-httpapi-idempotency-key-header §2.6): the key names another request. */
export const idempotencyKeyReused = (): ApiError =>
  new ApiError(422, 'REQUEST_FAILED', MESSAGES.REQUEST_FAILED, [
    { code: 'IDEMPOTENCY_KEY_REUSED', target: 'Idempotency-Key', message: 'This Idempotency-Key was used with a different request' },
  ]);

/** …and the first request with the key is still running. */
export const idempotencyKeyInFlight = (): ApiError =>
  new ApiError(409, 'REQUEST_FAILED', MESSAGES.REQUEST_FAILED, [
    { code: 'IDEMPOTENCY_KEY_IN_FLIGHT', target: 'Idempotency-Key', message: 'A request with this Idempotency-Key is still being processed' },
  ], { 'Retry-After': '1' });

export const notFound = (): ApiError => new ApiError(404, 'NOT_FOUND', MESSAGES.NOT_FOUND);


export const requestLimited = (retryAfterSeconds: number, detail: ErrorDetail): ApiError =>
  new ApiError(429, 'REQUEST_LIMITED', MESSAGES.REQUEST_LIMITED, [detail], { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });

/**
 * The store cannot be reached or cannot write (reference §7.3: 503 carries Retry-After; the
 * Go SDK retries it). Also what /health answers then.
 */
export const unavailable = (): ApiError => new ApiError(503, 'SERVICE_UNAVAILABLE', MESSAGES.UNAVAILABLE, undefined, { 'Retry-After': '1' });

export const unexpected = (): ApiError => new ApiError(500, 'UNEXPECTED_ERROR', MESSAGES.UNEXPECTED_ERROR);

export function renderError(error: ApiError): ErrorBody {
  const body: ErrorBody = { id: randomUUID(), code: error.code, message: error.message };
  if (error.details) body.details = error.details;
  return body;
}

/** Maximum-devices refusal, verbatim from reference §7.3. */
export const maxDevicesReached = (maximumAllowed: number): ApiError =>
  requestFailed({ code: 'LIMIT_EXCEEDED', message: 'Maximum allowed devices has been reached', innerError: { maximumAllowed } });

