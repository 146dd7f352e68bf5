/**
 * Lifeline's own trace model. Every source of spans (the OpenTelemetry SDK in
 * an instrumented app, OTLP received over HTTP, Jaeger/Zipkin/OTLP files) is
 * converted to these types at the edge, so the core draws all of them alike.
 */

/** The role a span plays, as OpenTelemetry's SpanKind names it. */
export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** Outcome of a span, as OpenTelemetry's status code names it. */
export type StatusCode = 'unset' | 'ok' | 'error';

/** A single attribute value: a primitive, or a homogeneous array as in OTLP. */
export type AttributeValue = string | number | boolean | ReadonlyArray<string | number | boolean | null>;

/** Attribute map (span attributes, resource attributes, event attributes). */
export type Attributes = Readonly<Record<string, AttributeValue | undefined>>;

/** A timestamped event recorded on a span (e.g. an exception). */
export interface SpanEvent {
  readonly name: string;
  /** Nanoseconds since the Unix epoch, exact (see {@link Span}). */
  readonly timeNs: bigint;
  readonly attributes: Attributes;
}

/** A link from a span to another span, possibly in another trace (e.g. a queue message's producer). */
export interface SpanLink {
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Attributes;
}

/** Status of a span: its code and, for errors, the description. */
export interface SpanStatus {
  readonly code: StatusCode;
  readonly message?: string;
}

/**
 * One span. Times are exact integer nanoseconds since the Unix epoch, held in
 * a `bigint`: a present-day epoch in nanoseconds (about 1.7e18) is beyond
 * float64's exact integers (2^53), so a `number` would round it to a multiple
 * of 256 ns and spans that touch (end == start, which are serial) could come
 * apart or overlap. Every source converts exactly (OTLP's decimal strings and
 * fixed64 values, the SDK's `[seconds, nanoseconds]`, Jaeger/Zipkin
 * microseconds), and the store keeps them as SQLite integers.
 *
 * Arithmetic is not done on these: `buildSpanTree` subtracts the
 * trace's earliest start (`SpanTree.baseNs`) once per span, and layout,
 * analysis and summary work on those offsets as plain numbers (exact while a
 * trace lasts less than 104 days, 2^53 ns). In JSON (the viewer API, `--json`) the
 * times are decimal strings, see {@link bigintToJson}.
 */
export interface Span {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  /** 16 lowercase hex characters. */
  readonly spanId: string;
  /** Absent (or empty) for a root span. */
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: SpanKind;
  /** `service.name` of the process that recorded the span. */
  readonly serviceName: string;
  /** Start, exact nanoseconds since the Unix epoch. */
  readonly startTimeNs: bigint;
  /** End, exact nanoseconds since the Unix epoch; absent when the span never ended (a crash, a lost export). */
  readonly endTimeNs?: bigint;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly events: readonly SpanEvent[];
  readonly links: readonly SpanLink[];
  /** Resource attributes of the recording process (`service.name`, `host.name`, ...). */
  readonly resource: Attributes;
  /** Instrumentation scope that created the span. */
  readonly scope?: { readonly name: string; readonly version?: string };
}

/**
 * A `JSON.stringify` replacer that writes `bigint` values (the exact times of
 * {@link Span}, {@link SpanEvent} and `TraceSummary`) as decimal strings, the
 * form OTLP/JSON gives 64-bit integers; plain `JSON.stringify` throws on them.
 *
 * @example
 * ```ts
 * JSON.stringify({ startTimeNs: 1_700_000_000_123_456_789n }, bigintToJson); // '{"startTimeNs":"1700000000123456789"}'
 * ```
 */
export function bigintToJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** All spans that share one trace id (plus, optionally, spans of linked traces). */
export interface Trace {
  readonly traceId: string;
  readonly spans: readonly Span[];
}
