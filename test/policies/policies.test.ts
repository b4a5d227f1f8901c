/**
 * Device authentication policies (reference §8.2, §4.6) and MFA settings (§8.1): CRUD, the
 * single default, validation, and how the policy's PingID Desktop settings reach a pairing.
 * Each test works in an environment of its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iso } from '../../src/clock.js';
import { useTestServer, createEnvironment, type TestServer } from '../helper.js';
import { attest, claimsOf, pendingDesktop } from '../devices/desktop-fixtures.js';
import { activate, assertUnchanged, snapshot } from '../devices/expect.js';
import { expectError } from '../support/errors.js';

let server: TestServer;

useTestServer(async (s) => {
  server = s;
});

const policiesOf = (env: string) => `/v1/environments/${env}/deviceAuthenticationPolicies`;
const settingsOf = (env: string) => `/v1/environments/${env}/mfaSettings`;

async function listPolicies(env: string): Promise<Array<Record<string, any>>> {
  const res = await server.request('GET', policiesOf(env));
  assert.equal(res.status, 200, res.text);
  return res.body._embedded.deviceAuthenticationPolicies;
}

async function defaultPolicy(env: string): Promise<Record<string, any>> {
  const defaults = (await listPolicies(env)).filter((p) => p.default === true);
  assert.equal(defaults.length, 1, 'exactly one default policy');
  return defaults[0]!;
}

/** A policy's settings without what identifies it. */
function settingsPart(p: Record<string, any>): Record<string, unknown> {
  const { _links, id, environment, name, default: isDefault, createdAt, updatedAt, ...rest } = p;
  void _links; void id; void environment; void name; void isDefault; void createdAt; void updatedAt;
  return rest;
}

test('every environment lists its default policy, with PingID Desktop failure 3 / 2 MINUTES and a pairing lifetime', async () => {
  const env = await createEnvironment(server, 'policies: list');
  const res = await server.request('GET', policiesOf(env));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body._links, { self: { href: `${server.config.apiPath}/environments/${env}/deviceAuthenticationPolicies` } });
  assert.equal(res.body.size, 1);
  const policies = res.body._embedded.deviceAuthenticationPolicies;
  assert.equal(policies.length, 1);
  const p = policies[0];
  assert.equal(p.default, true);
  assert.equal(typeof p.name, 'string');
  assert.deepEqual(p.environment, { id: env });
  assert.deepEqual(p._links.self, { href: `${server.config.apiPath}/environments/${env}/deviceAuthenticationPolicies/${p.id as string}` });
  assert.deepEqual(p._links.environment, { href: `${server.config.apiPath}/environments/${env}` });
  assert.deepEqual(p.pingIdDesktopGen2, {
    enabled: true,
    pairingDisabled: false,
    otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } },
    pairingKeyLifetime: { duration: 10, timeUnit: 'MINUTES' },
  });
  for (const method of ['sms', 'voice', 'email', 'whatsApp', 'mobile', 'totp', 'fido2']) assert.equal(typeof p[method]?.enabled, 'boolean', method);
  assert.equal(p.createdAt, p.updatedAt);
});

