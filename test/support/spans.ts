/**
 * Span builders for every suite. One builder, {@link makeSpan}, fills in the
 * fields a test does not care about; the others are shorthands over it:
 * {@link span} and the call helpers (`httpServer`, `sql`, …) take times in
 * milliseconds after {@link T0_MS}, {@link makeRequest} builds a whole small
 * request for the list views, and `scenes.ts` builds realistic apps' traces.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attributes, Span, SpanEvent, SpanKind, SpanLink, SpanStatus, Trace } from '@lifeline/core';
import { expect } from 'vitest';
import { type ParsedSequence, type ParseOptions, parseSequenceDiagram } from './mermaid.ts';

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

/** Builds a span from a {@link SpanSpec}, in the trace {@link TRACE_ID}. */
export function span(spec: SpanSpec): Span {
  const service = spec.service ?? 'api';
  const { endTimeNs: _unset, ...open } = makeSpan({
    traceId: TRACE_ID,
    spanId: spec.id,
    name: spec.name ?? spec.id,
    kind: spec.kind ?? 'internal',
    serviceName: service,
    startTimeNs: ns(spec.start),
    status: spec.status ?? { code: 'unset' },
    attributes: spec.attributes ?? {},
    events: spec.events ?? [],
    links: spec.links ?? [],
    ...(spec.parent !== undefined ? { parentSpanId: spec.parent } : {}),
  });
  return spec.end === null ? open : { ...open, endTimeNs: ns(spec.end) };
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

/** A fresh database path in a new temporary directory. */
export function tempDbPath(name = 'traces.db'): string {
  return join(mkdtempSync(join(tmpdir(), 'lifeline-store-')), name);
}

let counter = 0;

/** A hex id of `digits` digits, unique within the test run. */
export function nextId(digits: 16 | 32): string {
  counter++;
  return counter.toString(16).padStart(digits, '0');
}

/** A span with sensible defaults; any field can be overridden. */
export function makeSpan(fields: Partial<Span> & { traceId: string }): Span {
  const startTimeNs = fields.startTimeNs ?? 1_767_225_600_000_000_000n;
  return {
    spanId: nextId(16),
    name: 'work',
    kind: 'internal',
    serviceName: 'blog-api',
    endTimeNs: startTimeNs + 1_000_000n,
    status: { code: 'unset' },
    attributes: {},
    events: [],
    links: [],
    resource: { 'service.name': fields.serviceName ?? 'blog-api' },
    ...fields,
    startTimeNs,
  };
}

/** What a request trace looks like in the list view. */
export interface RequestShape {
  readonly traceId?: string;
  /** Start of the request, ns since the epoch (a number is taken as it is, an integer). */
  readonly startNs: number | bigint;
  readonly durationMs: number;
  readonly service?: string;
  readonly method?: string;
  readonly route?: string;
  readonly status?: number;
  readonly error?: boolean;
  /** Names of serial database calls under the server span. */
  readonly queries?: readonly string[];
}

/** A small HTTP request trace: a server span and serial database client spans. */
export function makeRequest(shape: RequestShape): Span[] {
  const traceId = shape.traceId ?? nextId(32);
  const rootId = nextId(16);
  const service = shape.service ?? 'blog-api';
  const method = shape.method ?? 'GET';
  const route = shape.route ?? '/articles/:id';
  const start = BigInt(shape.startNs);
  const end = start + BigInt(Math.round(shape.durationMs * 1e6));
  const root = makeSpan({
    traceId,
    spanId: rootId,
    name: `${method} ${route}`,
    kind: 'server',
    serviceName: service,
    startTimeNs: start,
    endTimeNs: end,
    status: shape.error === true ? { code: 'error', message: 'failed' } : { code: 'unset' },
    attributes: {
      'http.request.method': method,
      'http.route': route,
      'http.response.status_code': shape.status ?? 200,
    },
  });
  const queries = shape.queries ?? [];
  const slot = (end - start) / BigInt(queries.length + 1);
  const children = queries.map((name, i) =>
    makeSpan({
      traceId,
      parentSpanId: rootId,
      name,
      kind: 'client',
      serviceName: service,
      startTimeNs: start + slot * BigInt(i) + 1000n,
      endTimeNs: start + slot * BigInt(i + 1),
      attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'blog', 'db.query.text': name },
    }),
  );
  return [root, ...children];
}
