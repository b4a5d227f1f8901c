/**
 * The bench's chart (bench/results/latest.svg, or bench/figures/ with --record): every figure
 * that has a bar, as how far it is from it — so people can look rather than read. Each row's
 * score is measured ÷ bar where more is better (P1–P3, P6) and bar ÷ measured where less is
 * better (P4's p99, P5's growth, reset and restore), so 1.0 is the bar for every figure and a
 * bar right of the line is met. The scale is logarithmic (0.1× to 10×): a figure at half its
 * bar is as far left as one at twice it is right.
 */
import type { Row } from './table.js';

export interface Gauge {
  id: string;
  /** measured ÷ bar (more is better) or bar ÷ measured (less is better): ≥ 1 is met. */
  score: number;
  label: string;
}

/** The bar of a row, read from the one form table.ts rows write it in: `≥ 0.60× …`, `≤ 1.5×`, `p99 ≤ 10 ms…`. */
export function gaugeOf(row: Row): Gauge | undefined {
  const bar = /^(?:p\d+ )?([≥≤]) ([\d.]+) ?(×|ms)/.exec(row.bar);
  if (!bar) return undefined;
  const [, sign, limitText, unit] = bar;
  const limit = Number(limitText);
  const measured = unit === '×' ? row.ratio : Number(/([\d.]+) ms/.exec(row.value)?.[1]);
  if (measured === undefined || !Number.isFinite(measured) || measured <= 0 || !(limit > 0)) return undefined;
  const score = sign === '≥' ? measured / limit : limit / measured;
  const shown = unit === '×' ? `${measured.toFixed(2)}×` : `${measured < 10 ? measured.toFixed(2) : measured.toFixed(1)} ms`;
  return { id: row.id, score: row.errors > 0 ? 0 : score, label: `${shown} (bar ${sign} ${limitText}${unit === '×' ? '×' : ' ms'})${row.errors > 0 ? `, ${row.errors} errors` : ''}` };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(rows: Row[], title: string): string {
  const gauges = rows.map(gaugeOf).filter((g): g is Gauge => g !== undefined);
  const rowH = 26;
  const left = 110;
  const width = 760;
  const plotW = 400;
  const top = 44;
  const height = top + gauges.length * rowH + 40;
  const MIN = 0.1;
  const MAX = 10;
  const x = (score: number) => left + (Math.log10(Math.min(MAX, Math.max(MIN, score))) - Math.log10(MIN)) / (Math.log10(MAX) - Math.log10(MIN)) * plotW;
  const ticks = [0.1, 0.25, 0.5, 1, 2, 4, 10];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="18" font-size="14" font-weight="600">${esc(title)}</text>`,
    `<text x="${left}" y="34" fill="#555">each figure ÷ its bar (log scale): right of the line is met</text>`,
    ...ticks.map((t) => `<line x1="${x(t)}" x2="${x(t)}" y1="${top - 4}" y2="${top + gauges.length * rowH}" stroke="${t === 1 ? '#222' : '#ddd'}" stroke-width="${t === 1 ? 2 : 1}"/>`
      + `<text x="${x(t)}" y="${top + gauges.length * rowH + 16}" text-anchor="middle" fill="#555">${t}×</text>`),
    ...gauges.map((g, i) => {
      const y = top + i * rowH;
      const met = g.score >= 1;
      const x0 = x(1);
      const x1 = x(g.score);
      return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(g.id)}</text>`
        + `<rect x="${Math.min(x0, x1)}" y="${y + 5}" width="${Math.max(2, Math.abs(x1 - x0))}" height="${rowH - 10}" fill="${met ? '#2e7d32' : '#c62828'}"/>`
        + `<text x="${left + plotW + 10}" y="${y + 17}" fill="${met ? '#2e7d32' : '#c62828'}">${esc(g.label)}</text>`;
    }),
    '</svg>',
  ];
  return parts.join('\n') + '\n';
}
