/** One table, three renderings: the terminal, latest.md and latest.json (bench/results/, or bench/figures/ with --record). */

export interface Row {
  id: string;
  what: string;
  /** The measured value, formatted with its unit. */
  value: string;
  /** What it is compared with, formatted. */
  baseline: string;
  /** value ÷ baseline (or the figure's own ratio, e.g. 1 M ÷ 1 k); undefined when not a ratio. */
  ratio: number | undefined;
  bar: string;
  met: boolean | undefined;
  /** Non-2xx answers and connection errors during the measured round. */
  errors: number;
  note?: string;
}

const fmtRatio = (r: number | undefined) => (r === undefined || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`);
const verdict = (row: Row) => {
  if (row.errors > 0) return `NO (${row.errors} errors)`;
  return row.met === undefined ? '—' : row.met ? 'yes' : 'NO';
};

export function renderText(rows: Row[]): string {
  const head = ['figure', 'what', 'measured', 'baseline', 'ratio', 'bar', 'met', 'errors'];
  const body = rows.map((r) => [r.id, r.what, r.value, r.baseline, fmtRatio(r.ratio), r.bar, verdict(r), String(r.errors)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '', ...notes(rows)].join('\n').trimEnd();
}

/** A row's note (where the CPU went, why a figure was not run) under the table, by figure. */
function notes(rows: Row[]): string[] {
  return rows.filter((r) => r.note).map((r) => `${r.id}: ${r.note}`);
}

export function renderMarkdown(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| figure | what | measured | baseline | ratio | bar | met | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${[r.id, r.what, r.value, r.baseline, fmtRatio(r.ratio), r.bar, verdict(r), String(r.errors)].map(esc).join(' | ')} |`),
    ...(notes(rows).length ? ['', ...notes(rows).map((n) => `- ${n}`)] : []),
  ].join('\n');
}

export const rps = (n: number) => `${Math.round(n).toLocaleString('en-US')} req/s`;
export const ms = (n: number | null | undefined) => (n === null || n === undefined ? '—' : `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`);
