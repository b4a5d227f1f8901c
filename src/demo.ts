/**
 * `openmfa demo`: the seed's PingID Desktop flow for real, on a throw-away store. It starts a
 * server, a desktop agent and a mobile authenticator on free loopback ports, then walks token →
 * user → create → agent /register → activate, then one authentication (deviceAuthentications →
 * agent /authenticate → assertion.check); then the mobile walk: a NATIVE_APP in the policy's
 * mobile section (push with number matching), a pairing key, the authenticator's /pair, a
 * device authentication, the push it received, approved with the number the flow shows,
 * COMPLETED. Each request and response is printed the way PingOne's page does. Secrets (client
 * secret, access token, pairing code) are shown masked; JWTs are shortened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadAgentConfig } from './agent/config.js';
import { loadMobileConfig } from './testing/mobile/config.js';
import { runAgent } from './agent/index.js';
import { loadServerConfig } from './config.js';
import { freePort } from './free-port.js';
import { startServer } from './server.js';
import { runMobile } from './testing/mobile/run.js';

/** The page the seed's relying party lives on: the agent checks the Origin against rp.id. */
const RP = { id: 'pingone.eu', name: 'pingone.eu' };
const ORIGIN = 'https://app.pingone.eu';

const shorten = (jwt: string): string => (jwt.length > 60 ? `${jwt.slice(0, 40)}…${jwt.slice(-12)} (${jwt.length} chars)` : jwt);

function showJson(value: unknown): string {
  return JSON.stringify(value, (k, v) => (typeof v === 'string' && /^eyJ[\w-]+\.[\w-]+\.[\w-]*$/.test(v) && k !== '' ? shorten(v) : v), 4);
}

interface Step {
  title: string;
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  /** What is sent (string bodies are sent as they are). */
  body?: unknown;
  /** How a header is printed, when it holds a secret. */
  shownHeaders?: Record<string, string>;
  /** How the body is printed, when it holds a secret. */
  shownBody?: unknown;
  /** How the response's JSON is printed, when it holds a secret. */
  shownAnswer?: (json: any) => unknown;
}

/** A one-time code as printed: its length only. */
const masked = (code: string): string => `<${code.length} characters, shown once>`;

