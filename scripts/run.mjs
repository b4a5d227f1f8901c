#!/usr/bin/env node
/**
 * `npm start`, `npm run agent`, `npm run mobile`, `npm run demo`: run the built code — the one-file bundle of it
 * (scripts/bundle.mjs), which starts in half the CPU time — rebuilding `dist/` only when a
 * source file is newer than it (a fresh `npm ci` has already built it through `prepare`). The
 * command runs in this very process — no child — and stops when npm does.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(root, 'dist', 'cli.js');
const bundle = path.join(root, 'dist', 'bundle', 'openmfa.mjs');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return latest;
}

const mtime = (file) => { try { return statSync(file).mtimeMs; } catch { return 0; } };
const builtAt = mtime(built);
const sourcesAt = Math.max(newest(path.join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(path.join(root, f)).mtimeMs));
if (sourcesAt > builtAt) {
  process.stderr.write('openmfa: dist/ is older than src/; building…\n');
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
// Bundled when esbuild is installed (a dev dependency: an install without it runs dist/cli.js).
if (mtime(bundle) < mtime(built)) {
  const bundled = spawnSync(process.execPath, [path.join(root, 'scripts', 'bundle.mjs')], { stdio: ['ignore', 'inherit', 'pipe'] });
  if (bundled.status !== 0 && !String(bundled.stderr).includes("Cannot find package 'esbuild'")) process.stderr.write(bundled.stderr);
}
const entry = mtime(bundle) >= mtime(built) ? bundle : built;
// npm does not forward a signal sent to its own PID: when it exits, this process is orphaned
// (its parent changes). Then it stops the way SIGTERM stops it, so stopping npm stops the server.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 200).unref();
process.argv = [process.argv[0], entry, ...process.argv.slice(2)];
await import(pathToFileURL(entry).href);
