/**
 * JSON the server wrote is checked when read back, never cast: a row whose JSON does not hold
 * what the code expects (a bad migration, a hand edit) is a fault — 500 in the envelope, the
 * row named in the log, nothing else answered from it — not a wrong answer built from it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTenant, type TestServer } from '../helper.js';
import { assertError } from '../support/errors.js';

let server: TestServer;
let env: string;
let userId: string;
useTenant('stored json', (t) => ({ server, env, userId } = t));

test('a device whose stored extra holds the wrong type reads as a 500, with the row named in the log', async () => {
  const made = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'EMAIL', email: 'a@example.com', status: 'ACTIVE' } });
  assert.equal(made.status, 201, made.text);
  await server.store.db.updateTable('devices').set({ extra: JSON.stringify({ email: 42 }) }).where('id', '=', made.body.id).execute();
  const res = await server.request('GET', `/v1/environments/${env}/users/${userId}/devices/${made.body.id as string}`);
  assertError(res, 500, { code: 'UNEXPECTED_ERROR', message: 'The request could not be completed. An unexpected error occurred.' });
  assert.match(server.logs.text, /the stored device extra does not match its schema/);
  assert.ok(!server.logs.text.includes('"email":42'), 'the row itself is not logged');
});

test('a policy whose stored body holds the wrong type reads as a 500', async () => {
  const made = await server.request('POST', `/v1/environments/${env}/deviceAuthenticationPolicies`, { body: { name: 'to corrupt' } });
  assert.equal(made.status, 201, made.text);
  const row = await server.store.db.selectFrom('device_authentication_policies').select('body').where('id', '=', made.body.id).executeTakeFirstOrThrow();
  const body = JSON.parse(row.body) as { sms: { enabled: unknown } };
  body.sms.enabled = 'yes';
  await server.store.db.updateTable('device_authentication_policies').set({ body: JSON.stringify(body) }).where('id', '=', made.body.id).execute();
  const res = await server.request('GET', `/v1/environments/${env}/deviceAuthenticationPolicies/${made.body.id as string}`);
  assertError(res, 500, { code: 'UNEXPECTED_ERROR', message: 'The request could not be completed. An unexpected error occurred.' });
});
