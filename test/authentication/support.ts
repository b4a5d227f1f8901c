/**
 * Shared by the device authentication suites (reference §3.5, §4.5; protocol §2); not a test
 * file itself. A worker of one environment drives the flows; a REAL PingID Desktop agent
 * (src/agent, on 127.0.0.1:0, sharing the server's ManualClock) pairs desktop devices and
 * answers request options; assertions the agent would never make are signed here with the
 * private key it stored in its key store file.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { loadAgentConfig } from '../../src/agent/config.js';
import { KEYSTORE_FILE, type EcPrivateJwk } from '../../src/agent/keystore.js';
import { AGENT_APPLICATION_ID, AGENT_VERSION, createAgent, type Agent } from '../../src/agent/server.js';
import { epochSeconds, iso } from '../../src/clock.js';
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { signJws } from '../support/jws.js';
import { TYP } from '../../src/protocol/desktop.js';
import { freePort } from '../../src/free-port.js';
import { createEnvironment, createUser, createWorker, startTestServer, type RequestOptions, type Response, type TestServer } from '../helper.js';
import { request as rawRequest } from '../agent/helpers.js';

export const CT = {
  select: 'application/vnd.pingidentity.device.select+json',
  otpCheck: 'application/vnd.pingidentity.otp.check+json',
  assertionCheck: 'application/vnd.pingidentity.assertion.check+json',
  cancel: 'application/vnd.pingidentity.authentication.cancel+json',
  cancelPush: 'application/vnd.pingidentity.cancel.push.authentication+json',
  block: 'application/vnd.pingidentity.device.block+json',
  unblock: 'application/vnd.pingidentity.device.unblock+json',
  unlock: 'application/vnd.pingidentity.device.unlock+json',
  activate: 'application/vnd.pingidentity.device.activate+json',
  reorder: 'application/vnd.pingidentity.devices.reorder+json',
} as const;

export const FLOW_LIFETIME_MS = 5 * 60_000;
export const OPTIONS_LIFETIME_MS = 2 * 60_000;
export const DESKTOP_LOCK_MS = 2 * 60_000;
/** The default policy's email.otp.failure.coolDown is 0, so the environment's lockout (600 s) applies. */
export const EMAIL_LOCK_MS = 600_000;
export const TOTP_LOCK_MS = 2 * 60_000;

/** The relying party and page of the seed (shared/seed), as src/demo.ts uses them. */
export const RP = { id: 'pingone.eu', name: 'pingone.eu' };
export const ORIGIN = 'https://app.pingone.eu';

export const EXPIRED_ERROR = { code: 'EXPIRED', message: 'The device authentication expired before it completed' };

// ─── an environment and its worker ───────────────────────────────────────────────────────────

export interface Tenant {
  server: TestServer;
  env: string;
  /** A token of the environment's own worker application (refreshed as the clock moves). */
  token(): Promise<string>;
  /** A request with that token unless one is given. */
  call<T = any>(method: string, url: string, options?: RequestOptions): Promise<Response<T>>;
  users: (userId: string) => string;
  devices: (userId: string) => string;
  device: (userId: string, deviceId: string) => string;
  flows: string;
  flow: (id: string) => string;
  defaultPolicyId: string;
}

export async function newTenant(server: TestServer, name = 'authentication'): Promise<Tenant> {
  const env = await createEnvironment(server, name);
  const worker = await createWorker(server, env, `${name} worker`);
  let cached = { token: worker.token, at: server.clock.now() };
  const token = async () => {
    const now = server.clock.now();
    if (now - cached.at >= 30 * 60_000 || now < cached.at) cached = { token: await server.token(worker.clientId, worker.secret, env), at: now };
    return cached.token;
  };
  const call = async <T = any>(method: string, url: string, options: RequestOptions = {}): Promise<Response<T>> =>
    server.request<T>(method, url, { ...options, token: options.token === undefined ? await token() : options.token });
  const policies = await call('GET', `/v1/environments/${env}/deviceAuthenticationPolicies`);
  assert.equal(policies.status, 200, policies.text);
  const defaultPolicyId = (policies.body._embedded.deviceAuthenticationPolicies as Array<{ id: string; default: boolean }>).find((p) => p.default)!.id;
  return {
    server, env, token, call, defaultPolicyId,
    users: (u) => `/v1/environments/${env}/users/${u}`,
    devices: (u) => `/v1/environments/${env}/users/${u}/devices`,
    device: (u, d) => `/v1/environments/${env}/users/${u}/devices/${d}`,
    flows: `/${env}/deviceAuthentications`,
    flow: (id) => `/${env}/deviceAuthentications/${id}`,
  };
}

