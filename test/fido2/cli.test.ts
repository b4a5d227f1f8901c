/**
 * `openmfa fido2 register|authenticate` (src/testing/fido2-cli.ts): the option string piped in
 * (alone, or inside the create response), the attestation out, the credential kept in the
 * state file (owner-only) for the next ceremony.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runFido2 } from '../../src/testing/fido2-cli.js';
import { SoftwareAuthenticator } from '../../src/testing/fido2-authenticator.js';
import { createEnvironment, createUser, useTestServer, type TestServer } from '../helper.js';

let server: TestServer;
useTestServer(async (s) => {
  server = s;
});

test('register from the whole create response activates the device; the state file holds the credential, owner-only', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-fido2-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = path.join(dir, 'authenticator.json');
  const env = await createEnvironment(server, 'fido2 cli');
  const userId = await createUser(server, env);
  const created = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices`, { body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' } } });
  assert.equal(created.status, 201, created.text);
  const attestation = runFido2('register', { state, origin: 'http://localhost:8080' }, created.text);
  const done = await server.request('POST', `/v1/environments/${env}/users/${userId}/devices/${created.body.id as string}`, {
    contentType: 'application/vnd.pingidentity.device.activate+json', body: { origin: 'http://localhost:8080', attestation },
  });
  assert.equal(done.status, 200, done.text);
  assert.equal(statSync(state).mode & 0o777, 0o600);
  const saved = SoftwareAuthenticator.load((await import('node:fs')).readFileSync(state, 'utf8'));
  assert.deepEqual(saved.credentials.map((c) => c.id.toString('base64url')), [done.body.credentialId]);
  // The option string alone (a JSON string) is taken too.
  assert.throws(() => runFido2('register', { state, origin: 'http://localhost:8080' }, '{"nothing":1}'), /no publicKeyCredentialCreationOptions/);
  const again = runFido2('register', { state, origin: 'http://localhost:8080' }, JSON.stringify(created.body.publicKeyCredentialCreationOptions));
  assert.equal(JSON.parse(again).type, 'public-key');
});

test('authenticate from the whole flow response completes the flow with the credential the state file kept; the counter moves on in the file', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-fido2-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const state = path.join(dir, 'authenticator.json');
  const origin = 'http://localhost:8080';
  const env = await createEnvironment(server, 'fido2 cli authenticate');
  const userId = await createUser(server, env);
  const devices = `/v1/environments/${env}/users/${userId}/devices`;
  const created = await server.request('POST', devices, { body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' } } });
  const attestation = runFido2('register', { state, origin }, created.text);
  assert.equal((await server.request('POST', `${devices}/${created.body.id as string}`, { contentType: 'application/vnd.pingidentity.device.activate+json', body: { origin, attestation } })).status, 200);
  for (const counter of [1, 2]) {
    const flow = await server.request('POST', `/${env}/deviceAuthentications`, { body: { user: { id: userId } } });
    assert.equal(flow.body.status, 'ASSERTION_REQUIRED', flow.text);
    const assertion = runFido2('authenticate', { state, origin }, flow.text);
    const done = await server.request('POST', `/${env}/deviceAuthentications/${flow.body.id as string}`, { contentType: 'application/vnd.pingidentity.assertion.check+json', body: { origin, assertion } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, 'COMPLETED');
    assert.equal(SoftwareAuthenticator.load((await import('node:fs')).readFileSync(state, 'utf8')).credentials[0]!.counter, counter);
  }
});
