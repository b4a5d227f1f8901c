/**
 * `npm run bench` — the quality bar's speed figures (P1–P6), each a ratio to a baseline measured
 * in the same run on the same machine (/work/shared/design/quality-bar.md).
 *
 * It starts everything it measures and stops it again (on success, error, Ctrl-C or SIGTERM):
 * the built server (`dist/cli.js serve`, fresh SQLite store in a temp dir, rate limiting off),
 * a bare node:http baseline, a Prism mock of our own /openapi.json as a peer, and the load
 * generators — autocannon in separate processes on loopback, a warm-up round discarded.
 *
 * Environment:
 *   OPENMFA_BENCH_DURATION     seconds per measured round (default 8; quick: 2)
 *   OPENMFA_BENCH_WARMUP       seconds per discarded warm-up round (default duration/3, ≥ 1)
 *   OPENMFA_BENCH_CONNECTIONS  concurrent connections for throughput rounds (default 32)
 *   OPENMFA_BENCH_SEED_DEVICES devices in the store for P5's large case (default 1000000; quick: 20000)
 *   OPENMFA_BENCH_P4_RATE      total req/s for P4, split 80 % reads / 20 % writes (default 1000)
 *   OPENMFA_BENCH_LOG_LEVEL    server --log-level (default info, the shipped default: per-request
 *                              logging is part of the cost; logs go to a temp file)
 *   OPENMFA_BENCH_QUICK=1      a ~1-minute smoke run: short rounds, small seed, small sets
 *   OPENMFA_BENCH_SKIP_BUILD=1 use dist/ as it is (default: `npm run build --silent` first)
 *   OPENMFA_BENCH_ONLY=P1,P8   only the floors, the baselines and the named groups, a check of
 *                              those rows without the whole run: P1 (P1 and P1b, the reads),
 *                              P2 (OTP activation), P3 (desktop activation), P4 (mixed latency,
 *                              with its read set), P8 (FIDO2 activation and assertion), push (the
 *                              MOBILE push round trip), admin (snapshot, restore and reset)
 *   OPENMFA_BENCH_CPU_PROF=dir every server started writes a V8 CPU profile into dir when it
 *                              stops; `node bench/profile-summary.mjs <file>` lists the hot spots
 *   DATABASE_URL=postgres://…  also run P6 (2 server processes vs 1 on reads) in a fresh
 *                              database made for the run and dropped after it, and the
 *                              restore/reset figures on PostgreSQL (a schema, dropped after)
 *
 * Output: the table on stdout, and bench/results/latest.{json,md} — an untracked folder
 * (.gitignore), so a run changes nothing in the repository. `npm run bench -- --record` writes
 * the tracked figures the README quotes instead: bench/figures/latest.{json,md} plus a
 * timestamped copy of the JSON. OPENMFA_BENCH_QUICK=1 writes bench/results/quick.{json,md}
 * (never recorded). A run that breaks prints what it has, writes
 * bench/results/incomplete.{json,md} instead and exits 1; Ctrl-C writes nothing. Exit 0 when
 * every figure was measured, met or not.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../src/free-port.js';
import { attest } from '../test/devices/desktop-fixtures.js';
import { SoftwareAuthenticator } from '../src/testing/fido2-authenticator.js';
import { measureAdmin, type AdminFigures } from './lib/admin.js';
import { startBaseline } from './lib/baseline.js';
import { failures, measured, runLoad, warmThenMeasure, type LoadResult, type LoadSpec, type RequestItem } from './lib/load.js';
import { Api, pool, readBootstrap, startOpenMfa, type ServerHandle } from './lib/openmfa.js';
import { cleanup, describeCpu, installCleanupHandlers, interrupted, metered, onCleanup, peakRssMiB, postgresPids, removeDir, runToEnd, tempDir } from './lib/procs.js';
import { startPrism } from './lib/prism.js';
import { measurePush } from './lib/push.js';
import { ms, renderMarkdown, renderText, rps, type Row } from './lib/table.js';
import { renderSvg } from './lib/chart.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const env = process.env;
const QUICK = env.OPENMFA_BENCH_QUICK === '1';
/** `--record`: write the tracked figures (bench/figures/) rather than the untracked results. */
const RECORD = process.argv.slice(2).includes('--record');
const num = (name: string, fallback: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not "${v}"`);
  return n;
};
const CFG = {
  quick: QUICK,
  durationS: num('OPENMFA_BENCH_DURATION', QUICK ? 2 : 8),
  warmupS: 0,
  connections: Math.round(num('OPENMFA_BENCH_CONNECTIONS', 32)),
  seedDevices: Math.round(num('OPENMFA_BENCH_SEED_DEVICES', QUICK ? 20_000 : 1_000_000)),
  p4Rate: num('OPENMFA_BENCH_P4_RATE', 1000),
  logLevel: env.OPENMFA_BENCH_LOG_LEVEL || 'info',
  /** Users × 15 ACTIVE EMAIL devices: the read set of P1/P1b/P4/P5 (the "1 k" store). */
  readUsers: QUICK ? 16 : 64,
  devicesPerUser: 15,
  /** Users of P9's fixture (reset and restore): 1 k, the quality bar's size. */
  adminUsers: QUICK ? 100 : 1000,
  /** Setup requests in flight at once (not measured). */
  setupConcurrency: 8,
};
CFG.warmupS = num('OPENMFA_BENCH_WARMUP', Math.max(1, Math.round(CFG.durationS / 3)));

/** The groups OPENMFA_BENCH_ONLY may name; unset or empty runs everything. */
const GROUPS = ['P1', 'P2', 'P3', 'P4', 'P8', 'push', 'admin'] as const;
type Group = (typeof GROUPS)[number];
const ONLY: ReadonlySet<Group> | undefined = (() => {
  const v = env.OPENMFA_BENCH_ONLY;
  if (v === undefined || v === '') return undefined;
  const names = v.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(GROUPS as readonly string[]).includes(n));
  if (bad.length) throw new Error(`OPENMFA_BENCH_ONLY takes a comma-separated list of ${GROUPS.join(', ')}, not "${bad.join(',')}"`);
  return new Set(names as Group[]);
})();

const ACTIVATE = 'application/vnd.pingidentity.device.activate+json';
const ASSERTION_CHECK = 'application/vnd.pingidentity.assertion.check+json';
/** The page of the FIDO2 ceremonies: WebAuthn takes http on localhost. */
const FIDO2_ORIGIN = 'http://localhost:8080';
const FIDO2_RP = { id: 'localhost', name: 'bench' };
const rows: Row[] = [];
const raw: Record<string, unknown> = {};
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

const devicesPath = (envId: string, userId: string) => `/v1/environments/${envId}/users/${userId}/devices`;

interface ReadSet { envId: string; users: string[]; devices: { userId: string; deviceId: string }[] }

/** An environment allowing 15 devices per user (the most PingOne allows; P1b's worst case). */
async function benchEnvironment(api: Api): Promise<string> {
  const e = await api.call<{ id: string }>('POST', '/v1/environments', { name: `bench-${Date.now()}`, region: 'NA', type: 'SANDBOX' });
  await api.call('PUT', `/v1/environments/${e.id}/mfaSettings`, { pairing: { maxAllowedDevices: 15 } });
  return e.id;
}

async function createUsers(api: Api, envId: string, n: number, prefix: string): Promise<string[]> {
  return pool(Array.from({ length: n }, (_, i) => i), CFG.setupConcurrency, async (i) =>
    (await api.call<{ id: string }>('POST', `/v1/environments/${envId}/users`, { username: `${prefix}-${i}`, email: `${prefix}-${i}@example.com` })).id);
}

async function readSet(api: Api, envId: string, nUsers: number): Promise<ReadSet> {
  const users = await createUsers(api, envId, nUsers, 'reader');
  const pairs = users.flatMap((u) => Array.from({ length: CFG.devicesPerUser }, (_, i) => ({ u, i })));
  const devices = await pool(pairs, CFG.setupConcurrency, async ({ u, i }) => {
    const d = await api.call<{ id: string }>('POST', devicesPath(envId, u), { type: 'EMAIL', email: `r${i}@example.com` });
    return { userId: u, deviceId: d.id };
  });
  return { envId, users, devices };
}

const readOne = (s: ReadSet): RequestItem[] => s.devices.map((d) => ({ path: `${devicesPath(s.envId, d.userId)}/${d.deviceId}` }));
const readList = (s: ReadSet): RequestItem[] => s.users.map((u) => ({ path: devicesPath(s.envId, u) }));

/** `n` EMAIL devices awaiting activation, each with its code (testMode answers it as test.otp). */
async function otpActivations(api: Api, envId: string, n: number, tag: string): Promise<RequestItem[]> {
  const users = await createUsers(api, envId, Math.ceil(n / 15), `otp-${tag}`);
  return pool(Array.from({ length: n }, (_, i) => i), CFG.setupConcurrency, async (i) => {
    const u = users[Math.floor(i / 15)]!;
    const d = await api.call<{ id: string; test?: { otp?: string } }>('POST', devicesPath(envId, u),
      { type: 'EMAIL', email: `otp${i}@example.com`, status: 'ACTIVATION_REQUIRED', testMode: true });
    if (!d.test?.otp) throw new Error('a testMode EMAIL device came back without test.otp');
    return { path: `${devicesPath(envId, u)}/${d.id}`, body: JSON.stringify({ otp: d.test.otp }) };
  });
}

/** `n` PingID Desktop devices awaiting pairing, and one fresh attestation for each. */
async function desktopActivations(api: Api, envId: string, n: number, tag: string): Promise<RequestItem[]> {
  const users = await createUsers(api, envId, Math.ceil(n / 15), `desk-${tag}`);
  const created = await pool(Array.from({ length: n }, (_, i) => i), CFG.setupConcurrency, async (i) => {
    const u = users[Math.floor(i / 15)]!;
    const d = await api.call<{ id: string; pingIdDesktopCredentialCreationOptions: string }>('POST', devicesPath(envId, u),
      { type: 'PINGID_DESKTOP_GEN2', status: 'ACTIVATION_REQUIRED', rp: { id: 'pingone.eu', name: 'pingone.eu' } });
    return { path: `${devicesPath(envId, u)}/${d.id}`, options: d.pingIdDesktopCredentialCreationOptions };
  });
  // Signed after every create, just before the round: attestations live 5 minutes. (attest
  // answers a promise: a body of the promise itself was `{"attestation":{}}`, every P3 a 400.)
  return Promise.all(created.map(async (c) => ({ path: c.path, body: JSON.stringify({ attestation: await attest(c.options) }) })));
}

/**
 * A device authentication policy whose FIDO2 policy keeps registration challenges 10 minutes
 * (the default 2 could end before a large prepared set is used).
 */
async function fido2BenchPolicy(api: Api, envId: string): Promise<string> {
  const fido2 = await api.call<{ id: string }>('POST', `/v1/environments/${envId}/fido2Policies`, {
    name: 'bench', relyingPartyId: FIDO2_RP.id, deviceDisplayName: 'Passkey', attestationRequirements: 'NONE', authenticatorAttachment: 'BOTH',
    discoverableCredentials: 'REQUIRED', backupEligibility: { allow: true, enforceDuringAuthentication: false },
    mdsAuthenticatorsRequirements: { option: 'NONE', enforceDuringAuthentication: false }, userVerification: { option: 'REQUIRED', enforceDuringAuthentication: true },
    userDisplayNameAttributes: { attributes: [{ name: 'username' }] }, userPresenceTimeout: { duration: 10, timeUnit: 'MINUTES' },
  });
  return (await api.call<{ id: string }>('POST', `/v1/environments/${envId}/deviceAuthenticationPolicies`, { name: 'bench fido2', fido2: { enabled: true, fido2PolicyId: fido2.id } })).id;
}

/** `n` FIDO2 devices awaiting activation, each with a packed self attestation (one ES256 signature to verify, as P3). */
async function fido2Activations(api: Api, envId: string, policyId: string, n: number, tag: string): Promise<RequestItem[]> {
  const users = await createUsers(api, envId, Math.ceil(n / 15), `fido2-${tag}`);
  return pool(Array.from({ length: n }, (_, i) => i), CFG.setupConcurrency, async (i) => {
    const u = users[Math.floor(i / 15)]!;
    const d = await api.call<{ id: string; publicKeyCredentialCreationOptions: string }>('POST', devicesPath(envId, u), { type: 'FIDO2', rp: FIDO2_RP, policy: { id: policyId } });
    const attestation = new SoftwareAuthenticator({ attestation: 'packed' }).register(d.publicKeyCredentialCreationOptions, FIDO2_ORIGIN);
    return { path: `${devicesPath(envId, u)}/${d.id}`, body: JSON.stringify({ origin: FIDO2_ORIGIN, attestation }) };
  });
}

/**
 * `n` flows waiting for a FIDO2 assertion, one user and one active device each (flows of one
 * device would contend for its attempt counter, and their counters would arrive out of
 * order), and the assertion for each.
 */
async function fido2Assertions(api: Api, envId: string, policyId: string, n: number, tag: string): Promise<RequestItem[]> {
  const users = await createUsers(api, envId, n, `fido2a-${tag}`);
  return pool(users, CFG.setupConcurrency, async (u) => {
    const d = await api.call<{ id: string; publicKeyCredentialCreationOptions: string }>('POST', devicesPath(envId, u), { type: 'FIDO2', rp: FIDO2_RP, policy: { id: policyId } });
    const authenticator = new SoftwareAuthenticator();
    await api.call('POST', `${devicesPath(envId, u)}/${d.id}`, { origin: FIDO2_ORIGIN, attestation: authenticator.register(d.publicKeyCredentialCreationOptions, FIDO2_ORIGIN) }, ACTIVATE);
    const flow = await api.call<{ id: string; status: string; publicKeyCredentialRequestOptions?: string }>('POST', `/${envId}/deviceAuthentications`, { user: { id: u }, policy: { id: policyId } });
    if (flow.status !== 'ASSERTION_REQUIRED' || !flow.publicKeyCredentialRequestOptions) throw new Error(`a FIDO2 flow came back ${flow.status}`);
    return { path: `/${envId}/deviceAuthentications/${flow.id}`, body: JSON.stringify({ origin: FIDO2_ORIGIN, assertion: authenticator.authenticate(flow.publicKeyCredentialRequestOptions, FIDO2_ORIGIN) }) };
  });
}

/** P8: FIDO2 activation and assertion against the ceiling P3 uses (one ES256 verification + the commit). */
async function p8(server: ServerHandle, api: Api, envId: string, floors: { tVerifyMs: number; cCommit: number }, bPost: LoadResult, work: string): Promise<void> {
  const cpu = { server: () => [server.pid] };
  const policyId = await fido2BenchPolicy(api, envId);
  const ceiling = 0.8 / (1 / bPost.rps + floors.tVerifyMs / 1000 + 1 / floors.cCommit);
  const baseline = `0.80 / (1/B_post + t_verify + 1/C_commit) = ${rps(ceiling)}`;
  const spec = (contentType: string) => ({ driver: 'autocannon' as const, origin: server.origin, connections: CFG.connections, method: 'POST', headers: { ...api.auth, 'content-type': contentType } });
  log('P8 FIDO2 activation');
  const act = await walkedRound('P8 activation', (n, tag) => fido2Activations(api, envId, policyId, n, tag), spec(ACTIVATE), work, cpu);
  raw['P8.activation'] = act;
  row({ id: 'P8 activation', what: 'FIDO2 activation (fresh key, packed self attestation: ES256 + commit)', value: rps(act.rps), baseline, ratio: act.rps / ceiling, bar: '≥ 1.00× that', met: act.rps >= ceiling, errors: failures(act), note: describeCpu(act.cpu) });
  log('P8 FIDO2 assertion');
  const check = await walkedRound('P8 assertion', (n, tag) => fido2Assertions(api, envId, policyId, n, tag), spec(ASSERTION_CHECK), work, cpu);
  raw['P8.assertion'] = check;
  row({ id: 'P8 assertion', what: 'FIDO2 assertion.check (ES256 + attempt, completion and counter commits)', value: rps(check.rps), baseline, ratio: check.rps / ceiling, bar: '≥ 1.00× that', met: check.rps >= ceiling, errors: failures(check), note: describeCpu(check.cpu) });
}

/** Floors and baselines every activation row is measured against. */
type Floors = { tVerifyMs: number; cCommit: number };
const activation = (server: ServerHandle, api: Api) => ({ driver: 'autocannon' as const, origin: server.origin, connections: CFG.connections, method: 'POST', headers: { ...api.auth, 'content-type': ACTIVATE } });

/** P2: every request activates a different, prepared OTP device. */
async function p2(server: ServerHandle, api: Api, envId: string, floors: Floors, bPost: LoadResult, work: string): Promise<void> {
  const serverCpu = { server: () => [server.pid] };
  log('P2 OTP activation');
  const p2 = await walkedRound('P2', (n, tag) => otpActivations(api, envId, n, tag), activation(server, api), work, serverCpu);
  raw.P2 = p2;
  const p2Floor = Math.min(0.4 * bPost.rps, 0.8 * floors.cCommit);
  row({ id: 'P2', what: 'OTP activation (EMAIL, a different device each request)', value: rps(p2.rps), baseline: `min(0.40×B_post, 0.80×C_commit) = ${rps(p2Floor)}`, ratio: p2.rps / p2Floor, bar: '≥ 1.00× that', met: p2.rps >= p2Floor, errors: failures(p2), note: describeCpu(p2.cpu) });
}

/** P3: every request pairs a different, prepared PingID Desktop device. */
async function p3(server: ServerHandle, api: Api, envId: string, floors: Floors, bPost: LoadResult, work: string): Promise<void> {
  const serverCpu = { server: () => [server.pid] };
  log('P3 PingID Desktop activation');
  const p3 = await walkedRound('P3', (n, tag) => desktopActivations(api, envId, n, tag), activation(server, api), work, serverCpu);
  raw.P3 = p3;
  const p3Floor = 0.8 / (1 / bPost.rps + floors.tVerifyMs / 1000 + 1 / floors.cCommit);
  row({ id: 'P3', what: 'PingID Desktop activation (fresh key, ES256 attestation + commit)', value: rps(p3.rps), baseline: `0.80 / (1/B_post + t_verify + 1/C_commit) = ${rps(p3Floor)}`, ratio: p3.rps / p3Floor, bar: '≥ 1.00× that', met: p3.rps >= p3Floor, errors: failures(p3), note: describeCpu(p3.cpu) });
}

/** P4: a fixed total rate, 80 % reads / 20 % writes, two paced generators at once. */
async function p4(server: ServerHandle, api: Api, envId: string, set: ReadSet, work: string): Promise<void> {
  log(`P4 ${CFG.p4Rate} req/s mixed`);
  const writes: RequestItem[] = set.devices.map((d, i) => ({ path: `${devicesPath(envId, d.userId)}/${d.deviceId}/nickname`, body: JSON.stringify({ nickname: `bench ${i}` }) }));
  const paced = (rate: number, duration: number) => Promise.all([
    runLoad({ driver: 'paced', origin: server.origin, connections: 64, rate: rate * 0.8, duration, headers: api.auth, rotate: readOne(set) }, work),
    runLoad({ driver: 'paced', origin: server.origin, connections: 64, rate: rate * 0.2, duration, method: 'PUT', headers: { ...api.auth, 'content-type': 'application/json' }, rotate: writes }, work),
  ]);
  await paced(CFG.p4Rate, CFG.warmupS);
  const [p4r, p4w] = await paced(CFG.p4Rate, CFG.durationS);
  raw.P4 = { reads: p4r, writes: p4w };
  const p4Errors = failures(p4r) + failures(p4w);
  row({ id: 'P4 reads', what: `p99 of GET one device at ${Math.round(p4r.rps)} req/s (of ${CFG.p4Rate} total)`, value: ms(p4r.latencyMs.p99), baseline: `p50 ${ms(p4r.latencyMs.p50)}`, ratio: undefined, bar: 'p99 ≤ 10 ms, 0 errors', met: (p4r.latencyMs.p99 ?? Infinity) <= 10 && p4Errors === 0, errors: failures(p4r) });
  row({ id: 'P4 writes', what: `p99 of PUT nickname at ${Math.round(p4w.rps)} req/s (of ${CFG.p4Rate} total)`, value: ms(p4w.latencyMs.p99), baseline: `p50 ${ms(p4w.latencyMs.p50)}`, ratio: undefined, bar: 'p99 ≤ 20 ms, 0 errors', met: (p4w.latencyMs.p99 ?? Infinity) <= 20 && p4Errors === 0, errors: failures(p4w) });
}

/** P1, P1b: GET one device and GET a user's 15-device list, against B_get of the same run. */
async function reads(server: ServerHandle, api: Api, set: ReadSet, bGet: LoadResult, work: string): Promise<LoadResult> {
  const cpu = { server: () => [server.pid] };
  const ac = (rotate: RequestItem[]): LoadSpec => ({ driver: 'autocannon', origin: server.origin, connections: CFG.connections, duration: CFG.durationS, headers: api.auth, rotate });
  const p1 = await warmThenMeasure(ac(readOne(set)), CFG.warmupS, work, cpu);
  const p1b = await warmThenMeasure(ac(readList(set)), CFG.warmupS, work, cpu);
  raw.P1 = p1;
  raw.P1b = p1b;
  row({ id: 'P1', what: 'authenticated GET one device', value: rps(p1.rps), baseline: `B_get ${rps(bGet.rps)}`, ratio: p1.rps / bGet.rps, bar: '≥ 0.60× B_get', met: p1.rps / bGet.rps >= 0.6, errors: failures(p1), note: describeCpu(p1.cpu) });
  row({ id: 'P1b', what: `authenticated GET a user's device list (${CFG.devicesPerUser} devices)`, value: rps(p1b.rps), baseline: `B_get ${rps(bGet.rps)}`, ratio: p1b.rps / bGet.rps, bar: '≥ 0.50× B_get', met: p1b.rps / bGet.rps >= 0.5, errors: failures(p1b), note: describeCpu(p1b.cpu) });
  return p1;
}

