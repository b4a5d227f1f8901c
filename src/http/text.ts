/**
 * The one rule for text that comes in (request bodies, cursors, the desktop agent's JWT
 * claims): no control character is stored. PostgreSQL refuses U+0000 in `text` outright (an
 * error that would surface as a 500), and the other control characters (Unicode category Cc:
 * C0, DEL, C1) have no place in a name, an ID or a nickname — they forge log lines and
 * terminal output. Only a `description`, which is prose, may hold TAB, LF and CR; and a member
 * a route names as holding a key file (a PEM private key, a service account's JSON: push
 * credentials, wave-2 reference §3.6) may hold line breaks, LF or CR LF, and nothing else. Nor is a
 * string with an unpaired UTF-16 surrogate (`"\ud800"` in JSON) stored: no UTF-8 encodes it,
 * so both databases would silently keep U+FFFD instead of what the answer echoed.
 */

/** Unicode Cc: U+0000–U+001F, U+007F–U+009F. */
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Cc without TAB, LF and CR. */
const CONTROL_IN_PROSE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
/** Cc without LF, and CR only as part of CR LF: the line breaks of a key file. */
const CONTROL_IN_KEY_FILE = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]|\r(?!\n)/;

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Members whose value is prose. */
const PROSE_KEYS = new Set(['description']);

/** How a control character is shown in a target path: escaped, never raw. */
const escapeControls = (s: string): string =>
  s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export type TextProblem = { path: string; problem: 'control' | 'surrogate' };

/** What the refusal of a `TextProblem` says about `what` (a target, or "The attestation claim x"). */
export const textProblemMessage = (what: string, problem: TextProblem['problem']): string =>
  problem === 'control' ? `${what} must not contain control characters` : `${what} must be well-formed Unicode (it holds an unpaired surrogate)`;

const problemOf = (s: string, control: RegExp): TextProblem['problem'] | undefined =>
  control.test(s) ? 'control' : UNPAIRED_SURROGATE.test(s) ? 'surrogate' : undefined;

/**
 * Where the first string (or member name) breaking the rule sits in a parsed JSON value, as a
 * target path (`name.given`, `products[0].type`), and how; undefined when there is none.
 * `keyFiles` are the paths (`token`) whose string value is a key file. Iterative, so no
 * nesting depth makes it overflow the stack.
 */
export function textProblemAt(value: unknown, root = '', keyFiles: readonly string[] = []): TextProblem | undefined {
  const stack: Array<{ value: unknown; path: string; prose: boolean }> = [{ value, path: root, prose: false }];
  while (stack.length > 0) {
    const { value: v, path, prose } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = problemOf(v, keyFiles.includes(path) ? CONTROL_IN_KEY_FILE : prose ? CONTROL_IN_PROSE : CONTROL);
      if (problem) return { path: escapeControls(path), problem };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    const isArray = Array.isArray(v);
    const entries = Object.entries(v);
    // Pushed in reverse so the first offending member in document order is reported.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      const at = isArray ? `${path}[${k}]` : path ? `${path}.${k}` : k;
      const problem = isArray ? undefined : problemOf(k, CONTROL);
      if (problem) return { path: escapeControls(at).replace(/[\ud800-\udfff]/g, '\ufffd'), problem };
      stack.push({ value: child, path: at, prose: !isArray && PROSE_KEYS.has(k) });
    }
  }
  return undefined;
}

/**
 * Whether JSON text nests objects and arrays deeper than `limit`, read from the text itself
 * before it is parsed, so no parser, validator or serializer ever walks a deeper value.
 * Brackets inside strings do not count.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Jump to the quote that closes the string: one not escaped by an odd run of backslashes.
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return false; // unterminated: the parser refuses it
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
