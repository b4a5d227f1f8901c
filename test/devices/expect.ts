/**
 * Assertions the device suites share: "nothing changed" — the device as the API shows it and
 * the stored credential state, before and after a refused request. The error envelope is
 * asserted by test/support/errors.ts.
 */
import type { DevicesTable } from '../../src/store/schema.js';
import type { TestServer } from '../helper.js';
import { ACTIVATE } from './desktop-fixtures.js';

export const deviceRow = (server: TestServer, deviceId: string): Promise<DevicesTable | undefined> =>
  server.store.db.selectFrom('devices').selectAll().where('id', '=', deviceId).executeTakeFirst();

/** The device as it reads and is stored now, and the check that nothing changed (shared with the OTP suites). */
export { assertUnchanged, snapshot, type Snapshot } from './otp-support.js';

export const activate = (server: TestServer, path: string, attestation: unknown, token?: string) =>
  server.request('POST', path, { contentType: ACTIVATE, body: { attestation }, ...(token !== undefined ? { token } : {}) });
