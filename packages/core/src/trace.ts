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
  /** Nanoseconds since the Unix epoch. */
  readonly timeNs: number;
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
 * One span. Times are nanoseconds since the Unix epoch held in a float64:
 * at present-day epochs that is exact to within 256 ns, well below anything a
 * diagram shows, and it keeps arithmetic on 100,000-span traces fast.
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
  readonly startTimeNs: number;
  /** Absent when the span never ended (a crash, a lost export). */
  readonly endTimeNs?: number;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly events: readonly SpanEvent[];
  readonly links: readonly SpanLink[];
  /** Resource attributes of the recording process (`service.name`, `host.name`, ...). */
  readonly resource: Attributes;
  /** Instrumentation scope that created the span. */
  readonly scope?: { readonly name: string; readonly version?: string };
}

/** All spans that share one trace id (plus, optionally, spans of linked traces). */
export interface Trace {
  readonly traceId: string;
  readonly spans: readonly Span[];
}
