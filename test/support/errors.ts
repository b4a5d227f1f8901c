/**
 * The one error-body assertion of the suites: PingOne's envelope (reference §7.3) compared
 * whole — status, Content-Type, `code`, `message` and every detail — apart from the `id`,
 * which must be a UUID. A detail's message may be given as a RegExp.
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
