/**
 * The README's shell blocks, as a reader meets them: every fenced block in document order,
 * with the skip marker that may stand on the line before it —
 *
 *   <!-- readme-test: skip (why) -->
 *   ```bash
 *
 * A block the test does not run must say so, and why, in the README itself.
 */
export interface ReadmeBlock {
  /** The fence's info string: `bash`, `sh`, `json`, … */
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** The reason given by the skip marker, when the block is not run. */
  skip?: string;
}

const FENCE = /^```(\S*)\s*$/;
const SKIP = /^<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->$/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    const marker = start > 0 ? SKIP.exec(lines[start - 1]!.trim()) : null;
    blocks.push({ lang: open[1] ?? '', line: start + 1, code: body.join('\n'), ...(marker ? { skip: marker[1]! } : {}) });
  }
  return blocks;
}

/** Shell blocks must be bash: the README's commands use arrays and here-strings. */
export const SHELL_LANGS = new Set(['bash', 'sh', 'shell', 'console', 'zsh']);

/**
 * One script of every bash block to run, in order: strict mode, and an ERR trap naming the
 * README line of the command that failed, so a broken block points at itself.
 */
export function readmeScript(blocks: readonly ReadmeBlock[]): string {
  const parts = ['set -euo pipefail', 'README_LINE=0', "trap 'echo \"README.md: the block at line $README_LINE failed (exit $?)\" >&2' ERR"];
  for (const b of blocks) {
    if (b.lang !== 'bash' || b.skip !== undefined) continue;
    parts.push(`README_LINE=${b.line}`, `echo "::: README.md line ${b.line}"`, b.code);
  }
  return parts.join('\n') + '\n';
}