/** The MOBILE push round trip (bench/lib/push.ts), in an environment of its own: shown, no bar. */
async function pushRoundTrip(api: Api): Promise<void> {
  log('MOBILE push round trip');
  const lanes = 8;
  const f = await measurePush(api, await benchEnvironment(api), { lanes, usersPerLane: 4, durationS: CFG.durationS, warmupS: CFG.warmupS, setupConcurrency: CFG.setupConcurrency });
  raw.push = f;
  row({ id: 'push', what: `MOBILE push round trip (start flow → push on the channel → signed approve → COMPLETED), ${lanes} phones at once`, value: `${Math.round(f.perSecond).toLocaleString('en-US')} round trips/s`, baseline: `p50 ${ms(f.latencyMs.p50)}, p99 ${ms(f.latencyMs.p99)}`, ratio: undefined, bar: 'shown, no bar', met: undefined, errors: f.failures });
}

/** Prepared in user order (15 a user); shuffled so that requests in flight together are for different users, as in life. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** A walked throughput round: a small walk to learn the rate (discarded), then one sized to last about `durationS`. */
async function walkedRound(name: string, prepare: (n: number, tag: string) => Promise<RequestItem[]>, spec: Omit<LoadSpec, 'walk'>, work: string, cpu: Record<string, () => number[]>): Promise<LoadResult> {
  const warmN = Math.max(CFG.connections * 8, QUICK ? 200 : 400);
  const warm = await runLoad({ ...spec, walk: shuffle(await prepare(warmN, 'warm')) }, work);
  raw[`${name}.warmup`] = warm;
  if (failures(warm) > 0) log(`${name}: ${failures(warm)} failures in the warm-up (${JSON.stringify(warm.statusCodes)})`);
  const n = Math.min(60_000, Math.max(CFG.connections * 4, Math.ceil(warm.rps * CFG.durationS * 1.1)));
  log(`${name}: preparing ${n} requests (warm-up ran at ${Math.round(warm.rps)}/s)`);
  const walk = shuffle(await prepare(n, 'run'));
  return measured(cpu, () => runLoad({ ...spec, walk }, work));
}

