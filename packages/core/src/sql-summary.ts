/**
 * The SQL summarizer: `operation main-table` for a query text, the way
 * `db.query.summary` names a query in recent semantic conventions, and the
 * parts it is made of (operation, table, DDL object), which the Node.js
 * instrumentation records as `db.operation.name` and `db.collection.name`.
 * One reader for both, so the label and the recorded attributes agree.
 */

/** Entries kept by the memo of this module before it starts over. */
const MEMO_LIMIT = 2000;

const SQL_KEYWORDS =
  /^(select|insert|update|delete|merge|upsert|replace|with|create|drop|alter|truncate|call|exec|execute|begin|commit|rollback|savepoint|release|set|show|explain|copy|grant|revoke|vacuum|analyze|lock|prepare|deallocate|listen|notify|pragma|attach|detach|reindex|values|use|describe|desc)$/i;

// A possibly schema-qualified, possibly quoted identifier: "public"."comments", `shop`.carts, [dbo].[x].
const IDENT = String.raw`((?:[\`"\[]?[\w$]+[\`"\]]?\.)*[\`"\[]?[\w$]+[\`"\]]?)`;
const FROM_TABLE = new RegExp(String.raw`\bfrom\s+${IDENT}`, 'i');
const INTO_TABLE = new RegExp(String.raw`\binto\s+${IDENT}`, 'i');
// PostgreSQL's UPDATE ONLY, SQLite's UPDATE OR REPLACE (or ABORT, FAIL, IGNORE, ROLLBACK).
const UPDATE_TABLE = new RegExp(String.raw`^update\s+(?:only\s+|or\s+\w+\s+)?${IDENT}`, 'i');
// An index is created on a table: the table is the statement's collection.
const ON_TABLE = new RegExp(String.raw`\bon\s+${IDENT}`, 'i');
const DDL = new RegExp(
  String.raw`^(create|drop|alter|truncate)\s+(?:or\s+replace\s+)?(?:unique\s+)?(?:temporary\s+|temp\s+)?(table|index|view|schema|database|sequence|type|function|trigger)?\s*(?:if\s+(?:not\s+)?exists\s+)?${IDENT}?`,
  'i',
);

/** What a SQL statement does, read from its text (see {@link parseQuery}). */
export interface QueryParts {
  /** The operation keyword in upper case (`SELECT`); for a `WITH` query, its main statement's. */
  readonly operation: string;
  /**
   * The table the statement works on, unquoted, with its schema or database
   * prefix as written (`public.comments`), as `db.collection.name` wants it;
   * for `CREATE INDEX … ON t`, the table `t`.
   */
  readonly collection?: string;
  /** For DDL: the kind of object (`TABLE`, `INDEX`, …) and its name, unquoted, without prefix. */
  readonly object?: string;
  readonly objectName?: string;
}

/**
 * Reads a SQL statement's operation, table and DDL object, ignoring comments
 * and a leading parenthesis, and looking through a `WITH` clause to the
 * main statement; `undefined` when the text does not start with a SQL
 * keyword (a Redis command, a MongoDB document, empty text).
 *
 * @example
 * ```ts
 * parseQuery('UPDATE OR REPLACE "main"."counters" SET n = n + 1');
 * // { operation: 'UPDATE', collection: 'main.counters' }
 * ```
 */
export function parseQuery(text: string): QueryParts | undefined {
  const known = parsed.get(text);
  if (known !== undefined || parsed.has(text)) return known;
  const parts = parseUncached(normalizeSql(text));
  if (text.length <= MAX_MEMO_TEXT) {
    if (parsed.size >= MEMO_LIMIT) parsed.clear();
    parsed.set(text, parts);
  }
  return parts;
}

const parsed = new Map<string, QueryParts | undefined>();

/**
 * Summarises a query as "operation main-table" (`SELECT comments`,
 * `INSERT orders`), the way `db.query.summary` does in recent conventions.
 * Falls back to the first keyword, or `undefined` if the text is not a query.
 *
 * @example
 * ```ts
 * summarizeQuery('SELECT * FROM "public"."comments" WHERE article_id = $1'); // 'SELECT comments'
 * ```
 */
