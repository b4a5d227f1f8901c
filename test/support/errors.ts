/**
 * The error-body assertions of the suites: PingOne's envelope (reference §7.3) compared
 * whole — status, Content-Type, `code`, `message` and every detail — apart from the `id`,
 * which must be a UUID. assertError pins every detail's message (or a RegExp of it);
 * expectError, for suites that pin only codes and targets, still checks that the details are
 * exactly those described.
 */
import assert from 'node:assert/strict';
import type { Response } from '../helper.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const MSG = {
  INVALID_DATA: 'The request could not be completed. One or more validation errors were in the request.',
  REQUEST_FAILED: 'The request could not be completed. There was an issue processing the request.',
  UNSUPPORTED_MEDIA_TYPE: 'The request could not be completed. The Content-Type of the request is not supported here.',
  TOO_LARGE: 'The request could not be completed. The request body is too large.',
  UNAUTHORIZED: 'The request could not be completed. The access token is missing, invalid or expired.',
  FORBIDDEN: 'The request could not be completed. You do not have access to this resource.',
  NOT_FOUND: 'The request could not be completed. The requested resource was not found.',
} as const;

/** The message PingOne gives a 4xx, by status and code; undefined where the suites do not pin one. */
export function messageFor(status: number, code: string): string | undefined {
  if (code === 'ACCESS_FAILED') return status === 401 ? MSG.UNAUTHORIZED : status === 403 ? MSG.FORBIDDEN : undefined;
  if (code === 'INVALID_REQUEST') return status === 413 ? MSG.TOO_LARGE : status === 415 ? MSG.UNSUPPORTED_MEDIA_TYPE : undefined;
  return (MSG as Record<string, string>)[code];
}

export interface ExpectedDetail {
  code: string;
  target?: string;
  message: string | RegExp;
  innerError?: Record<string, unknown>;
}

export interface ExpectedError {
  code: string;
  message: string;
  details?: ExpectedDetail[];
}

export function assertError(res: Response, status: number, expected: ExpectedError): void {
  assert.equal(res.status, status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const { id, details: got, ...rest } = res.body as { id: string; details?: Array<Record<string, unknown>> };
  assert.match(id, UUID);
  assert.deepEqual(rest, { code: expected.code, message: expected.message }, res.text);
  if (expected.details === undefined) {
    assert.equal(got, undefined, res.text);
    return;
  }
  assert.ok(Array.isArray(got), res.text);
  assert.equal(got.length, expected.details.length, res.text);
  expected.details.forEach((d, i) => {
    const { message: m, ...fixed } = d;
    const { message: gm, ...gotFixed } = got[i]!;
    assert.deepEqual(gotFixed, fixed, res.text);
    assert.equal(typeof gm, 'string', res.text);
    if (m instanceof RegExp) assert.match(gm as string, m, res.text);
    else assert.equal(gm, m, res.text);
  });
}

/** A detail as expectError describes it: any part left out is only checked for its type. */
export interface LooseDetail {
  code?: string | RegExp;
  target?: string;
  message?: RegExp;
}

/**
 * A 4xx (never a 5xx) in PingOne's envelope, checked whole: the status, the code, the message
 * the catalogue gives that code, and every detail — exactly the one described, or none when
 * `detail` is left out. A detail's message is matched when given, else only typed.
 */
export function expectError(res: Response, status: number, code: string, detail?: LooseDetail | readonly LooseDetail[]): void {
  assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx, got ${res.status}: ${res.text}`);
  assert.equal(res.status, status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const { id, code: gotCode, message, details, ...rest } = res.body as Record<string, unknown>;
  assert.match(String(id), UUID, res.text);
  assert.equal(gotCode, code, res.text);
  assert.equal(typeof message, 'string', res.text);
  assert.equal(message, messageFor(status, code) ?? message, res.text);
  assert.deepEqual(rest, {}, res.text);
  const expected = detail === undefined ? [] : Array.isArray(detail) ? detail : [detail as LooseDetail];
  if (expected.length === 0) {
    assert.equal(details, undefined, res.text);
    return;
  }
  assert.ok(Array.isArray(details) && details.length === expected.length, `expected ${expected.length} detail(s): ${res.text}`);
  expected.forEach((want, i) => {
    const { code: dCode, target, message: dMessage, innerError, ...unexpected } = details[i] as Record<string, unknown>;
    if (want.code instanceof RegExp) assert.match(String(dCode), want.code, res.text);
    else if (want.code !== undefined) assert.equal(dCode, want.code, res.text);
    else assert.equal(typeof dCode, 'string', res.text);
    assert.equal(target, want.target, res.text);
    assert.equal(typeof dMessage, 'string', res.text);
    if (want.message) assert.match(String(dMessage), want.message, res.text);
    if (innerError !== undefined) assert.equal(typeof innerError, 'object', res.text);
    assert.deepEqual(unexpected, {}, res.text);
  });
}
