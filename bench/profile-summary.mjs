// The hot spots of a V8 CPU profile (`node --cpu-prof`, or OPENMFA_BENCH_CPU_PROF with
// `npm run bench`): self time by function, and time by source file (self time summed over
// the file's functions), as shares of the samples. Usage: node bench/profile-summary.mjs <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

const [file, rowsText = '25'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.mjs <file.cpuprofile> [rows]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const rows = Number(rowsText);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = profile.samples.length;
const idle = [...hits].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((s, [, n]) => s + n, 0);

const where = (f) => (f.url ? `${f.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/').replace(/^.*\/dist\//, 'dist/')}:${f.lineNumber + 1}` : '');
const fnKey = (f) => `${f.functionName || '(anonymous)'} ${where(f)}`.trim();
const fileKey = (f) => (f.url ? f.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\/.*$/, '~/$1').replace(/^.*\/dist\//, 'dist/') : f.functionName);

const sum = (key) => {
  const m = new Map();
  for (const [id, n] of hits) {
    const f = byId.get(id).callFrame;
    if (f.functionName === '(idle)') continue;
    const k = key(f);
    m.set(k, (m.get(k) ?? 0) + n);
  }
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, rows);
};
const pct = (n, of) => `${((100 * n) / of).toFixed(1).padStart(5)} %`;
const busy = total - idle;
process.stdout.write(`${file}: ${total} samples, ${pct(idle, total)} idle; shares below are of the ${busy} busy samples\n\n`);
process.stdout.write('self time by function\n');
for (const [k, n] of sum(fnKey)) process.stdout.write(`${pct(n, busy)}  ${k}\n`);
process.stdout.write('\nself time by file or package\n');
for (const [k, n] of sum(fileKey)) process.stdout.write(`${pct(n, busy)}  ${k}\n`);
