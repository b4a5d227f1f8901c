/**
 * The SCIM filter subset PingOne documents for list endpoints (reference §7.1, §10.3):
 * `attr eq "v"`, `attr sw "v"` (also `ne`, `co`, `ew`), joined by `and` / `or`, with
 * parentheses. Comparisons are case-insensitive. Parsed into a tree, then compiled to a
 * Kysely expression over the columns a resource names; anything else is
 * 400 INVALID_DATA / INVALID_FILTER on `filter`.
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { invalidData } from './errors.js';

export type Operator = 'eq' | 'ne' | 'sw' | 'ew' | 'co';
const OPERATORS: readonly Operator[] = ['eq', 'ne', 'sw', 'ew', 'co'];

export type FilterNode =
  | { kind: 'cmp'; attr: string; op: Operator; value: string | boolean | null }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode };

type Token = { t: 'word'; v: string } | { t: 'str'; v: string } | { t: '(' } | { t: ')' };

const MAX_FILTER = 1024;

function filterError(message: string, innerError?: Record<string, unknown>) {
  return invalidData({ code: 'INVALID_FILTER', target: 'filter', message, ...(innerError ? { innerError } : {}) });
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') { i++; continue; }
    if (c === '(' || c === ')') { out.push({ t: c }); i++; continue; }
    if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw filterError('an unterminated string in the filter');
        const d = text[i]!;
        if (d === '\\') {
          const n = text[i + 1];
          if (n === undefined) throw filterError('an unterminated string in the filter');
          v += n;
          i += 2;
          continue;
        }
        if (d === '"') { i++; break; }
        v += d;
        i++;
      }
      out.push({ t: 'str', v });
      continue;
    }
    const m = /^[A-Za-z0-9_.$:-]+/.exec(text.slice(i));
    if (!m) throw filterError(`unexpected character "${c}" in the filter`);
    out.push({ t: 'word', v: m[0] });
    i += m[0].length;
  }
  return out;
}

export function parseFilter(text: string, attributes: readonly string[]): FilterNode {
  if (text.length > MAX_FILTER) throw filterError(`the filter is longer than ${MAX_FILTER} characters`);
  const tokens = tokenize(text);
  let pos = 0;
  let depth = 0;
  const peekWord = (w: string) => {
    const t = tokens[pos];
    return t?.t === 'word' && t.v.toLowerCase() === w;
  };

  const expr = (): FilterNode => {
    let left = term();
    while (peekWord('or')) { pos++; left = { kind: 'or', left, right: term() }; }
    return left;
  };
  const term = (): FilterNode => {
    let left = factor();
    while (peekWord('and')) { pos++; left = { kind: 'and', left, right: factor() }; }
    return left;
  };
  const factor = (): FilterNode => {
    const t = tokens[pos];
    if (!t) throw filterError('the filter ends too early');
    if (t.t === '(') {
      if (++depth > 16) throw filterError('the filter nests too deeply');
      pos++;
      const inner = expr();
      if (tokens[pos]?.t !== ')') throw filterError('a parenthesis in the filter is not closed');
      pos++;
      depth--;
      return inner;
    }
    if (t.t !== 'word') throw filterError('the filter expects an attribute name');
    const attr = attributes.find((a) => a.toLowerCase() === t.v.toLowerCase());
    if (!attr) throw filterError(`the filter cannot use the attribute "${t.v.slice(0, 64)}"`, { supportedAttributes: [...attributes] });
    pos++;
    const opTok = tokens[pos];
    const op = opTok?.t === 'word' ? (opTok.v.toLowerCase() as Operator) : undefined;
    if (!op || !OPERATORS.includes(op)) throw filterError('the filter uses an unsupported operator', { supportedOperators: [...OPERATORS] });
    pos++;
    const valTok = tokens[pos];
    let value: string | boolean | null;
    if (valTok?.t === 'str') value = valTok.v;
    else if (valTok?.t === 'word' && ['true', 'false', 'null'].includes(valTok.v.toLowerCase())) {
      const w = valTok.v.toLowerCase();
      value = w === 'null' ? null : w === 'true';
    } else throw filterError('the filter expects a quoted value after the operator');
    if (typeof value !== 'string' && op !== 'eq' && op !== 'ne') throw filterError(`the ${op} operator needs a quoted string`);
    pos++;
    return { kind: 'cmp', attr, op, value };
  };

  const tree = expr();
  if (pos !== tokens.length) throw filterError('the filter has unexpected text after a complete expression');
  return tree;
}

/** How each filterable attribute maps onto a column; `boolean` columns hold 0/1. */
export type ColumnMap = Record<string, { column: string; kind?: 'text' | 'boolean' }>;

