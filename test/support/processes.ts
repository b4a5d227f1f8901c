/**
 * Real server processes for the multi-process and stress suites: `node --import tsx src/cli.ts
 * serve --port 0 …`, each one's port read from its first stdout line, /health polled until it
 * answers 200. All processes share one data dir (the first start bootstraps and writes
 * bootstrap.json there; later starts find the existing store), one database and one master key.
 * Without `databaseUrl` the store is the SQLite file in that data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'src/cli.ts');
const START_DEADLINE_MS = 60_000;
const LISTENING = /^OpenMFA listening on (http:\/\/\S+) /;

export interface Bootstrap {
  environmentId: string;
  clientId: string;
  clientSecret: string;
  apiPath: string;
  authPath: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  stdout: string[];
  stderr: () => string;
  exited: Promise<Exit>;
  /** performance.now() when the spawn was issued, the listen line arrived, /health first answered 200. */
  spawnedAt: number;
  listenedAt: number;
  healthyAt: number;
}

export interface StartOptions {
  count: number;
  /** postgres://…?schema=…; SQLite in the data dir when absent. */
  databaseUrl?: string | undefined;
  /** base64 of 32 bytes; one is made up when absent. */
  masterKey?: string;
  /** Extra environment variables for the children. */
  env?: NodeJS.ProcessEnv;
  /** Extra CLI flags (after the defaults, so they win). */
  args?: string[];
  logLevel?: string;
  /**
   * The one public URL all processes answer for (as behind a load balancer): token issuers and
   * attestation audiences must match whichever process checks them. Default
   * https://mfa.example.test; null lets each process default to its own port.
   */
  publicUrl?: string | null;
  /** Start the processes after the first one concurrently (default true). */
  parallel?: boolean;
}

export interface Processes {
  /** Base URLs, by index; a restart changes its entry. */
  urls: string[];
  procs: ServerProcess[];
  dataDir: string;
  masterKey: string;
  bootstrap: Bootstrap;
  /** Sends `signal` (default SIGKILL) and resolves with the exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<Exit>;
  /** Starts process `i` again on the same data dir and database (kill it first). */
  restart(i: number): Promise<ServerProcess>;
  /** Everything each process wrote (stdout lines and stderr), for scans. */
  output(i: number): string;
  /** Everything written by every process that ever ran here. */
  allOutput(): string;
  stopAll(): Promise<void>;
}

