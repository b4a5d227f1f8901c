/**
 * Shared by the MOBILE suites (wave-2 reference §3; protocol docs/mobile-protocol.md); not a
 * test file itself. One environment with a native application whose policy entry is set per
 * test, and the mobile authenticator of src/testing (its own JWS and TOTP) talking to the
 * in-process server through inject.
 */
import { MobileAuthenticator, type Transport } from '../../src/testing/mobile-authenticator.js';
import { createEnvironment, createUser, type Response, type TestServer } from '../helper.js';

export const CT = {
  select: 'application/vnd.pingidentity.device.select+json',
  otpCheck: 'application/vnd.pingidentity.otp.check+json',
  cancel: 'application/vnd.pingidentity.authentication.cancel+json',
  cancelPush: 'application/vnd.pingidentity.cancel.push.authentication+json',
  jwt: 'application/jwt',
} as const;

export const injectTransport = (server: TestServer): Transport => async (r) => {
  const u = new URL(r.url);
  const res = await server.app.inject({ method: r.method as 'GET', url: u.pathname + u.search, headers: r.headers, ...(r.body !== undefined ? { payload: r.body } : {}) });
  return { status: res.statusCode, text: res.body };
};

export interface MobileTenant {
  server: TestServer;
  env: string;
  appId: string;
  policyId: string;
  /** `{authPath}/{envID}`: what the authenticator is given. */
  sdk: string;
  phone: MobileAuthenticator;
}

export const APP_ENTRY = (appId: string, extra: Record<string, unknown> = {}) => ({ id: appId, push: { enabled: true, numberMatching: { enabled: false } }, otp: { enabled: true }, ...extra });

/**
 * A native application in `env` that its default policy's mobile section lists with `entry`:
 * what a phone needs to pair there. Resolves to the application's and the policy's IDs.
 */
export async function enableMobile(server: TestServer, env: string, entry: (appId: string) => Record<string, unknown> = APP_ENTRY): Promise<{ appId: string; policyId: string }> {
  const app = await server.request('POST', `/v1/environments/${env}/applications`, { body: { name: 'Phone app', type: 'NATIVE_APP', mobile: { bundleId: 'com.example.app', packageName: 'com.example.app' } } });
  if (app.status !== 201) throw new Error(app.text);
  const appId = app.body.id as string;
  const policies = await server.request('GET', `/v1/environments/${env}/deviceAuthenticationPolicies`);
  const policyId = (policies.body._embedded.deviceAuthenticationPolicies as Array<{ id: string; default: boolean }>).find((p) => p.default)!.id;
  await setEntry({ server, env, policyId }, entry(appId));
  return { appId, policyId };
}

export async function mobileTenant(server: TestServer, name: string, entry: (appId: string) => Record<string, unknown> = APP_ENTRY): Promise<MobileTenant> {
  const env = await createEnvironment(server, name);
  const { appId, policyId } = await enableMobile(server, env, entry);
  return { server, env, appId, policyId, sdk: `${server.config.authPath}/${env}`, phone: new MobileAuthenticator({ transport: injectTransport(server), now: () => server.clock.now() }) };
}

/** Sets the default policy's mobile section to one application entry. */
export async function setEntry(t: Pick<MobileTenant, 'server' | 'env' | 'policyId'>, entry: Record<string, unknown>): Promise<void> {
  const res = await t.server.request('PUT', `/v1/environments/${t.env}/deviceAuthenticationPolicies/${t.policyId}`, {
    body: { name: 'Default MFA Policy', default: true, mobile: { enabled: true, otp: { failure: { count: 3, coolDown: { duration: 2, timeUnit: 'MINUTES' } } }, applications: [entry] } },
  });
  if (res.status !== 200) throw new Error(res.text);
}

export async function newUser(t: MobileTenant, name: string): Promise<string> {
  return createUser(t.server, t.env, name.replace(/\W+/g, '-'));
}

export async function pairingKey(t: MobileTenant, userId: string, body: Record<string, unknown> = {}): Promise<Response> {
  return t.server.request('POST', `/v1/environments/${t.env}/users/${userId}/pairingKeys`, { body });
}

/** A user with one paired MOBILE device. */
export async function pairedUser(t: MobileTenant, name: string) {
  const userId = await newUser(t, name);
  const key = await pairingKey(t, userId);
  if (key.status !== 201) throw new Error(key.text);
  const device = await t.phone.pair(t.sdk, key.body.code, { applicationId: t.appId });
  return { userId, deviceId: device.id, keyId: key.body.id as string };
}

export async function startFlow(t: MobileTenant, userId: string): Promise<Response> {
  return t.server.request('POST', `/${t.env}/deviceAuthentications`, { body: { user: { id: userId } } });
}

export async function readFlow(t: MobileTenant, flowId: string): Promise<Response> {
  return t.server.request('GET', `/${t.env}/deviceAuthentications/${flowId}`);
}

export async function flowAction(t: MobileTenant, flowId: string, contentType: string, body?: unknown): Promise<Response> {
  return t.server.request('POST', `/${t.env}/deviceAuthentications/${flowId}`, { contentType, ...(body !== undefined ? { body } : { raw: '' }) });
}

/** The one push the device has for the flow, read from its channel. */
export async function pushFor(t: MobileTenant, deviceId: string, flowId: string) {
  const channel = await t.phone.poll(deviceId, 0);
  const push = channel.pushes.find((p) => p.flowId === flowId);
  if (!push) throw new Error(`no push for flow ${flowId}: ${JSON.stringify(channel)}`);
  return push;
}

/** A pairing JWS sent as is, answered as the test harness reads answers. */
export const pairRaw = (t: MobileTenant, jwt: string): Promise<Response> =>
  t.server.request('POST', `/${t.env}/mobile/pairings`, { token: null, contentType: 'application/jwt', raw: jwt });

/** A push answer JWS sent as is. */
export const answerRaw = (t: MobileTenant, pushId: string, jwt: string): Promise<Response> =>
  t.server.request('POST', `/${t.env}/mobile/pushes/${pushId}`, { token: null, contentType: 'application/jwt', raw: jwt });
