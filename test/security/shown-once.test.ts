/**
 * Secrets by construction (issue #13): the shared device and flow schemas declared `secret`,
 * `keyUri`, `test` and the desktop creation/request options on GET responses, so only each
 * handler's care kept them out of reads. Now they are declared only on the answers that issue
 * them, and the serializer (declared members only) drops them from every read and list —
 * whatever a row or a handler holds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, createEnvironment, createUser, DIALECT, type TestServer } from '../helper.js';
import { pendingDesktop } from '../devices/desktop-fixtures.js';

let server: TestServer;
let env: string;

useTestServer(async (s) => {
  server = s;
  env = await createEnvironment(server, 'shown once');
});

const DEVICE_SHOWN_ONCE = ['secret', 'keyUri', 'test', 'pingIdDesktopCredentialCreationOptions'];
const FLOW_SHOWN_ONCE = ['test', 'pingIdDesktopCredentialRequestOptions'];
const ALL_SHOWN_ONCE = [...new Set([...DEVICE_SHOWN_ONCE, ...FLOW_SHOWN_ONCE])];

/** Every property name a JSON schema declares, at any depth. */
function declared(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((s) => declared(s, out));
  else if (schema && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties' && v && typeof v === 'object') for (const name of Object.keys(v)) out.add(name);
      declared(v, out);
    }
  }
  return out;
}

test(`the OpenAPI document declares shown-once fields only on the answers that issue them (${DIALECT})`, async () => {
  const doc = (await server.request('GET', '/openapi.json', { token: null })).body;
  const where: Record<string, string[]> = {};
  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
    if (!/\/devices|\/deviceAuthentications/.test(path)) continue;
    for (const [method, op] of Object.entries<any>(item)) {
      for (const [status, r] of Object.entries<any>(op.responses ?? {})) {
        const names = declared(r?.content?.['application/json']?.schema);
        const shown = ALL_SHOWN_ONCE.filter((n) => names.has(n));
        if (shown.length > 0) where[`${method.toUpperCase()} ${path} ${status}`] = shown.sort();
      }
    }
  }
  assert.deepEqual(where, {
    'POST /v1/environments/{envId}/users/{userId}/devices 201': ['keyUri', 'pingIdDesktopCredentialCreationOptions', 'secret', 'test'],
    // sendActivationCode is one of this route's actions: a test device's new code.
    'POST /v1/environments/{envId}/users/{userId}/devices/{deviceId} 200': ['test'],
    'POST /{envId}/deviceAuthentications 200': ['pingIdDesktopCredentialRequestOptions', 'test'],
    'POST /{envId}/deviceAuthentications/{flowId} 200': ['pingIdDesktopCredentialRequestOptions', 'test'],
  });
});

/** The members a device read may have, and no other (src/devices/model.ts presentDevice). */
const DEVICE_READ_KEYS = new Set(['_links', 'id', 'environment', 'user', 'type', 'status', 'nickname', 'lock', 'block', 'createdAt', 'updatedAt',
  'rp', 'os', 'model', 'application', 'unitId', 'phone', 'email', 'testMode']);

test(`a device whose row holds shown-once values never shows them on GET one or the list (${DIALECT})`, async () => {
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const totp = await server.request('POST', devices, { body: { type: 'TOTP' } });
  assert.equal(totp.status, 201, totp.text);
  assert.equal(typeof totp.body.secret, 'string', 'create shows the seed once');
  assert.match(totp.body.keyUri, /^otpauth:\/\/totp\//);
  const email = await server.request('POST', devices, { body: { type: 'EMAIL', email: 'once@example.com', testMode: true, status: 'ACTIVATION_REQUIRED' } });
  assert.equal(email.status, 201, email.text);
  assert.match(email.body.test.otp, /^\d{6}$/);
  const resent = await server.request('POST', `${devices}/${email.body.id as string}`, { contentType: 'application/vnd.pingidentity.device.sendActivationCode+json' });
  assert.equal(resent.status, 200, resent.text);
  assert.match(resent.body.test.otp, /^\d{6}$/, 'sendActivationCode shows the new code once');
  const desktop = await pendingDesktop(server, env);
  assert.equal(typeof desktop.created.pingIdDesktopCredentialCreationOptions, 'string');

  // Every row is made to hold the shown-once values, as a bug or an old version might leave them.
  const planted = { secret: 'PLANTEDSECRET', keyUri: 'otpauth://totp/planted', test: { otp: '999999' }, pingIdDesktopCredentialCreationOptions: 'planted.jwt.value' };
  for (const id of [totp.body.id, email.body.id, desktop.deviceId]) {
    const row = await server.store.db.selectFrom('devices').select('extra').where('id', '=', id).executeTakeFirstOrThrow();
    await server.store.db.updateTable('devices').set({ extra: JSON.stringify({ ...JSON.parse(row.extra), ...planted }) }).where('id', '=', id).execute();
  }

  const reads = [
    ...[totp.body.id, email.body.id].map((id: string) => `${devices}/${id}`),
    desktop.path,
  ];
  for (const path of reads) {
    const res = await server.request('GET', path);
    assert.equal(res.status, 200, res.text);
    const extra = Object.keys(res.body).filter((k) => !DEVICE_READ_KEYS.has(k));
    assert.deepEqual(extra, [], `${path} shows ${extra.join(', ')}`);
    for (const v of [totp.body.secret, totp.body.keyUri, email.body.test.otp, resent.body.test.otp, desktop.created.pingIdDesktopCredentialCreationOptions, ...Object.values(planted).map(String), '999999']) {
      assert.ok(!res.text.includes(v), `${path} shows a shown-once value`);
    }
  }
  for (const list of [devices, `/v1/environments/${env}/users/${desktop.userId}/devices`]) {
    const res = await server.request('GET', `${list}?expand=order`);
    assert.equal(res.status, 200, res.text);
    for (const d of res.body._embedded.devices as Array<Record<string, unknown>>) {
      assert.deepEqual(Object.keys(d).filter((k) => !DEVICE_READ_KEYS.has(k)), [], `${list}: ${JSON.stringify(d)}`);
    }
    assert.ok(!res.text.includes('PLANTED') && !res.text.includes(String(totp.body.secret)), `${list} shows a shown-once value`);
  }
  // The nickname answer is a read of the device too.
  const renamed = await server.request('PUT', `${devices}/${totp.body.id as string}/nickname`, { body: { nickname: 'phone' } });
  assert.equal(renamed.status, 200, renamed.text);
  assert.deepEqual(Object.keys(renamed.body).filter((k) => !DEVICE_READ_KEYS.has(k)), []);
});

test(`a flow's code and request options appear in the answer that issues them and never on GET (${DIALECT})`, async () => {
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const email = await server.request('POST', devices, { body: { type: 'EMAIL', email: 'flow@example.com', testMode: true, status: 'ACTIVE' } });
  assert.equal(email.status, 201, email.text);
  const flow = await server.request('POST', `/${env}/deviceAuthentications`, { body: { user: { id: userId } } });
  assert.equal(flow.status, 200, flow.text);
  assert.equal(flow.body.status, 'OTP_REQUIRED');
  assert.match(flow.body.test.otp, /^\d{6}$/);
  const read = await server.request('GET', `/${env}/deviceAuthentications/${flow.body.id as string}`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(FLOW_SHOWN_ONCE.filter((k) => k in read.body), []);
  assert.ok(!read.text.includes(flow.body.test.otp));
  assert.deepEqual(Object.keys(read.body).sort(), Object.keys(flow.body).filter((k) => k !== 'test').sort());
});