const escapeLike = (v: string) => v.replace(/[\\%_]/g, (c) => '\\' + c);

/**
 * A boolean attribute is only equal or not equal to `true` or `false` (RFC 7644 §3.4.2.2:
 * `sw`, `ew`, `co` and the ordering operators compare strings, dates and numbers). Anything
 * else — `enabled sw "t"`, `enabled eq "yes"` — is 400 INVALID_FILTER rather than a guess.
 */
function checkBooleanComparisons(node: FilterNode, columns: ColumnMap): void {
  if (node.kind !== 'cmp') {
    checkBooleanComparisons(node.left, columns);
    checkBooleanComparisons(node.right, columns);
    return;
  }
  if (columns[node.attr]?.kind !== 'boolean') return;
  if (node.op !== 'eq' && node.op !== 'ne') {
    throw filterError(`the ${node.attr} attribute is a boolean: it takes eq or ne`, { supportedOperators: ['eq', 'ne'] });
  }
  const v = typeof node.value === 'string' ? node.value.toLowerCase() : node.value;
  if (v !== true && v !== false && v !== 'true' && v !== 'false' && v !== null) {
    throw filterError(`the ${node.attr} attribute is a boolean: it is compared with true or false`);
  }
}

/** Checks the tree against the columns at once (a bad filter is refused before any query), then builds it. */
export function compileFilter<DB, TB extends keyof DB>(node: FilterNode, columns: ColumnMap) {
  checkBooleanComparisons(node, columns);
  return (eb: ExpressionBuilder<DB, TB>): Expression<SqlBool> => {
    const walk = (n: FilterNode): Expression<SqlBool> => {
      if (n.kind !== 'cmp') return n.kind === 'and' ? eb.and([walk(n.left), walk(n.right)]) : eb.or([walk(n.left), walk(n.right)]);
      const spec = columns[n.attr]!;
      const col = sql.ref(spec.column);
      if (n.value === null) return n.op === 'eq' ? sql<SqlBool>`${col} is null` : sql<SqlBool>`${col} is not null`;
      if (typeof n.value === 'boolean') {
        const v = n.value ? 1 : 0;
        return n.op === 'eq' ? sql<SqlBool>`${col} = ${v}` : sql<SqlBool>`${col} <> ${v}`;
      }
      if (spec.kind === 'boolean') {
        const v = n.value.toLowerCase() === 'true' ? 1 : 0;
        return n.op === 'eq' ? sql<SqlBool>`${col} = ${v}` : sql<SqlBool>`${col} <> ${v}`;
      }
      const v = n.value.toLowerCase();
      switch (n.op) {
        case 'eq': return sql<SqlBool>`lower(${col}) = ${v}`;
        case 'ne': return sql<SqlBool>`(${col} is null or lower(${col}) <> ${v})`;
        case 'sw': return sql<SqlBool>`lower(${col}) like ${escapeLike(v) + '%'} escape '\\'`;
        case 'ew': return sql<SqlBool>`lower(${col}) like ${'%' + escapeLike(v)} escape '\\'`;
        case 'co': return sql<SqlBool>`lower(${col}) like ${'%' + escapeLike(v) + '%'} escape '\\'`;
        default: throw new Error('unreachable');
      }
    };
    return walk(node);
  };
}

/** Evaluates a filter over an in-memory record (a user's devices: at most 15, already loaded). */
export function matchesFilter(node: FilterNode, record: Record<string, string | boolean | null | undefined>): boolean {
  if (node.kind !== 'cmp') {
    return node.kind === 'and' ? matchesFilter(node.left, record) && matchesFilter(node.right, record) : matchesFilter(node.left, record) || matchesFilter(node.right, record);
  }
  const actual = record[node.attr] ?? null;
  if (node.value === null) return node.op === 'eq' ? actual === null : actual !== null;
  const a = typeof actual === 'string' ? actual.toLowerCase() : String(actual);
  const v = typeof node.value === 'string' ? node.value.toLowerCase() : String(node.value);
  switch (node.op) {
    case 'eq': return a === v;
    case 'ne': return a !== v;
    case 'sw': return a.startsWith(v);
    case 'ew': return a.endsWith(v);
    case 'co': return a.includes(v);
    default: return false;
  }
}
