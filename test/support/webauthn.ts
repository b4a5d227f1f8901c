/**
 * What the FIDO2 browser suites (test/browser/fido2*.test.ts) share: chromium's virtual
 * authenticator through the DevTools protocol's WebAuthn domain, navigator.credentials called
 * in the page with Ping's own conversion (JSON.parse, new Uint8Array(array), btoa — not the
 * console's module, so the two are independent), and the API calls the suites make.
 */
import assert from 'node:assert/strict';
import type { CDPSession, Page } from 'playwright-core';
import { openUser, signIn, type ConsoleSuite, type Watched } from './browser.js';

export const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
export const ASSERTION_CHECK = 'application/vnd.pingidentity.assertion.check+json';

export interface VirtualAuthenticator {
  cdp: CDPSession;
  authenticatorId: string;
  credentials(): Promise<Array<{ credentialId: string; isResidentCredential: boolean; rpId?: string; userHandle?: string; signCount: number }>>;
}

/** A CTAP2 virtual authenticator in this page's browser context (WebAuthn.enable, WebAuthn.addVirtualAuthenticator). */
export async function virtualAuthenticator(w: Watched, options: { transport: 'internal' | 'usb'; hasResidentKey: boolean; hasUserVerification: boolean; isUserVerified: boolean }): Promise<VirtualAuthenticator> {
  const cdp = await w.context.newCDPSession(w.page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', automaticPresenceSimulation: true, ...options },
  });
  return {
    cdp, authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

/** The virtual authenticator's base64 credential ID as the API writes it (base64url). */
export const b64ToB64url = (s: string) => Buffer.from(s, 'base64').toString('base64url');

/**
 * navigator.credentials.create in the page from PingOne's options string, converted the way
 * Ping's own browser sample does (JSON.parse, new Uint8Array(array) for the signed bytes) —
 * not with the console's module — and answered in §1.4's encoding (`id` as the browser gives
 * it, the rest btoa). `tamper` is a function body run on the parsed options before the call
 * (what a client might change). Resolves to { attestation } or { error: "Name: message" }.
 */
export function createInPage(page: Page, options: string, tamper = ''): Promise<{ attestation?: string; error?: string }> {
  return page.evaluate(`(async () => {
    const o = JSON.parse(${JSON.stringify(options)});
    ${tamper}
    const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)));
    const publicKey = {
      ...o,
      challenge: new Uint8Array(o.challenge),
      user: { ...o.user, id: new Uint8Array(o.user.id) },
      pubKeyCredParams: o.pubKeyCredParams.map((p) => ({ type: p.type, alg: Number(p.alg) })),
      excludeCredentials: o.excludeCredentials.map((c) => ({ ...c, id: new Uint8Array(c.id) })),
    };
    try {
      const c = await navigator.credentials.create({ publicKey });
      return { attestation: JSON.stringify({
        id: c.id, type: c.type, rawId: b64(c.rawId),
        response: { clientDataJSON: b64(c.response.clientDataJSON), attestationObject: b64(c.response.attestationObject), transports: c.response.getTransports() },
        authenticatorAttachment: c.authenticatorAttachment,
        clientExtensionResults: {},
      }) };
    } catch (e) {
      return { error: e.name + ': ' + e.message };
    }
  })()`);
}

/**
 * navigator.credentials.get in the page from PingOne's request options string, converted and
 * answered as Ping's own sample does (JSON.parse, new Uint8Array, btoa; a null userHandle → "").
 */
export function getInPage(page: Page, options: string, tamper = ''): Promise<{ assertion?: string; error?: string }> {
  return page.evaluate(`(async () => {
    const o = JSON.parse(${JSON.stringify(options)});
    ${tamper}
    const b64 = (buf) => buf ? btoa(String.fromCharCode(...new Uint8Array(buf))) : '';
    const publicKey = { ...o, challenge: new Uint8Array(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: new Uint8Array(c.id) })) };
    try {
      const c = await navigator.credentials.get({ publicKey });
      return { assertion: JSON.stringify({
        id: c.id, rawId: b64(c.rawId), type: c.type,
        response: { clientDataJSON: b64(c.response.clientDataJSON), authenticatorData: b64(c.response.authenticatorData), signature: b64(c.response.signature), userHandle: b64(c.response.userHandle) },
      }) };
    } catch (e) {
      return { error: e.name + ': ' + e.message };
    }
  })()`);
}

/** The suite's API calls, with the console at localhost (WebAuthn's RP ID must be a host name). */
export function fido2Kit(suite: ConsoleSuite) {
  const envId = () => suite.envId();
  const server = () => suite.stack.server;
  const localConsole = () => suite.stack.consoleUrl.replace('//127.0.0.1:', '//localhost:');
  const localOrigin = () => new URL(localConsole()).origin;
  const devicesPath = (userId: string) => `/v1/environments/${envId()}/users/${userId}/devices`;
  const flows = () => `/${envId()}/deviceAuthentications`;

  async function apiUser(username: string): Promise<string> {
    const res = await server().request('POST', `/v1/environments/${envId()}/users`, { body: { username, email: `${username}@example.com` } });
    assert.equal(res.status, 201, res.text);
    return res.body.id as string;
  }
  async function apiDevices(userId: string): Promise<Record<string, any>[]> {
    const res = await server().request('GET', devicesPath(userId));
    assert.equal(res.status, 200, res.text);
    return res.body._embedded.devices as Record<string, any>[];
  }
  /** A FIDO2 device created by the test, its options string and its path. */
  async function apiFido2Device(userId: string, policyId?: string) {
    const res = await server().request('POST', devicesPath(userId), {
      body: { type: 'FIDO2', rp: { id: 'localhost', name: 'OpenMFA' }, ...(policyId ? { policy: { id: policyId } } : {}) },
    });
    assert.equal(res.status, 201, res.text);
    return { id: res.body.id as string, path: `${devicesPath(userId)}/${res.body.id as string}`, options: res.body.publicKeyCredentialCreationOptions as string };
  }
  /** A FIDO2 device registered through the API by the page's virtual authenticator. */
  async function registeredInPage(page: Page, userId: string, policyId?: string): Promise<{ id: string; path: string; credentialId: string }> {
    const created = await apiFido2Device(userId, policyId);
    const made = await createInPage(page, created.options);
    assert.equal(made.error, undefined, made.error);
    const done = await server().request('POST', created.path, { contentType: ACTIVATE, body: { origin: localOrigin(), attestation: made.attestation } });
    assert.equal(done.status, 200, done.text);
    return { id: created.id, path: created.path, credentialId: done.body.credentialId as string };
  }
  async function startFlow(userId: string): Promise<Record<string, any>> {
    const res = await server().request('POST', flows(), { body: { user: { id: userId } } });
    assert.equal(res.status, 200, res.text);
    return res.body as Record<string, any>;
  }
  async function readFlow(flowId: string): Promise<Record<string, any>> {
    const res = await server().request('GET', `${flows()}/${flowId}`);
    assert.equal(res.status, 200, res.text);
    return res.body as Record<string, any>;
  }
  /** Signed in to the console at localhost, in the view of `username`. */
  async function openAtLocalhost(w: Watched, username: string): Promise<void> {
    if (!w.page.url().startsWith(localConsole())) await w.page.goto(localConsole());
    await signIn(w, localConsole(), suite.creds());
    await openUser(w.page, username);
  }
  return { localConsole, localOrigin, devicesPath, flows, apiUser, apiDevices, apiFido2Device, registeredInPage, startFlow, readFlow, openAtLocalhost };
}
