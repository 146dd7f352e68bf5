/**
 * What leaves the app: before a span reaches the store it is copied with
 * sensitive values removed (SQL literals, query-string values, credentials in
 * headers) and then passed through the user's redaction hook. The SDK's own
 * span objects are never changed: other processors may still hold them.
 */
import type { Attributes, Link, AttributeValue as OtelAttributeValue } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace';
import { sanitizeSql } from './sql.js';

/** An attribute value as the OpenTelemetry API defines it. */
export type SpanAttributeValue = OtelAttributeValue;

/**
 * A redaction hook: receives every attribute of a span (and of its events and
 * links), and the span's status message under the key `otel.status_description`
 * ({@link STATUS_MESSAGE_KEY}), and returns the value to store, or `undefined`
 * to drop it.
 * The span is passed read-only, for decisions that depend on it (its name,
 * kind or instrumentation scope).
 */
export type RedactFunction = (
  key: string,
  value: SpanAttributeValue,
  span: ReadableSpan,
) => SpanAttributeValue | undefined;

/** How spans are cleaned before they are stored. */
export interface RedactionOptions {
  /** Keep SQL literals and query-string values as recorded (default false). */
  readonly recordQueryParameters?: boolean;
  /** Applied after the built-in cleaning, to every attribute. */
  readonly redact?: RedactFunction;
}

// Header attributes carry credentials whatever else is configured; their
// names follow OpenTelemetry's `http.request.header.<name>` convention.
const credentialHeaders = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

const requestHeaderPrefix = 'http.request.header.';
const responseHeaderPrefix = 'http.response.header.';

function isCredentialHeader(key: string): boolean {
  // Prefix tests first: this runs for every attribute of every span, and
  // nearly none of them is a header.
  const prefix = key.startsWith(requestHeaderPrefix)
    ? requestHeaderPrefix.length
    : key.startsWith(responseHeaderPrefix)
      ? responseHeaderPrefix.length
      : -1;
  if (prefix < 0 || key.length === prefix) return false;
  return credentialHeaders.has(key.slice(prefix).toLowerCase().replace(/_/g, '-'));
}

const sqlTextKeys = new Set(['db.query.text', 'db.statement']);
const urlKeys = new Set(['url.full', 'http.url', 'http.target']);
const parameterKeyPrefixes = ['db.query.parameter.', 'db.operation.parameter.'];

function isParameterKey(key: string): boolean {
  return key.startsWith('db.') && parameterKeyPrefixes.some((prefix) => key.startsWith(prefix));
}

// SQL statements are rewritten only for SQL systems: a Redis command or a
// MongoDB filter has other syntax, and its instrumentation shapes it already.
const sqlSystems = new Set([
  'postgresql',
  'mysql',
  'mariadb',
  'sqlite',
  'mssql',
  'microsoft.sql_server',
  'oracle',
  'oracle.db',
  'db2',
  'ibm.db2',
  'cockroachdb',
  'h2',
  'other_sql',
]);

function dbSystemOf(attributes: Attributes): string | undefined {
  const system = attributes['db.system.name'] ?? attributes['db.system'];
  return typeof system === 'string' ? system : undefined;
}

/**
 * Replaces the values in a URL's query string with `?`, keeping the names:
 * `/search?q=secret&page=2` becomes `/search?q=?&page=?`.
 *
 * @example
 * ```ts
 * stripQueryValues('http://api/x?token=abc'); // "http://api/x?token=?"
 * ```
 */
export function stripQueryValues(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const hashStart = url.indexOf('#', queryStart);
  const query = url.slice(queryStart + 1, hashStart < 0 ? undefined : hashStart);
  const stripped = query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      return equals < 0 ? pair : `${pair.slice(0, equals)}=?`;
    })
    .join('&');
  // The fragment never reaches a server but may hold a token in a client URL.
  return `${url.slice(0, queryStart)}?${stripped}`;
}

// Redis commands that run a script or function: what follows the script (or
// its SHA, or the function's name), the number of keys and the keys are the
// script's arguments, which are data.
const scriptCommands = new Set(['EVAL', 'EVAL_RO', 'EVALSHA', 'EVALSHA_RO', 'FCALL', 'FCALL_RO']);
const redisSystems = new Set(['redis', 'valkey']);

/**
 * A Redis statement without a script's arguments: `EVALSHA <sha> 2 k1 k2 a b`
 * becomes `EVALSHA <sha> 2 k1 k2 [2 other arguments]`. An `EVAL` carries the
 * script's source first, which may hold spaces, so there the arguments cannot
 * be told apart and all that follows the command is dropped.
 */