export async function newUser(t: Tenant, username?: string): Promise<{ id: string; username: string }> {
  const name = username ?? `user-${Math.random().toString(16).slice(2, 10)}`;
  return { id: await createUser(t.server, t.env, name), username: name };
}

// ─── flows ───────────────────────────────────────────────────────────────────────────────────

export const startFlow = (t: Tenant, userId: string, extra: Record<string, unknown> = {}, token?: string | null): Promise<Response> =>
  t.call('POST', t.flows, { body: { user: { id: userId }, ...extra }, ...(token !== undefined ? { token } : {}) });

export const readFlow = (t: Tenant, id: string): Promise<Response> => t.call('GET', t.flow(id));

export const act = (t: Tenant, id: string, contentType: string, body?: unknown): Promise<Response> =>
  t.call('POST', t.flow(id), { contentType, ...(body !== undefined ? { body } : {}) });

export const selectDevice = (t: Tenant, flowId: string, deviceId: string) => act(t, flowId, CT.select, { device: { id: deviceId } });
export const checkOtp = (t: Tenant, flowId: string, otp: string) => act(t, flowId, CT.otpCheck, { otp });
export const checkAssertion = (t: Tenant, flowId: string, assertion: string, origin = ORIGIN) => act(t, flowId, CT.assertionCheck, { origin, assertion });

export async function createPolicy(t: Tenant, body: Record<string, unknown>): Promise<string> {
  const res = await t.call('POST', `/v1/environments/${t.env}/deviceAuthenticationPolicies`, { body: { name: `policy ${Math.random()}`, ...body } });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

export interface ExpectedFlow {
  id: string;
  userId: string;
  policyId: string;
  status: 'DEVICE_SELECTION_REQUIRED' | 'OTP_REQUIRED' | 'ASSERTION_REQUIRED' | 'COMPLETED' | 'FAILED';
  selectedDevice?: string;
  authenticators?: string[];
  error?: { code: string; message: string };
  /** Shown in one response only: pingIdDesktopCredentialRequestOptions, test.otp. */
  once?: Record<string, unknown>;
  devices: Record<string, unknown>[];
  blockedDevices?: Record<string, unknown>[];
  createdAt: number;
  updatedAt: number;
}

/** The whole flow body (reference §4.5), with the links its status allows. */
export function flowBody(t: Tenant, f: ExpectedFlow): Record<string, any> {
  const self = `${t.server.config.authPath}/${t.env}/deviceAuthentications/${f.id}`;
  const open = f.status !== 'COMPLETED' && f.status !== 'FAILED';
  return {
    _links: {
      self: { href: self },
      ...(open ? { 'device.select': { href: self } } : {}),
      ...(f.status === 'OTP_REQUIRED' ? { 'otp.check': { href: self } } : {}),
      ...(f.status === 'ASSERTION_REQUIRED' ? { 'assertion.check': { href: self } } : {}),
    },
    id: f.id,
    environment: { id: t.env },
    user: { id: f.userId },
    policy: { id: f.policyId },
    status: f.status,
    ...(f.selectedDevice !== undefined ? { selectedDevice: { id: f.selectedDevice } } : {}),
    ...(f.authenticators !== undefined ? { authenticators: f.authenticators } : {}),
    ...(f.error !== undefined ? { error: f.error } : {}),
    bypassAllowed: false,
    userBypassEnabled: false,
    ...(f.once ?? {}),
    _embedded: { devices: f.devices, blockedDevices: f.blockedDevices ?? [] },
    createdAt: iso(f.createdAt),
    updatedAt: iso(f.updatedAt),
    expiresAt: iso(f.createdAt + FLOW_LIFETIME_MS),
  };
}

export const ENABLED = { status: 'ENABLED' };
export const lockedUsable = { status: 'DISABLED', reason: 'LOCKED' };

export const emailSummary = (id: string, email: string, extra: Record<string, unknown> = {}) =>
  ({ id, type: 'EMAIL', status: 'ACTIVE', usableStatus: ENABLED, email, ...extra });
export const totpSummary = (id: string, extra: Record<string, unknown> = {}) =>
  ({ id, type: 'TOTP', status: 'ACTIVE', usableStatus: ENABLED, ...extra });

/** A status and the flow's stored row: nothing about it moved. */
export async function assertFlowStatus(t: Tenant, flowId: string, status: string, selectedDevice?: string): Promise<Record<string, any>> {
  const res = await readFlow(t, flowId);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.status, status, res.text);
  if (selectedDevice !== undefined) assert.deepEqual(res.body.selectedDevice, { id: selectedDevice });
  return res.body;
}

export const flowRow = (server: TestServer, id: string) =>
  server.store.db.selectFrom('device_authentications').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

export const deviceRow = (server: TestServer, id: string) =>
  server.store.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** The device's lock as the API shows it, and its stored failure count. */
