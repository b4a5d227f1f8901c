/**
 * Every process and temp dir the bench makes is registered here, so that a normal end, an
 * error, Ctrl-C or SIGTERM all leave nothing behind. Kills go to the pids we spawned (never
 * by name), first SIGTERM, then SIGKILL for whatever is still there after a grace period.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
const hooks = new Set<() => Promise<void>>();

/** Async clean-up beyond processes and dirs (dropping P6's database); returns an unregister. */
export function onCleanup(fn: () => Promise<void>): () => void {
  hooks.add(fn);
  return () => { hooks.delete(fn); };
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `openmfa-bench-${prefix}-`));
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export function track(cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
export function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { if (alive(child)) child.kill('SIGKILL'); }, graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** Synchronous last resort (process 'exit' handlers cannot wait). */
export function killAllNow(): void {
  for (const c of children) if (alive(c)) { try { c.kill('SIGKILL'); } catch { /* already gone */ } }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export async function cleanup(): Promise<void> {
  await Promise.all([...children].map((c) => stop(c, 3000)));
  killAllNow();
  const pending = [...hooks];
  hooks.clear();
  await Promise.all(pending.map((fn) => fn().catch((e: unknown) => process.stderr.write(`bench: clean-up failed: ${String(e)}\n`))));
}

let installed = false;
let signalled = false;
/** True once SIGINT/SIGTERM/SIGHUP arrived: the run is being abandoned, not failing. */
export const interrupted = (): boolean => signalled;
/** Ctrl-C / SIGTERM / SIGHUP: clean up, exit 130; a crash or a plain exit: kill synchronously. */
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      signalled = true;
      process.stderr.write(`\nbench: ${sig}, stopping every process it started\n`);
      cleanup().finally(() => process.exit(130));
    });
  }
}

/** Collects a child's output; rejects if it exits non-zero. */
export function runToEnd(cmd: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  const child = track(cmd, args, options);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(args[0] ?? cmd)} exited ${code ?? signal}: ${err.trim().slice(-2000)}`));
    });
  });
}

/** VmHWM (peak resident set) of a live process, in MiB, from /proc; undefined elsewhere. */
export function peakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Where the CPU went during a measured round: the whole host, and named groups of processes. */
export interface CpuUse {
  /** Busy share of all cores, 0–1. */
  hostBusy: number;
  cores: number;
  /** CPU-seconds per second (1 = one core) for each group. */
  groups: Record<string, number>;
}

const CLK_TCK = 100; // Linux's USER_HZ: /proc counts CPU time in these ticks on every architecture.

function hostTicks(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((s, n) => s + n, 0);
    return { busy: total - f[3]! - f[4]!, total }; // idle and iowait are not busy
  } catch {
    return undefined;
  }
}

function processTicks(pid: number): number {
  try {
    // Fields after "pid (comm)": state is 3rd overall, utime 14th, stime 15th.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0; // gone, or not Linux
  }
}

/** The PostgreSQL server's processes on this host (postmaster and backends), by /proc/<pid>/comm. */
export function postgresPids(): number[] {
  try {
    return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
      try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres'; } catch { return false; }
    });
  } catch {
    return [];
  }
}

/**
 * Runs `fn` and reports the CPU used meanwhile by the host and by each group of pids (read
 * again at the end, so that processes started during the round count). Undefined off Linux.
 */
export async function metered<T>(groups: Record<string, () => number[]>, fn: () => Promise<T>): Promise<{ result: T; cpu: CpuUse | undefined }> {
  const h0 = hostTicks();
  const before = new Map<number, number>();
  for (const pids of Object.values(groups)) for (const pid of pids()) before.set(pid, processTicks(pid));
  const t0 = performance.now();
  const result = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const h1 = hostTicks();
  if (!h0 || !h1 || seconds <= 0) return { result, cpu: undefined };
  const used: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) {
    const ticks = pids().reduce((s, pid) => s + processTicks(pid) - (before.get(pid) ?? 0), 0);
    used[name] = ticks / CLK_TCK / seconds;
  }
  const cores = os.cpus().length;
  return { result, cpu: { hostBusy: (h1.busy - h0.busy) / Math.max(1, h1.total - h0.total), cores, groups: used } };
}

/** "host 97 % busy of 2 cores; server 1.02 cores, postgres 0.41" */
export function describeCpu(cpu: CpuUse | undefined): string {
  if (!cpu) return 'CPU use not measured (no /proc)';
  const parts = Object.entries(cpu.groups).map(([name, c]) => `${name} ${c.toFixed(2)} cores`);
  return `host ${Math.round(cpu.hostBusy * 100)} % busy of ${cpu.cores} cores; ${parts.join(', ')}`;
}
