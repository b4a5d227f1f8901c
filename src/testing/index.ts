/**
 * `openmfa/testing`: an OpenMFA server inside the test process, for integration tests of code
 * that calls PingOne.
 *
 *   import { startOpenMFA } from 'openmfa/testing';
 *   const mfa = await startOpenMFA();
 *   // mfa.api, mfa.auth, mfa.environmentId, await mfa.token(), await mfa.readOtp({ recipient })
 *   mfa.clock.advance('PT5M');
 *   await mfa.stop();
 *
 * Each call gets its own temporary store (SQLite in a temporary folder, or a PostgreSQL URL
 * given), a free loopback port, the bootstrap administrator's credentials, and a manual clock
 * that moves only when the test moves it: every expiry the server checks (codes, lockouts,
 * pairings, tokens, flows) follows it. Everything goes through the real HTTP API.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadAgentConfig } from '../agent/config.js';
import { runAgent, type RunningAgent } from '../agent/index.js';
import { iso, type Clock } from '../clock.js';
import { loadServerConfig, type RawOptions } from '../config.js';
import type { BootstrapInfo } from '../platform/bootstrap.js';
import { bootstrapFile } from '../platform/bootstrap.js';
import { startServer } from '../server.js';

/** The software FIDO2 authenticator: answers the server's FIDO2 option strings as a browser would. */
export { SoftwareAuthenticator, type AuthenticatorOptions, type Ceremony, type SoftwareCredential } from './fido2-authenticator.js';
import { SoftwareAuthenticator } from './fido2-authenticator.js';
/**
 * The mobile authenticator (docs/mobile-protocol.md): MobileAuthenticator speaks the SDK half of
 * a phone (pair, poll, approve/deny, otp, uploadLogs); MobileService is the running one behind
 * `openmfa mobile` — devices kept, push channels watched, `auto` answers — for in-process tests.
 */
export { MobileAuthenticator, MobileError, totp, type DeviceMetadata, type MobileDeviceState, type ReceivedPush, type Transport } from './mobile-authenticator.js';
export { MobileService, MobileServiceError, type AutoAnswer, type DeviceView, type MobileServiceOptions, type PairRequest, type PushView } from './mobile/service.js';

export interface StartOpenMFAOptions {
  /** Where the manual clock starts (ISO 8601, not before the present); the current time by default. */
  now?: string;
  /** `postgres://…` (with `?schema=` to keep tests apart); SQLite in a temporary folder by default. */
  databaseUrl?: string;
  /** The server's log level; `silent` by default. */
  logLevel?: string;
  /** Any other server option, by its key in the README's configuration table (`rpId`, `rateLimit`, …). */
  config?: RawOptions;
}

/** The members of a device create response that pairing needs (the 201 body as it is). */
export interface DesktopDeviceToPair {
  id: string;
  environment: { id: string };
  user: { id: string };
  rp?: { id: string };
  pingIdDesktopCredentialCreationOptions: string;
}

/** The members of a FIDO2 device create response that registration needs (the 201 body as it is). */
export interface Fido2DeviceToPair {
  id: string;
  environment: { id: string };
  user: { id: string };
  publicKeyCredentialCreationOptions: string;
}

/** The members of a flow response waiting for a FIDO2 assertion (the 200 body as it is). */
export interface Fido2FlowToAnswer {
  id: string;
  environment: { id: string };
  publicKeyCredentialRequestOptions: string;
}

/** The page a WebAuthn ceremony runs on: http on localhost, https on the relying party's domain. */
const originFor = (rpId: string): string => (rpId === 'localhost' ? 'http://localhost' : `https://${rpId}`);

/** The server's manual clock (`--clock manual`), through `/openmfa/v1/clock`. */
export interface ManualClockControl {
  /** The server's time, ISO 8601 (as last set or advanced). */
  now(): string;
  /** Sets the time (ISO 8601 with an offset); the clock only moves forward. */
  set(to: string): Promise<void>;
  /** Moves time forward by an ISO 8601 duration: `PT5M`, `PT1H30M`, `P1D`, `PT0.5S`. */
  advance(by: string): Promise<void>;
}