export async function lockState(t: Tenant, userId: string, deviceId: string): Promise<{ lock: unknown; failedAttempts: number }> {
  const res = await t.call('GET', t.device(userId, deviceId));
  assert.equal(res.status, 200, res.text);
  const row = await deviceRow(t.server, deviceId);
  return { lock: res.body.lock, failedAttempts: Number(row.failed_attempts) };
}

export const UNLOCKED = { status: 'UNLOCKED' };

// ─── devices ─────────────────────────────────────────────────────────────────────────────────

/** An ACTIVE EMAIL device; `testMode` returns the flow's code as test.otp. */
export async function emailDevice(t: Tenant, userId: string, email: string, testMode = true): Promise<string> {
  const res = await t.call('POST', t.devices(userId), { body: { type: 'EMAIL', email, ...(testMode ? { testMode: true } : {}) } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.status, 'ACTIVE');
  return res.body.id as string;
}

/** An ACTIVE TOTP device and its secret (shown once, at create). */
export async function totpDevice(t: Tenant, userId: string): Promise<{ id: string; secret: string }> {
  const res = await t.call('POST', t.devices(userId), { body: { type: 'TOTP', status: 'ACTIVE' } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.status, 'ACTIVE');
  assert.match(res.body.secret, /^[A-Z2-7]{32}$/);
  return { id: res.body.id as string, secret: res.body.secret as string };
}

export async function blockDevice(t: Tenant, userId: string, deviceId: string): Promise<Record<string, any>> {
  const res = await t.call('POST', t.device(userId, deviceId), { contentType: CT.block });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.block.status, 'BLOCKED');
  return res.body;
}

export async function unlockDevice(t: Tenant, userId: string, deviceId: string): Promise<void> {
  const res = await t.call('POST', t.device(userId, deviceId), { contentType: CT.unlock });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.lock, UNLOCKED);
}

// ─── the real PingID Desktop agent ───────────────────────────────────────────────────────────

/** Makes the test server listen on the port its publicUrl names, so the agent can fetch its JWKS. */
export async function listenOn(server: TestServer, port: number): Promise<void> {
  await server.app.listen({ host: '127.0.0.1', port });
  assert.equal(server.config.authPath, `http://127.0.0.1:${port}`);
}

export interface RealAgent {
  agent: Agent;
  url: string;
  stateDir: string;
  /** POSTs a JWT to the agent as a page on `origin` would. */
  post(route: '/register' | '/authenticate', jwt: string, origin?: string): Promise<{ status: number; body: string }>;
  /** What the agent keeps for a credential (read from its key store file). */
  credential(credentialId: string): { credentialId: string; privateKey: KeyObject; unitId: string };
  unitId(): string;
  close(): Promise<void>;
}

