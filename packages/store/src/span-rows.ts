import type { Attributes, Span, SpanKind, StatusCode, TraceSummary } from '@lifeline/core';

/** A row of the `spans` table as better-sqlite3 returns it (resource joined in). */
export interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string;
  service: string;
  start_ns: number;
  end_ns: number | null;
  status_code: string;
  status_message: string | null;
  attributes: string;
  events: string | null;
  links: string | null;
  resource_id: number | null;
  resource: string | null;
  scope_name: string | null;
  scope_version: string | null;
}

/** A row of the `traces` table. */
export interface TraceRow {
  trace_id: string;
  root_service: string;
  root_name: string;
  root_kind: string | null;
  method: string | null;
  route: string | null;
  status_code: number | null;
  start_ns: number;
  duration_ns: number;
  span_count: number;
  db_count: number;
  http_count: number;
  cache_count: number;
  queue_count: number;
  internal_count: number;
  error: number;
  serial_calls: number;
  par_groups: number;
  n_plus_one: number;
  seq: number;
}

const emptyAttributes: Attributes = Object.freeze({});

/**
 * Decodes a stored span. `resources` caches parsed resource attribute sets
 * by id, since most spans of a read share a handful of them.
 */
export function rowToSpan(row: SpanRow, resources: Map<number, Attributes>): Span {
  let resource: Attributes = emptyAttributes;
  if (row.resource_id !== null) {
    const cached = resources.get(row.resource_id);
    if (cached !== undefined) {
      resource = cached;
    } else if (row.resource !== null) {
      resource = JSON.parse(row.resource) as Attributes;
      resources.set(row.resource_id, resource);
    }
  }
  const span: {
    -readonly [K in keyof Span]: Span[K];
  } = {
    traceId: row.trace_id,
    spanId: row.span_id,
    name: row.name,
    kind: row.kind as SpanKind,
    serviceName: row.service,
    startTimeNs: row.start_ns,
    status:
      row.status_message === null
        ? { code: row.status_code as StatusCode }
        : { code: row.status_code as StatusCode, message: row.status_message },
    attributes: JSON.parse(row.attributes) as Attributes,
    events: row.events === null ? [] : (JSON.parse(row.events) as Span['events']),
    links: row.links === null ? [] : (JSON.parse(row.links) as Span['links']),
    resource,
  };
  if (row.parent_span_id !== null) span.parentSpanId = row.parent_span_id;
  if (row.end_ns !== null) span.endTimeNs = row.end_ns;
  if (row.scope_name !== null) {
    span.scope =
      row.scope_version === null ? { name: row.scope_name } : { name: row.scope_name, version: row.scope_version };
  }
  return span;
}

/** Rebuilds the list-view summary from its stored row. */
export function rowToSummary(row: TraceRow): TraceSummary {
  const summary: { -readonly [K in keyof TraceSummary]: TraceSummary[K] } = {
    traceId: row.trace_id,
    rootService: row.root_service,
    rootName: row.root_name,
    startTimeNs: row.start_ns,
    durationNs: row.duration_ns,
    spanCount: row.span_count,
    counts: {
      db: row.db_count,
      http: row.http_count,
      cache: row.cache_count,
      queue: row.queue_count,
      internal: row.internal_count,
    },
    error: row.error !== 0,
    serialCalls: row.serial_calls,
    parGroups: row.par_groups,
    nPlusOne: row.n_plus_one,
  };
  if (row.root_kind !== null) summary.rootKind = row.root_kind as SpanKind;
  if (row.method !== null) summary.method = row.method;
  if (row.route !== null) summary.route = row.route;
  if (row.status_code !== null) summary.statusCode = row.status_code;
  return summary;
}
