import type { Attributes, Span, SpanKind, StatusCode, TraceSummary } from '@lifeline/core';
import { eventsFromJson } from './span-encoding.js';

/**
 * A row of the `spans` table (resource joined in) as better-sqlite3 returns it
 * with `safeIntegers`: INTEGER columns as bigint, so times are exact.
 */
export interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string;
  service: string;
  start_ns: bigint;
  end_ns: bigint | null;
  status_code: string;
  status_message: string | null;
  attributes: string;
  events: string | null;
  links: string | null;
  resource_id: bigint | null;
  resource: string | null;
  scope_name: string | null;
  scope_version: string | null;
}

/** A row of the `traces` table as better-sqlite3 returns it with `safeIntegers`: INTEGER columns as bigint. */
export interface TraceRow {
  trace_id: string;
  root_service: string;
  root_name: string;
  root_kind: string | null;
  method: string | null;
  route: string | null;
  status_code: bigint | null;
  start_ns: bigint;
  duration_ns: bigint;
  span_count: bigint;
  db_count: bigint;
  http_count: bigint;
  cache_count: bigint;
  queue_count: bigint;
  internal_count: bigint;
  error: bigint;
  serial_calls: bigint;
  par_groups: bigint;
  n_plus_one: bigint;
  seq: bigint;
  /** NULL on rows stored before migration 3. */
  overlap_saving_ns?: bigint | null;
}

const emptyAttributes: Attributes = Object.freeze({});

/**
 * Decodes a stored span. `resources` caches parsed resource attribute sets
 * by id, since most spans of a read share a handful of them.
 */
export function rowToSpan(row: SpanRow, resources: Map<bigint, Attributes>): Span {
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
    startTimeNs: storedTime(row.start_ns),
    status:
      row.status_message === null
        ? { code: row.status_code as StatusCode }
        : { code: row.status_code as StatusCode, message: row.status_message },
    attributes: JSON.parse(row.attributes) as Attributes,
    events: row.events === null ? [] : eventsFromJson(row.events),
    links: row.links === null ? [] : (JSON.parse(row.links) as Span['links']),
    resource,
  };
  if (row.parent_span_id !== null) span.parentSpanId = row.parent_span_id;
  if (row.end_ns !== null) span.endTimeNs = storedTime(row.end_ns);
  if (row.scope_name !== null) {
    span.scope =
      row.scope_version === null ? { name: row.scope_name } : { name: row.scope_name, version: row.scope_version };
  }
  return span;
}

/**
 * A stored time as exact nanoseconds. SQLite hands back a real (a JS number)
 * where a database written before times were range-checked holds one, such
 * as 1e30: read as the nearest whole number rather than passed on as a number.
 */
function storedTime(value: bigint | number): bigint {
  return typeof value === 'bigint' ? value : BigInt(Number.isFinite(value) ? Math.trunc(value) : 0);
}

/** Rebuilds the list-view summary from its stored row. */
export function rowToSummary(row: TraceRow): TraceSummary {
  const summary: { -readonly [K in keyof TraceSummary]: TraceSummary[K] } = {
    traceId: row.trace_id,
    rootService: row.root_service,
    rootName: row.root_name,
    startTimeNs: storedTime(row.start_ns),
    durationNs: Number(row.duration_ns),
    spanCount: Number(row.span_count),
    counts: {
      db: Number(row.db_count),
      http: Number(row.http_count),
      cache: Number(row.cache_count),
      queue: Number(row.queue_count),
      internal: Number(row.internal_count),
    },
    error: row.error !== 0n,
    serialCalls: Number(row.serial_calls),
    parGroups: Number(row.par_groups),
    nPlusOne: Number(row.n_plus_one),
  };
  if (row.root_kind !== null) summary.rootKind = row.root_kind as SpanKind;
  if (row.method !== null) summary.method = row.method;
  if (row.route !== null) summary.route = row.route;
  if (row.status_code !== null) summary.statusCode = Number(row.status_code);
  if (row.overlap_saving_ns !== undefined && row.overlap_saving_ns !== null) {
    summary.overlapSavingMs = Number(row.overlap_saving_ns) / 1e6;
  }
  return summary;
}
