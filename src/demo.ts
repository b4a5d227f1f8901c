/**
 * `openmfa demo`: the seed's PingID Desktop flow for real, on a throw-away store. It starts a
 * server and a desktop agent on free loopback ports, then walks token → user → create →
 * agent /register → activate, then one authentication (deviceAuthentications → agent
 * /authenticate → assertion.check), printing each request and response the way PingOne's page does.
 * Secrets (client secret, access token) are shown masked; JWTs are shortened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadAgentConfig } from './agent/config.js';
import { runAgent } from './agent/index.js';
import { loadServerConfig } from './config.js';
import { freePort } from './free-port.js';
import { startServer } from './server.js';

/** The page the seed's relying party lives on: the agent checks the Origin against rp.id. */
const RP = { id: 'pingone.eu', name: 'pingone.eu' };
const ORIGIN = 'https://app.pingone.eu';

const shorten = (jwt: string): string => (jwt.length > 60 ? `${jwt.slice(0, 40)}…${jwt.slice(-12)} (${jwt.length} chars)` : jwt);

function showJson(value: unknown): string {
  return JSON.stringify(value, (k, v) => (typeof v === 'string' && /^eyJ[\w-]+\.[\w-]+\.[\w-]*$/.test(v) && k !== '' ? shorten(v) : v), 4);
}

interface Step {
  title: string;
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** What is sent (string bodies are sent as they are). */
  body?: unknown;
  /** How a header is printed, when it holds a secret. */
  shownHeaders?: Record<string, string>;
}

export async function runDemo(print: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-demo-'));
  const [serverPort, agentPort] = [await freePort(), await freePort()];
  const config = loadServerConfig({ port: serverPort, dataDir: path.join(dir, 'server'), logLevel: 'warn' }, {});
  const server = await startServer(config, { out: (line) => print(`  [server] ${line}`) });
  let agent: Awaited<ReturnType<typeof runAgent>> | undefined;
  try {
    agent = await runAgent(loadAgentConfig({ port: agentPort, stateDir: path.join(dir, 'agent'), trust: [config.authPath] }, {}), {
      handleSignals: false, print: (line) => print(`  [agent]  ${line}`),
    });
    const boot = JSON.parse((await import('node:fs')).readFileSync(path.join(config.dataDir, 'bootstrap.json'), 'utf8')) as { environmentId: string; clientId: string; clientSecret: string };

    let n = 0;
    const call = async (step: Step): Promise<{ status: number; text: string; json: any }> => {
      n += 1;
      print(`\n${'─'.repeat(78)}\n${n}. ${step.title}\n`);
      print(`${step.method} ${step.url}`);
      for (const [k, v] of Object.entries({ ...step.headers, ...step.shownHeaders })) print(`${k}: ${v}`);
      const payload = typeof step.body === 'string' ? step.body : step.body === undefined ? undefined : JSON.stringify(step.body);
      if (payload !== undefined) print(`\n${typeof step.body === 'string' ? (step.body.startsWith('eyJ') ? shorten(step.body) : step.body) : showJson(step.body)}`);
      const res = await fetch(step.url, { method: step.method, headers: step.headers, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await res.text();
      let json: any;
      try { json = JSON.parse(text); } catch { json = undefined; }
      print(`\n${res.status} ${res.statusText}\n`);
      print(json !== undefined ? showJson(json) : shorten(text));
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
    return 0;
  } finally {
    await agent?.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
