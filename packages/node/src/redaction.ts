/**
 * What leaves the app: before a span reaches the store it is copied with
 * sensitive values removed (SQL literals, query-string values, credentials in
 * headers) and then passed through the user's redaction hook. The SDK's own
 * span objects are never changed: other processors may still hold them.
 */
import type { Attributes, Link, AttributeValue as OtelAttributeValue } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { sanitizeSql } from './sql.js';

/** An attribute value as the OpenTelemetry API defines it. */
export type SpanAttributeValue = OtelAttributeValue;

/**
 * A redaction hook: receives every attribute of a span (and of its events and
 * links) and returns the value to store, or `undefined` to drop the attribute.
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
    if (system !== undefined && !sqlSystems.has(system)) return value;
    return sanitizeSql(value, { doubleQuotedStrings: system === 'mysql' || system === 'mariadb' });
  }
  // Without a `?` there is no query string, and the value stays as it is.
  if (urlKeys.has(key)) return value.includes('?') ? stripQueryValues(value) : value;
  if (key === 'url.query') return stripQueryValues(`?${value}`).slice(1);
  return value;
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
  for (const event of span.events) {
    if (event.attributes !== undefined && needsCleaning(event.attributes, context, options)) return true;
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
    if (event.attributes !== undefined)
      copy.attributes = cleanAttributes(event.attributes, span.attributes, span, options);
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
  // A plain object rather than a clone of the SDK's class: the SDK's Span has
  // live behaviour (end(), setAttribute()) that a copy must not carry.
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => context,
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
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