export function summarizeQuery(text: string): string | undefined {
  // Applications send the same parameterised statements over and over: the
  // regular expressions run once per distinct text, not once per span.
  const known = summaries.get(text);
  if (known !== undefined || summaries.has(text)) return known;
  const summary = summaryOf(parseQuery(text));
  if (text.length <= MAX_MEMO_TEXT) {
    if (summaries.size >= MEMO_LIMIT) summaries.clear();
    summaries.set(text, summary);
  }
  return summary;
}

const summaries = new Map<string, string | undefined>();
/** Longer statements (bulk inserts with inlined values) are rarely repeated and would only bloat the memo. */
const MAX_MEMO_TEXT = 2000;

function summaryOf(parts: QueryParts | undefined): string | undefined {
  if (parts === undefined) return undefined;
  const { operation, collection, object, objectName } = parts;
  if (DDL_OPERATIONS.has(operation)) return [operation, object, objectName].filter((p) => p !== undefined).join(' ');
  return collection !== undefined ? `${operation} ${lastPart(collection)}` : operation;
}

const DDL_OPERATIONS: ReadonlySet<string> = new Set(['CREATE', 'DROP', 'ALTER', 'TRUNCATE']);

function normalizeSql(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function parseUncached(sql: string): QueryParts | undefined {
  const first = /^\(?\s*([A-Za-z]+)/.exec(sql)?.[1];
  if (first === undefined || !SQL_KEYWORDS.test(first)) return undefined;
  const op = first.toUpperCase();
  if (op === 'WITH') {
    const main = mainStatementAfterCte(sql);
    return (main !== undefined ? parseUncached(main) : undefined) ?? { operation: 'WITH' };
  }
  let table: string | undefined;
  if (op === 'SELECT' || op === 'DELETE') table = FROM_TABLE.exec(sql)?.[1];
  else if (op === 'INSERT' || op === 'REPLACE' || op === 'UPSERT' || op === 'MERGE') table = INTO_TABLE.exec(sql)?.[1];
  else if (op === 'UPDATE') table = UPDATE_TABLE.exec(sql)?.[1];
  else if (DDL_OPERATIONS.has(op)) {
    const m = DDL.exec(sql);
    const object = m?.[2]?.toUpperCase();
    const name = m?.[3] !== undefined ? unquoteAll(m[3]) : undefined;
    const on = object === 'INDEX' || object === 'TRIGGER' ? ON_TABLE.exec(sql)?.[1] : undefined;
    const collection =
      on !== undefined
        ? unquoteAll(on)
        : object === undefined || object === 'TABLE' || object === 'VIEW'
          ? name
          : undefined;
    return {
      operation: op,
      ...(collection !== undefined ? { collection } : {}),
      ...(object !== undefined ? { object } : {}),
      ...(name !== undefined ? { objectName: lastPart(name) } : {}),
    };
  }
  return table !== undefined && !/^select$/i.test(table)
    ? { operation: op, collection: unquoteAll(table) }
    : { operation: op };
}

/** An identifier with every part unquoted, the prefix kept: `"public"."comments"` → `public.comments`. */
function unquoteAll(identifier: string): string {
  return identifier
    .split('.')
    .map((part) => part.replace(/^[`"[]|[`"\]]$/g, ''))
    .join('.');
}

function lastPart(identifier: string): string {
  return identifier.split('.').pop() ?? identifier;
}

function mainStatementAfterCte(sql: string): string | undefined {
  // Skip "WITH name AS (...) [, name AS (...)]" by tracking parenthesis depth.
  let depth = 0;
  for (let i = 4; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0) {
      const rest = sql.slice(i);
      if (/^\s*(select|insert|update|delete|merge)\b/i.test(rest) && /\)\s*$/.test(sql.slice(0, i))) {
        return rest.trim();
      }
    }
  }
  return undefined;
}
