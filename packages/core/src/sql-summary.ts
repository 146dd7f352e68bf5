/**
 * The SQL summarizer: `operation main-table` for a query text, the way
 * `db.query.summary` names a query in recent semantic conventions.
 */

/** Entries kept by the memo of this module before it starts over. */
const MEMO_LIMIT = 2000;

const SQL_KEYWORDS =
  /^(select|insert|update|delete|merge|upsert|replace|with|create|drop|alter|truncate|call|exec|execute|begin|commit|rollback|savepoint|release|set|show|explain|copy|grant|revoke|vacuum|analyze|lock|prepare|deallocate|listen|notify)$/i;

// A possibly schema-qualified, possibly quoted identifier: "public"."comments", `shop`.carts, [dbo].[x].
const IDENT = String.raw`((?:[\`"\[]?[\w$]+[\`"\]]?\.)*[\`"\[]?[\w$]+[\`"\]]?)`;
const FROM_TABLE = new RegExp(String.raw`\bfrom\s+${IDENT}`, 'i');
const INTO_TABLE = new RegExp(String.raw`\binto\s+${IDENT}`, 'i');
const UPDATE_TABLE = new RegExp(String.raw`^update\s+(?:only\s+)?${IDENT}`, 'i');
const DDL = new RegExp(
  String.raw`^(create|drop|alter|truncate)\s+(?:or\s+replace\s+)?(?:unique\s+)?(?:temporary\s+|temp\s+)?(table|index|view|schema|database|sequence|type|function|trigger)?\s*(?:if\s+(?:not\s+)?exists\s+)?${IDENT}?`,
  'i',
);

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
  const summary = summarizeUncached(text);
  if (text.length <= MAX_MEMO_TEXT) {
    if (summaries.size >= MEMO_LIMIT) summaries.clear();
    summaries.set(text, summary);
  }
  return summary;
}

const summaries = new Map<string, string | undefined>();
/** Longer statements (bulk inserts with inlined values) are rarely repeated and would only bloat the memo. */
const MAX_MEMO_TEXT = 2000;

function summarizeUncached(text: string): string | undefined {
  const sql = text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const first = /^\(?\s*([A-Za-z]+)/.exec(sql)?.[1];
  if (first === undefined || !SQL_KEYWORDS.test(first)) return undefined;
  const op = first.toUpperCase();
  if (op === 'WITH') {
    const main = mainStatementAfterCte(sql);
    return main !== undefined ? summarizeUncached(main) : 'WITH';
  }
  let table: string | undefined;
  if (op === 'SELECT' || op === 'DELETE') table = FROM_TABLE.exec(sql)?.[1];
  else if (op === 'INSERT' || op === 'REPLACE' || op === 'UPSERT' || op === 'MERGE') table = INTO_TABLE.exec(sql)?.[1];
  else if (op === 'UPDATE') table = UPDATE_TABLE.exec(sql)?.[1];
  else if (op === 'CREATE' || op === 'DROP' || op === 'ALTER' || op === 'TRUNCATE') {
    const m = DDL.exec(sql);
    const object = m?.[2]?.toUpperCase();
    const name = m?.[3] ? unquote(m[3]) : undefined;
    return [op, object, name].filter((p) => p !== undefined).join(' ');
  }
  return table !== undefined && !/^select$/i.test(table) && table !== '(' ? `${op} ${unquote(table)}` : op;
}

function unquote(identifier: string): string {
  const last = identifier.split('.').pop() ?? identifier;
  return last.replace(/^[`"[]|[`"\]]$/g, '');
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
