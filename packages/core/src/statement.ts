/**
 * "The same call again": what a call asked for, normalised so that calls that
 * differ only by their values compare equal. Loops and the N+1 flag compare
 * these statements; the short label (`SELECT authors`) is only for display, as
 * three different queries on one table share it.
 */
import type { SpanClass } from './classify.js';

/**
 * The statement a call sends, as a key for "the same call again":
 * - database calls: the query text (`db.query.text`, or `db.statement` of older
 *   conventions) with its literals and bind parameters replaced by `?` and its
 *   comments and whitespace folded ({@link normalizeSql}); without a query text,
 *   the label (`db.query.summary`, or operation and collection);
 * - cache calls: the command and key pattern (`GET article:*`, see
 *   `normalizeCacheKey`), which is the label;
 * - HTTP and RPC calls: the method and route template (of the server that
 *   answered) or normalised path, or the service and method: the label;
 * - queue calls: operation and destination: the label.
 * The target participant is compared apart, so it is not part of the key.
 *
 * @param label the call's label as drawn (for a merged HTTP call, the server's route)
 * @example
 * ```ts
 * repeatStatement(classifySpan(span), 'SELECT authors'); // 'SELECT * FROM authors WHERE id=?'
 * ```
 */
export function repeatStatement(cls: SpanClass, label: string): string {
  if (cls.category !== 'db' || cls.queryText === undefined) return label;
  // A class is made once per span (spans are immutable): the key is computed once, and kept on it.
  let key = cls.statementKey;
  if (key === undefined) {
    key = normalizeSql(cls.queryText);
    cls.statementKey = key;
  }
  return key;
}

// One pass over the text, longest alternatives first: comments, quoted
// literals, quoted identifiers, dollar-quoted bodies, bind parameters,
// numbers, whitespace. Everything else is kept as written.
const SQL_TOKENS =
  /\/\*[\s\S]*?(?:\*\/|$)|--[^\n]*|'(?:[^'\\]|''|\\[\s\S])*'?|"(?:[^"]|"")*"?|`[^`]*`?|\$([A-Za-z_]\w*)?\$[\s\S]*?\$\1\$|\$\d+|(?<![:\w])[:@][A-Za-z_]\w*|\?|\b0x[0-9a-f]+\b|(?<![\w$.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b|\s+/gi;

/**
 * Normalises a query so that statements differing only by values compare
 * equal: string, numeric and hex literals and bind parameters (`$1`, `?`,
 * `:name`, `@name`) become `?`, a list of them (`IN (1, 2, 3)`) becomes one
 * `?`, comments go (sqlcommenter's trace comments differ on every call), runs
 * of whitespace become one space and none is kept around `( ) , = < >`.
 * Double-quoted and backquoted identifiers are kept. Works on MongoDB-style
 * JSON statements too (their values become `?`).
 *
 * @example
 * ```ts
 * normalizeSql("SELECT *  FROM authors WHERE id = 42 AND name = 'Ann'"); // 'SELECT * FROM authors WHERE id=? AND name=?'
 * normalizeSql('SELECT * FROM t WHERE id IN ($1, $2, $3)'); // 'SELECT * FROM t WHERE id IN(?)'
 * ```
 */
export function normalizeSql(text: string): string {
  const known = normalized.get(text);
  if (known !== undefined) return known;
  const result = text
    .replace(SQL_TOKENS, (token) => {
      const first = token[0];
      if (first === undefined) return token;
      if (/\s/.test(first)) return ' ';
      if (token.startsWith('/*') || token.startsWith('--')) return ' ';
      if (first === '"' || first === '`') return token;
      return '?';
    })
    .replace(/\?(?:\s*,\s*\?)+/g, '?')
    .replace(/\s+/g, ' ')
    .replace(/\s*([(),=<>])\s*/g, '$1')
    .trim();
  if (text.length <= MAX_MEMO_TEXT) {
    if (normalized.size >= MEMO_LIMIT) normalized.clear();
    normalized.set(text, result);
  }
  return result;
}

const normalized = new Map<string, string>();
/** Entries kept before the memo starts over; texts longer than this are rarely repeated. */
const MEMO_LIMIT = 2000;
const MAX_MEMO_TEXT = 2000;
