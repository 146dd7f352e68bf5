/**
 * The endpoint list, computed in SQL over the per-trace summary table. One
 * pass over a covering index groups the requests; each percentile is then an
 * offset into its endpoint's stretch of that index (durations are in index
 * order), so the list stays fast on a store of millions of spans. The rule
 * is core's `summarizeEndpoints`; the tests hold this query to it.
 */
import { type EndpointStats, nearestRank, REQUEST_ROOT_KINDS } from '@lifeline/core';
import type { SqliteDatabase } from './database.js';

/** Which requests {@link listEndpoints} counts. */
export interface EndpointFilter {
  /** Requests started at or after this time, ns since the epoch. */
  readonly since?: number;
  /** Requests started at or before this time, ns since the epoch. */
  readonly until?: number;
  /** Only endpoints of this service. */
  readonly service?: string;
}

/** Names one endpoint: the `service`, `kind` and `name` of its {@link EndpointStats}. */
export interface EndpointRef {
  readonly service: string;
  readonly kind: 'server' | 'consumer';
  readonly name: string;
}

interface GroupRow {
  service: string;
  kind: string;
  name: string;
  requests: bigint;
  savings: bigint;
  max_ns: bigint;
  errors: bigint;
  n_plus_one: bigint;
  db: bigint;
  cache: bigint;
  http: bigint;
  queue: bigint;
  last_start: bigint;
}

// Constants rather than parameters: SQLite uses a partial index only when
// the query repeats its WHERE clause as written.
const requestKinds = `(${REQUEST_ROOT_KINDS.map((kind) => `'${kind}'`).join(', ')})`;

function where(filter: EndpointFilter): { sql: string; params: unknown[] } {
  const clauses = [`root_kind IN ${requestKinds}`];
  const params: unknown[] = [];
  if (filter.since !== undefined) {
    clauses.push('start_ns >= ?');
    params.push(Math.ceil(filter.since));
  }
  if (filter.until !== undefined) {
    clauses.push('start_ns <= ?');
    params.push(Math.floor(filter.until));
  }
  if (filter.service !== undefined) {
    clauses.push('root_service = ?');
    params.push(filter.service);
  }
  return { sql: clauses.join(' AND '), params };
}

/** Ids of an endpoint's requests matching `filter`, newest first (at most `limit`, default 200, at most 5,000). */
export function endpointTraceIds(
  db: SqliteDatabase,
  endpoint: EndpointRef,
  filter: EndpointFilter & { readonly limit?: number } = {},
): string[] {
  const { sql, params } = where(filter);
  const limit = Math.min(5000, Math.max(1, Math.floor(filter.limit ?? 200)));
  return db
    .prepare(
      `SELECT trace_id FROM traces WHERE ${sql} AND root_service = ? AND root_kind = ? AND root_name = ?
       ORDER BY start_ns DESC, trace_id DESC LIMIT ?`,
    )
    .pluck()
    .all(...params, endpoint.service, endpoint.kind, endpoint.name, limit) as string[];
}

/**
 * Endpoints of the requests matching `filter`, in name order (sort them for
 * display with core's `sortEndpoints`).
 */
export function listEndpoints(db: SqliteDatabase, filter: EndpointFilter = {}): EndpointStats[] {
  const { sql, params } = where(filter);
  const groups = db
    .prepare(
      `SELECT root_service AS service, root_kind AS kind, root_name AS name, count(*) AS requests,
        count(overlap_saving_ns) AS savings, max(duration_ns) AS max_ns,
        sum(error <> 0) AS errors, sum(n_plus_one > 0) AS n_plus_one,
        sum(db_count) AS db, sum(cache_count) AS cache,
        sum(max(http_count - (root_kind = 'server'), 0)) AS http,
        sum(max(queue_count - (root_kind = 'consumer'), 0)) AS queue,
        max(start_ns) AS last_start
      FROM traces INDEXED BY traces_endpoints WHERE ${sql}
      GROUP BY root_service, root_kind, root_name`,
    )
    .safeIntegers(true)
    .all(...params) as GroupRow[];
  const endpointWhere = `${sql} AND root_service = ? AND root_kind = ? AND root_name = ?`;
  // The request at a 0-based rank in duration order, read from whichever end of the endpoint's stretch is nearer.
  const fromLow = db
    .prepare(
      `SELECT duration_ns, trace_id FROM traces INDEXED BY traces_endpoints WHERE ${endpointWhere}
       ORDER BY duration_ns, trace_id LIMIT 1 OFFSET ?`,
    )
    .safeIntegers(true);
  const fromHigh = db
    .prepare(
      `SELECT duration_ns, trace_id FROM traces INDEXED BY traces_endpoints WHERE ${endpointWhere}
       ORDER BY duration_ns DESC, trace_id DESC LIMIT 1 OFFSET ?`,
    )
    .safeIntegers(true);
  const saving = db
    .prepare(
      `SELECT overlap_saving_ns FROM traces INDEXED BY traces_endpoint_savings
       WHERE ${endpointWhere} AND overlap_saving_ns IS NOT NULL ORDER BY overlap_saving_ns LIMIT 1 OFFSET ?`,
    )
    .pluck()
    .safeIntegers(true);
  const out = groups.map((row): EndpointStats => {
    const n = Number(row.requests);
    const key = [...params, row.service, row.kind, row.name];
    const at = (p: number): { duration_ns: bigint; trace_id: string } => {
      const rank = nearestRank(p, n);
      return (rank < n / 2 ? fromLow.get(...key, rank) : fromHigh.get(...key, n - 1 - rank)) as {
        duration_ns: bigint;
        trace_id: string;
      };
    };
    const p50 = at(50);
    const stats: { -readonly [K in keyof EndpointStats]: EndpointStats[K] } = {
      service: row.service,
      name: row.name,
      kind: row.kind === 'consumer' ? 'consumer' : 'server',
      requests: n,
      p50Ms: toMs(p50.duration_ns),
      p95Ms: toMs(at(95).duration_ns),
      p99Ms: toMs(at(99).duration_ns),
      maxMs: toMs(row.max_ns),
      errorShare: Number(row.errors) / n,
      nPlusOneShare: Number(row.n_plus_one) / n,
      callsPerRequest: {
        db: perRequest(row.db, n),
        cache: perRequest(row.cache, n),
        http: perRequest(row.http, n),
        queue: perRequest(row.queue, n),
      },
      slowestTraceId: at(100).trace_id,
      typicalTraceId: p50.trace_id,
      lastStartNs: row.last_start,
    };
    const savings = Number(row.savings);
    if (savings > 0) stats.medianOverlapSavingMs = toMs(saving.get(...key, nearestRank(50, savings)) as bigint);
    return stats;
  });
  return out.sort((a, b) => compare(a.name, b.name) || compare(a.service, b.service) || compare(a.kind, b.kind));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function perRequest(sum: bigint, n: number): number {
  return Math.round((Number(sum) / n) * 100) / 100;
}

function toMs(ns: bigint): number {
  return Math.round(Number(ns) / 1000) / 1000;
}
