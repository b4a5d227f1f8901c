/**
 * Comments cite the PingOne reference, an RFC or a document in docs/ — so every citation
 * resolves inside the repository — and never an issue number.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const sources = sourceFiles(path.join(ROOT, 'src')).map((file) => ({ file: path.relative(ROOT, file), text: readFileSync(file, 'utf8') }));

/** `where: the line` for every line of src/ matching `pattern`. */
const linesMatching = (pattern: RegExp): string[] =>
  sources.flatMap(({ file, text }) => text.split('\n').flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));

test('no comment in src/ cites an issue number or the shared design folder', () => {
  assert.deepEqual(linesMatching(/\bissues?\s*#?\d+|\(#\d+|\bshared\/design\b/i), []);
});

test('every docs/… file cited in src/ exists', () => {
  const cited = new Set(sources.flatMap(({ text }) => [...text.matchAll(/\bdocs\/[\w./-]+\.md\b/g)].map((m) => m[0])));
  assert.ok(cited.has('docs/pingid-desktop-protocol.md'));
  assert.deepEqual([...cited].filter((doc) => !existsSync(path.join(ROOT, doc))), []);
});

test('every "protocol §n" in src/ names a section of docs/pingid-desktop-protocol.md', () => {
  const headings = new Set([...readFileSync(path.join(ROOT, 'docs/pingid-desktop-protocol.md'), 'utf8').matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.?\s/gm)].map((m) => m[1]));
  assert.ok(headings.has('1.2') && headings.has('2'), `headings read: ${[...headings].join(', ')}`);
  const cited = sources.flatMap(({ file, text }) => [...text.matchAll(/(?<!mobile-)protocol(?:\.md)? §(\d+(?:\.\d+)?)/g)].map((m) => ({ file, section: m[1]! })));
  assert.ok(cited.length > 10);
  assert.deepEqual(cited.filter((c) => !headings.has(c.section)), []);
});

test('every "mobile-protocol §n" in src/ names a section of docs/mobile-protocol.md', () => {
  const headings = new Set([...readFileSync(path.join(ROOT, 'docs/mobile-protocol.md'), 'utf8').matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.?\s/gm)].map((m) => m[1]));
  const cited = sources.flatMap(({ file, text }) => [...text.matchAll(/mobile-protocol(?:\.md)? §(\d+(?:\.\d+)?)/g)].map((m) => ({ file, section: m[1]! })));
  assert.ok(cited.length > 5);
  assert.deepEqual(cited.filter((c) => !headings.has(c.section)), []);
});
