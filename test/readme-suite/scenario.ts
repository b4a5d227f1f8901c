/**
 * An integration suite as a PingOne integrator would write it from the README alone — the
 * README's `openmfa/testing` section, its known credentials and seed file, and its curl
 * sessions, nothing from src/ — shared by the node:test and the vitest files beside it. One server per file, a snapshot taken once it is
 * set up and restored before every test, so each test starts from the same store.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startOpenMFA, type OpenMFA } from 'openmfa/testing';
import { call } from '../support/bearer-fetch.js';

export interface Suite {
  mfa: OpenMFA;
  /** The set-up every test starts from: mel with an ACTIVE EMAIL device. */
  mel: { userId: string; deviceId: string };
  clean: string;
}

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const OTP_CHECK = 'application/vnd.pingidentity.otp.check+json';

/** Credentials the suite knows before the server starts (README: Known credentials and seed files). */
export const KNOWN = {
  environmentId: '5b8c0f52-3a5e-4f8e-9d61-0c2b7a4e9f13',
  clientId: 'a7d3e9c1-64b2-4f0a-8e5d-2c9b1f7a3e60',
  clientSecret: 'readme-suite-secret-0123456789-abcdefghijKLMNOP',
};
/** The README's example seed file: the mfa-test environment, alice with an ACTIVE EMAIL device first. */
const SEED = fileURLToPath(new URL('../../docs/seed.example.json', import.meta.url));
const SEEDED = { environmentId: 'def2dabf-e2c7-4bf3-b374-9bf5588f7f8f', alice: '26105411-be61-4a85-940c-46f8024ebb37', aliceEmail: '9d46f0e3-a475-4c94-8ac3-68008b831662' };
const SELECT = 'application/vnd.pingidentity.device.select+json';

export async function setUp(): Promise<Suite> {
  const mfa = await startOpenMFA({
    now: '2031-03-04T09:00:00.000Z',
    config: { bootstrapEnvironmentId: KNOWN.environmentId, bootstrapClientId: KNOWN.clientId, bootstrapClientSecret: KNOWN.clientSecret, seed: SEED },
  });
  const users = `${mfa.api}/environments/${mfa.environmentId}/users`;
  const user = await call(mfa, 'POST', users, { username: 'mel', email: 'mel@example.com' });
  assert.equal(user.status, 201);
  const device = await call(mfa, 'POST', `${users}/${user.body.id}/devices`, { type: 'EMAIL', email: 'mel@example.com', status: 'ACTIVATION_REQUIRED' });
  assert.equal(device.status, 201);
  const activated = await call(mfa, 'POST', `${users}/${user.body.id}/devices/${device.body.id}`, { otp: await mfa.readOtp({ recipient: 'mel@example.com' }) }, ACTIVATE);
  assert.equal(activated.status, 200);
  return { mfa, mel: { userId: user.body.id, deviceId: device.body.id }, clean: await mfa.snapshot() };
}

async function startFlow(s: Suite) {
  const flow = await call(s.mfa, 'POST', `${s.mfa.auth}/${s.mfa.environmentId}/deviceAuthentications`, { user: { id: s.mel.userId } });
  assert.equal(flow.status, 200);
  assert.equal(flow.body.status, 'OTP_REQUIRED');
  return flow.body.id as string;
}

const check = (s: Suite, flowId: string, otp: string) =>
  call(s.mfa, 'POST', `${s.mfa.auth}/${s.mfa.environmentId}/deviceAuthentications/${flowId}`, { otp }, OTP_CHECK);

/** mel signs in with the code the outbox holds. */
export async function signsInWithTheCode(s: Suite): Promise<void> {
  const flowId = await startFlow(s);
  const done = await check(s, flowId, await s.mfa.readOtp({ recipient: 'mel@example.com' }));
  assert.equal(done.status, 200);
  assert.equal(done.body.status, 'COMPLETED');
  // A user made here is gone in the next test (the snapshot is restored).
  assert.equal((await call(s.mfa, 'POST', `${s.mfa.api}/environments/${s.mfa.environmentId}/users`, { username: 'temp' })).status, 201);
}