export async function runDemo(print: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-demo-'));
  const [serverPort, agentPort, mobilePort] = [await freePort(), await freePort(), await freePort()];
  const config = loadServerConfig({ port: serverPort, dataDir: path.join(dir, 'server'), logLevel: 'warn' }, {});
  const server = await startServer(config, { out: (line) => print(`  [server] ${line}`) });
  let agent: Awaited<ReturnType<typeof runAgent>> | undefined;
  let mobile: Awaited<ReturnType<typeof runMobile>> | undefined;
  try {
    agent = await runAgent(loadAgentConfig({ port: agentPort, stateDir: path.join(dir, 'agent'), trust: [config.authPath] }, {}), {
      handleSignals: false, print: (line) => print(`  [agent]  ${line}`),
    });
    mobile = await runMobile(loadMobileConfig({ port: mobilePort, stateDir: path.join(dir, 'mobile') }, {}), {
      handleSignals: false, print: (line) => print(`  [mobile] ${line.replace(/^mobile: /, '')}`),
    });
    const boot = JSON.parse((await import('node:fs')).readFileSync(path.join(config.dataDir, 'bootstrap.json'), 'utf8')) as { environmentId: string; clientId: string; clientSecret: string };

    let n = 0;
    const call = async (step: Step): Promise<{ status: number; text: string; json: any }> => {
      n += 1;
      print(`\n${'─'.repeat(78)}\n${n}. ${step.title}\n`);
      print(`${step.method} ${step.url}`);
      for (const [k, v] of Object.entries({ ...step.headers, ...step.shownHeaders })) print(`${k}: ${v}`);
      const payload = typeof step.body === 'string' ? step.body : step.body === undefined ? undefined : JSON.stringify(step.body);
      if (payload !== undefined) print(`\n${typeof step.body === 'string' ? (step.body.startsWith('eyJ') ? shorten(step.body) : step.body) : showJson(step.shownBody ?? step.body)}`);
      const res = await fetch(step.url, { method: step.method, headers: step.headers, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await res.text();
      let json: any;
      try { json = JSON.parse(text); } catch { json = undefined; }
      print(`\n${res.status} ${res.statusText}\n`);
      print(json !== undefined ? showJson(step.shownAnswer ? step.shownAnswer(json) : json) : shorten(text));
      return { status: res.status, text, json };
    };
    const must = (ok: boolean, what: string) => { if (!ok) throw new Error(`demo step failed: ${what}`); };

    const basic = Buffer.from(`${boot.clientId}:${boot.clientSecret}`).toString('base64');
    const token = await call({
      title: 'Get a worker token (client_credentials, client_secret_basic)',
      method: 'POST', url: `${config.authPath}/${boot.environmentId}/as/token`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` },
      shownHeaders: { Authorization: 'Basic <clientId:clientSecret from bootstrap.json>' },
      body: 'grant_type=client_credentials',
    });
    must(token.status === 200, 'token');
    const auth = { Authorization: `Bearer ${token.json.access_token as string}` };
    const shownAuth = { Authorization: 'Bearer {{accessToken}}' };
    const env = boot.environmentId;

    const policies = await call({ title: 'Find the default device authentication policy', method: 'GET', url: `${config.apiPath}/environments/${env}/deviceAuthenticationPolicies`, headers: auth, shownHeaders: shownAuth });
    const policyId = (policies.json._embedded.deviceAuthenticationPolicies as { id: string; default: boolean }[]).find((p) => p.default)?.id;
    must(!!policyId, 'default policy');

    const user = await call({
      title: 'Create a user', method: 'POST', url: `${config.apiPath}/environments/${env}/users`,
      headers: { ...auth, 'Content-Type': 'application/json' }, shownHeaders: shownAuth,
      body: { username: 'jdoe', email: 'jdoe@example.com', name: { given: 'Jane', family: 'Doe' } },
    });
    must(user.status === 201, 'user');
    const devices = `${config.apiPath}/environments/${env}/users/${user.json.id as string}/devices`;

    const created = await call({
      title: 'Create the PingID Desktop device (step 1)', method: 'POST', url: devices,
      headers: { ...auth, 'Content-Type': 'application/json' }, shownHeaders: shownAuth,
      body: { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', policy: { id: policyId }, rp: RP },
    });
    must(created.status === 201, 'create device');

    const attestation = await call({
      title: 'Hand the creation options to the desktop agent (step 2)', method: 'POST', url: `${agent.url}/register`,
      headers: { 'Content-Type': 'application/jwt', Origin: ORIGIN },
      body: created.json.pingIdDesktopCredentialCreationOptions as string,
    });
    must(attestation.status === 200, 'agent /register');

    const activated = await call({
      title: 'Activate the device with the attestation (step 3, the seed request)', method: 'POST', url: `${devices}/${created.json.id as string}`,
      headers: { ...auth, 'Content-Type': 'application/vnd.pingidentity.device.activate+json' }, shownHeaders: shownAuth,
      body: { attestation: attestation.text },
    });
    must(activated.status === 200 && activated.json.status === 'ACTIVE', 'activate');
    print(`\n${'─'.repeat(78)}\nThe device is ACTIVE: that response has the shape of PingOne's "Activate MFA User Device (PingID Desktop)" page.\nNow one authentication with it.`);

    const flow = await call({
      title: 'Start a device authentication for the user', method: 'POST', url: `${config.authPath}/${env}/deviceAuthentications`,
      headers: { ...auth, 'Content-Type': 'application/json' }, shownHeaders: shownAuth,
      body: { user: { id: user.json.id as string } },
    });
    must(flow.status === 200 && flow.json.status === 'ASSERTION_REQUIRED', 'device authentication');

    const assertion = await call({
      title: 'Hand the request options to the desktop agent', method: 'POST', url: `${agent.url}/authenticate`,
      headers: { 'Content-Type': 'application/jwt', Origin: ORIGIN },
      body: flow.json.pingIdDesktopCredentialRequestOptions as string,
    });
    must(assertion.status === 200, 'agent /authenticate');

    const checked = await call({
      title: 'Check the assertion', method: 'POST', url: `${config.authPath}/${env}/deviceAuthentications/${flow.json.id as string}`,
      headers: { ...auth, 'Content-Type': 'application/vnd.pingidentity.assertion.check+json' }, shownHeaders: shownAuth,
      body: { origin: ORIGIN, assertion: assertion.text },
    });
    must(checked.status === 200 && checked.json.status === 'COMPLETED', 'assertion.check');
    print(`\n${'─'.repeat(78)}\nCOMPLETED: the user authenticated with the PingID Desktop device.`);

    print(`\n${'─'.repeat(78)}\nNow a MOBILE device: the mobile authenticator on ${mobile.url} stands in for a phone app with the PingOne MFA SDK.`);
    const json = { ...auth, 'Content-Type': 'application/json' };
    const app = await call({
      title: 'Create the native application the phone app is', method: 'POST', url: `${config.apiPath}/environments/${env}/applications`,
      headers: json, shownHeaders: shownAuth,
      body: { name: 'Demo phone app', type: 'NATIVE_APP', mobile: { bundleId: 'com.example.demo', packageName: 'com.example.demo' } },
    });
    must(app.status === 201, 'native application');
    const policy = (policies.json._embedded.deviceAuthenticationPolicies as Array<Record<string, any>>).find((p) => p.id === policyId)!;
    const entry = { id: app.json.id as string, push: { enabled: true, numberMatching: { enabled: true } }, otp: { enabled: true } };
    const updated = await call({
      title: "Turn on the policy's mobile section for it: push with number matching, offline codes", method: 'PUT', url: `${config.apiPath}/environments/${env}/deviceAuthenticationPolicies/${policyId as string}`,
      headers: json, shownHeaders: shownAuth,
      body: { ...policy, mobile: { ...policy.mobile, enabled: true, applications: [entry] } },
      shownBody: { '…': 'every other member as the GET above answered it (read-modify-write)', mobile: { ...policy.mobile, enabled: true, applications: [entry] } },
      shownAnswer: (p: Record<string, unknown>) => ({ id: p.id, name: p.name, '…': '(the other members as sent)', mobile: p.mobile }),
    });
    must(updated.status === 200, 'policy mobile section');
    const phoneUser = await call({
      title: 'Create a user for the phone', method: 'POST', url: `${config.apiPath}/environments/${env}/users`,
      headers: json, shownHeaders: shownAuth, body: { username: 'msmith', email: 'msmith@example.com', name: { given: 'Mo', family: 'Smith' } },
    });
    must(phoneUser.status === 201, 'phone user');
    const key = await call({
      title: 'Create a pairing key (its code goes to the phone, as a QR code)', method: 'POST', url: `${config.apiPath}/environments/${env}/users/${phoneUser.json.id as string}/pairingKeys`,
      headers: json, shownHeaders: shownAuth, body: { applications: [{ id: app.json.id as string }] },
      shownAnswer: (k: Record<string, unknown>) => ({ ...k, code: masked(String(k.code)) }),
    });
    must(key.status === 201 && key.json.status === 'UNCLAIMED', 'pairing key');
    const pairBody = { code: key.json.code as string, server: `${config.authPath}/${env}` };
    const paired = await call({
      title: 'Hand the code to the mobile authenticator: it pairs under a new device key', method: 'POST', url: `${mobile.url}/pair`,
      headers: { 'Content-Type': 'application/json' }, body: pairBody, shownBody: { ...pairBody, code: masked(pairBody.code) },
    });
    must(paired.status === 201, 'mobile /pair');
    const device = await call({ title: 'The MOBILE device is ACTIVE', method: 'GET', url: `${config.apiPath}/environments/${env}/users/${phoneUser.json.id as string}/devices/${paired.json.deviceId as string}`, headers: auth, shownHeaders: shownAuth });
    must(device.status === 200 && device.json.status === 'ACTIVE', 'mobile device');

    const push = await call({
      title: 'Start a device authentication: a push to the phone, the number shown on the signing-in page', method: 'POST', url: `${config.authPath}/${env}/deviceAuthentications`,
      headers: json, shownHeaders: shownAuth, body: { user: { id: phoneUser.json.id as string } },
    });
    must(push.status === 200 && push.json.status === 'PUSH_CONFIRMATION_REQUIRED', 'push flow');
    await mobile.service.waitForPush(push.json.id as string);
    const received = await call({ title: 'The push arrived on the phone: three numbers to pick from', method: 'GET', url: `${mobile.url}/pushes`, headers: {} });
    const pushId = (received.json.pushes as Array<{ id: string; flowId: string }>).find((p) => p.flowId === push.json.id)?.id;
    must(pushId !== undefined, 'push received');
    const approved = await call({
      title: 'The user picks the number the page shows and approves', method: 'POST', url: `${mobile.url}/pushes/${pushId!}/approve`,
      headers: { 'Content-Type': 'application/json' }, body: { number: push.json.numberMatching.number as string },
    });
    must(approved.status === 200, 'mobile approve');
    const finished = await call({ title: 'Read the device authentication', method: 'GET', url: `${config.authPath}/${env}/deviceAuthentications/${push.json.id as string}`, headers: auth, shownHeaders: shownAuth });
    must(finished.status === 200 && finished.json.status === 'COMPLETED', 'push COMPLETED');
    print(`\n${'─'.repeat(78)}\nCOMPLETED: the user authenticated with the MOBILE device, push approved with number matching.`);
    return 0;
  } finally {
    await mobile?.close();
    await agent?.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