export function stripScriptArguments(statement: string): string {
  const words = statement.trim().split(/\s+/);
  const command = (words[0] ?? '').toUpperCase();
  if (!scriptCommands.has(command)) return statement;
  if (command === 'EVAL' || command === 'EVAL_RO')
    return words.length > 1 ? `${words[0]} [script and arguments]` : statement;
  const numKeys = Number(words[2]);
  // Command, SHA or function name, key count, keys.
  const kept =
    Number.isInteger(numKeys) && numKeys >= 0 ? Math.min(words.length, 3 + numKeys) : Math.min(words.length, 2);
  const dropped = words.length - kept;
  return dropped > 0
    ? `${words.slice(0, kept).join(' ')} [${dropped} other argument${dropped === 1 ? '' : 's'}]`
    : statement;
}

/** The SQL dialect options of a span's database system, or undefined when it is not SQL. */
function sqlDialect(attributes: Attributes): { doubleQuotedStrings: boolean } | undefined {
  const system = dbSystemOf(attributes);
  if (system !== undefined && !sqlSystems.has(system)) return undefined;
  return { doubleQuotedStrings: system === 'mysql' || system === 'mariadb' };
}

/**
 * An error text of a database span with the literals it quotes replaced, by
 * the same rules as statements: `Duplicate entry 'a@b.c' for key 'email'`
 * becomes `Duplicate entry ? for key ?`. Texts of other spans are returned
 * as they are.
 */
function cleanDbErrorText(text: string, attributes: Attributes, options: RedactionOptions): string {
  if (options.recordQueryParameters) return text;
  if (dbSystemOf(attributes) === undefined) return text;
  const dialect = sqlDialect(attributes);
  if (dialect === undefined) return text;
  // An error text is prose, not SQL: an apostrophe inside a word ("doesn't")
  // opens no literal. Quoted values and numbers are replaced; in standard SQL
  // double quotes name identifiers ("relation "users" does not exist") and stay.
  return text
    .replace(dialect.doubleQuotedStrings ? QUOTED_IN_MYSQL_PROSE : QUOTED_IN_PROSE, '?')
    .replace(NUMBER_IN_PROSE, '?');
}

// A quote that starts a value (not after a letter or digit) up to the quote that ends it (not before one).
const QUOTED_IN_PROSE = /(?<![\w])'(?:[^']|'')*'(?![\w])/g;
const QUOTED_IN_MYSQL_PROSE = /(?<![\w])(?:'(?:[^'\\]|''|\\.)*'|"(?:[^"\\]|""|\\.)*")(?![\w])/g;
const NUMBER_IN_PROSE = /(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])/g;

/** The key under which the redaction hook sees a span's status message (Jaeger's and Zipkin's tag for it). */
export const STATUS_MESSAGE_KEY = 'otel.status_description';

function cleanValue(
  key: string,
  value: SpanAttributeValue,
  attributes: Attributes,
  options: RedactionOptions,
): SpanAttributeValue | undefined {
  if (isCredentialHeader(key)) return undefined;
  if (options.recordQueryParameters) return value;
  if (isParameterKey(key)) return undefined;
  if (typeof value !== 'string') return value;
  if (sqlTextKeys.has(key)) {
    const system = dbSystemOf(attributes);
    if (system !== undefined && redisSystems.has(system)) return stripScriptArguments(value);
    const dialect = sqlDialect(attributes);
    return dialect === undefined ? value : sanitizeSql(value, dialect);
  }
  // Without a `?` there is no query string, and the value stays as it is.
  if (urlKeys.has(key)) return value.includes('?') ? stripQueryValues(value) : value;
  if (key === 'url.query') return stripQueryValues(`?${value}`).slice(1);
  return value;
}

/**
 * An exception event's attributes with the error text cleaned like a status
 * message: the message itself, and where the stack trace repeats it, there.
 */
function cleanExceptionAttributes(attributes: Attributes, context: Attributes, options: RedactionOptions): Attributes {
  const message = attributes['exception.message'];
  if (typeof message !== 'string') return attributes;
  const cleaned = cleanDbErrorText(message, context, options);
  if (cleaned === message) return attributes;
  const stack = attributes['exception.stacktrace'];
  return {
    ...attributes,
    'exception.message': cleaned,
    ...(typeof stack === 'string' ? { 'exception.stacktrace': stack.split(message).join(cleaned) } : {}),
  };
}

/** Whether the built-in rules would change or drop any of these attributes. */
function needsCleaning(attributes: Attributes, context: Attributes, options: RedactionOptions): boolean {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) return true;
    // Strings compare by content: a statement without literals sanitizes to
    // an equal string, and the span can then be passed on as it is.
    if (cleanValue(key, value, context, options) !== value) return true;
  }
  return false;
}