async function latencyRound(origin: string, auth: Record<string, string>, items: RequestItem[], work: string): Promise<LoadResult> {
  // One connection: p50 is then the time one request takes, not a queue's length.
  return warmThenMeasure({ driver: 'autocannon', origin, connections: 1, headers: auth, rotate: items, duration: Math.max(1, CFG.durationS / 2) }, 1, work);
}

function row(r: Row): Row { rows.push(r); return r; }

async function main(): Promise<void> {
  installCleanupHandlers();
  const t0 = Date.now();
  const work = tempDir('work');
  log(`config ${JSON.stringify(CFG)}`);

  if (env.OPENMFA_BENCH_SKIP_BUILD !== '1') {
    log('building dist/ (npm run build --silent)');
    await runToEnd('npm', ['run', 'build', '--silent'], { cwd: REPO });
  }

  // Floors that need no HTTP: t_verify and C_commit.
  log('t_verify and C_commit');
  const floors = JSON.parse((await runToEnd(process.execPath, [path.join(HERE, 'lib/floors-worker.mjs'), work, String(Math.max(1, CFG.durationS / 2))])).trim()) as { tVerifyMs: number; cCommit: number };
  raw.floors = floors;

  // B_get, B_post.
  log('baseline node:http server');
  const base = await startBaseline();
  const ac = (origin: string, extra: Partial<LoadSpec>): LoadSpec => ({ driver: 'autocannon', origin, connections: CFG.connections, duration: CFG.durationS, ...extra });
  const bGet = await warmThenMeasure(ac(base.origin, { path: '/' }), CFG.warmupS, work);
  // ~200 bytes, shaped like an activation body.
  const postBody = JSON.stringify({ otp: '123456', nickname: 'x'.repeat(120), origin: 'https://pingone.eu', n: 1 });
  const bPost = await warmThenMeasure(ac(base.origin, { method: 'POST', path: '/', body: postBody, headers: { 'content-type': 'application/json' } }), CFG.warmupS, work);
  await base.stop();
  raw.B_get = bGet;
  raw.B_post = bPost;
  row({ id: 'B_get', what: 'bare node:http GET {"hello":"world"}', value: rps(bGet.rps), baseline: '—', ratio: undefined, bar: 'baseline', met: undefined, errors: failures(bGet) });
  row({ id: 'B_post', what: `bare node:http echo of a ${Buffer.byteLength(postBody)}-byte JSON POST`, value: rps(bPost.rps), baseline: '—', ratio: undefined, bar: 'baseline', met: undefined, errors: failures(bPost) });
  row({ id: 't_verify', what: 'import P-256 JWK + one ES256 verify (node:crypto)', value: ms(floors.tVerifyMs), baseline: '—', ratio: undefined, bar: 'baseline', met: undefined, errors: 0 });
  row({ id: 'C_commit', what: 'single-row SQLite commits, WAL + synchronous=FULL', value: `${Math.round(floors.cCommit).toLocaleString('en-US')} commits/s`, baseline: '—', ratio: undefined, bar: 'baseline', met: undefined, errors: 0 });

  // The server on a fresh store.
  log('OpenMFA server, fresh SQLite store');
  const dataDir = tempDir('data');
  let server: ServerHandle = await startOpenMfa({ repo: REPO, dataDir, logLevel: CFG.logLevel });
  if (ONLY) {
    const onlyApi = new Api(server.origin);
    await onlyApi.login(readBootstrap(dataDir));
    const onlyEnv = await benchEnvironment(onlyApi);
    if (ONLY.has('P1') || ONLY.has('P4')) {
      log(`read set: ${CFG.readUsers} users × ${CFG.devicesPerUser} devices`);
      const set = await readSet(onlyApi, onlyEnv, CFG.readUsers);
      if (ONLY.has('P1')) await reads(server, onlyApi, set, bGet, work);
      if (ONLY.has('P4')) await p4(server, onlyApi, onlyEnv, set, work);
    }
    if (ONLY.has('P2')) await p2(server, onlyApi, onlyEnv, floors, bPost, work);
    if (ONLY.has('P3')) await p3(server, onlyApi, onlyEnv, floors, bPost, work);
    if (ONLY.has('P8')) await p8(server, onlyApi, onlyEnv, floors, bPost, work);
    if (ONLY.has('push')) await pushRoundTrip(onlyApi);
    await server.stop();
    removeDir(dataDir);
    if (ONLY.has('admin')) await admin(env.DATABASE_URL);
    await cleanup();
    return;
  }
  const freshStartupMs = server.startupMs;
  const boot = readBootstrap(dataDir);
  let api = new Api(server.origin);
  await api.login(boot);
  const openapi = await (await fetch(`${server.origin}/openapi.json`)).text();
  // Prism boots (a few seconds) while the read set is made; it is measured alone afterwards.
  const prismDir = tempDir('prism');
  const prismStarting = freePort().then((port) => startPrism(openapi, prismDir, port));
  prismStarting.catch(() => {});

  const envId = await benchEnvironment(api);
  log(`read set: ${CFG.readUsers} users × ${CFG.devicesPerUser} devices`);
  const set = await readSet(api, envId, CFG.readUsers);

  const p1 = await reads(server, api, set, bGet, work);

  // P5, small store: what is stored now is the read set (~1 k devices).
  log('P5 at ~1 k devices');
  const small = { one: await latencyRound(server.origin, api.auth, readOne(set), work), list: await latencyRound(server.origin, api.auth, readList(set), work) };
  raw['P5.small'] = small;

  // The peer.
  log('Prism mock');
  const prism = await prismStarting;
  const peer = await warmThenMeasure(ac(prism.origin, { headers: api.auth, rotate: readOne(set) }), CFG.warmupS, work);
  await prism.stop();
  removeDir(prismDir);
  raw.prism = peer;
  row({ id: 'peer', what: 'Prism 5.14.2 mock of our /openapi.json, GET one device', value: rps(p1.rps) + ' (P1)', baseline: `Prism ${rps(peer.rps)}`, ratio: p1.rps / peer.rps, bar: 'shown, no bar', met: undefined, errors: failures(peer) });

  await p2(server, api, envId, floors, bPost, work);
  await p3(server, api, envId, floors, bPost, work);
  await p8(server, api, envId, floors, bPost, work);
  await pushRoundTrip(api);

  await p4(server, api, envId, set, work);

  const loadedRss = peakRssMiB(server.pid);
  log('stopping the server for P5 seeding');
  await server.stop();

  // P5, large store: seed straight into SQLite, restart, same requests.
  const template = set.devices[0]!;
  log(`seeding to ${CFG.seedDevices.toLocaleString('en-US')} devices`);
  const seeded = JSON.parse((await runToEnd(process.execPath, [path.join(HERE, 'lib/seed-worker.mjs'), path.join(dataDir, 'openmfa.sqlite'), envId, template.userId, template.deviceId, String(CFG.seedDevices)])).trim()) as { total: number; seconds: number };
  raw.seed = seeded;
  log(`seeded: ${seeded.total.toLocaleString('en-US')} devices in ${seeded.seconds.toFixed(1)} s`);
  server = await startOpenMfa({ repo: REPO, dataDir, logLevel: CFG.logLevel });
  const bigStartupMs = server.startupMs;
  api = new Api(server.origin);
  await api.login(boot);
  const large = { one: await latencyRound(server.origin, api.auth, readOne(set), work), list: await latencyRound(server.origin, api.auth, readList(set), work) };
  raw['P5.large'] = large;
  const bigRss = peakRssMiB(server.pid);
  await server.stop();
  // What a user sees: `npm start` (npm, scripts/run.mjs's dist/ check, the server) on this
  // 1 M store, then on a fresh one.
  const npmBig = await startOpenMfa({ repo: REPO, dataDir, logLevel: CFG.logLevel, launcher: 'npm' });
  await npmBig.stop();
  removeDir(dataDir);
  const freshDir = tempDir('npm-fresh');
  const npmFresh = await startOpenMfa({ repo: REPO, dataDir: freshDir, logLevel: CFG.logLevel, launcher: 'npm' });
  await npmFresh.stop();
  removeDir(freshDir);
  raw.startup = { npmFreshMs: npmFresh.startupMs, npmBigMs: npmBig.startupMs, nodeFreshMs: freshStartupMs, nodeBigMs: bigStartupMs };
  const storeLabel = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(n % 1e6 ? 2 : 0)} M` : `${Math.round(n / 1e3)} k`);
  for (const [id, what, s, l] of [['P5 one', 'p50 GET one device', small.one, large.one], ['P5 list', 'p50 GET device list', small.list, large.list]] as const) {
    const ratio = (l.latencyMs.p50 ?? NaN) / (s.latencyMs.p50 ?? NaN);
    row({ id, what: `${what}, ${storeLabel(seeded.total)} devices stored vs ~1 k`, value: ms(l.latencyMs.p50), baseline: `${ms(s.latencyMs.p50)} at ~1 k`, ratio, bar: '≤ 1.5×', met: ratio <= 1.5, errors: failures(s) + failures(l) });
  }

  // P6, PostgreSQL only.
  const dbUrl = env.DATABASE_URL;
  if (dbUrl && /^postgres(ql)?:\/\//.test(dbUrl)) {
    await p6(dbUrl, work, bGet);
  } else {
    row({ id: 'P6', what: 'PostgreSQL, 2 processes vs 1 on reads', value: 'not run', baseline: '—', ratio: undefined, bar: '≥ 1.4×', met: undefined, errors: 0, note: 'set DATABASE_URL=postgres://… to run it' });
  }

  await admin(dbUrl);
  // P7: ≤ 1 s on a fresh store and on the large one; the slower of the two is the figure.
  const npmSlowest = Math.max(npmFresh.startupMs, npmBig.startupMs);
  row({ id: 'P7 start', what: '`npm start` spawn → first 200 on /health, slower of a fresh store and the large one', value: `${Math.round(npmSlowest)} ms`, baseline: `${Math.round(npmFresh.startupMs)} ms fresh store, ${Math.round(npmBig.startupMs)} ms with ${storeLabel(seeded.total)} devices`, ratio: undefined, bar: '≤ 1000 ms', met: npmSlowest <= 1000, errors: 0 });
  row({ id: 'start node', what: '`node dist/cli.js serve` spawn → first 200 on /health', value: `${Math.round(freshStartupMs)} ms fresh store`, baseline: `${Math.round(bigStartupMs)} ms with ${storeLabel(seeded.total)} devices`, ratio: undefined, bar: 'shown, no bar', met: undefined, errors: 0 });
  row({ id: 'memory', what: 'server peak RSS (VmHWM) after its load', value: loadedRss === undefined ? 'n/a' : `${Math.round(loadedRss)} MiB after P1–P4`, baseline: bigRss === undefined ? 'n/a' : `${Math.round(bigRss)} MiB after P5 at ${storeLabel(seeded.total)}`, ratio: undefined, bar: 'shown, no bar', met: undefined, errors: 0 });

  raw.totalSeconds = (Date.now() - t0) / 1000;
  await cleanup();
}

/** Reset and restore between every two tests (P9): SQLite, and PostgreSQL when given. */
async function admin(dbUrl: string | undefined): Promise<void> {
  log(`admin: snapshot, restore and reset at ${CFG.adminUsers.toLocaleString('en-US')} users`);
  for (const databaseUrl of [undefined, ...(dbUrl && /^postgres(ql)?:\/\//.test(dbUrl) ? [dbUrl] : [])]) {
    const figures = await measureAdmin({ repo: REPO, logLevel: CFG.logLevel, rounds: QUICK ? 5 : 20, users: CFG.adminUsers, databaseUrl });
    raw[`admin.${figures.dialect}`] = figures;
    adminRows(figures);
  }
}

/** The administration API's figures: shown, with the bar a test suite needs between two tests. */
function adminRows(f: AdminFigures): void {
  const store = f.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite';
  const size = `${f.users.toLocaleString('en-US')} users / ${f.devices.toLocaleString('en-US')} devices, ${store}`;
  const tag = f.dialect === 'postgres' ? ' pg' : '';
  // P9: ≤ 50 ms, so a suite can reset between every two tests.
  row({ id: `P9 restore${tag}`, what: `POST /openmfa/v1/snapshots/{id}/restore, ${size}`, value: `p50 ${ms(f.restoreMs.p50)}`, baseline: `max ${ms(f.restoreMs.max)}; snapshot ${ms(f.snapshotMs)}`, ratio: undefined, bar: 'p50 ≤ 50 ms', met: f.restoreMs.p50 <= 50, errors: 0 });
  row({ id: `P9 reset${tag}`, what: `POST /openmfa/v1/reset (to the initial snapshot), from ${size}`, value: `p50 ${ms(f.resetMs.p50)}`, baseline: `max ${ms(f.resetMs.max)}`, ratio: undefined, bar: 'p50 ≤ 50 ms', met: f.resetMs.p50 <= 50, errors: 0 });
}

/** P6: the same reads through one process, then spread over two, on one fresh PostgreSQL database. */
async function p6(dbUrl: string, work: string, bGet: LoadResult): Promise<void> {
  log('P6 PostgreSQL');
  const name = `openmfa_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: dbUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  // Dropped on the way out however the run ends (Ctrl-C included), after the servers stop.
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await admin.query(`drop database if exists ${name} with (force)`).catch((e: unknown) => log(`could not drop ${name}: ${String(e)}`));
    await admin.end().catch(() => {});
  };
  const unregister = onCleanup(drop);
  const url = new URL(dbUrl);
  url.pathname = `/${name}`;
  // Processes sharing one database share the master key and the public URL (README).
  const masterKey = randomBytes(32).toString('base64');
  const portA = await freePort();
  const publicUrl = `http://127.0.0.1:${portA}`;
  const dirA = tempDir('pg-a');
  const dirB = tempDir('pg-b');
  try {
    const a = await startOpenMfa({ repo: REPO, dataDir: dirA, logLevel: CFG.logLevel, databaseUrl: url.href, publicUrl, masterKey, port: portA });
    const b = await startOpenMfa({ repo: REPO, dataDir: dirB, logLevel: CFG.logLevel, databaseUrl: url.href, publicUrl, masterKey });
    const api = new Api(a.origin);
    await api.login(readBootstrap(dirA));
    const envId = await benchEnvironment(api);
    const set = await readSet(api, envId, QUICK ? 8 : 32);
    const half = Math.max(1, Math.round(CFG.connections / 2));
    const cpu = { servers: () => [a.pid, b.pid], postgres: postgresPids };
    const both = async (origins: [string, string]) => {
      const spec = (origin: string): LoadSpec => ({ driver: 'autocannon', origin, connections: half, duration: CFG.durationS, headers: api.auth, rotate: readOne(set) });
      await Promise.all(origins.map((o) => runLoad({ ...spec(o), duration: CFG.warmupS }, work)));
      const m = await metered(cpu, () => Promise.all(origins.map((o) => runLoad(spec(o), work))));
      if (m.cpu) m.cpu.groups['load generators'] = m.result.reduce((sum, r) => sum + (r.generatorCores ?? 0), 0);
      return m;
    };
    // The same two generators and connections each time; only where they point changes.
    const { result: one, cpu: cpuOne } = await both([a.origin, a.origin]);
    const { result: two, cpu: cpuTwo } = await both([a.origin, b.origin]);
    raw.P6 = { one, two, cpuOne, cpuTwo };
    const sum = (rs: LoadResult[]) => rs.reduce((s, r) => s + r.rps, 0);
    const ratio = sum(two) / sum(one);
    row({ id: 'P6', what: 'PostgreSQL GET one device, 2 processes vs 1', value: rps(sum(two)), baseline: `1 process ${rps(sum(one))} (B_get ${rps(bGet.rps)})`, ratio, bar: '≥ 1.4× until the database saturates', met: ratio >= 1.4, errors: [...one, ...two].reduce((s, r) => s + failures(r), 0),
      note: `1 process: ${describeCpu(cpuOne)}; 2 processes: ${describeCpu(cpuTwo)}` });
    await Promise.all([a.stop(), b.stop()]);
  } finally {
    removeDir(dirA);
    removeDir(dirB);
    await drop();
    unregister();
  }
}

