/**
 * Push credentials (wave-2 reference §3.6), both dialects: APNS, FCM_HTTP_V1 and HMS made,
 * read, replaced and deleted in PingOne's shape; the write-only members never answered and
 * never stored in clear.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'kysely';
import { useTestServer, withoutVolatile, type TestServer } from '../helper.js';
import { expectError } from '../support/errors.js';
import { mobileTenant, type MobileTenant } from './support.js';

let server: TestServer;
let t: MobileTenant;
useTestServer(async (s) => { server = s; t = await mobileTenant(s, 'push credentials'); });
const base = () => `/v1/environments/${t.env}/applications/${t.appId}/pushCredentials`;
/** A p8 key on one line (the key-file members also take it with its line breaks: below). */
const P8 = '-----BEGIN PRIVATE KEY----- MIGTAgEAsecretsecret -----END PRIVATE KEY-----';
/** An APNs p8 key as Apple hands it out: PKCS #8 PEM, LF line breaks (made here by node:crypto, not by OpenMFA). */
const realP8 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
/** What a credential's sealed members hold, opened with the server's master key. */
const sealedOf = async (id: string) => {
  const row = await server.store.db.selectFrom('push_credentials').select('secret_sealed').where('id', '=', id).executeTakeFirstOrThrow();
  return JSON.parse(server.ctx.box.open(row.secret_sealed, `push_credential:${id}`)) as Record<string, string>;
};
const count = async () => (await server.request('GET', base())).body.count as number;

test('HMS as the reference\'s 201 (clientId shown, clientSecret never); APNS and FCM_HTTP_V1 show no secret member; list, PUT, DELETE', async () => {
  const hms = await server.request('POST', base(), { body: { type: 'HMS', clientId: '18990263257248', clientSecret: 'hms-secret-value' } });
  assert.equal(hms.status, 201, hms.text);
  const api = server.config.apiPath;
  assert.deepEqual(withoutVolatile(hms.body), {
    _links: { self: { href: `${api}/environments/<id>/applications/<id>/pushCredentials/<id>` }, environment: { href: `${api}/environments/<id>` }, application: { href: `${api}/environments/<id>/applications/<id>` } },
    id: '<id>', environment: { id: '<id>' }, application: { id: '<id>' }, createdAt: '<time>', updatedAt: '<time>', clientId: '18990263257248', type: 'HMS',
  });
  assert.deepEqual(Object.keys(hms.body), ['_links', 'id', 'environment', 'application', 'createdAt', 'updatedAt', 'clientId', 'type']);
  const apns = await server.request('POST', base(), { body: { type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: P8 } });
  assert.equal(apns.status, 201, apns.text);
  const fcm = await server.request('POST', base(), { body: { type: 'FCM_HTTP_V1', googleServiceAccountCredentials: JSON.stringify({ type: 'service_account', private_key: 'pk-secret' }) } });
  assert.equal(fcm.status, 201, fcm.text);
  const list = await server.request('GET', base());
  assert.equal(list.body.count, 3);
  const everything = JSON.stringify(list.body) + JSON.stringify(apns.body) + JSON.stringify(fcm.body) + server.logs.text;
  for (const s of ['hms-secret-value', 'MIGTAgEAsecretsecret', 'TEAM42', 'KEY123', 'pk-secret']) assert.ok(!everything.includes(s), s);
  const stored = JSON.stringify((await sql`select * from push_credentials`.execute(server.store.db)).rows);
  for (const s of ['hms-secret-value', 'MIGTAgEAsecretsecret', 'pk-secret']) assert.ok(!stored.includes(s), s);

  server.clock.advance(1000);
  const put = await server.request('PUT', `${base()}/${hms.body.id}`, { body: { type: 'HMS', clientId: 'new-client', clientSecret: 'other' } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.clientId, 'new-client');
  assert.notEqual(put.body.updatedAt, put.body.createdAt);
  expectError(await server.request('PUT', `${base()}/${hms.body.id}`, { body: { type: 'APNS', key: 'k', teamId: 't', token: P8 } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'type' }]);
  assert.equal((await server.request('DELETE', `${base()}/${apns.body.id}`)).status, 204);
  expectError(await server.request('GET', `${base()}/${apns.body.id}`), 404, 'NOT_FOUND');
});

test('refused: a missing member, a member of another type, legacy FCM, FCM credentials that are not JSON, a worker application — nothing made', async () => {
  expectError(await server.request('POST', base(), { body: { type: 'APNS', key: 'k', teamId: 't' } }), 400, 'INVALID_DATA', [{ code: 'REQUIRED_VALUE', target: 'token' }]);
  expectError(await server.request('POST', base(), { body: { type: 'HMS', clientId: 'c', clientSecret: 's', token: 'x' } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'token' }]);
  expectError(await server.request('POST', base(), { body: { type: 'FCM', key: 'legacy' } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'type' }]);
  expectError(await server.request('POST', base(), { body: { type: 'FCM_HTTP_V1', googleServiceAccountCredentials: 'not json' } }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target: 'googleServiceAccountCredentials' }]);
  const worker = `/v1/environments/${t.env}/applications`;
  const w = await server.request('POST', worker, { body: { name: 'w', type: 'WORKER' } });
  expectError(await server.request('POST', `${worker}/${w.body.id}/pushCredentials`, { body: { type: 'HMS', clientId: 'c', clientSecret: 's' } }), 400, 'REQUEST_FAILED', [{ code: 'INVALID_VALUE', target: 'application.id' }]);
  assert.equal((await server.request('GET', base())).body.count, 2);
});