/**
 * Whether {@link redactSpan} would return anything other than an equal copy:
 * with no hook, most spans (placeholders in SQL, URLs without a query
 * string, no credential headers) have nothing to remove.
 */
function spanNeedsRedaction(span: ReadableSpan, options: RedactionOptions): boolean {
  if (options.redact !== undefined) return true;
  const context = span.attributes;
  if (needsCleaning(context, context, options)) return true;
  const message = span.status.message;
  if (message !== undefined && cleanDbErrorText(message, context, options) !== message) return true;
  for (const event of span.events) {
    if (event.attributes === undefined) continue;
    if (cleanExceptionAttributes(event.attributes, context, options) !== event.attributes) return true;
    if (needsCleaning(event.attributes, context, options)) return true;
  }
  for (const link of span.links) {
    if (link.attributes !== undefined && needsCleaning(link.attributes, context, options)) return true;
  }
  return false;
}

function cleanAttributes(
  attributes: Attributes,
  context: Attributes,
  span: ReadableSpan,
  options: RedactionOptions,
): Attributes {
  const out: Attributes = {};
  for (const [key, raw] of Object.entries(attributes)) {
    if (raw === undefined) continue;
    let value = cleanValue(key, raw, context, options);
    if (value !== undefined && options.redact !== undefined) value = options.redact(key, value, span);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * A cleaned, independent copy of a finished span: attributes, event and link
 * attributes pass through the built-in rules and the redaction hook. The
 * original span is left exactly as it was.
 *
 * @example
 * ```ts
 * const safe = redactSpan(span, { redact: (key, value) => (key === 'enduser.id' ? undefined : value) });
 * ```
 */
export function redactSpan(span: ReadableSpan, options: RedactionOptions = {}): ReadableSpan {
  const attributes = cleanAttributes(span.attributes, span.attributes, span, options);
  const events: TimedEvent[] = span.events.map((event) => {
    const copy: TimedEvent = { name: event.name, time: event.time };
    if (event.attributes !== undefined) {
      const exception = cleanExceptionAttributes(event.attributes, span.attributes, options);
      copy.attributes = cleanAttributes(exception, span.attributes, span, options);
    }
    if (event.droppedAttributesCount !== undefined) copy.droppedAttributesCount = event.droppedAttributesCount;
    return copy;
  });
  const links: Link[] = span.links.map((link) => {
    const copy: Link = { context: link.context };
    if (link.attributes !== undefined)
      copy.attributes = cleanAttributes(link.attributes, span.attributes, span, options);
    if (link.droppedAttributesCount !== undefined) copy.droppedAttributesCount = link.droppedAttributesCount;
    return copy;
  });
  const context = span.spanContext();
  let status = span.status;
  if (status.message !== undefined) {
    // The status message is data too (a database's error quotes the values it
    // refused): the same rules apply, and the hook sees it under its tag name.
    let message: SpanAttributeValue | undefined = cleanDbErrorText(status.message, span.attributes, options);
    if (options.redact !== undefined) message = options.redact(STATUS_MESSAGE_KEY, message, span);
    const text = message === undefined ? undefined : String(message);
    if (text !== status.message)
      status = text === undefined ? { code: status.code } : { code: status.code, message: text };
  }
  // A plain object rather than a clone of the SDK's class: the SDK's Span has
  // live behaviour (end(), setAttribute()) that a copy must not carry.
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => context,
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status,
    attributes,
    links,
    events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/**
 * A SpanExporter that hands a redacted copy of each span (see
 * {@link redactSpan}) to another exporter, or the span itself when the
 * built-in rules would change nothing in it and no redaction hook is set. The
 * exporter it wraps must therefore only read the spans, as exporters do. It
 * keeps the exporter contract:
 * it never throws, and a failure of the cleaning is reported as a failed
 * export rather than letting raw data through.
 *
 * @example
 * ```ts
 * const exporter = new RedactingSpanExporter(new SqliteSpanExporter({ path }), { recordQueryParameters: false });
 * ```
 */
export class RedactingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #options: RedactionOptions;

  constructor(inner: SpanExporter, options: RedactionOptions = {}) {
    this.#inner = inner;
    this.#options = options;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    let cleaned: ReadableSpan[];
    try {
      // A span with nothing to remove goes on as it is: the exporter after
      // this one only reads spans, and a copy of every span per export was
      // garbage the app's thread had to collect.
      cleaned = spans.map((span) => (spanNeedsRedaction(span, this.#options) ? redactSpan(span, this.#options) : span));
    } catch (error) {
      resultCallback({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
      return;
    }
    this.#inner.export(cleaned, resultCallback);
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
