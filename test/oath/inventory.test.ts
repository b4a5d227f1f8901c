/**
 * The OATH token inventory (wave-2 reference §4.1, §4.2): import jobs with the documented body
 * and media type, job status as documented (self under /jobs/), duplicates reported with a
 * masked secret, the list with the documented filter, read, revoke (DELETE, and jobs with and
 * without forceUnpair). Secrets are never returned and are sealed at rest. Malformed import
 * bodies are 400 naming each target, and import nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type TestServer } from '../helper.js';
import { newTenant, newUser, type Tenant } from '../authentication/support.js';
import { expectError } from '../support/errors.js';
import { CT, importJob, importToken, jobBody, jobs, newSecret, newSerial, oathDevice, token, tokenBody, tokenCount, tokenRow, tokens } from './support.js';

let server: TestServer;
let t: Tenant;
useTestServer(async (s) => {
  server = s;
  t = await newTenant(server, 'oath inventory');
});

const byFilter = (serial: string) => t.call('GET', `${tokens(t)}?filter=${encodeURIComponent(`serialNumber eq "${serial}"`)}`);

test('import: the documented body → 202, job DONE with created and masked duplicates; GET …/oathJobs/{id} and the self link (/jobs/{id}) answer the same body', async () => {
  const [a, b, c] = [newSerial(), newSerial(), newSerial()];
  const first = await importJob(t, [{ serialNumber: a, secret: '6EBD59F71A634C48C4619CD33F6C385C9237C9BA', type: 'HOTP', hotp: { counter: 456789 }, otpLength: 8 }]);
  assert.equal(first.status, 202, first.text);
  assert.deepEqual(first.body, jobBody(t, first.body.id, 'CREATE_OATH_TOKENS', { created: 1, duplicates: [] }));
  const res = await importJob(t, [
    { serialNumber: a, secret: '6EBD59F71A634C48C4619CD33F6C385C9237C9BA', type: 'HOTP', otpLength: 8 },
    { serialNumber: b, secret: '6EBD88F71A634C48C4619CD33F6C385C9237C9BA', type: 'TOTP', totp: { timeStep: 30 }, otpLength: 6, hashAlgorithm: 'HmacSHA512' },
    { serialNumber: c, secret: newSecret(), type: 'TOTP', totp: { timeStep: 60 }, otpLength: 6, rowNumber: 3 },
    { serialNumber: b, secret: 'AB' + newSecret().slice(2), type: 'TOTP', otpLength: 6 },
  ]);
  assert.equal(res.status, 202, res.text);
  const expected = jobBody(t, res.body.id, 'CREATE_OATH_TOKENS', {
    created: 2, duplicates: [{ serialNumber: a, maskedSecret: '6E******' }, { serialNumber: b, maskedSecret: 'AB******' }],
  });
  assert.deepEqual(res.body, expected);
  assert.equal(Object.keys(res.body).join(','), '_links,id,environment,type,async,status,result', 'PingOne key order');
  for (const path of [`${jobs(t)}/${res.body.id}`, `/v1/environments/${t.env}/jobs/${res.body.id}`]) {
    const read = await t.call('GET', path);
    assert.equal(read.status, 200, read.text);
    assert.deepEqual(read.body, expected);
  }
  const other = await newTenant(server, 'oath inventory other');
  expectError(await other.call('GET', `/v1/environments/${other.env}/oathJobs/${res.body.id}`), 404, 'NOT_FOUND');
});

test('list with the documented filter, and read: whole bodies in PingOne key order, never a secret; the seed is sealed at rest', async () => {
  const now = server.clock.now();
  const secret = newSecret(32);
  const serial = newSerial();
  await importJob(t, [{ serialNumber: serial, secret, type: 'TOTP', totp: { timeStep: 60 }, otpLength: 8, hashAlgorithm: 'HmacSHA256', rowNumber: 7 }]);
  const list = await byFilter(serial);
  assert.equal(list.status, 200, list.text);
  const id = list.body._embedded.oathTokens[0].id as string;
  const body = tokenBody(t, { id, serialNumber: serial, type: 'TOTP', otpLength: 8, hashAlgorithm: 'HmacSHA256', timeStep: 60, drift: 0, rowNumber: 7, createdAt: now, updatedAt: now });
  assert.deepEqual(list.body, {
    _links: { self: { href: `${server.config.publicUrl}${tokens(t)}?filter=${encodeURIComponent(`serialNumber eq "${serial}"`)}` } },
    _embedded: { oathTokens: [body] },
    count: 1,
    size: 1,
  });
  const read = await t.call('GET', token(t, id));
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, body);
  assert.equal(Object.keys(read.body).join(','), '_links,id,environment,type,serialNumber,otpLength,hashAlgorithm,totp,rowNumber,devices,createdAt,updatedAt');
  for (const text of [list.text, read.text]) {
    assert.ok(!text.toUpperCase().includes(secret), 'no secret in a response');
    assert.ok(!text.includes('"secret"'), 'no secret member');
  }
  const row = await tokenRow(t, id);
  assert.ok(!row.secret_sealed.toUpperCase().includes(secret));
  assert.ok(!row.secret_sealed.includes(Buffer.from(secret, 'hex').toString('base64')));
  assert.ok(!row.secret_sealed.includes(Buffer.from(secret, 'hex').toString('base64url')));
});

test('the filter: an attribute the inventory does not filter on is 400 INVALID_FILTER; no match is an empty page', async () => {
  expectError(await t.call('GET', `${tokens(t)}?filter=${encodeURIComponent('secret eq "00"')}`), 400, 'INVALID_DATA', { code: 'INVALID_FILTER', target: 'filter' });
  const none = await byFilter('NOSUCHSERIAL');
  assert.equal(none.status, 200, none.text);
  assert.deepEqual(none.body._embedded.oathTokens, []);
  assert.equal(none.body.count, 0);
});

const VALID = () => ({ serialNumber: newSerial(), secret: newSecret(), type: 'HOTP', otpLength: 6 });
const MALFORMED: ReadonlyArray<[string, unknown, Array<{ code: string; target: string }>]> = [
  ['tokens missing', { type: 'CREATE_OATH_TOKENS' }, [{ code: 'REQUIRED_VALUE', target: 'tokens' }]],
  ['the wrong job type', { type: 'REVOKE_OATH_TOKENS', tokens: [VALID()] }, [{ code: 'INVALID_VALUE', target: 'type' }]],
  ['an empty token list', { type: 'CREATE_OATH_TOKENS', tokens: [] }, [{ code: 'INVALID_VALUE', target: 'tokens' }]],
  ['a secret that is not hex', { type: 'CREATE_OATH_TOKENS', tokens: [VALID(), { ...VALID(), secret: 'XYZ'.repeat(14) }] }, [{ code: 'INVALID_VALUE', target: 'tokens[1].secret' }]],
  ['a secret shorter than 128 bits', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), secret: 'AB'.repeat(15) }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].secret' }]],
  ['a secret longer than 200 characters', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), secret: 'AB'.repeat(101) }] }, [{ code: 'SIZE_LIMIT_EXCEEDED', target: 'tokens[0].secret' }, { code: 'INVALID_VALUE', target: 'tokens[0].secret' }]],
  ['otpLength 7', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), otpLength: 7 }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].otpLength' }]],
  ['a serial number with a space', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), serialNumber: 'AB 12' }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].serialNumber' }]],
  ['a serial number of 51 characters', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), serialNumber: 'A'.repeat(51) }] }, [{ code: 'SIZE_LIMIT_EXCEEDED', target: 'tokens[0].serialNumber' }]],
  ['an unknown token type', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), type: 'OCRA' }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].type' }]],
  ['timeStep 45', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), type: 'TOTP', totp: { timeStep: 45 } }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].totp.timeStep' }]],
  ['a negative counter', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), hotp: { counter: -1 } }] }, [{ code: 'OUT_OF_RANGE', target: 'tokens[0].hotp.counter' }]],
  ['an unknown member', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), pin: '1234' }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].pin' }]],
  ['a missing secret', { type: 'CREATE_OATH_TOKENS', tokens: [{ serialNumber: newSerial(), type: 'HOTP', otpLength: 6 }] }, [{ code: 'REQUIRED_VALUE', target: 'tokens[0].secret' }]],
  ['HOTP with HmacSHA256', { type: 'CREATE_OATH_TOKENS', tokens: [VALID(), { ...VALID(), hashAlgorithm: 'HmacSHA256' }] }, [{ code: 'INVALID_VALUE', target: 'tokens[1].hashAlgorithm' }]],
  ['HOTP with a totp section, TOTP with an hotp section', { type: 'CREATE_OATH_TOKENS', tokens: [{ ...VALID(), totp: { timeStep: 30 } }, { ...VALID(), type: 'TOTP', hotp: { counter: 1 } }] }, [{ code: 'INVALID_VALUE', target: 'tokens[0].totp' }, { code: 'INVALID_VALUE', target: 'tokens[1].hotp' }]],
  ['1001 tokens', { type: 'CREATE_OATH_TOKENS', tokens: Array.from({ length: 1001 }, () => ({ serialNumber: newSerial(), secret: 'AB'.repeat(16), type: 'HOTP', otpLength: 6 })) }, [{ code: 'INVALID_VALUE', target: 'tokens' }]],
];

for (const [label, body, details] of MALFORMED) {
  test(`malformed import (${label}) → 400 INVALID_DATA naming ${details.map((d) => d.target).join(', ')}, and nothing is imported`, async () => {
    const before = await tokenCount(t);
    const res = await t.call('POST', jobs(t), { contentType: CT.createJob, body });
    expectError(res, 400, 'INVALID_DATA', details);
    assert.equal(await tokenCount(t), before);
  });
}

test('import with application/json or with the revoke media type for a create body: 415 / 400, nothing imported', async () => {
  const before = await tokenCount(t);
  expectError(await t.call('POST', jobs(t), { body: { type: 'CREATE_OATH_TOKENS', tokens: [VALID()] } }), 415, 'INVALID_REQUEST', { code: 'INVALID_VALUE', target: 'Content-Type' });
  expectError(await t.call('POST', jobs(t), { contentType: CT.revokeJob, body: { type: 'CREATE_OATH_TOKENS', tokens: [VALID()] } }), 400, 'INVALID_DATA', [
    { code: 'REQUIRED_VALUE', target: 'tokenIds' }, { code: 'INVALID_VALUE', target: 'tokens' }, { code: 'INVALID_VALUE', target: 'type' },
  ]);
  assert.equal(await tokenCount(t), before);
});

test('DELETE …/oathTokens/{id} revokes a paired token and unpairs it (its device is deleted): 204, then 404 for both', async () => {
  const user = await newUser(t);
  const tok = await importToken(t, { type: 'HOTP' });
  const device = await oathDevice(t, user.id, tok.serialNumber);
  assert.equal(device.status, 201, device.text);
  const del = await t.call('DELETE', token(t, tok.id));
  assert.equal(del.status, 204, del.text);
  expectError(await t.call('GET', token(t, tok.id)), 404, 'NOT_FOUND');
  expectError(await t.call('GET', t.device(user.id, device.body.id)), 404, 'NOT_FOUND');
  expectError(await t.call('DELETE', token(t, tok.id)), 404, 'NOT_FOUND');
});

test('revoke job: unpaired tokens are revoked, a paired one only with forceUnpair; unknown IDs are passed over; job body as documented', async () => {
  const user = await newUser(t);
  const free = await importToken(t, { type: 'HOTP' });
  const pairedTok = await importToken(t, { type: 'TOTP' });
  const device = await oathDevice(t, user.id, pairedTok.serialNumber);
  assert.equal(device.status, 201, device.text);
  const revoke = (body: Record<string, unknown>) => t.call('POST', jobs(t), { contentType: CT.revokeJob, body: { type: 'REVOKE_OATH_TOKENS', async: true, ...body } });
  const first = await revoke({ forceUnpair: false, tokenIds: [free.id, pairedTok.id, '00000000-0000-4000-8000-000000000000'] });
  assert.equal(first.status, 202, first.text);
  assert.deepEqual(first.body, jobBody(t, first.body.id, 'REVOKE_OATH_TOKENS', { revoked: 1 }));
  expectError(await t.call('GET', token(t, free.id)), 404, 'NOT_FOUND');
  assert.equal((await t.call('GET', token(t, pairedTok.id))).status, 200);
  const forced = await revoke({ forceUnpair: true, tokenIds: [pairedTok.id] });
  assert.deepEqual(forced.body, jobBody(t, forced.body.id, 'REVOKE_OATH_TOKENS', { revoked: 1 }));
  expectError(await t.call('GET', token(t, pairedTok.id)), 404, 'NOT_FOUND');
  expectError(await t.call('GET', t.device(user.id, device.body.id)), 404, 'NOT_FOUND');
});

test('a token of another environment: not listed, not readable, not revocable, not resynced (404), and a revoke job there revokes nothing', async () => {
  const tok = await importToken(t, { type: 'HOTP' });
  const other = await newTenant(server, 'oath other environment');
  const list = await other.call('GET', `/v1/environments/${other.env}/oathTokens?filter=${encodeURIComponent(`serialNumber eq "${tok.serialNumber}"`)}`);
  assert.deepEqual(list.body._embedded.oathTokens, []);
  const there = `/v1/environments/${other.env}/oathTokens/${tok.id}`;
  expectError(await other.call('GET', there), 404, 'NOT_FOUND');
  expectError(await other.call('DELETE', there), 404, 'NOT_FOUND');
  expectError(await other.call('POST', there, { contentType: CT.resync, body: { otps: ['123456', '654321'] } }), 404, 'NOT_FOUND');
  const job = await other.call('POST', `/v1/environments/${other.env}/oathJobs`, { contentType: CT.revokeJob, body: { type: 'REVOKE_OATH_TOKENS', tokenIds: [tok.id] } });
  assert.equal(job.body.result.revoked, 0, job.text);
  // And another environment's worker cannot reach this environment's inventory at all.
  expectError(await other.call('GET', `${tokens(t)}/${tok.id}`), 403, 'ACCESS_FAILED', { code: 'INSUFFICIENT_PERMISSIONS' });
  assert.equal((await t.call('GET', token(t, tok.id))).status, 200);
});

test('a serial number imported in two environments is two tokens: each environment pairs its own', async () => {
  const serial = newSerial();
  const a = await importToken(t, { type: 'HOTP', serialNumber: serial });
  const other = await newTenant(server, 'oath same serial');
  const b = await importToken(other, { type: 'HOTP', serialNumber: serial });
  assert.notEqual(a.id, b.id);
});

test('the largest import — 1,000 tokens with 50-character serial numbers and 200-character secrets — fits the route and is imported whole', async () => {
  const before = await tokenCount(t);
  const list = Array.from({ length: 1000 }, (_, i) => ({
    serialNumber: `${newSerial()}${String(i).padStart(4, '0')}`.padEnd(50, 'Z'), secret: newSecret(100), type: 'TOTP', otpLength: 8, hashAlgorithm: 'HmacSHA512', totp: { timeStep: 60 }, rowNumber: i,
  }));
  const res = await importJob(t, list);
  assert.equal(res.status, 202, res.text.slice(0, 500));
  assert.deepEqual(res.body.result, { created: 1000, duplicates: [] });
  assert.equal(await tokenCount(t), before + 1000);
  const page = await t.call('GET', `${tokens(t)}?limit=2`);
  assert.equal(page.body.size, 2);
  assert.ok(page.body._links.next, 'paged');
});
