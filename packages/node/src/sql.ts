/**
 * SQL text helpers: literal stripping (so recorded queries carry their shape,
 * never their data), and the operation / table a statement works on, which
 * name a database span the way OpenTelemetry's database conventions ask.
 */

import { parseQuery } from '@lifeline/core';

/** Options for {@link sanitizeSql}. */
export interface SanitizeSqlOptions {
  /**
   * MySQL and MariaDB rules: `"…"` is a string literal, and a backslash
   * escapes the next character in quoted text. In standard SQL (PostgreSQL,
   * SQLite) double quotes delimit identifiers, which are part of the query's
   * shape and are kept, and a backslash is an ordinary character.
   */
  readonly doubleQuotedStrings?: boolean;
}

// One alternation, tried left to right at each position, so a quote inside a
// comment (which is then removed) or a digit inside an identifier is consumed by the right branch
// before a literal branch could misread it. Two dialects: in MySQL and MariaDB
// a backslash escapes the next character in any quoted text; in standard SQL
// (PostgreSQL, SQLite) it is an ordinary character except in PostgreSQL's
// E'...' strings, so 'C:\' ends at its second quote there.
function tokenPattern(backslashEscapes: boolean): RegExp {
  const strings = backslashEscapes
    ? [
        String.raw`(?:\b[EeBbXxNn])?'(?:[^'\\]|''|\\[\s\S])*'`, // string literal, also E'', X'', N''
        String.raw`"(?:[^"\\]|""|\\[\s\S])*"`, // a string in MySQL
      ]
    : [
        String.raw`\b[Ee]'(?:[^'\\]|''|\\[\s\S])*'`, // PostgreSQL escape string
        String.raw`(?:\b[BbXxNn])?'(?:[^']|'')*'`, // string literal, also X'', N''
        String.raw`"(?:[^"]|"")*"`, // quoted identifier
      ];
  return new RegExp(
    [
      String.raw`--[^\n]*`, // line comment
      String.raw`/\*[\s\S]*?\*/`, // block comment
      String.raw`(?<dollar>\$(?<tag>[A-Za-z_][A-Za-z_0-9]*)?\$)[\s\S]*?\k<dollar>`, // PostgreSQL dollar quoting
      ...strings,
      `['"]`, // a quote no branch above could close: the text is not what this dialect expects
      String.raw`\x60(?:[^\x60]|\x60\x60)*\x60`, // MySQL back-quoted identifier
      String.raw`\$\d+|\?|:[A-Za-z_][A-Za-z_0-9]*|@[A-Za-z_][A-Za-z_0-9]*`, // placeholders stay as they are
      '[A-Za-z_][A-Za-z_0-9$]*', // keyword or identifier (t1 keeps its digit)
      String.raw`0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?`, // numeric literal
    ].join('|'),
    'g',
  );
}
const standardTokens = tokenPattern(false);
const mysqlTokens = tokenPattern(true);

/**
 * Replaces every literal in a SQL statement (strings, numbers, hex and
 * dollar-quoted bodies) with `?` and removes comments (they may carry data:
 * an ORM's tags, a user id, a pasted value), keeping keywords, identifiers
 * and placeholders, so the recorded text shows what was asked but not the
 * data. A block comment leaves one space, so the words around it stay apart.
 *
 * @example
 * ```ts
 * sanitizeSql("SELECT * FROM users WHERE email = 'a@b.c' AND age > 30 -- by alice");
 * // "SELECT * FROM users WHERE email = ? AND age > ? "
 * ```
 */
export function sanitizeSql(sql: string, options: SanitizeSqlOptions = {}): string {
  const doubleQuotedStrings = options.doubleQuotedStrings === true;
  const cache = doubleQuotedStrings ? sanitizedDoubleQuoted : sanitizedStandard;
  const known = cache.get(sql);
  if (known !== undefined) return known;
  const sanitized = sanitizeUncached(sql, doubleQuotedStrings);
  // Apps send the same few statements over and over (placeholders, not
  // literals), so remembering them spares a regular-expression pass per
  // span. Long texts are rare repeats and would crowd the map.
  if (sql.length <= maxCachedSqlLength) {
    if (cache.size >= maxCachedStatements) {
      // Oldest first: Map keeps insertion order.
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(sql, sanitized);
  }
  return sanitized;
}

/** Statements remembered per dialect: enough for an app's repertoire, bounded so that texts with inlined literals cannot grow it. */
const maxCachedStatements = 512;
/** Longer statements are sanitized every time rather than remembered. */
const maxCachedSqlLength = 2048;
const sanitizedStandard = new Map<string, string>();
const sanitizedDoubleQuoted = new Map<string, string>();

/**
 * Literals replaced; an unclosed quote means the statement does not follow
 * the dialect (a backslash-escaped quote in PostgreSQL with
 * standard_conforming_strings off, a span without `db.system`, invalid SQL):
 * the other dialect is tried, and failing that everything from the first
 * unclosed quote on is replaced, since it may be the rest of a literal.
 */
function sanitizeUncached(sql: string, doubleQuotedStrings: boolean): string {
  const first = sanitizeDialect(sql, doubleQuotedStrings);
  if (first.unclosedAt === undefined) return first.text;
  const other = sanitizeDialect(sql, !doubleQuotedStrings);
  if (other.unclosedAt === undefined) return other.text;
  return `${sanitizeDialect(sql.slice(0, first.unclosedAt), doubleQuotedStrings).text}?`;
}

function sanitizeDialect(sql: string, doubleQuotedStrings: boolean): { text: string; unclosedAt?: number } {
  let unclosedAt: number | undefined;
  const text = sql.replace(doubleQuotedStrings ? mysqlTokens : standardTokens, (token: string, ...rest: unknown[]) => {
    if (token.length === 1 && (token === "'" || token === '"')) {
      // After the capture groups come the offset, the whole text and the named groups.
      unclosedAt ??= rest[rest.length - 3] as number;
      return token;
    }
    const first = token.charAt(0);
    if (first === '-') return '';
    if (first === '/') return ' ';
    if (first === '`') return token;
    if (first === '"') return doubleQuotedStrings ? '?' : token;
    if (first === "'") return '?';
    if (first === '$') return /^\$\d+$/.test(token) ? token : '?';
    if (first === '?' || first === ':' || first === '@') return token;
    if (/^[0-9.]/.test(token)) return '?';
    // A one-letter prefix glued to a quote (E'...', X'...') is part of the literal.
    if (/^[EeBbXxNn]'/.test(token)) return '?';
    return token;
  });
  return unclosedAt === undefined ? { text } : { text, unclosedAt };
}

/**
 * The statement's operation keyword in upper case (`SELECT`, `INSERT`, ...;
 * for a `WITH` query, its main statement's), or `undefined` for text that is
 * not SQL. Read by the core's `parseQuery`, the reader behind diagram labels.
 *
 * @example
 * ```ts
 * sqlOperation('  select 1'); // "SELECT"
 * ```
 */
export function sqlOperation(sql: string): string | undefined {
  return parseQuery(sql)?.operation;
}

/**
 * The table a statement works on (`FROM x`, `INTO x`, `UPDATE x`,
 * `CREATE TABLE x`, the table of `CREATE INDEX … ON x`), unquoted, with its
 * schema prefix as written; `undefined` when there is none. Read by the
 * core's `parseQuery`.
 *
 * @example
 * ```ts
 * sqlCollection('SELECT id FROM "articles" WHERE id = $1'); // "articles"
 * ```
 */
export function sqlCollection(sql: string): string | undefined {
  return parseQuery(sql)?.collection;
}
