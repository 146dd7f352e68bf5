/**
 * Test-only helpers for @lifeline/core: concise span builders and validation
 * of diagrams with Mermaid's real parser. Not exported from the package and
 * not compiled into dist.
 */
import { expect } from 'vitest';
import { type ParsedSequence, type ParseOptions, parseSequenceDiagram } from '../../../test/support/mermaid.js';
import type { Attributes, Span, SpanEvent, SpanKind, SpanLink, SpanStatus, Trace } from './trace.js';

/** Base time of test traces: times in specs are milliseconds after it. */
export const T0_MS = 1_700_000_000_000;
export const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/** Description of one span with times in milliseconds after {@link T0_MS}. */
export interface SpanSpec {
  readonly id: string;
  readonly parent?: string;
  readonly name?: string;
  readonly kind?: SpanKind;
  readonly service?: string;
  readonly start: number;
  /** `null` for a span that never ended. */
  readonly end: number | null;
  readonly attributes?: Attributes;
  readonly status?: SpanStatus;
  readonly events?: readonly SpanEvent[];
  readonly links?: readonly SpanLink[];
}

const T0_NS = BigInt(T0_MS) * 1_000_000n;

/**
 * Milliseconds after T0 to exact nanoseconds since the epoch, as `Span`
 * holds them (fractions of a millisecond are rounded to whole nanoseconds).
 * For a time a few nanoseconds off a millisecond, add a bigint:
 * `ns(10) + 1n`.
 */
export function ns(ms: number): bigint {
  return T0_NS + BigInt(Math.round(ms * 1e6));
}

/** Builds a span. */
export function span(spec: SpanSpec): Span {
  const service = spec.service ?? 'api';
  return {
    traceId: TRACE_ID,
    spanId: spec.id,
    ...(spec.parent !== undefined ? { parentSpanId: spec.parent } : {}),
    name: spec.name ?? spec.id,
    kind: spec.kind ?? 'internal',
    serviceName: service,
    startTimeNs: ns(spec.start),
    ...(spec.end !== null ? { endTimeNs: ns(spec.end) } : {}),
    status: spec.status ?? { code: 'unset' },
    attributes: spec.attributes ?? {},
    events: spec.events ?? [],
    links: spec.links ?? [],
    resource: { 'service.name': service },
  };
}

/** The same spans recorded in another trace (a consumer that started its own, another request). */
export function inTrace(traceId: string, ...spans: Span[]): Span[] {
  return spans.map((s) => ({ ...s, traceId }));
}

/** Builds a trace from spans. */
export function trace(...spans: Span[]): Trace {
  return { traceId: TRACE_ID, spans };
}

type Timed = { id: string; parent?: string; service?: string; start: number; end: number | null };

/** Only the identity and timing fields of a helper's argument. */
function timed(t: Timed): Timed {
  return {
    id: t.id,
    start: t.start,
    end: t.end,
    ...(t.parent !== undefined ? { parent: t.parent } : {}),
    ...(t.service !== undefined ? { service: t.service } : {}),
  };
}

/** An incoming HTTP request (server span). */
export function httpServer(
  t: Timed & { method?: string; route?: string; path?: string; status?: number; error?: string },
): Span {
  const method = t.method ?? 'GET';
  return span({
    ...timed(t),
    kind: 'server',
    name: `${method} ${t.route ?? t.path ?? ''}`.trim(),
    attributes: {
      'http.request.method': method,
      ...(t.route !== undefined ? { 'http.route': t.route } : {}),
      'url.path': t.path ?? t.route ?? '/',
      ...(t.status !== undefined ? { 'http.response.status_code': t.status } : {}),
    },
    ...(t.error !== undefined ? { status: { code: 'error' as const, message: t.error } } : {}),
  });
}

/**
 * An outgoing HTTP request (client span). It got a 200 unless `status` says
 * otherwise; `status: null` is a request that ended without any response.
 */
export function httpClient(t: Timed & { method?: string; url: string; status?: number | null; error?: string }): Span {
  const method = t.method ?? 'GET';
  const match = /^\w+:\/\/([^/:]+)(?::(\d+))?(\/[^?]*)?/.exec(t.url);
  return span({
    ...timed(t),
    kind: 'client',
    name: method,
    attributes: {
      'http.request.method': method,
      'url.full': t.url,
      'server.address': match?.[1] ?? 'unknown',
      ...(match?.[2] ? { 'server.port': Number(match[2]) } : {}),
      ...(t.status !== null ? { 'http.response.status_code': t.status ?? 200 } : {}),
    },
    ...(t.error !== undefined ? { status: { code: 'error' as const, message: t.error } } : {}),
  });
}

/** A SQL query (client span, current conventions). */
export function sql(t: Timed & { query: string; system?: string; db?: string; error?: string }): Span {
  return span({
    ...timed(t),
    kind: 'client',
    name: t.query.split(' ')[0] ?? 'query',
    attributes: {
      'db.system.name': t.system ?? 'postgresql',
      'db.namespace': t.db ?? 'blog',
      'db.query.text': t.query,
    },
    ...(t.error !== undefined ? { status: { code: 'error' as const, message: t.error } } : {}),
  });
}

/** A Redis command (client span, older conventions as ioredis emits them). */
export function redis(t: Timed & { statement: string }): Span {
  return span({
    ...timed(t),
    kind: 'client',
    name: (t.statement.split(' ')[0] ?? 'cmd').toLowerCase(),
    attributes: {
      'db.system': 'redis',
      'db.statement': t.statement,
      'net.peer.name': 'localhost',
      'net.peer.port': 6379,
    },
  });
}

/** A message publish (producer span). */
export function publish(t: Timed & { queue: string }): Span {
  return span({
    ...timed(t),
    kind: 'producer',
    name: `publish ${t.queue}`,
    attributes: {
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': t.queue,
      'messaging.operation.type': 'publish',
    },
  });
}

/** A message being processed (consumer span). */
export function consume(t: Timed & { queue: string; links?: readonly SpanLink[] }): Span {
  return span({
    ...timed(t),
    kind: 'consumer',
    name: `process ${t.queue}`,
    attributes: {
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': t.queue,
      'messaging.operation.type': 'process',
    },
    ...(t.links ? { links: t.links } : {}),
  });
}

/** An internal span. */
export function internal(t: Timed & { name: string }): Span {
  return span({ ...timed(t), name: t.name, kind: 'internal' });
}

/**
 * Fails the test, quoting the parser's message and the text, unless both
 * Mermaid 10.9 and the current Mermaid parse the diagram and read it alike
 * (see test/support/mermaid.ts, shared by every suite).
 */
export async function expectValidMermaid(text: string, options: ParseOptions = {}): Promise<ParsedSequence> {
  try {
    return await parseSequenceDiagram(text, options);
  } catch (error) {
    return expect.fail((error as Error).message);
  }
}
