/**
 * rp.id on a public suffix or an IP address (issue 13): a PINGID_DESKTOP_GEN2 device bound to
 * `eu`, `co.uk` or `github.io` would accept an attestation from any page under that suffix,
 * and one bound to `10.0.0.1` from whoever holds that address on the user's network. The
 * server refuses such an rp.id on create (400 INVALID_DATA on `rp.id`, no device made) and at
 * start (`--rp-id`); the loopback names stay allowed for local use. The list of public
 * suffixes is the oracle's own, not read from the code: ICANN section (`eu`, `co.uk`) and
 * private section (`github.io`) alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadServerConfig } from '../../src/config.js';
import { useTestServer, createUser, startTestServer, type TestServer } from '../helper.js';
import { claimsOf } from './desktop-fixtures.js';
import { expectError } from '../support/errors.js';

let server: TestServer;
let env: string;
useTestServer((s) => { server = s; env = s.boot.environmentId; });

const PUBLIC_SUFFIXES = ['eu', 'co.uk', 'github.io', 'com', 'intranet'];
const ADDRESSES = ['1.2.3.4', '10.0.0.1', '192.168.1.10', '[::ffff:7f00:1]', '[0:0:0:0:0:0:0:1]', '::ffff:127.0.0.1', '[fe80::1]', '127.0.0.2', '127.1'];
const NOT_CANONICAL = ['PingOne.eu', 'pingone.eu.', 'pingone.eu:443', 'xn--.eu', '-a.pingone.eu'];
const ALLOWED = ['pingone.eu', 'auth.example.co.uk', 'alice.github.io', 'localhost', '127.0.0.1', '[::1]', '::1', 'xn--bcher-kva.example'];

async function create(s: TestServer, envId: string, rp?: { id: string; name: string }) {
  const userId = await createUser(s, envId);
  const res = await s.request('POST', `/v1/environments/${envId}/users/${userId}/devices`, {
    body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', ...(rp ? { rp } : {}) },
  });
  const devices = await s.store.db.selectFrom('devices').select('id').where('user_id', '=', userId).execute();
  return { res, stored: devices.length };
}

test('rp.id on a public suffix: create is refused with 400 INVALID_DATA on rp.id and no device is made', async () => {
  for (const id of PUBLIC_SUFFIXES) {
    const { res, stored } = await create(server, env, { id, name: id });
    expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'rp.id', message: /public suffix/ });
    assert.equal(stored, 0, id);
  }
});

test('rp.id on an IP address (other than 127.0.0.1 and [::1]): create is refused with 400 on rp.id, no device made', async () => {
  for (const id of ADDRESSES) {
    const { res, stored } = await create(server, env, { id, name: 'x' });
    expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'rp.id', message: /IP address/ });
    assert.equal(stored, 0, id);
  }
});

test('rp.id not written as a browser writes a host (upper case, trailing dot, port, bad labels): refused on rp.id', async () => {
  for (const id of NOT_CANONICAL) {
    const { res, stored } = await create(server, env, { id, name: 'x' });
    assert.equal(res.status, 400, `${id}: ${res.text}`);
    assert.equal(res.body.details?.[0]?.target, 'rp.id', res.text);
    assert.equal(stored, 0, id);
  }
});

test('a registrable domain, a name under one, and the loopback names localhost, 127.0.0.1 and [::1] are accepted and signed into the options', async () => {
  for (const id of ALLOWED) {
    const { res, stored } = await create(server, env, { id, name: 'RP' });
    assert.equal(res.status, 201, `${id}: ${res.text}`);
    assert.deepEqual(res.body.rp, { id, name: 'RP' });
    assert.deepEqual(claimsOf(res.body.pingIdDesktopCredentialCreationOptions).rp, { id, name: 'RP' });
    assert.equal(stored, 1);
  }
});

test('a server on an IP address: its defaulted rp.id (the public URL\'s host) is refused at create, naming rp.id and --rp-id; an explicit rp still pairs', async () => {
  const onIp = await startTestServer({ publicUrl: 'http://10.0.0.1:8080' });
  try {
    assert.equal(onIp.config.rpId, '10.0.0.1');
    const { res, stored } = await create(onIp, onIp.boot.environmentId);
    expectError(res, 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'rp.id', message: /default relying party ID \(10\.0\.0\.1.*--rp-id/ });
    assert.equal(stored, 0);
    const given = await create(onIp, onIp.boot.environmentId, { id: 'mfa.example.com', name: 'MFA' });
    assert.equal(given.res.status, 201, given.res.text);
  } finally {
    await onIp.close();
  }
});

test('--rp-id on a public suffix or an IP address stops the start, naming rpId; loopback and registrable names start', () => {
  for (const rpId of ['co.uk', 'github.io', '10.0.0.1', '[fe80::1]']) {
    assert.throws(() => loadServerConfig({ rpId }, {}), (e: unknown) => e instanceof ConfigError && e.key === 'rpId' && e.message.includes(rpId), rpId);
    assert.throws(() => loadServerConfig({}, { OPENMFA_RP_ID: rpId }), (e: unknown) => e instanceof ConfigError && e.key === 'rpId', rpId);
  }
  for (const rpId of ['localhost', '127.0.0.1', 'mfa.example.co.uk']) assert.equal(loadServerConfig({ rpId }, {}).rpId, rpId);
});
