/** Runs one load round in bench/lib/load-worker.mjs, a separate process, and returns its result. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { metered, runToEnd, type CpuUse } from './procs.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-worker.mjs');

export interface RequestItem { path: string; body?: string }

export interface LoadSpec {
  driver: 'autocannon' | 'paced';
  origin: string;
  connections: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  path?: string;
  /** Each request sent exactly once (autocannon `amount` = length). */
  walk?: RequestItem[];
  /** Cycled for `duration` seconds. */
  rotate?: RequestItem[];
  duration?: number;
  /** paced only: requests per second. */
  rate?: number;
}

export interface Latency { p50: number | null; p90: number | null; p99: number | null; max: number | null; mean: number | null; samples: number }

export interface LoadResult {
  driver: string;
  connections: number;
  durationS: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  rps: number;
  latencyMs: Latency;
  /** CPU of the generator process itself, in cores, over its run. */
  generatorCores?: number;
  /** Where the CPU went during the measured round, when asked for. */
  cpu?: CpuUse;
}

let seq = 0;
export async function runLoad(spec: LoadSpec, workDir: string): Promise<LoadResult> {
  const file = path.join(workDir, `load-${process.pid}-${++seq}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const out = await runToEnd(process.execPath, [WORKER, file]);
  const line = out.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as LoadResult;
}

/** Non-2xx answers plus connection errors and timeouts: anything that is not a success. */
export const failures = (r: LoadResult): number => r.non2xx + r.errors;

/** A warm-up round (discarded), then the measured one; with `cpu`, the CPU use of those groups during it. */
export async function warmThenMeasure(spec: LoadSpec, warmupS: number, workDir: string, cpu?: Record<string, () => number[]>): Promise<LoadResult> {
  if (warmupS > 0 && !spec.walk) await runLoad({ ...spec, duration: warmupS }, workDir);
  return measured(cpu, () => runLoad(spec, workDir));
}

/** `round`, with the CPU use of the `cpu` groups attached when given. */
export async function measured(cpu: Record<string, () => number[]> | undefined, round: () => Promise<LoadResult>): Promise<LoadResult> {
  if (!cpu) return round();
  const { result, cpu: use } = await metered(cpu, round);
  if (use && result.generatorCores !== undefined) use.groups['load generator'] = result.generatorCores;
  return use ? { ...result, cpu: use } : result;
}
