/**
 * The README runs as written. Every ```bash block of README.md, in document order, runs in
 * ONE bash (`set -euo pipefail`) in a fresh checkout-like directory (the repository's files
 * linked in, no `data/`), against `npm start` on a free port — the reader's two terminals.
 * Blocks marked `<!-- readme-test: skip (why) -->` are not run; the list of them is pinned
 * below, so a new one is a visible decision. Whatever the blocks start in the background (the
 * agent, the mobile authenticator) is stopped with the shell's process group.
 *
 * Needs bash, curl and jq (the README names them); without them the test is skipped with the
 * reason — except under CI=true, where it fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { freePort } from '../../src/free-port.js';
import { readmeBlocks, readmeScript, SHELL_LANGS } from './blocks.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const CI = process.env.CI === 'true' || process.env.CI === '1';
/** What a fresh clone does not hold: state the server and the agent write. */
const NOT_LINKED = new Set(['.git', 'data', 'agent-data']);

const missing = ['bash', 'curl', 'jq'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skipReason = missing.length && !CI ? `${missing.join(', ')} not installed (the README's prerequisites)` : false;

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k === 'DATABASE_URL' || k.startsWith('OPENMFA_') || k.startsWith('npm_')) delete env[k];
  return { ...env, ...extra };
}

/** A directory that looks like a fresh clone after `npm ci`: every tracked top-level entry linked. */
function checkout(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'openmfa-readme-'));
  for (const name of readdirSync(ROOT)) if (!NOT_LINKED.has(name)) symlinkSync(path.join(ROOT, name), path.join(dir, name));
  return dir;
}

/**
 * Stops a detached child and everything in its process group (what a README block left in
 * the background still holds the output pipes); resolves once every pipe has closed.
 */
function stopGroup(child: ChildProcess, closed: Promise<unknown>): Promise<unknown> {
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch { /* the whole group is gone */ }
  return closed;
}

interface Run { code: number | null; output: string }

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, onOutput?: (all: string) => void) {
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const take = (d: Buffer) => { output += d.toString('utf8'); onOutput?.(output); };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  // `exit`: the process itself; `closed`: every process holding its pipes (its group) is gone.
  const exited = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { child, exited, closed, output: () => output };
}

before(() => {
  if (skipReason) return;
  // dist/ current first (a no-op after `npm ci`), as `npm start` itself would make it.
  const built = spawnSync(process.execPath, ['scripts/run.mjs', '--version'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
});

test('every shell block of the README is bash, and the blocks not run are the pinned few, each with its reason', () => {
  const blocks = readmeBlocks(README);
  const shells = blocks.filter((b) => SHELL_LANGS.has(b.lang));
  assert.deepEqual(shells.filter((b) => b.lang !== 'bash').map((b) => `line ${b.line}: ${b.lang}`), []);
  assert.deepEqual(shells.filter((b) => b.skip !== undefined).map((b) => b.code.split('\n')[0]), [
    'npm ci && npm start',
    'npm ci && npm test',
    'npm run bench                                                           # about 10 minutes',
  ]);
  assert.ok(shells.filter((b) => b.skip === undefined).length >= 5);
});

test('the README\'s bash blocks run in order in one shell against `npm start` on a fresh data dir', { skip: skipReason, timeout: 300_000 }, async (t) => {
  assert.deepEqual(missing, [], `the README needs ${missing.join(', ')}: install them (CI does, in .ci/run)`);
  const dir = checkout();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [port, agentPort, mobilePort] = [await freePort(), await freePort(), await freePort()];

  let listening: (url: string) => void = () => {};
  const ready = new Promise<string>((resolve) => { listening = resolve; });
  const server = run('npm', ['start'], dir, cleanEnv({ OPENMFA_PORT: String(port) }), (out) => {
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) listening(m[1]!);
  });
  t.after(() => stopGroup(server.child, server.closed));
  const url = await Promise.race([ready, server.exited.then((r) => assert.fail(`npm start exited (${r.code}) before listening:\n${r.output}`))]);
  assert.equal(url, `http://127.0.0.1:${port}`);

  const shell = run('bash', ['-c', readmeScript(readmeBlocks(README))], dir, cleanEnv({ OPENMFA_AGENT_PORT: String(agentPort), OPENMFA_MOBILE_PORT: String(mobilePort) }));
  const { code } = await shell.exited;
  await stopGroup(shell.child, shell.closed);
  const output = shell.output();
  assert.equal(code, 0, `the README's blocks failed:\n${output}\n--- server ---\n${server.output()}`);
  // What each part shows a reader, at the end of its block: the facts the prose claims.
  assert.match(output, /"users": \[\s*"alice"\s*\]/);
  assert.match(output, /"status": "ACTIVE",?\s*\}[\s\S]*"status": "ACTIVE",?\s*\}/);
  assert.match(output, /"OTP_REQUIRED"\n[\s\S]*"COMPLETED"\n/);
  // The mobile authenticator's push, approved with the number, completes its flow.
  assert.match(output, /\{"id":"[0-9a-f-]+","status":"APPROVED"\}\n"COMPLETED"\n\{"otp":"\d{6}"\}\n/);
});

test('a failing README command stops the script and names the block it is in', { skip: skipReason }, () => {
  const script = readmeScript(readmeBlocks('intro\n\n```bash\ntrue\n```\n\n```bash\necho one\nfalse\necho never\n```\n'));
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stdout, /never/);
  assert.match(r.stderr, /^README\.md: the block at line 7 failed \(exit 1\)$/m);
});
