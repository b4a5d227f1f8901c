/** B_get and B_post: bench/lib/baseline-server.mjs in its own process, like the server under test. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { stop, track } from './procs.js';

const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'baseline-server.mjs');

export interface BaselineHandle { child: ChildProcess; origin: string; stop(): Promise<void> }

export function startBaseline(): Promise<BaselineHandle> {
  const child = track(process.execPath, [SERVER]);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('baseline server did not start within 10 s')), 10_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`baseline server exited ${code}`)); });
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n');
      if (line.length > 1) {
        clearTimeout(timer);
        child.stdout?.resume();
        resolve({ child, origin: `http://127.0.0.1:${Number(line[0])}`, stop: () => stop(child) });
      }
    });
  });
}
