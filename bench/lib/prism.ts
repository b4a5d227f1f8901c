/**
 * The peer: a Prism mock (@stoplight/prism-cli, installed as a devDependency) serving OpenMFA's
 * own /openapi.json, so the same request path is answered by a generic mock of the same API.
 * Prism validates the request (bearer present, path parameters) and answers the schema's
 * example; it stores nothing.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stop, track } from './procs.js';

export interface PrismHandle { child: ChildProcess; origin: string; stop(): Promise<void> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPrism(openapi: string, dir: string, port: number): Promise<PrismHandle> {
  const spec = path.join(dir, 'openapi.json');
  writeFileSync(spec, openapi);
  // The CLI's entry file run by this node directly: no npx or shell in between, so the pid we
  // hold is Prism's own and killing it leaves nothing behind.
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@stoplight/prism-cli/package.json');
  const bin = (require(pkg) as { bin: Record<string, string> | string }).bin;
  const entry = path.join(path.dirname(pkg), typeof bin === 'string' ? bin : bin['prism']!);
  // Prism logs several lines per request at info; `error` keeps it from measuring its logger.
  const child = track(process.execPath, [entry, 'mock', spec, '--port', String(port), '--host', '127.0.0.1', '--verboseLevel', 'error'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
  const origin = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prism exited ${child.exitCode}: ${err}`);
    const res = await fetch(origin + '/health').catch(() => undefined);
    if (res) { await res.arrayBuffer(); break; }
    if (Date.now() - t0 > 60_000) throw new Error('prism did not listen within 60 s');
    await sleep(100);
  }
  return { child, origin, stop: () => stop(child, 3000) };
}