/** The agent of src/agent, trusting the server's auth host, on the server's clock. */
export async function startRealAgent(server: TestServer): Promise<RealAgent> {
  const dir = await mkdtemp(path.join(tmpdir(), 'openmfa-auth-agent-'));
  const stateDir = path.join(dir, 'state');
  const config = loadAgentConfig({ host: '127.0.0.1', port: 0, stateDir, trust: [server.config.authPath], osType: 'LINUX', osVersion: '6.8.0' });
  const agent = createAgent({ config, clock: server.clock, log: () => undefined });
  const { url } = await agent.listen();
  const readStore = () => JSON.parse(readFileSync(path.join(stateDir, KEYSTORE_FILE), 'utf8')) as {
    unitId: string; credentials: Array<{ credentialId: string; privateJwk: EcPrivateJwk }>;
  };
  return {
    agent, url, stateDir,
    async post(route, jwt, origin = ORIGIN) {
      const res = await rawRequest(`${url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/jwt', Origin: origin }, body: jwt });
      return { status: res.status, body: res.body };
    },
    credential(credentialId) {
      const store = readStore();
      const c = store.credentials.find((x) => x.credentialId === credentialId);
      assert.ok(c, `the agent holds credential ${credentialId}`);
      return { credentialId, privateKey: createPrivateKey({ key: { ...c.privateJwk }, format: 'jwk' }), unitId: store.unitId };
    },
    unitId: () => readStore().unitId,
    async close() {
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PairedDesktop {
  deviceId: string;
  credentialId: string;
  unitId: string;
  nickname: string;
  /** The device as its activation answered it. */
  activated: Record<string, any>;
}

/** Protocol §1: create → agent /register → activate, through the real agent. */
export async function pairDesktop(t: Tenant, agent: RealAgent, userId: string): Promise<PairedDesktop> {
  const created = await t.call('POST', t.devices(userId), { body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: RP } });
  assert.equal(created.status, 201, created.text);
  const attestation = await agent.post('/register', created.body.pingIdDesktopCredentialCreationOptions as string);
  assert.equal(attestation.status, 200, attestation.body);
  const activated = await t.call('POST', t.device(userId, created.body.id as string), { contentType: CT.activate, body: { attestation: attestation.body } });
  assert.equal(activated.status, 200, activated.text);
  assert.equal(activated.body.status, 'ACTIVE');
  const claims = claimsOf(attestation.body);
  return { deviceId: created.body.id as string, credentialId: claims.credentialId, unitId: claims.unitId, nickname: claims.nickname, activated: activated.body };
}

/** How a paired desktop device reads inside a flow (reference §4.5). */
export function desktopSummary(p: PairedDesktop, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: p.deviceId,
    type: 'PINGID_DESKTOP_GEN2',
    status: 'ACTIVE',
    usableStatus: ENABLED,
    nickname: p.nickname,
    os: { type: 'LINUX', version: '6.8.0' },
    model: {},
    application: { id: AGENT_APPLICATION_ID, nativeName: 'PingID Desktop', version: AGENT_VERSION, pushSandbox: false },
    rp: RP,
    credentialId: p.credentialId,
    unitId: p.unitId,
    ...extra,
  };
}

/** The agent's assertion for a flow's request options. */
export async function agentAssertion(agent: RealAgent, requestOptions: string, origin = ORIGIN): Promise<string> {
  const res = await agent.post('/authenticate', requestOptions, origin);
  assert.equal(res.status, 200, res.body);
  return res.body;
}

// ─── JWTs ────────────────────────────────────────────────────────────────────────────────────

/** Decoded by jose, not by the server's decoder. */
export const claimsOf = (jwt: string): Record<string, any> => decodeJwt(jwt);
export const headerOf = (jwt: string): Record<string, any> => decodeProtectedHeader(jwt);

/** Verifies request options with the environment's published JWKS; returns header and claims. */
export async function verifiedOptions(t: Tenant, jwt: string): Promise<{ header: Record<string, any>; claims: Record<string, any> }> {
  const jwks = await t.server.request('GET', `/${t.env}/as/jwks`, { token: null });
  assert.equal(jwks.status, 200, jwks.text);
  const header = headerOf(jwt);
  const jwk = (jwks.body.keys as Array<Record<string, unknown>>).find((k) => k.kid === header.kid);
  assert.ok(jwk, 'the options are signed with a key of the environment JWKS');
  // jose verifies them: an implementation independent of the server's.
  const verified = await compactVerify(jwt, await importJWK(jwk as JWK, 'RS256'), { algorithms: ['RS256'] });
  return { header, claims: JSON.parse(new TextDecoder().decode(verified.payload)) as Record<string, any> };
}

export interface HandAssertion {
  /** Signs with this key (default: the credential's). */
  key?: KeyObject;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Claims to drop. */
  omit?: string[];
  now?: number;
}

/**
 * An assertion exactly as the agent makes it (protocol §2 step 2) for `requestOptions`,
 * signed with `credential`'s key unless told otherwise — to build the ones it would refuse to.
 * Signed with jose, not the server's signer (test/support/jws.ts).
 */
export function handAssertion(requestOptions: string, credential: { credentialId: string; privateKey: KeyObject; unitId: string }, now: number, o: HandAssertion = {}): Promise<string> {
  const options = claimsOf(requestOptions);
  const iat = epochSeconds(o.now ?? now);
  const claims: Record<string, unknown> = {
    iss: 'pingid-desktop',
    aud: options.iss,
    sub: options.sub,
    challenge: options.challenge,
    origin: ORIGIN,
    credentialId: credential.credentialId,
    unitId: credential.unitId,
    iat,
    exp: iat + 60,
    ...o.claims,
  };
  for (const k of o.omit ?? []) delete claims[k];
  return signJws('ES256', o.key ?? credential.privateKey, { typ: TYP.assertion, kid: credential.credentialId, ...o.header }, claims);
}

export const b64u = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export interface DesktopStack {
  server: TestServer;
  t: Tenant;
  agent: RealAgent;
}

/**
 * The authentication suites' set-up: a server listening on the port its public URL names, a
 * tenant called `name`, and the real agent trusting it — started before the file's tests and
 * closed after them.
 */
export function useDesktopStack(name: string, ready: (stack: DesktopStack) => void): void {
  let server: TestServer | undefined;
  let agent: RealAgent | undefined;
  before(async () => {
    const port = await freePort();
    server = await startTestServer({ publicUrl: `http://127.0.0.1:${port}` });
    await listenOn(server, port);
    const t = await newTenant(server, name);
    agent = await startRealAgent(server);
    ready({ server, t, agent });
  });
  after(async () => {
    await agent?.close();
    await server?.close();
  });
}
