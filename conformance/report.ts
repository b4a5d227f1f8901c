/** The run's table (check, expected, got, result) and summary, or the same as JSON. */
import type { CheckRecord } from './runner.js';

export interface Summary { checks: number; passed: number; failed: number; notApplicable: number }

export function summarise(records: readonly CheckRecord[]): Summary {
  const count = (r: CheckRecord['result']) => records.filter((c) => c.result === r).length;
  return { checks: records.length, passed: count('pass'), failed: count('fail'), notApplicable: count('n/a') };
}

const WIDTH = 44;
const cut = (s: string, width = WIDTH): string => {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
};

export function table(records: readonly CheckRecord[]): string {
  const rows = records.map((r) => [cut(`${r.area}: ${r.check}`, 84), cut(r.expected), cut(r.got), r.result === 'pass' ? 'pass' : r.result === 'fail' ? 'FAIL' : 'n/a']);
  const head = ['check', 'expected', 'got', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

export function summaryLine(s: Summary): string {
  return `${s.checks} checks: ${s.passed} passed, ${s.failed} failed, ${s.notApplicable} not applicable`;
}
