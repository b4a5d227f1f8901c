#!/usr/bin/env node
/**
 * `npm test`: type-check, then the whole suite on SQLite, then every suite that touches the
 * store again on PostgreSQL. Prints the counts of each run and a closing
 * `N passed, N failed` line; fails when a test fails, when no test ran, or — with CI=true —
 * when PostgreSQL is unreachable (the PostgreSQL run never silently skips in CI).
 * Suites in folders named `vitest/` are vitest's (they test `openmfa/testing` from vitest):
 * node:test leaves them out and `vitest run` runs them after the SQLite run.
 *
 *   npm test                       everything
 *   npm test -- test/agent         only files under that path (both dialects as applicable)
 *   OPENMFA_TEST_DIALECTS=sqlite   one dialect only (not allowed with CI=true)
 */
import { spawnSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CI = process.env.CI === 'true' || process.env.CI === '1';
const PG_URL = process.env.OPENMFA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/openmfa_test';
const say = (s) => process.stdout.write(s + '\n');

function listTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'vitest') out.push(...listTests(p)); }
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

async function ensurePostgres() {
  const url = new URL(PG_URL);
  const dbName = url.pathname.slice(1) || 'openmfa_test';
  const admin = new URL(PG_URL);
  admin.pathname = '/postgres';
  admin.search = '';
  const client = new pg.Client({ connectionString: admin.href, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [dbName]);
    if (!rowCount) await client.query(`create database "${dbName.replace(/"/g, '')}"`).catch((e) => { if (e.code !== '42P04') throw e; });
    return true;
  } catch (e) {
    say(`PostgreSQL at ${admin.host} is unreachable: ${e.message}`);
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function runNodeTest(files, env, label) {
  return new Promise((resolve) => {
    const tap = path.join(mkdtempSync(path.join(tmpdir(), 'openmfa-tap-')), 'out.tap');
    say(`\n=== ${label}: ${files.length} files ===`);
    const child = spawn(process.execPath, [
      '--import', 'tsx', '--test', `--test-concurrency=${process.env.OPENMFA_TEST_CONCURRENCY ?? 2}`,
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tap}`,
      ...files,
    ], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => {
      let text = '';
      try { text = readFileSync(tap, 'utf8'); } catch { /* no report */ }
      // The report is read; its folder goes (tests remove what they create, and so does this).
      rmSync(path.dirname(tap), { recursive: true, force: true });
      const num = (k) => Number((new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text) ?? [])[1] ?? 0);
      resolve({ label, code: code ?? 1, tests: num('tests'), pass: num('pass'), fail: num('fail'), skipped: num('skipped') + num('todo'), cancelled: num('cancelled') });
    });
  });
}

const filters = process.argv.slice(2);
let files = listTests(path.join(root, 'test'));
if (filters.length) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (process.env.OPENMFA_BROWSER_TESTS === '0') files = files.filter((f) => !f.includes(`${path.sep}browser${path.sep}`));
// Browser suites (test/browser/) drive the console, not the store: SQLite only.
const storeFiles = files.filter((f) => !f.includes(`${path.sep}browser${path.sep}`) && /\b(startTestServer|useTestServer|useDesktopStack|useAdminServer|freshStore|startProcesses)\b/.test(readFileSync(f, 'utf8')));

// dist/ current first (a no-op after `npm ci`): suites import the package by its own name
// (`openmfa/testing`), which resolves to the built code and its declarations.
say('=== build ===');
const build = spawnSync(process.execPath, [path.join(root, 'scripts/run.mjs'), '--version'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
if (build.status !== 0) { say('build failed'); process.exit(1); }

say('=== type-check ===');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) { say('type-check failed'); process.exit(1); }

const wanted = (process.env.OPENMFA_TEST_DIALECTS ?? 'sqlite,postgres').split(',').map((s) => s.trim());
if (CI && !(wanted.includes('sqlite') && wanted.includes('postgres'))) { say('CI runs both dialects'); process.exit(1); }

function runVitest(files, label) {
  return new Promise((resolve) => {
    const report = path.join(mkdtempSync(path.join(tmpdir(), 'openmfa-vitest-')), 'report.json');
    say(`\n=== ${label}: ${files.length} files ===`);
    const child = spawn(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...files], { cwd: root, env: process.env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => {
      let r = {};
      try { r = JSON.parse(readFileSync(report, 'utf8')); } catch { /* no report */ }
      resolve({ label, code: code ?? 1, tests: r.numTotalTests ?? 0, pass: r.numPassedTests ?? 0, fail: r.numFailedTests ?? 0, skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0), cancelled: 0 });
    });
  });
}

const vitestFiles = (function list(dir, inVitest) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return list(p, inVitest || name === 'vitest');
    return inVitest && name.endsWith('.test.ts') ? [p] : [];
  });
})(path.join(root, 'test'), false).sort().filter((f) => !filters.length || filters.some((x) => f.includes(x)));

const results = [];
if (wanted.includes('sqlite')) {
  if (files.length) results.push(await runNodeTest(files, { OPENMFA_TEST_DIALECT: 'sqlite' }, 'SQLite (all suites)'));
  if (vitestFiles.length) results.push(await runVitest(vitestFiles.map((f) => path.relative(root, f)), 'vitest (SQLite)'));
}
if (wanted.includes('postgres') && storeFiles.length) {
  if (await ensurePostgres()) {
    results.push(await runNodeTest(storeFiles, { OPENMFA_TEST_DIALECT: 'postgres', OPENMFA_TEST_DATABASE_URL: PG_URL }, 'PostgreSQL (store suites)'));
  } else if (CI) {
    say('PostgreSQL is required in CI'); process.exit(1);
  } else {
    say('WARNING: PostgreSQL suites NOT run (unreachable). CI would fail here.');
  }
}

say('\n=== summary ===');
let pass = 0; let fail = 0; let skipped = 0; let bad = false;
for (const r of results) {
  say(`${r.label}: ${r.tests} tests, ${r.pass} passed, ${r.fail} failed, ${r.skipped} skipped${r.cancelled ? `, ${r.cancelled} cancelled` : ''} (exit ${r.code})`);
  pass += r.pass; fail += r.fail + r.cancelled; skipped += r.skipped;
  if (r.code !== 0 || r.tests === 0) bad = true;
}
say(`${pass} passed, ${fail} failed, ${skipped} skipped`);
if (pass === 0) { say('no test ran'); process.exit(1); }
process.exit(bad || fail > 0 ? 1 : 0);