/** The environment without anything that would configure the server behind our back. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'DATABASE_URL' || (k.startsWith('OPENMFA_') && !k.startsWith('OPENMFA_TEST_'))) delete env[k];
  }
  return { ...env, ...extra };
}

async function waitHealthy(url: string, deadline: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now();
    } catch { /* not yet */ }
    if (performance.now() > deadline) throw new Error(`${url}/health did not answer 200 in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function startProcesses(o: StartOptions): Promise<Processes> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'openmfa-procs-'));
  const masterKey = o.masterKey ?? randomBytes(32).toString('base64');
  const finished: string[] = [];
  const args = [
    '--import', 'tsx', CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--master-key', masterKey,
    '--log-level', o.logLevel ?? 'warn', '--rate-limit', '0',
    ...(o.databaseUrl ? ['--database-url', o.databaseUrl] : []),
    ...(o.publicUrl === null ? [] : ['--public-url', o.publicUrl ?? 'https://mfa.example.test']),
    ...(o.args ?? []),
  ];

  const spawnOne = async (): Promise<ServerProcess> => {
    const spawnedAt = performance.now();
    const proc = spawn(process.execPath, args, { cwd: ROOT, env: cleanEnv(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: string[] = [];
    let partial = '';
    let err = '';
    let onLine: (() => void) | undefined;
    let listenedAt = 0;
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const p of parts) {
        if (stdout.length === 0) listenedAt = performance.now();
        stdout.push(p);
      }
      onLine?.();
    });
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
    const exited = new Promise<Exit>((resolve) => {
      proc.on('exit', (code, signal) => {
        finished.push(stdout.join('\n') + '\n' + partial + '\n' + err);
        onLine?.();
        resolve({ code, signal });
      });
    });
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line within ${START_DEADLINE_MS} ms; stderr: ${err}`)), START_DEADLINE_MS);
      onLine = () => {
        if (stdout.length > 0) { clearTimeout(timer); onLine = undefined; resolve(stdout[0]!); }
        else if (proc.exitCode !== null || proc.signalCode !== null) { clearTimeout(timer); reject(new Error(`exited (${proc.exitCode ?? proc.signalCode}) before listening; stderr: ${err}`)); }
      };
    });
    const m = LISTENING.exec(first);
    if (!m) throw new Error(`unexpected first stdout line: ${first}`);
    const url = m[1]!;
    const healthyAt = await waitHealthy(url, performance.now() + START_DEADLINE_MS);
    return { proc, url, stdout, stderr: () => err, exited, spawnedAt, listenedAt, healthyAt };
  };

  const procs: ServerProcess[] = [];
  const stopAll = async () => {
    await Promise.all(procs.map(async (p) => {
      if (p.proc.exitCode === null && p.proc.signalCode === null) {
        p.proc.kill('SIGKILL');
        await p.exited;
      }
    }));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    // The first start bootstraps the store; the others find it.
    procs.push(await spawnOne());
    if (o.parallel === false) for (let i = 1; i < o.count; i++) procs.push(await spawnOne());
    else procs.push(...await Promise.all(Array.from({ length: o.count - 1 }, () => spawnOne())));
  } catch (e) {
    await stopAll();
    throw e;
  }
  const bootstrap = JSON.parse(readFileSync(path.join(dataDir, 'bootstrap.json'), 'utf8')) as Bootstrap;
  const urls = procs.map((p) => p.url);
  return {
    urls,
    procs,
    dataDir,
    masterKey,
    bootstrap,
    async kill(i, signal = 'SIGKILL') {
      const p = procs[i]!;
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) return p.exited;
      p.proc.kill(signal);
      return p.exited;
    },
    async restart(i) {
      const p = await spawnOne();
      procs[i] = p;
      urls[i] = p.url;
      return p;
    },
    output(i) {
      const p = procs[i]!;
      return p.stdout.join('\n') + '\n' + p.stderr();
    },
    allOutput() {
      return [...finished, ...procs.filter((p) => p.proc.exitCode === null && p.proc.signalCode === null).map((p) => p.stdout.join('\n') + '\n' + p.stderr())].join('\n');
    },
    stopAll,
  };
}

/** One run of the command to its end (`openmfa seed …`, a start that must fail): exit code and output. */
export function runCommand(args: string[], env: NodeJS.ProcessEnv = {}, deadlineMs = START_DEADLINE_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`openmfa ${args[0]} still running after ${deadlineMs} ms; stderr: ${stderr}`)); }, deadlineMs);
    proc.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** A client of one process set: admin token per base URL, JSON requests. */
export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function call<T = any>(base: string, method: string, url: string, o: { token?: string; body?: unknown; contentType?: string; form?: Record<string, string>; basic?: [string, string] } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.basic) headers.authorization = `Basic ${Buffer.from(`${o.basic[0]}:${o.basic[1]}`).toString('base64')}`;
  let payload: string | undefined;
  if (o.form) {
    payload = new URLSearchParams(o.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (o.body !== undefined || o.contentType) {
    payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    headers['content-type'] = o.contentType ?? 'application/json';
  }
  const res = await fetch(base + url, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  let body: unknown;
  try { body = text === '' ? undefined : JSON.parse(text); } catch { body = text; }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** An access token of `clientId` (client_secret_basic). */
export async function tokenOf(base: string, envId: string, clientId: string, secret: string): Promise<string> {
  const res = await call(base, 'POST', `/${envId}/as/token`, { form: { grant_type: 'client_credentials' }, basic: [clientId, secret] });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return res.body.access_token as string;
}

/**
 * Records a measured figure: a test diagnostic line, and a JSON line appended to
 * $OPENMFA_STRESS_REPORT when set (scripts/stress/run.mjs prints them).
 */
export async function reportFigures(t: { diagnostic(message: string): void }, name: string, figures: Record<string, unknown>): Promise<void> {
  const dialect = process.env.OPENMFA_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
  t.diagnostic(`${name} [${dialect}]: ${JSON.stringify(figures)}`);
  const file = process.env.OPENMFA_STRESS_REPORT;
  if (file) {
    const { appendFileSync } = await import('node:fs');
    appendFileSync(file, JSON.stringify({ name, dialect, ...figures }) + '\n');
  }
}
