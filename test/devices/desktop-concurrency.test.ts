/**
 * Racing activations (protocol §1.3 step 8): the state change is one conditional update, so
 * however many requests carry a valid attestation at once, the device is activated once, by
 * one of them, and the losers neither change it nor count as failed attempts. Runs on SQLite
 * and on PostgreSQL (scripts/test.mjs runs every file that starts a test server on both).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestServer, type Response, type TestServer } from '../helper.js';
import { attest, newCredential, pendingDesktop } from './desktop-fixtures.js';
import { activate, deviceRow } from './expect.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

function losersRefused(results: Response[]): void {
  for (const r of results) {
    assert.ok(r.status >= 400 && r.status < 500, `a loser answered ${r.status}: ${r.text}`);
    // Copies past the policy's count meet the lock the Nth reservation set (devices/attempts.ts).
    const target = r.body.details?.[0]?.target === 'lock.status' ? 'lock.status' : 'status';
    expectError(r, 400, 'REQUEST_FAILED', { code: 'INVALID_VALUE', target });
  }
}

for (let round = 1; round <= 3; round++) {
  test(`a replay race: 20 concurrent activations with ONE valid attestation activate the device exactly once (round ${round})`, async () => {
    const p = await pendingDesktop(server, env);
    const attestation = await attest(p.options, { now: server.clock.now() });
    const results = await Promise.all(Array.from({ length: 20 }, () => activate(server, p.path, attestation)));
    const winners = results.filter((r) => r.status === 200);
    assert.equal(winners.length, 1, results.map((r) => r.status).join(','));
    losersRefused(results.filter((r) => r.status !== 200));
    assert.equal(winners[0]!.body.status, 'ACTIVE');

    const read = await server.request('GET', p.path);
    assert.deepEqual(read.body, winners[0]!.body);
    const row = await deviceRow(server, p.deviceId);
    assert.equal(row?.status, 'ACTIVE');
    assert.equal(row?.failed_attempts, 0, 'losing a race is not a failed attempt');
    assert.equal(row?.locked_until, null);
    assert.equal(row?.challenge_hash, null);
    assert.equal(row?.activated_at, server.clock.now());
  });
}

test('a credential race: 20 different valid attestations for one pairing leave exactly one credential, the winner\'s', async () => {
  const p = await pendingDesktop(server, env);
  const creds = Array.from({ length: 20 }, () => newCredential());
  const now = server.clock.now();
  const attestations = await Promise.all(creds.map((credential, i) => attest(p.options, { now, credential, claims: { credentialId: `cred-${i}` } })));
  const results = await Promise.all(attestations.map((a) => activate(server, p.path, a)));
  const winnerIndex = results.findIndex((r) => r.status === 200);
  assert.ok(winnerIndex >= 0);
  assert.equal(results.filter((r) => r.status === 200).length, 1);
  losersRefused(results.filter((_, i) => i !== winnerIndex));
  const row = await deviceRow(server, p.deviceId);
  assert.equal(row?.credential_id, `cred-${winnerIndex}`);
  assert.deepEqual(JSON.parse(row?.public_jwk ?? 'null'), creds[winnerIndex]!.publicJwk);
  assert.equal(row?.failed_attempts, 0);
});
