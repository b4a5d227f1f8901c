/**
 * `npm start` as a user (and a test harness) runs it: the built server starts without a
 * rebuild, and stopping npm — a signal to npm's PID alone, or npm killed outright — stops the
 * server too. Threat: a harness that stops "the server" by its npm PID leaves an orphan
 * holding the port and the store.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
// Brings dist/ up to date first (a no-op after `npm ci`), as `npm start` itself would.
before(() => {
  const built = spawnSync(process.execPath, ['scripts/run.mjs', '--version'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
});
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k === 'DATABASE_URL' || (k.startsWith('OPENMFA_') && !k.startsWith('OPENMFA_TEST_'))) delete env[k];
  return env;
}

async function npmStart() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'openmfa-npm-start-'));
  dirs.push(dataDir);
  const npm = spawn('npm', ['start', '--silent', '--', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => npm.on('exit', (code, signal) => resolve({ code, signal })));
  let out = '';
  let err = '';
  npm.stderr.on('data', (d) => { err += d; });
  const url = await new Promise<string>((resolve, reject) => {
    npm.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    npm.on('exit', () => reject(new Error(`npm start exited before listening: ${out}${err}`)));
  });
  return { npm, url, exited, output: () => out + err };
}

/** Polls until the server stops answering; fails if it never does. */
async function stopsAnswering(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`${url}/health`);
    } catch {
      return;
    }
    await delay(100);
  }
  assert.fail(`${url} still answers after its npm was stopped`);
}

test('npm start serves the built code at once: no rebuild, no build output', async () => {
  const s = await npmStart();
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
  assert.doesNotMatch(s.output(), /building/);
  s.npm.kill('SIGTERM');
  assert.deepEqual(await s.exited, { code: 0, signal: null });
  await stopsAnswering(s.url);
});

test('SIGINT to npm alone stops the server too', async () => {
  const s = await npmStart();
  s.npm.kill('SIGINT');
  // npm passes the signal on and then exits 0, or ends by the signal itself (it re-raises it
  // when its child is gone); either way the server must be gone too.
  const exit = await s.exited;
  assert.ok(exit.code === 0 || exit.signal === 'SIGINT', `${JSON.stringify(exit)} ${s.output()}`);
  await stopsAnswering(s.url);
});

test('npm killed with SIGKILL: the orphaned server notices and stops by itself', async () => {
  const s = await npmStart();
  s.npm.kill('SIGKILL');
  await s.exited;
  await stopsAnswering(s.url);
});
