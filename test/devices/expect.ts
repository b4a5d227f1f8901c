/**
 * Assertions the device suites share: the error envelope (reference §7.3), and "nothing
 * changed" — the device as the API shows it and the stored credential state, before and after
 * a refused request.
 */
import assert from 'node:assert/strict';
import type { DevicesTable } from '../../src/store/schema.js';
import type { Response, TestServer } from '../helper.js';
import { ACTIVATE } from './desktop-fixtures.js';

export interface ExpectedDetail {
  code?: string | RegExp;
  target?: string;
  message?: RegExp;
}

/** A 4xx (never a 5xx) with PingOne's error envelope, its code, and its first detail. */
export function expectError(res: Response, status: number, code: string, detail?: ExpectedDetail): void {
  assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx, got ${res.status}: ${res.text}`);
  assert.equal(res.status, status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.body.code, code, res.text);
  assert.equal(typeof res.body.id, 'string');
  assert.equal(typeof res.body.message, 'string');
  if (!detail) return;
  const first = res.body.details?.[0];
  assert.ok(first, `expected a detail: ${res.text}`);
  if (detail.code instanceof RegExp) assert.match(first.code, detail.code, res.text);
  else if (detail.code !== undefined) assert.equal(first.code, detail.code, res.text);
  if (detail.target !== undefined) assert.equal(first.target, detail.target, res.text);
  if (detail.message) assert.match(first.message, detail.message, res.text);
}

export const deviceRow = (server: TestServer, deviceId: string): Promise<DevicesTable | undefined> =>
  server.store.db.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();

/** The device as it reads and is stored now, and the check that nothing changed (shared with the OTP suites). */
export { assertUnchanged, snapshot, type Snapshot } from './otp-support.js';

export const activate = (server: TestServer, path: string, attestation: unknown, token?: string) =>
  server.request('POST', path, { contentType: ACTIVATE, body: { attestation }, ...(token !== undefined ? { token } : {}) });