export interface OpenMFA {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The management API base (`<url>/v1`): `${api}/environments/${environmentId}/users`. */
  readonly api: string;
  /** The auth base: `${auth}/${environmentId}/as/token`, `${auth}/${environmentId}/deviceAuthentications`. */
  readonly auth: string;
  /** The bootstrap administrator's environment and worker application. */
  readonly environmentId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The server's data folder (bootstrap.json, master.key, the SQLite file), removed by stop(). */
  readonly dataDir: string;
  /** A worker token of the administrator (a new one once the clock passes its expiry). */
  token(): Promise<string>;
  /**
   * The code in the newest outbox message to `recipient` (an email address or E.164 number;
   * `deviceId` narrows it) that this helper has not returned before: each code is read once.
   * Waits up to `waitSeconds` (5) for one to be sent, then rejects.
   */
  readOtp(query: { recipient: string; deviceId?: string; environmentId?: string; waitSeconds?: number }): Promise<string>;
  /**
   * Pairs a PINGID_DESKTOP_GEN2 device created with `ACTIVATION_REQUIRED`: hands its creation
   * options to a desktop agent in this process (started on first use, trusting this server),
   * activates the device with the attestation and returns the activation's 200 body.
   */
  pairDesktop(device: DesktopDeviceToPair, options?: { origin?: string }): Promise<Record<string, unknown>>;
  /**
   * Registers a FIDO2 device created `ACTIVATION_REQUIRED`: the software authenticator (a new
   * one unless given) answers its creation options, the device is activated with the
   * attestation; resolves with the activation's 200 body and the authenticator, which holds the
   * credential for `answerFido2`. The origin is `https://<rp.id>` (`http://localhost` for localhost).
   */
  pairFido2(device: Fido2DeviceToPair, options?: { origin?: string; authenticator?: SoftwareAuthenticator }): Promise<{ device: Record<string, unknown>; authenticator: SoftwareAuthenticator }>;
  /** Answers a flow's `ASSERTION_REQUIRED` with the authenticator's assertion (assertion.check); resolves with the flow's 200 body. */
  answerFido2(flow: Fido2FlowToAnswer, authenticator: SoftwareAuthenticator, options?: { origin?: string }): Promise<Record<string, unknown>>;
  readonly clock: ManualClockControl;
  /** `POST /openmfa/v1/snapshots`: the whole state, kept in the store; resolves with its id. */
  snapshot(): Promise<string>;
  /** Puts the store back as it was at that snapshot (`POST /openmfa/v1/snapshots/{id}/restore`). */
  restore(id: string): Promise<void>;
  /** Stops the server and the agent and removes the temporary store. */
  stop(): Promise<void>;
}