function write(complete: boolean, error?: unknown): void {
  const record = RECORD && complete && !CFG.quick;
  const out = path.join(HERE, record ? 'figures' : 'results');
  mkdirSync(out, { recursive: true });
  const when = new Date().toISOString();
  const errored = rows.filter((r) => r.errors > 0).map((r) => r.id);
  const header = [
    `OpenMFA bench — ${when} — ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${CFG.quick ? ' — QUICK (smoke run, not figures)' : ''}`,
    complete ? '' : `INCOMPLETE: ${error instanceof Error ? error.message : String(error)}`,
    errored.length ? `ERRORS: non-2xx answers or connection errors in ${errored.join(', ')} — those figures do not count` : '',
  ].filter(Boolean);
  const text = renderText(rows);
  process.stdout.write(`\n${header.join('\n')}\n\n${text}\n`);
  const md = `${header.map((h) => `**${h}**`).join('  \n')}\n\n${renderMarkdown(rows)}\n`;
  const json = JSON.stringify({ generatedAt: when, complete, error: error === undefined ? undefined : String(error), errors: errored, machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` }, config: CFG, rows, raw }, null, 2) + '\n';
  // Only a complete, full run recorded with --record lands in bench/figures/ (the files to
  // commit). A run that broke says so beside the results; a quick run is a smoke test of the
  // harness, never figures.
  const name = !complete ? 'incomplete' : CFG.quick ? 'quick' : 'latest';
  writeFileSync(path.join(out, `${name}.md`), md);
  writeFileSync(path.join(out, `${name}.json`), json);
  writeFileSync(path.join(out, `${name}.svg`), renderSvg(rows, `OpenMFA bench, ${when.slice(0, 10)} (${os.cpus().length} cores, Node ${process.version})${complete ? '' : ' — INCOMPLETE'}`));
  if (record) writeFileSync(path.join(out, `${when.replace(/[:.]/g, '-')}.json`), json);
  process.stderr.write(`bench: wrote ${path.relative(REPO, path.join(out, name))}.{md,json,svg}\n`);
}

main().then(() => {
  write(true);
}, async (e: unknown) => {
  // Ctrl-C also kills the children, which surfaces here as their failure: not worth a report.
  if (interrupted()) return;
  log(`failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  await cleanup();
  write(false, e);
  process.exitCode = 1;
});
