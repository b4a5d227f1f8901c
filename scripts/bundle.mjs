#!/usr/bin/env node
/**
 * Bundles the built CLI (dist/cli.js) into one file, dist/bundle/openmfa.mjs, for `npm start`:
 * Node 20 has no module compile cache, and loading typebox (≈700 files), kysely (≈260) and our
 * own ≈200 one at a time was most of start-up's CPU. The bundle is the same code, not a second
 * build of it: tsc's output is its only input.
 *
 * Left outside: native addons (better-sqlite3), what pino starts in a worker thread by path
 * (pino, pino-pretty), and what start-up loads only on demand (pg, ioredis,
 * @simplewebauthn/server, nodemailer, tldts, qrcode-generator) — bundling those would load
 * them at every start. The bundle sits two levels under the package root, as dist/console/
 * does, so paths resolved against import.meta.url (the console's files) stay right.
 *
 * The SQLite writer thread's entry (src/store/writer-worker.ts) is a second bundle beside it,
 * dist/bundle/writer-worker.js: the bundle starts it by that path (writer-thread.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(root, 'dist', 'bundle', 'openmfa.mjs');
const WRITER = path.join(root, 'dist', 'bundle', 'writer-worker.js');
const EXTERNAL = ['better-sqlite3', 'pino', 'pino-pretty', 'pg', 'ioredis', '@simplewebauthn/server', 'nodemailer', 'tldts', 'qrcode-generator'];

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __openmfaRequire } from 'node:module'; const require = __openmfaRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
};
await build({ ...common, entryPoints: [path.join(root, 'dist', 'cli.js')], outfile: BUNDLE });
await build({ ...common, entryPoints: [path.join(root, 'dist', 'store', 'writer-worker.js')], outfile: WRITER });
