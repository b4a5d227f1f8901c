/**
 * `openmfa mobile` as a user runs it (issue #17 item 5, mobile-protocol §5): the real CLI
 * spawned (`node --import tsx src/cli.ts mobile --port 0`) against a real server listening on
 * loopback, driven only through its loopback JSON surface — pair, see the push, approve with
 * the number or deny, the offline code accepted by otp.check, `--auto approve|deny`, logs
 * uploaded when asked, a restart keeping its devices, its state owner-only, bad input 4xx.
 *
 * Clocks: the CLI signs with the system clock; the server's manual clock is moved up to the
 * wall clock before each step (`sync`), so both agree without a sleep. Arrival of a push is
 * observed through the CLI's own event line, never by waiting a fixed time.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { freePort } from '../../src/free-port.js';
import { loadMobileConfig } from '../../src/testing/mobile/config.js';
import { openMobileState } from '../../src/testing/mobile/state.js';
import { useTestServer, type TestServer } from '../helper.js';
import { totpCode } from '../support/rfc6238.js';
import { APP_ENTRY, CT, flowAction, mobileTenant, newUser, pairingKey, readFlow, setEntry, startFlow, type MobileTenant } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'src/cli.ts');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server: TestServer;
let t: MobileTenant;
let port: number;
useTestServer(async (s) => {
  server = s;
  await s.app.listen({ host: '127.0.0.1', port });
  t = await mobileTenant(s, 'mobile cli');
}, async () => {
  port = await freePort();
  return { publicUrl: `http://127.0.0.1:${port}`, clock: new ManualClock(Date.now()) };
});

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const stateDir = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'openmfa-mobile-cli-'));
  dirs.push(d);
  return path.join(d, 'state');
};

/** The server's clock brought up to the wall clock the CLI signs with. */
const sync = (): void => server.clock.set(Math.max(server.clock.now(), Date.now()));

interface Cli {
  url: string;
  proc: ChildProcess;
  /** Everything it printed. */
  output(): string;
  /** Resolves with the first line (from the start) matching `re`; rejects if the CLI exits first. */
  line(re: RegExp): Promise<string>;
  get(route: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  post(route: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OPENMFA_') && !k.startsWith('OPENMFA_TEST_')) delete env[k];
  return env;
}

function spawnCli(args: string[]) {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'mobile', ...args], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<() => void> = [];
  const take = (d: Buffer): void => { out += d.toString('utf8'); for (const w of waiters.splice(0)) w(); };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => { for (const w of waiters.splice(0)) w(); resolve({ code, signal }); }));
  let gone = false;
  void exited.then(() => { gone = true; });
  const line = (re: RegExp): Promise<string> => new Promise((resolve, reject) => {
    const look = (): void => {
      const found = out.split('\n').find((l) => re.test(l));
      if (found !== undefined) return resolve(found);
      if (gone || proc.exitCode !== null) return reject(new Error(`the CLI exited before printing ${re}:\n${out}`));
      waiters.push(look);
    };
    look();
  });
  return { proc, exited, line, output: () => out };
}

async function startCli(dir: string, auto: 'approve' | 'deny' | 'ignore' = 'ignore'): Promise<Cli> {
  const s = spawnCli(['--port', '0', '--state-dir', dir, '--auto', auto]);
  const started = await s.line(/^OpenMFA mobile authenticator listening on /);
  const url = /listening on (http:\/\/\S+)/.exec(started)![1]!;
  const call = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}${route}`, {
      method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const cli: Cli = {
    url, proc: s.proc, output: s.output, line: s.line,
    get: (route, headers) => call('GET', route, undefined, headers),
    post: (route, body, headers) => call('POST', route, body, headers),
    async stop() {
      s.proc.kill('SIGTERM');
      return s.exited;
    },
  };
  return cli;
}

/** A pairing key for a new user, paired through the CLI's surface. */
async function pairThrough(cli: Cli, name: string) {
  const userId = await newUser(t, name);
  const key = await pairingKey(t, userId);
  assert.equal(key.status, 201, key.text);
  sync();
  const paired = await cli.post('/pair', { code: key.body.code, server: t.sdk, applicationId: t.appId });
  assert.equal(paired.status, 201, JSON.stringify(paired.body));
  assert.deepEqual(Object.keys(paired.body), ['deviceId']);
  assert.match(paired.body.deviceId, UUID);
  return { userId, deviceId: paired.body.deviceId as string, code: key.body.code as string };
}

const matching = (on: boolean) => setEntry(t, APP_ENTRY(t.appId, { push: { enabled: true, numberMatching: { enabled: on } } }));

/** A flow for the user (its one MOBILE device), and the push the CLI printed it received. */
async function flowWithPush(cli: Cli, userId: string) {
  sync();
  const flow = await startFlow(t, userId);
  assert.equal(flow.body.status, 'PUSH_CONFIRMATION_REQUIRED', flow.text);
  const line = await cli.line(new RegExp(`push \\S+ received for flow ${flow.body.id}`));
  const pushId = /push (\S+) received/.exec(line)![1]!;
  return { flow: flow.body, pushId };
}

/** A GET with a Host header of its own (fetch does not let one be set). */
function rawGet(base: string, route: string, host: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${route}`, { headers: { host } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString('utf8'); });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const pushOf = async (cli: Cli, pushId: string) => (await cli.get('/pushes')).body.pushes.find((p: { id: string }) => p.id === pushId);

