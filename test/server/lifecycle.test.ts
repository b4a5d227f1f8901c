/**
 * The real CLI as a child process: start on port 0, report where it listens, serve, stop
 * cleanly on SIGTERM, start again on the same data without new credentials, and refuse bad
 * configuration naming the key. With OPENMFA_TEST_DIALECT=postgres the server runs on a
 * fresh PostgreSQL schema (from the harness's freshStore), dropped afterwards.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { tokenCommand } from '../../src/server.js';
import { DIALECT, freshStore } from '../helper.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'src/cli.ts');
const PUBLIC_URL = 'https://mfa.example.test';
const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 10_000;

/** The environment without anything that would configure the server behind our back. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'DATABASE_URL' || (k.startsWith('OPENMFA_') && !k.startsWith('OPENMFA_TEST_'))) delete env[k];
  }
  return env;
}

interface Child {
  proc: ChildProcess;
  stdout: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first `n` stdout lines, or rejects at the deadline or on exit. */
  lines(n: number, deadlineMs?: number): Promise<string[]>;
}

function run(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  let partial = '';
  let err = '';
  const waiters = new Set<() => void>();
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    stdout.push(...parts);
    for (const w of waiters) w();
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    });
  });
  return {
    proc,
    stdout,
    stderr: () => err,
    exited,
    lines(n, deadlineMs = START_DEADLINE_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no ${n} stdout lines within ${deadlineMs} ms; stdout: ${stdout.join('\n')}; stderr: ${err}`)), deadlineMs);
        const check = () => {
          if (stdout.length >= n) done();
          else if (proc.exitCode !== null || proc.signalCode !== null) done(new Error(`exited (${proc.exitCode ?? proc.signalCode}) before ${n} stdout lines; stderr: ${err}`));
        };
        const done = (e?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (e) reject(e);
          else resolve(stdout.slice(0, n));
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Waits for the process to end, failing at the deadline (a bound, not a timing assertion). */
async function exitWithin(child: Child, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([child.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls GET /health until 200, a bounded number of times. */
async function waitHealthy(base: string): Promise<void> {
  let last = '';
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.status === 200) {
        assert.deepEqual(await res.json(), { status: 'ok' });
        return;
      }
      last = `status ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await delay(50);
  }
  assert.fail(`/health never answered 200 (${last})`);
}

