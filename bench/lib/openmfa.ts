/**
 * The server under test: the built `dist/cli.js` (never the sources through tsx), on its own
 * data dir, with rate limiting off (`--rate-limit 0`: the bench is one client IP sending far
 * more than the default 200 req/s) and at the shipped log level unless told otherwise, since
 * per-request logging is part of what a deployment pays.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stop, track } from './procs.js';

export interface Bootstrap { environmentId: string; clientId: string; clientSecret: string; apiPath: string; authPath: string }

export interface ServerHandle {
  child: ChildProcess;
  pid: number;
  origin: string;
  /** spawn → first 200 on /health */
  startupMs: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  repo: string;
  dataDir: string;
  logLevel: string;
  databaseUrl?: string;
  publicUrl?: string;
  masterKey?: string;
  port?: number;
  /**
   * How it is started: `node dist/cli.js serve` (default: the process measured is the server
   * itself), or `npm start -- …` — what a user types, npm and scripts/run.mjs's dist/ check
   * included (the start-up figure); stopping npm stops the server (run.mjs).
   */
  launcher?: 'node' | 'npm';
}

/** The environment without anything that would steer the server away from its flags. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('OPENMFA_') || k === 'DATABASE_URL') continue;
    env[k] = v;
  }
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startOpenMfa(o: ServerOptions): Promise<ServerHandle> {
  // OPENMFA_BENCH_CPU_PROF=<dir>: every server writes a V8 CPU profile there when it stops
  // (summarise one with `node bench/profile-summary.mjs <file>`).
  const profDir = process.env.OPENMFA_BENCH_CPU_PROF;
  const serveArgs = ['--port', String(o.port ?? 0), '--data-dir', o.dataDir, '--rate-limit', '0', '--log-level', o.logLevel];
  const args = o.launcher === 'npm' ? ['start', '--silent', '--', ...serveArgs]
    : [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profDir)}`] : []), path.join(o.repo, 'dist/cli.js'), 'serve', ...serveArgs];
  if (o.databaseUrl) args.push('--database-url', o.databaseUrl);
  if (o.publicUrl) args.push('--public-url', o.publicUrl);
  if (o.masterKey) args.push('--master-key', o.masterKey);
  // Logs go to a file, not a pipe: draining a pipe would cost the bench's CPU on the same cores.
  const logFile = path.join(o.dataDir, `server-${Date.now()}-${Math.random().toString(16).slice(2, 8)}.log`);
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const fd = openSync(logFile, 'a');
  const t0 = performance.now();
  const child = o.launcher === 'npm'
    ? track('npm', args, { stdio: ['ignore', fd, fd], env: cleanEnv(), cwd: o.repo })
    : track(process.execPath, args, { stdio: ['ignore', fd, fd], env: cleanEnv() });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, signal) => { exited = `exited ${code ?? signal}`; });

  // The first stdout line names the URL (`OpenMFA listening on http://127.0.0.1:PORT (…)`).
  let origin: string | undefined;
  while (!origin) {
    if (exited) throw new Error(`openmfa serve ${exited}: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (performance.now() - t0 > 60_000) throw new Error('openmfa serve did not print its URL within 60 s');
    const m = /OpenMFA listening on (http:\/\/\S+)/.exec(existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    if (m) origin = m[1];
    else await sleep(2);
  }
  for (;;) {
    const res = await fetch(`${origin}/health`).catch(() => undefined);
    if (res) await res.arrayBuffer();
    if (res?.status === 200) break;
    if (exited) throw new Error(`openmfa serve ${exited}`);
    if (performance.now() - t0 > 60_000) throw new Error('/health did not answer 200 within 60 s');
    await sleep(2);
  }
  const startupMs = performance.now() - t0;
  const at = origin;
  // npm exits once the server has; wait for the port to close as well, so the next start on
  // this data dir never meets the previous server.
  const stopped = async () => {
    await stop(child, 12_000);
    while (o.launcher === 'npm' && (await fetch(`${at}/health`).then((r) => r.arrayBuffer().then(() => true), () => false))) await sleep(20);
  };
  return { child, pid: child.pid!, origin, startupMs, dataDir: o.dataDir, stop: stopped };
}

export function readBootstrap(dataDir: string): Bootstrap {
  return JSON.parse(readFileSync(path.join(dataDir, 'bootstrap.json'), 'utf8')) as Bootstrap;
}

/** A small client for setting up what the figures measure. */
export class Api {
  readonly origin: string;
  token = '';
  constructor(origin: string) { this.origin = origin; }

  async login(b: Bootstrap): Promise<void> {
    const res = await fetch(`${this.origin}/${b.environmentId}/as/token`, {
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(`${b.clientId}:${b.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = await res.json() as { access_token?: string };
    if (res.status !== 200 || !body.access_token) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
    this.token = body.access_token;
  }

  get auth(): Record<string, string> { return { authorization: `Bearer ${this.token}` }; }

  async call<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json', expect = [200, 201]): Promise<T> {
    const res = await fetch(this.origin + path, {
      method,
      headers: { ...this.auth, ...(body !== undefined ? { 'content-type': contentType } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!expect.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping order of results. */
export async function pool<I, O>(items: readonly I[], limit: number, fn: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const out: O[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