test('key files keep their line breaks: a PEM p8 key (LF and CR LF) as APNS token and a pretty-printed service account JSON are taken and sealed as given', async () => {
  const pem = realP8();
  assert.ok(pem.includes('\n'));
  const apns = await server.request('POST', base(), { body: { type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: pem } });
  assert.equal(apns.status, 201, apns.text);
  assert.deepEqual(await sealedOf(apns.body.id), { key: 'KEY123', teamId: 'TEAM42', token: pem });
  const crlf = pem.replace(/\n/g, '\r\n');
  const put = await server.request('PUT', `${base()}/${apns.body.id}`, { body: { type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: crlf } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(await sealedOf(apns.body.id), { key: 'KEY123', teamId: 'TEAM42', token: crlf });
  const json = JSON.stringify({ type: 'service_account', project_id: 'p', private_key: pem }, null, 2);
  const fcm = await server.request('POST', base(), { body: { type: 'FCM_HTTP_V1', googleServiceAccountCredentials: json } });
  assert.equal(fcm.status, 201, fcm.text);
  assert.deepEqual(await sealedOf(fcm.body.id), { googleServiceAccountCredentials: json });
  for (const id of [apns.body.id, fcm.body.id]) assert.equal((await server.request('DELETE', `${base()}/${id}`)).status, 204);
});

test('threat: control characters forged into push credentials (log and terminal injection, NUL as a 500 on PostgreSQL) — other control characters in key files, and any line break in the other members, refused 400 with nothing made', async () => {
  const before = await count();
  const pem = realP8();
  const cases: Array<[Record<string, string>, string]> = [
    [{ type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: pem.replace('\n', '\t') }, 'token'],
    [{ type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: pem.replace('\n', '\r') }, 'token'],
    [{ type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: `${pem}\u0000` }, 'token'],
    [{ type: 'APNS', key: 'KEY123', teamId: 'TEAM42', token: `${pem}\u001b[2J` }, 'token'],
    [{ type: 'APNS', key: 'KEY\n123', teamId: 'TEAM42', token: pem }, 'key'],
    [{ type: 'APNS', key: 'KEY123', teamId: 'TEAM\r\n42', token: pem }, 'teamId'],
    [{ type: 'FCM_HTTP_V1', googleServiceAccountCredentials: '{\n\t"type": "service_account"\n}' }, 'googleServiceAccountCredentials'],
    [{ type: 'HMS', clientId: 'c\nd', clientSecret: 's' }, 'clientId'],
    [{ type: 'HMS', clientId: 'c', clientSecret: 's\r\nt' }, 'clientSecret'],
  ];
  for (const [body, target] of cases) {
    expectError(await server.request('POST', base(), { body }), 400, 'INVALID_DATA', [{ code: 'INVALID_VALUE', target, message: /must not contain control characters/ }]);
  }
  assert.equal(await count(), before);
});