/** An activation code left for 11 minutes on the manual clock (past its 10-minute lifetime) is refused. */
export async function theCodeExpires(s: Suite): Promise<void> {
  const devices = `${s.mfa.api}/environments/${s.mfa.environmentId}/users/${s.mel.userId}/devices`;
  const device = await call(s.mfa, 'POST', devices, { type: 'EMAIL', email: 'mel@example.com', status: 'ACTIVATION_REQUIRED' });
  assert.equal(device.status, 201);
  const otp = await s.mfa.readOtp({ recipient: 'mel@example.com' });
  await s.mfa.clock.advance('PT11M');
  const late = await call(s.mfa, 'POST', `${devices}/${device.body.id}`, { otp }, ACTIVATE);
  assert.equal(late.status, 400);
  assert.deepEqual(late.body.details.map((d: { code: string; target: string }) => [d.code, d.target]), [['INVALID_OTP', 'otp']]);
}

/** Flows live 5 minutes: past that the code is refused and the flow reads FAILED, EXPIRED. */
export async function theFlowExpires(s: Suite): Promise<void> {
  const flowId = await startFlow(s);
  const otp = await s.mfa.readOtp({ recipient: 'mel@example.com' });
  await s.mfa.clock.advance('PT5M');
  const late = await check(s, flowId, otp);
  assert.equal(late.status, 400);
  assert.deepEqual(late.body.details.map((d: { code: string; target: string }) => [d.code, d.target]), [['INVALID_VALUE', 'status']]);
  const flow = await call(s.mfa, 'GET', `${s.mfa.auth}/${s.mfa.environmentId}/deviceAuthentications/${flowId}`);
  assert.equal(flow.status, 200);
  assert.equal(flow.body.status, 'FAILED');
  assert.equal(flow.body.error.code, 'EXPIRED');
}

/** Every test starts from the set-up: what another test made is gone. */
export async function startsFromTheSnapshot(s: Suite): Promise<void> {
  const list = await call(s.mfa, 'GET', `${s.mfa.api}/environments/${s.mfa.environmentId}/users`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body._embedded.users.map((u: { username: string }) => u.username), ['mel']);
}

/** The administrator is the one the suite named before the start, and its secret gets a token. */
export async function knownCredentials(s: Suite): Promise<void> {
  assert.deepEqual({ environmentId: s.mfa.environmentId, clientId: s.mfa.clientId, clientSecret: s.mfa.clientSecret }, KNOWN);
  const res = await fetch(`${s.mfa.auth}/${KNOWN.environmentId}/as/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${KNOWN.clientId}:${KNOWN.clientSecret}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(res.status, 200);
}

/**
 * alice comes from the seed file with an ACTIVE EMAIL device among others; the seed's default
 * policy prompts to select, so she picks it, then signs in with the code sent to it.
 */
export async function seededUserSignsIn(s: Suite): Promise<void> {
  const flows = `${s.mfa.auth}/${SEEDED.environmentId}/deviceAuthentications`;
  const flow = await call(s.mfa, 'POST', flows, { user: { id: SEEDED.alice } });
  assert.equal(flow.status, 200);
  assert.equal(flow.body.status, 'DEVICE_SELECTION_REQUIRED');
  const selected = await call(s.mfa, 'POST', `${flows}/${flow.body.id as string}`, { device: { id: SEEDED.aliceEmail } }, SELECT);
  assert.equal(selected.status, 200);
  assert.equal(selected.body.status, 'OTP_REQUIRED');
  const otp = await s.mfa.readOtp({ recipient: 'alice@example.com', environmentId: SEEDED.environmentId });
  const done = await call(s.mfa, 'POST', `${flows}/${flow.body.id as string}`, { otp }, OTP_CHECK);
  assert.equal(done.status, 200);
  assert.equal(done.body.status, 'COMPLETED');
}

export const TESTS: ReadonlyArray<[string, (s: Suite) => Promise<void>]> = [
  ['mel signs in with the code the outbox holds', signsInWithTheCode],
  ['an activation code left past its lifetime on the manual clock is refused', theCodeExpires],
  ['a flow left past its 5 minutes on the manual clock refuses its code and reads FAILED, EXPIRED', theFlowExpires],
  ['every test starts from the snapshot: users made by other tests are gone', startsFromTheSnapshot],
  ['the administrator is the one named before the start (known credentials)', knownCredentials],
  ['alice, from the seed file, picks her EMAIL device and signs in with the code it is sent', seededUserSignsIn],
];