async function tokenFor(base: string, creds: { environmentId: string; clientId: string; clientSecret: string }) {
  return fetch(`${base}/${creds.environmentId}/as/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
}

const LISTENING = /^OpenMFA listening on http:\/\/127\.0\.0\.1:(\d+) \((.+)\)$/;

describe(`server lifecycle: the real CLI (${DIALECT})`, () => {
  let root: string;
  let dataDir: string;
  let storeArgs: string[] = [];
  let disposeStore: (() => Promise<void>) | undefined;
  const children: Child[] = [];
  const start = (extra: string[] = []) => {
    const c = run(['serve', '--port', '0', '--data-dir', dataDir, '--public-url', PUBLIC_URL, ...storeArgs, ...extra]);
    children.push(c);
    return c;
  };

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'openmfa-life-'));
    dataDir = path.join(root, 'data');
    if (DIALECT === 'postgres') {
      // A fresh schema in OPENMFA_TEST_DATABASE_URL (…?schema=t_…), dropped by dispose.
      const fresh = await freshStore('postgres');
      storeArgs = ['--database-url', fresh.databaseUrl!];
      disposeStore = fresh.dispose;
    }
  });
  after(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await disposeStore?.();
    rmSync(root, { recursive: true, force: true });
  });

  let firstBoot: { environmentId: string; clientId: string; clientSecret: string; apiPath: string; authPath: string };
  let bootFileStat: { content: string; mtimeMs: number };

  test('first start on port 0: the first stdout line names the real port; apiPath, authPath, the bootstrap file, the console and a token command follow; no secret is printed; SIGTERM exits 0', async () => {
    const child = start();
    const [first, api, auth, boot, consoleLine, tokenLine] = await child.lines(6);
    const m = LISTENING.exec(first!);
    assert.ok(m, `first stdout line: ${first}`);
    const port = Number(m[1]);
    assert.ok(port > 0 && port < 65536);
    assert.equal(m[2], DIALECT === 'postgres' ? 'PostgreSQL' : `SQLite ${path.join(dataDir, 'openmfa.sqlite')}`);
    assert.equal(api, `apiPath:  ${PUBLIC_URL}/v1`);
    assert.equal(auth, `authPath: ${PUBLIC_URL}`);
    const file = path.join(dataDir, 'bootstrap.json');
    assert.equal(boot, `bootstrap: new administrator credentials written to ${file}`);

    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base);
    firstBoot = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(firstBoot.apiPath, `${PUBLIC_URL}/v1`);
    bootFileStat = { content: readFileSync(file, 'utf8'), mtimeMs: statSync(file).mtimeMs };
    assert.equal(consoleLine, `console:  ${PUBLIC_URL}/console`);
    assert.equal(tokenLine, `token:    ${tokenCommand(file)}`);
    // The command runs as printed (bash, curl, jq) and its token is accepted; the public URL
    // is not this port, so the command reads a copy of the file that names the real one.
    const copy = path.join(root, 'bootstrap-here.json');
    writeFileSync(copy, JSON.stringify({ ...firstBoot, authPath: `http://127.0.0.1:${port}` }));
    const printed = spawnSync('bash', ['-c', tokenCommand(copy)], { encoding: 'utf8' });
    assert.equal(printed.status, 0, printed.stderr);
    const cmdToken = printed.stdout.trim();
    const envRes = await fetch(`${base}/v1/environments/${firstBoot.environmentId}`, { headers: { authorization: `Bearer ${cmdToken}` } });
    assert.equal(envRes.status, 200);
    const root302 = await fetch(`${base}/`, { redirect: 'manual' });
    assert.deepEqual([root302.status, root302.headers.get('location')], [302, '/console']);

    const tokenRes = await tokenFor(base, firstBoot);
    assert.equal(tokenRes.status, 200);
    const { access_token: token } = (await tokenRes.json()) as { access_token: string };
    const env = await fetch(`${base}/v1/environments/${firstBoot.environmentId}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(env.status, 200);
    assert.equal(((await env.json()) as { _links: { self: { href: string } } })._links.self.href, `${PUBLIC_URL}/v1/environments/${firstBoot.environmentId}`);

    child.proc.kill('SIGTERM');
    const exit = await exitWithin(child, STOP_DEADLINE_MS);
    assert.deepEqual(exit, { code: 0, signal: null });
    const out = child.stdout.join('\n');
    assert.ok(!out.includes(firstBoot.clientSecret), 'the client secret is not printed');
    assert.ok(!child.stderr().includes(firstBoot.clientSecret), 'the client secret is not on stderr');
    assert.ok(!out.includes(token) && !child.stderr().includes(token), 'the access token is not printed');
    assert.match(out, /"msg":"shutting down"/);
  });

  test('restart on the same data: bootstrap.json unchanged, the old credentials still work', async () => {
    assert.ok(firstBoot, 'the first start ran');
    const child = start();
    const [first, , , boot] = await child.lines(4);
    const m = LISTENING.exec(first!);
    assert.ok(m, `first stdout line: ${first}`);
    const file = path.join(dataDir, 'bootstrap.json');
    assert.equal(boot, `bootstrap: existing store; credentials are in ${file} from the first start`);
    const base = `http://127.0.0.1:${m[1]}`;
    await waitHealthy(base);
    assert.deepEqual({ content: readFileSync(file, 'utf8'), mtimeMs: statSync(file).mtimeMs }, bootFileStat);
    const tokenRes = await tokenFor(base, firstBoot);
    assert.equal(tokenRes.status, 200);
    const { access_token: token } = (await tokenRes.json()) as { access_token: string };
    const list = await fetch(`${base}/v1/environments`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(list.status, 200);
    assert.equal(((await list.json()) as { count: number }).count, 1, 'no second administrator environment');

    child.proc.kill('SIGTERM');
    assert.deepEqual(await exitWithin(child, STOP_DEADLINE_MS), { code: 0, signal: null });
  });

  test('SIGINT stops it cleanly too: exit 0', async () => {
    const child = start();
    const [first] = await child.lines(4);
    await waitHealthy(`http://127.0.0.1:${LISTENING.exec(first!)![1]}`);
    child.proc.kill('SIGINT');
    assert.deepEqual(await exitWithin(child, STOP_DEADLINE_MS), { code: 0, signal: null });
  });

  test('without --public-url, port 0: the printed apiPath/authPath and the token issuer carry the real port', async () => {
    if (DIALECT === 'postgres') {
      // A second fresh schema: this start must bootstrap on its own.
      const fresh = await freshStore('postgres');
      const prev = disposeStore;
      disposeStore = async () => {
        await fresh.dispose();
        await prev?.();
      };
      storeArgs = ['--database-url', fresh.databaseUrl!];
    }
    const dir = path.join(root, 'default-url');
    const child = run(['serve', '--port', '0', '--data-dir', dir, ...storeArgs]);
    children.push(child);
    const [first, api, auth] = await child.lines(4);
    const port = Number(LISTENING.exec(first!)?.[1]);
    assert.ok(port > 0, `first stdout line: ${first}`);
    const base = `http://127.0.0.1:${port}`;
    assert.equal(api, `apiPath:  ${base}/v1`);
    assert.equal(auth, `authPath: ${base}`);
    await waitHealthy(base);
    const creds = JSON.parse(readFileSync(path.join(dir, 'bootstrap.json'), 'utf8'));
    assert.equal(creds.apiPath, `${base}/v1`);
    const res = await tokenFor(base, creds);
    assert.equal(res.status, 200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    assert.equal(claims.iss, `${base}/${creds.environmentId}/as`);
    child.proc.kill('SIGTERM');
    assert.deepEqual(await exitWithin(child, STOP_DEADLINE_MS), { code: 0, signal: null });
  });

  for (const [flag, value, key] of [['--port', 'abc', 'port'], ['--public-url', 'nope', 'publicUrl'], ['--log-level', 'loud', 'logLevel'], ['--master-key', 'c2hvcnQ=', 'masterKey']] as const) {
    test(`bad configuration ${flag} ${value}: exits non-zero with a message naming ${key}`, async () => {
      const child = run(['serve', '--data-dir', path.join(root, `bad-${key}`), flag, value]);
      children.push(child);
      const exit = await exitWithin(child, START_DEADLINE_MS);
      assert.notEqual(exit.code, 0);
      assert.match(child.stderr(), new RegExp(`invalid configuration ${key}\\b`));
      assert.equal(child.stdout.filter((l) => l.startsWith('OpenMFA listening')).length, 0);
    });
  }
});