test('one authenticator: pair over loopback, the push seen, number matching approved, deny, offline code, logs; state owner-only; bad input 4xx; a restart keeps the devices', async (t0) => {
  const dir = stateDir();
  let cli = await startCli(dir);
  t0.after(() => cli.stop());
  assert.deepEqual(await cli.get('/health'), { status: 200, body: { status: 'ok' } });

  // Pairing: the device in GET /devices (no key, no seed), the state file 0600 in a 0700 directory.
  const alice = await pairThrough(cli, 'cli alice');
  assert.deepEqual(await cli.get('/devices'), { status: 200, body: { devices: [{ id: alice.deviceId, server: t.sdk, applicationId: t.appId, pushChannel: `${t.sdk}/mobile/devices/${alice.deviceId}/pushes` }] } });
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const file = path.join(dir, 'mobile.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { devices: Array<{ id: string; otpSeed: string; privateJwk: { d: string } }> };
  assert.deepEqual(saved.devices.map((d) => d.id), [alice.deviceId]);
  const seed = saved.devices[0]!.otpSeed;

  // Number matching: the push is listed whole; no number, or one not among the choices, is
  // refused by the authenticator itself and changes nothing; the right one completes the flow.
  await matching(true);
  const { flow, pushId } = await flowWithPush(cli, alice.userId);
  const number = flow.numberMatching.number as string;
  const listed = await pushOf(cli, pushId);
  assert.deepEqual(Object.keys(listed), ['id', 'flowId', 'deviceId', 'expiresAt', 'numberChoices', 'status']);
  assert.deepEqual({ ...listed, numberChoices: undefined }, { id: pushId, flowId: flow.id, deviceId: alice.deviceId, expiresAt: listed.expiresAt, numberChoices: undefined, status: 'PENDING' });
  assert.equal(Date.parse(listed.expiresAt) - server.clock.now(), 40_000);
  assert.equal(listed.numberChoices.length, 3);
  assert.ok(listed.numberChoices.includes(number));
  const noNumber = await cli.post(`/pushes/${pushId}/approve`);
  assert.equal(noNumber.status, 400);
  assert.equal(noNumber.body.code, 'number_required');
  const outside = await cli.post(`/pushes/${pushId}/approve`, { number: '100' });
  assert.equal(outside.status, 400);
  assert.equal(outside.body.code, 'invalid_number');
  assert.equal((await readFlow(t, flow.id)).body.status, 'PUSH_CONFIRMATION_REQUIRED');
  sync();
  assert.deepEqual(await cli.post(`/pushes/${pushId}/approve`, { number }), { status: 200, body: { id: pushId, status: 'APPROVED' } });
  const done = await readFlow(t, flow.id);
  assert.equal(done.body.status, 'COMPLETED');
  assert.deepEqual(done.body.authenticators, ['mobile', 'mfa', 'user']);
  assert.equal((await pushOf(cli, pushId)).status, 'APPROVED');
  const again = await cli.post(`/pushes/${pushId}/approve`, { number });
  assert.equal(again.status, 409);
  assert.equal(again.body.code, 'already_answered');

  // Deny: the flow FAILED with PUSH_REJECTED.
  await matching(false);
  const denied = await flowWithPush(cli, alice.userId);
  assert.deepEqual(Object.keys(await pushOf(cli, denied.pushId)), ['id', 'flowId', 'deviceId', 'expiresAt', 'status']);
  sync();
  assert.deepEqual(await cli.post(`/pushes/${denied.pushId}/deny`), { status: 200, body: { id: denied.pushId, status: 'DENIED' } });
  const failed = await readFlow(t, denied.flow.id);
  assert.equal(failed.body.status, 'FAILED');
  assert.equal(failed.body.error.code, 'PUSH_REJECTED');

  // The offline code: the RFC 6238 code of the seed (an independent TOTP), taken by otp.check.
  const waiting = await flowWithPush(cli, alice.userId);
  sync();
  const otp = await cli.get(`/devices/${alice.deviceId}/otp`);
  assert.equal(otp.status, 200);
  assert.deepEqual(Object.keys(otp.body), ['otp']);
  const expected = [-30_000, 0, 30_000].map((d) => totpCode(seed, server.clock.now() + d));
  assert.ok(expected.includes(otp.body.otp), `${otp.body.otp} is not the seed's code (${expected.join(', ')})`);
  const checked = await flowAction(t, waiting.flow.id, CT.otpCheck, { otp: otp.body.otp });
  assert.equal(checked.status, 200, checked.text);
  assert.equal(checked.body.status, 'COMPLETED');

  // Logs asked for on the channel are uploaded without being asked through the surface.
  const logsUrl = `/v1/environments/${t.env}/users/${alice.userId}/devices/${alice.deviceId}/logs`;
  assert.equal((await server.request('PUT', logsUrl, { body: { status: 'PENDING' } })).status, 200);
  await cli.line(new RegExp(`logs of device ${alice.deviceId} uploaded`));
  const logs = await server.request('GET', logsUrl);
  assert.equal(logs.body.status, 'RECEIVED');
  assert.ok(logs.body.size > 0);

  // Bad input: each a clear 4xx `{code, message}`, and nothing changes.
  const bad: Array<[string, () => Promise<{ status: number; body: any }>, number, string]> = [
    ['not JSON', () => cli.post('/pair', '{"code":'), 400, 'invalid_json'],
    ['not an object', () => cli.post('/pair', '[]'), 400, 'invalid_request'],
    ['a form body', () => cli.post('/pair', 'code=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
    ['no code', () => cli.post('/pair', { server: t.sdk }), 400, 'invalid_request'],
    ['a code that is a number', () => cli.post('/pair', { code: 123, server: t.sdk }), 400, 'invalid_request'],
    ['a member it does not know', () => cli.post('/pair', { code: 'x', server: t.sdk, extra: 1 }), 400, 'invalid_request'],
    ['a server that is no URL', () => cli.post('/pair', { code: 'x', server: 'not a url' }), 400, 'invalid_request'],
    ['a server of another scheme', () => cli.post('/pair', { code: 'x', server: 'file:///etc/passwd' }), 400, 'invalid_request'],
    ['a wrong pairing code (the server says 400)', () => cli.post('/pair', { code: '000000000000', server: t.sdk }), 400, 'pairing_refused'],
    ['a body past 16 KiB', () => cli.post('/pair', { code: 'x'.repeat(17 * 1024), server: t.sdk }), 413, 'payload_too_large'],
    ['an unknown push', () => cli.post('/pushes/00000000-0000-4000-8000-000000000000/approve'), 404, 'not_found'],
    ['an unknown device\'s code', () => cli.get('/devices/00000000-0000-4000-8000-000000000000/otp'), 404, 'not_found'],
    ['a number that is not a string', () => cli.post(`/pushes/${pushId}/approve`, { number: ['37'] }), 400, 'invalid_request'],
    ['an unknown route', () => cli.get('/nothing'), 404, 'not_found'],
    ['a wait without a flowId', () => cli.get('/pushes?wait=5'), 400, 'invalid_request'],
    ['a wait past 30 s', () => cli.get(`/pushes?flowId=${flow.id}&wait=31`), 400, 'invalid_request'],
    ['an unknown query parameter', () => cli.get('/pushes?status=PENDING'), 400, 'invalid_request'],
    ['the wrong method', () => cli.get('/pair'), 405, 'method_not_allowed'],
    ['threat: a web page in the browser answering a push (an Origin header)', () => cli.post(`/pushes/${denied.pushId}/approve`, {}, { origin: 'https://evil.example' }), 403, 'origin_refused'],
    ['threat: DNS rebinding (a Host that is not loopback)', () => rawGet(cli.url, '/devices', 'evil.example'), 403, 'host_refused'],
  ];
  for (const [what, send, status, code] of bad) {
    const res = await send();
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, code, what);
    assert.equal(typeof res.body.message, 'string', what);
  }
  const refused = await cli.post('/pair', { code: '000000000000', server: t.sdk });
  assert.equal(refused.body.details.status, 400);
  assert.equal(refused.body.details.body.code, 'INVALID_DATA');
  assert.equal((await cli.get('/devices')).body.devices.length, 1);

  // Nothing secret was printed: no pairing code, seed or private key.
  for (const secret of [alice.code, seed, saved.devices[0]!.privateJwk.d]) assert.equal(cli.output().includes(secret), false);

  // A restart keeps the device: listed again, its pushes received and answered, its code valid.
  assert.deepEqual(await cli.stop(), { code: 0, signal: null });
  cli = await startCli(dir);
  assert.match(cli.output(), /devices: 1, auto: ignore/);
  assert.deepEqual((await cli.get('/devices')).body.devices.map((d: { id: string }) => d.id), [alice.deviceId]);
  // This time the push is awaited through the surface: ?flowId= held by &wait= until it arrives.
  sync();
  const later = await startFlow(t, alice.userId);
  const held = await cli.get(`/pushes?flowId=${later.body.id}&wait=20`);
  assert.equal(held.status, 200);
  assert.deepEqual(held.body.pushes.map((p: { flowId: string; status: string }) => [p.flowId, p.status]), [[later.body.id, 'PENDING']]);
  sync();
  assert.equal((await cli.post(`/pushes/${held.body.pushes[0].id}/approve`)).status, 200);
  assert.equal((await readFlow(t, later.body.id)).body.status, 'COMPLETED');
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('--auto approve answers a push by itself; with number matching it leaves the push pending for the number (it never guesses)', async (t0) => {
  const cli = await startCli(stateDir(), 'approve');
  t0.after(() => cli.stop());
  const bob = await pairThrough(cli, 'cli bob');
  await matching(false);
  const { flow, pushId } = await flowWithPush(cli, bob.userId);
  await cli.line(new RegExp(`push ${pushId} approved`));
  assert.equal((await readFlow(t, flow.id)).body.status, 'COMPLETED');
  assert.equal((await pushOf(cli, pushId)).status, 'APPROVED');

  await matching(true);
  const numbered = await flowWithPush(cli, bob.userId);
  await cli.line(new RegExp(`push ${numbered.pushId} asks for the number`));
  assert.equal((await pushOf(cli, numbered.pushId)).status, 'PENDING');
  assert.equal((await readFlow(t, numbered.flow.id)).body.status, 'PUSH_CONFIRMATION_REQUIRED');
  sync();
  assert.equal((await cli.post(`/pushes/${numbered.pushId}/approve`, { number: numbered.flow.numberMatching.number })).status, 200);
  assert.equal((await readFlow(t, numbered.flow.id)).body.status, 'COMPLETED');
});

test('--auto deny denies every push by itself, number matching or not', async (t0) => {
  const cli = await startCli(stateDir(), 'deny');
  t0.after(() => cli.stop());
  const carol = await pairThrough(cli, 'cli carol');
  for (const on of [false, true]) {
    await matching(on);
    const { flow, pushId } = await flowWithPush(cli, carol.userId);
    await cli.line(new RegExp(`push ${pushId} denied`));
    const failed = await readFlow(t, flow.id);
    assert.equal(failed.body.status, 'FAILED');
    assert.equal(failed.body.error.code, 'PUSH_REJECTED');
  }
});

test('only loopback: 0.0.0.0 or a public name is refused unless --allow-remote; bad flags are named', () => {
  assert.throws(() => loadMobileConfig({ host: '0.0.0.0' }), /host: "0\.0\.0\.0" is not a loopback address/);
  assert.throws(() => loadMobileConfig({}, { OPENMFA_MOBILE_HOST: 'mfa.example.com' }), /not a loopback address/);
  assert.equal(loadMobileConfig({ host: '0.0.0.0', allowRemote: true }).host, '0.0.0.0');
  assert.equal(loadMobileConfig({ host: '::1' }).host, '::1');
  assert.throws(() => loadMobileConfig({ port: '70000' }), /port/);
  assert.throws(() => loadMobileConfig({ auto: 'maybe' }), /auto: must be one of approve, deny, ignore/);
  const defaults = loadMobileConfig({}, { OPENMFA_DATA_DIR: '/srv/openmfa' });
  assert.deepEqual(defaults, { host: '127.0.0.1', port: 9420, stateDir: '/srv/openmfa/mobile', auto: 'ignore' });
});

test('the CLI refuses a non-loopback --host at start (exit 1, the reason on stderr) and a corrupt state file, which it leaves as it was', async () => {
  const refused = spawnCli(['--host', '0.0.0.0', '--port', '0', '--state-dir', stateDir()]);
  assert.deepEqual(await refused.exited, { code: 1, signal: null });
  assert.match(refused.output(), /openmfa: invalid mobile authenticator configuration host: "0\.0\.0\.0" is not a loopback address/);

  const dir = stateDir();
  await openMobileState(dir);
  const file = path.join(dir, 'mobile.json');
  writeFileSync(file, '{"devices":[{"id":"x"}]}');
  const corrupt = spawnCli(['--port', '0', '--state-dir', dir]);
  assert.deepEqual(await corrupt.exited, { code: 1, signal: null });
  assert.match(corrupt.output(), /mobile\.json is corrupt \(devices\[0\]: server is not a URL\)/);
  assert.equal(readFileSync(file, 'utf8'), '{"devices":[{"id":"x"}]}');
});
