/**
 * The import graph of src/: no cycle (type-only imports included — a type cycle still ties the
 * modules together) and no upward import between the layers below. README "Architecture"
 * describes the same layers.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const SRC = path.resolve(import.meta.dirname, '../../src');

/**
 * Lowest first. A module may import from its own layer (no cycle) and from layers below it.
 * Paths are relative to src/; a folder stands for everything under it.
 */
const LAYERS: ReadonlyArray<{ name: string; modules: readonly string[] }> = [
  { name: 'base', modules: ['crypto/', 'clock.ts', 'net.ts', 'free-port.ts', 'state-file.ts', 'local-server.ts', 'protocol/'] },
  { name: 'config', modules: ['config.ts'] },
  { name: 'store', modules: ['store/'] },
  { name: 'http', modules: ['http/'] },
  { name: 'domain', modules: ['platform/', 'policies/', 'notify/', 'context.ts'] },
  { name: 'devices', modules: ['devices/', 'oath/'] },
  { name: 'authentication', modules: ['authentication/'] },
  { name: 'seed', modules: ['seed/'] },
  { name: 'remote', modules: ['remote/'] },
  { name: 'admin', modules: ['admin/'] },
  { name: 'app', modules: ['console/', 'app.ts', 'server.ts', 'demo.ts', 'cli.ts', 'testing/'] },
];
/**
 * The desktop agent runs on a user's machine: it uses the base layer only, and only the
 * commands (cli, demo) and the testing library (which pairs desktop devices in-process) use it.
 */
const AGENT = 'agent/';
const AGENT_MAY_USE = new Set(['base']);
const AGENT_USED_BY = ['cli.ts', 'demo.ts', 'testing/index.ts'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const rel = (file: string): string => path.relative(SRC, file).split(path.sep).join('/');
const matches = (module: string, file: string): boolean => (module.endsWith('/') ? file.startsWith(module) : file === module);

function layerOf(file: string): string {
  if (matches(AGENT, file)) return 'agent';
  const layer = LAYERS.find((l) => l.modules.some((m) => matches(m, file)));
  if (!layer) throw new Error(`src/${file} is in no layer: add it to LAYERS in test/architecture/layers.test.ts`);
  return layer.name;
}
const rank = (layer: string): number => LAYERS.findIndex((l) => l.name === layer);

/** Every relative import of every file, `import type`, `export … from` and `import()` included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => rel(path.resolve(path.dirname(file), name.replace(/\.js$/, '.ts'))));
    graph.set(rel(file), [...new Set(targets)]);
  }
  return graph;
}

/** The cycles, each as a path `a → b → … → a` (one per strongly connected component, Tarjan). */
function cycles(graph: Map<string, string[]>): string[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(pathThrough(graph, new Set(component), v));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** One concrete cycle inside a strongly connected component, from `start` back to it. */
function pathThrough(graph: Map<string, string[]>, component: Set<string>, start: string): string {
  const seen = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const trail = [v];
        while (trail[0] !== start) trail.unshift(seen.get(trail[0]!)!);
        return [...trail, start].join(' → ');
      }
      if (!seen.has(w)) { seen.set(w, v); queue.push(w); }
    }
  }
  return start;
}

function upwardImports(graph: Map<string, string[]>): string[] {
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    for (const to of targets) {
      const b = layerOf(to);
      if (a === 'agent' || b === 'agent') {
        const allowed = a === 'agent' ? b === 'agent' || AGENT_MAY_USE.has(b) : AGENT_USED_BY.includes(from);
        if (!allowed) wrong.push(`${from} (${a}) → ${to} (${b})`);
      } else if (rank(b) > rank(a)) {
        wrong.push(`${from} (${a}) → ${to} (${b})`);
      }
    }
  }
  return wrong;
}

const graph = importGraph();

test('the import graph of src/ is read: every file is in a layer and every import resolves to a file', () => {
  assert.ok(graph.size > 50, `only ${graph.size} files found under ${SRC}`);
  const missing = [...graph.values()].flat().filter((to) => !graph.has(to));
  assert.deepEqual(missing, [], 'imports that name no file under src/');
  for (const file of graph.keys()) layerOf(file);
});

test('no import cycle in src/, type-only imports included', () => {
  assert.deepEqual(cycles(graph), []);
});

test('no upward import: each layer imports only its own and lower layers; the agent only the base layer', () => {
  assert.deepEqual(upwardImports(graph), []);
});

test('the check itself: a cycle and an upward import in a made-up graph are both reported', () => {
  const fake = new Map<string, string[]>([
    ['store/a.ts', ['http/b.ts']],
    ['http/b.ts', ['store/a.ts']],
    ['crypto/c.ts', ['crypto/c.ts']],
    ['agent/d.ts', ['store/a.ts']],
  ]);
  assert.deepEqual(cycles(fake).sort(), ['crypto/c.ts → crypto/c.ts', 'store/a.ts → http/b.ts → store/a.ts']);
  assert.deepEqual(upwardImports(fake), ['store/a.ts (store) → http/b.ts (http)', 'agent/d.ts (agent) → store/a.ts (store)']);
});