/** A response's JSON when its status is the one expected; otherwise an error naming both. */
async function expectJson(res: Response, status: number, what: string): Promise<any> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${text}`);
  return JSON.parse(text);
}

async function expectJson204(res: Response, what: string): Promise<undefined> {
  if (res.status !== 204) throw new Error(`${what}: expected 204, got ${res.status} ${await res.text()}`);
  return undefined;
}

export async function startOpenMFA(options: StartOpenMFAOptions = {}): Promise<OpenMFA> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-testing-'));
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    const config = loadServerConfig({
      ...options.config,
      host: '127.0.0.1',
      port: 0,
      dataDir: path.join(dir, 'data'),
      logLevel: options.logLevel ?? 'silent',
      clock: 'manual',
      ...(options.databaseUrl !== undefined ? { databaseUrl: options.databaseUrl } : {}),
    }, {});
    server = await startServer(config, { out: () => {} });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const { url } = server;
  const boot = JSON.parse(readFileSync(bootstrapFile(path.join(dir, 'data')), 'utf8')) as BootstrapInfo;
  const api = `${url}/v1`;
  const auth = url;

  // The server's time as this process last saw it: the token cache and the in-process agent go by it.
  let nowMs = Date.now();
  const clock: Clock = { now: () => nowMs };
  let cached: { token: string; expiresAt: number } | undefined;
  const token = async (): Promise<string> => {
    if (cached && clock.now() < cached.expiresAt) return cached.token;
    const res = await fetch(`${auth}/${boot.environmentId}/as/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${boot.clientId}:${boot.clientSecret}`).toString('base64')}` },
      body: 'grant_type=client_credentials',
    });
    const body = await expectJson(res, 200, 'token request') as { access_token: string; expires_in: number };
    cached = { token: body.access_token, expiresAt: clock.now() + body.expires_in * 1000 };
    return body.access_token;
  };

  let agent: Promise<RunningAgent> | undefined;
  const agentUrl = (): Promise<RunningAgent> => (agent ??= runAgent(
    loadAgentConfig({ port: 0, stateDir: path.join(dir, 'agent'), trust: [auth] }, {}),
    { clock, handleSignals: false, print: () => {} },
  ));

  const read = new Set<string>();
  const admin = async (method: string, route: string, body: unknown, status: number): Promise<any> => {
    const res = await fetch(`${url}/openmfa/v1/${route}`, {
      method, headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return status === 204 ? (await expectJson204(res, route)) : expectJson(res, status, route);
  };
  const clockAnswer = async (pending: Promise<{ now: string }>): Promise<void> => { nowMs = Date.parse((await pending).now); };
  try {
    await clockAnswer(fetch(`${url}/openmfa/v1/clock`, { headers: { authorization: `Bearer ${await token()}` } }).then((r) => expectJson(r, 200, 'clock')));
    if (options.now !== undefined) await clockAnswer(admin('PUT', 'clock', { now: options.now }, 200));
  } catch (e) {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  return {
    url, api, auth,
    environmentId: boot.environmentId,
    clientId: boot.clientId,
    clientSecret: boot.clientSecret,
    dataDir: path.join(dir, 'data'),
    token,
    async readOtp({ recipient, deviceId, environmentId = boot.environmentId, waitSeconds = 5 }) {
      // The manual clock gives messages sent between two moves one timestamp, so "newest"
      // alone is ambiguous: the code returned is that of the newest message not returned before.
      // While nothing matches, the outbox's `wait` holds the request until a message is sent;
      // while everything that matches was returned already, it looks again every 50 ms.
      const deadline = Date.now() + waitSeconds * 1000;
      let wait = 0;
      for (;;) {
        const query = new URLSearchParams({ recipient, limit: '50', wait: String(wait), ...(deviceId !== undefined ? { deviceId } : {}) });
        const res = await fetch(`${api}/environments/${environmentId}/outbox?${query}`, { headers: { authorization: `Bearer ${await token()}` } });
        const page = await expectJson(res, 200, 'outbox read') as { _embedded: { messages: Array<{ id: string; otp?: string }> } };
        const message = page._embedded.messages.find((m) => !read.has(m.id) && m.otp !== undefined);
        if (message !== undefined) {
          read.add(message.id);
          return message.otp!;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no code in the outbox for ${recipient} that was not read before (waited ${waitSeconds} s)`);
        wait = page._embedded.messages.length === 0 ? Math.min(30, Math.ceil(left / 1000)) : 0;
        if (wait === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async pairDesktop(device, { origin = `https://${device.rp?.id ?? new URL(url).hostname}` } = {}) {
      const { url: agentBase } = await agentUrl();
      const register = await fetch(`${agentBase}/register`, {
        method: 'POST', headers: { 'content-type': 'application/jwt', origin }, body: device.pingIdDesktopCredentialCreationOptions,
      });
      const attestation = await register.text();
      if (register.status !== 200) throw new Error(`the agent refused the creation options: ${register.status} ${attestation}`);
      const res = await fetch(`${api}/environments/${device.environment.id}/users/${device.user.id}/devices/${device.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/vnd.pingidentity.device.activate+json' },
        body: JSON.stringify({ attestation }),
      });
      return expectJson(res, 200, 'desktop activation');
    },
    async pairFido2(device, { origin, authenticator = new SoftwareAuthenticator() } = {}) {
      const rpId = (JSON.parse(device.publicKeyCredentialCreationOptions) as { rp: { id: string } }).rp.id;
      const page = origin ?? originFor(rpId);
      const attestation = authenticator.register(device.publicKeyCredentialCreationOptions, page);
      const res = await fetch(`${api}/environments/${device.environment.id}/users/${device.user.id}/devices/${device.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/vnd.pingidentity.device.activate+json' },
        body: JSON.stringify({ origin: page, attestation }),
      });
      return { device: await expectJson(res, 200, 'FIDO2 activation'), authenticator };
    },
    async answerFido2(flow, authenticator, { origin } = {}) {
      const rpId = (JSON.parse(flow.publicKeyCredentialRequestOptions) as { rpId: string }).rpId;
      const page = origin ?? originFor(rpId);
      const res = await fetch(`${auth}/${flow.environment.id}/deviceAuthentications/${flow.id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/vnd.pingidentity.assertion.check+json' },
        body: JSON.stringify({ origin: page, assertion: authenticator.authenticate(flow.publicKeyCredentialRequestOptions, page) }),
      });
      return expectJson(res, 200, 'FIDO2 assertion.check');
    },
    clock: {
      now: () => iso(nowMs),
      set: (to) => clockAnswer(admin('PUT', 'clock', { now: to }, 200)),
      advance: (by) => clockAnswer(admin('POST', 'clock/advance', { by }, 200)),
    },
    async snapshot() {
      return (await admin('POST', 'snapshots', {}, 201) as { id: string }).id;
    },
    async restore(id) {
      await admin('POST', `snapshots/${encodeURIComponent(id)}/restore`, {}, 204);
    },
    async stop() {
      try {
        await (await agent?.catch(() => undefined))?.close();
        await server.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
