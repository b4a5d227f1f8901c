/**
 * `npx tsx bench/chart.ts [results.json]` — draws the chart of a bench run's JSON again
 * (default bench/figures/latest.json) next to it, as `npm run bench` does after each run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderSvg } from './lib/chart.js';
import type { Row } from './lib/table.js';

const file = process.argv[2] ?? path.join(import.meta.dirname, 'figures', 'latest.json');
const run = JSON.parse(readFileSync(file, 'utf8')) as { generatedAt: string; rows: Row[]; machine?: { cpus?: number; node?: string } };
const out = file.replace(/\.json$/, '.svg');
writeFileSync(out, renderSvg(run.rows, `OpenMFA bench, ${run.generatedAt.slice(0, 10)} (${run.machine?.cpus ?? '?'} cores, Node ${run.machine?.node ?? '?'})`));
process.stderr.write(`bench: wrote ${out}\n`);
