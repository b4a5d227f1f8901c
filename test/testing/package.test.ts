/**
 * The package installs as a dependency: `npm pack` makes the tarball a project would install,
 * it is unpacked into a fresh project's node_modules (its own dependencies linked from ours,
 * so no network), and from there `import { startOpenMFA } from 'openmfa/testing'` runs, and
 * type-checks with its declarations under NodeNext resolution.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
let dir: string;
let project: string;
let packed: string[];

function must(command: string, args: string[], cwd: string): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `${command} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(() => {
  // dist/ current first (a no-op after `npm ci`); the tarball ships dist/ as built.
  must(process.execPath, ['scripts/run.mjs', '--version'], ROOT);
  dir = mkdtempSync(path.join(tmpdir(), 'openmfa-package-'));
  const [info] = JSON.parse(must('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = info!.files.map((f) => f.path);
  project = path.join(dir, 'project');
  const modules = path.join(project, 'node_modules');
  mkdirSync(modules, { recursive: true });
  must('tar', ['-xzf', path.join(dir, info!.filename), '-C', modules], ROOT);
  renameSync(path.join(modules, 'package'), path.join(modules, 'openmfa'));
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (!name.startsWith('.')) symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});

after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

test('the tarball holds the built code, its declarations, the console, the docs and the licence — no sources or tests', () => {
  for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/cli.js', 'dist/testing/index.js', 'dist/testing/index.d.ts', 'console/index.html']) assert.ok(packed.includes(file), file);
  assert.deepEqual(packed.filter((f) => /^(src|test|bench|scripts)\//.test(f) || f.endsWith('.map')), []);
});

test('a project that installed the tarball imports openmfa/testing and runs a server', () => {
  writeFileSync(path.join(project, 'check.mjs'), `
import { startOpenMFA } from 'openmfa/testing';
const mfa = await startOpenMFA();
const res = await fetch(mfa.api + '/environments/' + mfa.environmentId, { headers: { authorization: 'Bearer ' + await mfa.token() } });
console.log(res.status, (await res.json()).id === mfa.environmentId);
await mfa.stop();
`);
  assert.equal(must(process.execPath, ['check.mjs'], project), '200 true\n');
  const internal = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('openmfa/dist/server.js')"], { cwd: project, encoding: 'utf8' });
  assert.match(internal.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test('its declarations type-check a consumer under NodeNext resolution, and catch a wrong use', () => {
  writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], skipLibCheck: false },
    include: ['check.ts'],
  }));
  writeFileSync(path.join(project, 'check.ts'), `
import { startOpenMFA, type OpenMFA } from 'openmfa/testing';
const mfa: OpenMFA = await startOpenMFA({ now: '2030-01-01T00:00:00Z' });
await mfa.clock.advance('PT5M');
const code: string = await mfa.readOtp({ recipient: 'a@example.com' });
export { code };
`);
  must(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
  writeFileSync(path.join(project, 'check.ts'), `
import { startOpenMFA } from 'openmfa/testing';
const mfa = await startOpenMFA();
const port: number = mfa.url;
export { port };
`);
  const wrong = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' });
  assert.equal(wrong.status, 2);
  assert.match(wrong.stdout, /check\.ts\(4,7\): error TS2322: Type 'string' is not assignable to type 'number'\./);
});