test('create answers 201 with the partial body merged onto the defaults; read, PUT and DELETE follow', async () => {
  const env = await createEnvironment(server, 'policies: crud');
  const base = await defaultPolicy(env);
  const now = server.clock.now();
  const created = await server.request('POST', policiesOf(env), {
    body: { name: 'Desktop strict', pingIdDesktopGen2: { enabled: true, otp: { failure: { count: 2, coolDown: { duration: 30, timeUnit: 'SECONDS' } } } } },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.body.id as string;
  const self = `${server.config.apiPath}/environments/${env}/deviceAuthenticationPolicies/${id}`;
  assert.deepEqual(created.body, {
    ...base,
    _links: { self: { href: self }, environment: { href: `${server.config.apiPath}/environments/${env}` } },
    id,
    name: 'Desktop strict',
    default: false,
    pingIdDesktopGen2: {
      enabled: true,
      pairingDisabled: false,
      otp: { failure: { count: 2, coolDown: { duration: 30, timeUnit: 'SECONDS' } } },
      pairingKeyLifetime: { duration: 10, timeUnit: 'MINUTES' },
    },
    createdAt: iso(now),
    updatedAt: iso(now),
  });

  const read = await server.request('GET', `${policiesOf(env)}/${id}`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, created.body);
  assert.equal((await listPolicies(env)).length, 2);

  // PUT is the whole policy: what it leaves out returns to the defaults.
  server.clock.advance(5000);
  const put = await server.request('PUT', `${policiesOf(env)}/${id}`, { body: { name: 'Desktop off', pingIdDesktopGen2: { enabled: false } } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, {
    ...created.body,
    name: 'Desktop off',
    pingIdDesktopGen2: { ...base.pingIdDesktopGen2, enabled: false },
    updatedAt: iso(now + 5000),
  });
  assert.deepEqual((await server.request('GET', `${policiesOf(env)}/${id}`)).body, put.body);

  const del = await server.request('DELETE', `${policiesOf(env)}/${id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');
  expectError(await server.request('GET', `${policiesOf(env)}/${id}`), 404, 'NOT_FOUND');
  expectError(await server.request('PUT', `${policiesOf(env)}/${id}`, { body: { name: 'ghost' } }), 404, 'NOT_FOUND');
  expectError(await server.request('DELETE', `${policiesOf(env)}/${id}`), 404, 'NOT_FOUND');
  assert.deepEqual((await listPolicies(env)).map((p) => p.id), [base.id]);
});

test('deleting the default policy is refused: 400 REQUEST_FAILED, and it stays', async () => {
  const env = await createEnvironment(server, 'policies: delete default');
  const base = await defaultPolicy(env);
  const res = await server.request('DELETE', `${policiesOf(env)}/${base.id as string}`);
  expectError(res, 400, 'REQUEST_FAILED', { target: 'default' });
  assert.deepEqual(await defaultPolicy(env), base);
});

test('un-defaulting the default policy (leaving an environment without one) is refused: 400 on default', async () => {
  const env = await createEnvironment(server, 'policies: undefault');
  const base = await defaultPolicy(env);
  const res = await server.request('PUT', `${policiesOf(env)}/${base.id as string}`, { body: { name: base.name, default: false } });
  expectError(res, 400, 'INVALID_DATA', { target: 'default' });
  assert.deepEqual(await defaultPolicy(env), base);
});

test('making a new policy the default moves the flag; the old one can then be deleted', async () => {
  const env = await createEnvironment(server, 'policies: move default');
  const old = await defaultPolicy(env);
  const created = await server.request('POST', policiesOf(env), { body: { name: 'New default', default: true } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.default, true);
  const now = await defaultPolicy(env);
  assert.equal(now.id, created.body.id);
  const previous = (await server.request('GET', `${policiesOf(env)}/${old.id as string}`)).body;
  assert.equal(previous.default, false);
  assert.deepEqual(settingsPart(previous), settingsPart(old));

  // A device created without a policy now takes the new default.
  const p = await pendingDesktop(server, env);
  const row = await server.store.db.selectFrom('devices').select('policy_id').where('id', '=', p.deviceId).executeTakeFirst();
  assert.equal(row?.policy_id, created.body.id);

  // PUT with default: true moves it back.
  const back = await server.request('PUT', `${policiesOf(env)}/${old.id as string}`, { body: { name: old.name, default: true } });
  assert.equal(back.status, 200, back.text);
  assert.equal((await defaultPolicy(env)).id, old.id);
  assert.equal((await server.request('DELETE', `${policiesOf(env)}/${created.body.id as string}`)).status, 204);
});

test('a failure count that allows no failure or unbounded guessing (0, 8) is refused: 400 OUT_OF_RANGE on pingIdDesktopGen2.otp.failure.count', async () => {
  const env = await createEnvironment(server, 'policies: count range');
  const before = await listPolicies(env);
  for (const count of [0, 8]) {
    const res = await server.request('POST', policiesOf(env), {
      body: { name: 'bad count', pingIdDesktopGen2: { enabled: true, otp: { failure: { count, coolDown: { duration: 2, timeUnit: 'MINUTES' } } } } },
    });
    expectError(res, 400, 'INVALID_DATA', { code: 'OUT_OF_RANGE', target: 'pingIdDesktopGen2.otp.failure.count' });
    const put = await server.request('PUT', `${policiesOf(env)}/${before[0]!.id as string}`, {
      body: { name: 'bad count', pingIdDesktopGen2: { enabled: true, otp: { failure: { count, coolDown: { duration: 2, timeUnit: 'MINUTES' } } } } },
    });
    expectError(put, 400, 'INVALID_DATA', { code: 'OUT_OF_RANGE', target: 'pingIdDesktopGen2.otp.failure.count' });
  }
  for (const count of [1, 7]) {
    const ok = await server.request('POST', policiesOf(env), { body: { name: `count ${count}`, pingIdDesktopGen2: { enabled: true, otp: { failure: { count, coolDown: { duration: 1, timeUnit: 'SECONDS' } } } } } });
    assert.equal(ok.status, 201, ok.text);
  }
  assert.deepEqual((await listPolicies(env)).find((p) => p.id === before[0]!.id), before[0]);
  assert.equal((await listPolicies(env)).length, 3, 'only the two valid policies were added');
});

test('a policy body with an unknown property, no name, or an unknown time unit is refused: 400 INVALID_DATA', async () => {
  const env = await createEnvironment(server, 'policies: shape');
  const before = await listPolicies(env);
  expectError(await server.request('POST', policiesOf(env), { body: { name: 'x', pingIdDesktopGen2: { enabled: true, secretBackdoor: true } } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'pingIdDesktopGen2.secretBackdoor' });
  expectError(await server.request('POST', policiesOf(env), { body: { pingIdDesktopGen2: { enabled: true } } }), 400, 'INVALID_DATA', { code: 'REQUIRED_VALUE', target: 'name' });
  expectError(await server.request('POST', policiesOf(env), { body: { name: 'x', pingIdDesktopGen2: { enabled: true, pairingKeyLifetime: { duration: 1, timeUnit: 'FORTNIGHTS' } } } }), 400, 'INVALID_DATA', { code: 'INVALID_VALUE', target: 'pingIdDesktopGen2.pairingKeyLifetime.timeUnit' });
  assert.deepEqual(await listPolicies(env), before);
});

test('a pairing window of zero or beyond 48 hours, or a cool-down beyond 30 minutes, is refused: 400 OUT_OF_RANGE', async () => {
  const env = await createEnvironment(server, 'policies: duration range');
  const before = await listPolicies(env);
  for (const pairingKeyLifetime of [{ duration: 0, timeUnit: 'MINUTES' }, { duration: 49, timeUnit: 'HOURS' }, { duration: 2881, timeUnit: 'MINUTES' }]) {
    const res = await server.request('POST', policiesOf(env), { body: { name: 'bad lifetime', pingIdDesktopGen2: { enabled: true, pairingKeyLifetime } } });
    expectError(res, 400, 'INVALID_DATA', { code: 'OUT_OF_RANGE', target: 'pingIdDesktopGen2.pairingKeyLifetime.duration' });
    assert.equal(res.body.details[0].innerError.rangeMaximumValue, pairingKeyLifetime.timeUnit === 'HOURS' ? 48 : 2880);
  }
  const cool = await server.request('POST', policiesOf(env), {
    body: { name: 'bad cool-down', pingIdDesktopGen2: { enabled: true, otp: { failure: { count: 3, coolDown: { duration: 31, timeUnit: 'MINUTES' } } } } },
  });
  expectError(cool, 400, 'INVALID_DATA', { code: 'OUT_OF_RANGE', target: 'pingIdDesktopGen2.otp.failure.coolDown.duration' });
  assert.deepEqual(await listPolicies(env), before);
  for (const pairingKeyLifetime of [{ duration: 1, timeUnit: 'MINUTES' }, { duration: 48, timeUnit: 'HOURS' }, { duration: 2880, timeUnit: 'MINUTES' }]) {
    const ok = await server.request('POST', policiesOf(env), { body: { name: 'ok lifetime', pingIdDesktopGen2: { enabled: true, pairingKeyLifetime } } });
    assert.equal(ok.status, 201, ok.text);
  }
  const okCool = await server.request('POST', policiesOf(env), {
    body: { name: 'ok cool-down', pingIdDesktopGen2: { enabled: true, otp: { failure: { count: 3, coolDown: { duration: 30, timeUnit: 'MINUTES' } } } } },
  });
  assert.equal(okCool.status, 201, okCool.text);
});

const DEFAULT_SETTINGS = {
  pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'ALPHANUMERIC' },
  lockout: { failureCount: 5, durationSeconds: 600 },
  phoneExtensions: { enabled: false },
  users: { mfaEnabled: true },
};

function settingsBody(env: string, body: Record<string, unknown>, updatedAt: number) {
  return {
    _links: {
      self: { href: `${server.config.apiPath}/environments/${env}/mfaSettings` },
      environment: { href: `${server.config.apiPath}/environments/${env}` },
    },
    environment: { id: env },
    ...body,
    updatedAt: iso(updatedAt),
  };
}

test('mfaSettings: GET shows the defaults; PUT of the reference example answers it whole; DELETE brings the defaults back', async () => {
  const createdAt = server.clock.now();
  const env = await createEnvironment(server, 'settings: crud');
  const read = await server.request('GET', settingsOf(env));
  assert.equal(read.status, 200, read.text);
  assert.deepEqual(read.body, settingsBody(env, DEFAULT_SETTINGS, createdAt));

  server.clock.advance(1000);
  const example = { pairing: { maxAllowedDevices: 10, pairingKeyFormat: 'ALPHANUMERIC' }, lockout: { failureCount: 6, durationSeconds: 1200 }, phoneExtensions: { enabled: true }, users: { mfaEnabled: true } };
  const put = await server.request('PUT', settingsOf(env), { body: example });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, settingsBody(env, example, server.clock.now()));
  assert.deepEqual((await server.request('GET', settingsOf(env))).body, put.body);

  // PUT is the full settings: what it leaves out returns to the defaults.
  server.clock.advance(1000);
  const partial = await server.request('PUT', settingsOf(env), { body: { pairing: { pairingKeyFormat: 'NUMERIC' } } });
  assert.equal(partial.status, 200, partial.text);
  assert.deepEqual(partial.body, settingsBody(env, { ...DEFAULT_SETTINGS, pairing: { maxAllowedDevices: 5, pairingKeyFormat: 'NUMERIC' } }, server.clock.now()));

  server.clock.advance(1000);
  const del = await server.request('DELETE', settingsOf(env));
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');
  assert.deepEqual((await server.request('GET', settingsOf(env))).body, settingsBody(env, DEFAULT_SETTINGS, server.clock.now()));
});

test('mfaSettings: maxAllowedDevices out of 1–15 (16, 0) is refused: 400 OUT_OF_RANGE on pairing.maxAllowedDevices, nothing changes', async () => {
  const env = await createEnvironment(server, 'settings: range');
  const before = (await server.request('GET', settingsOf(env))).body;
  for (const maxAllowedDevices of [16, 0]) {
    const res = await server.request('PUT', settingsOf(env), { body: { pairing: { maxAllowedDevices } } });
    expectError(res, 400, 'INVALID_DATA', { code: 'OUT_OF_RANGE', target: 'pairing.maxAllowedDevices' });
  }
  expectError(await server.request('PUT', settingsOf(env), { body: { pairing: {}, lockout: { failureCount: 5, secret: 1 } } }), 400, 'INVALID_DATA', { target: 'lockout.secret' });
  assert.deepEqual((await server.request('GET', settingsOf(env))).body, before);
  const ok = await server.request('PUT', settingsOf(env), { body: { pairing: { maxAllowedDevices: 15 } } });
  assert.equal(ok.status, 200, ok.text);
});

test("the policy's pairing lifetime (1 MINUTES) sets the creation options' exp and ends the pairing after 60 s", async () => {
  const env = await createEnvironment(server, 'policies: lifetime');
  const policy = await server.request('POST', policiesOf(env), {
    body: { name: 'short pairing', pingIdDesktopGen2: { enabled: true, pairingKeyLifetime: { duration: 1, timeUnit: 'MINUTES' } } },
  });
  assert.equal(policy.status, 201, policy.text);
  const late = await pendingDesktop(server, env, { policy: { id: policy.body.id } });
  const inTime = await pendingDesktop(server, env, { policy: { id: policy.body.id } });
  const claims = claimsOf(late.options);
  assert.equal(claims.exp, claims.iat + 60);
  const lateBefore = await snapshot(server, late.path);

  server.clock.advance(59_000);
  const ok = await activate(server, inTime.path, await attest(inTime.options, { now: server.clock.now() }));
  assert.equal(ok.status, 200, ok.text);

  server.clock.advance(2000);
  const res = await activate(server, late.path, await attest(late.options, { now: server.clock.now() }));
  expectError(res, 400, 'INVALID_DATA', { code: 'EXPIRED', target: 'attestation' });
  await assertUnchanged(server, lateBefore, 1);
});

test('a policy deleted after a device was created: the device falls back to the default policy', async () => {
  const env = await createEnvironment(server, 'policies: deleted');
  const policy = await server.request('POST', policiesOf(env), { body: { name: 'temporary', pingIdDesktopGen2: { enabled: true, otp: { failure: { count: 1, coolDown: { duration: 10, timeUnit: 'SECONDS' } } } } } });
  assert.equal(policy.status, 201, policy.text);
  const p = await pendingDesktop(server, env, { policy: { id: policy.body.id } });
  assert.equal((await server.request('DELETE', `${policiesOf(env)}/${policy.body.id as string}`)).status, 204);
  // The default's count (3) applies now, not the deleted policy's (1).
  expectError(await activate(server, p.path, await attest(p.options, { now: server.clock.now(), claims: { challenge: 'wrong' } })), 400, 'INVALID_DATA', { target: 'attestation' });
  assert.deepEqual((await server.request('GET', p.path)).body.lock, { status: 'UNLOCKED' });
  assert.equal((await activate(server, p.path, await attest(p.options, { now: server.clock.now() }))).status, 200);
});
