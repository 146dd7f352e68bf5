/**
 * Endpoints: recorded requests grouped by what was asked for (service and
 * `METHOD /route` for an HTTP server, service and `process queue` for a
 * consumer), with the figures a developer hunting a slow endpoint asks
 * first: how often, how slow, how often it fails or runs an N+1, what it
 * calls, and what overlapping its serial calls could save.
 *
 * This is the reference: the store computes the same rows in SQL over its
 * per-trace summary table, and its tests hold it to this function.
 */
import { isRequestRoot, type SpanCounts, type TraceSummary } from './summary.js';

/** Calls per request by kind of work: a mean over the endpoint's requests. */
export interface CallsPerRequest {
  readonly db: number;
  readonly cache: number;
  /** Outgoing HTTP and RPC calls (a call to a traced service counts its client and its server span). */
  readonly http: number;
  /** Messages published and processed inside the request. */
  readonly queue: number;
}

/** One endpoint and its figures. */
export interface EndpointStats {
  /** `service.name` of the requests' root span. */
  readonly service: string;
  /** What was asked for: `GET /articles/:id`, `process notifications` (the request list's label). */
  readonly name: string;
  /** `server` for HTTP and RPC endpoints, `consumer` for queue consumers and jobs. */
  readonly kind: 'server' | 'consumer';
  readonly requests: number;
  /** Duration percentiles by nearest rank over the requests, in milliseconds. */
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Share (0..1) of requests with a failed span. */
  readonly errorShare: number;
  /** Share (0..1) of requests with at least one N+1 group. */
  readonly nPlusOneShare: number;
  readonly callsPerRequest: CallsPerRequest;
  /**
   * Median over the requests of what overlapping their serial calls could
   * have saved (sum − max per serial run, a what-if), in milliseconds;
   * absent when no request of the endpoint was summarised with it.
   */
  readonly medianOverlapSavingMs?: number;
  /** The slowest request (ties: the greatest trace id). */
  readonly slowestTraceId: string;
  /** A typical request: the one whose duration is the median (the p50 by nearest rank). */
  readonly typicalTraceId: string;
  /** Start of the latest request, ns since the epoch. */
  readonly lastStartNs: bigint;
}

/**
 * Nearest-rank index (0-based) of percentile `p` (0..100] among `n` sorted
 * values: the smallest value with at least p % of the values at or below it.
 */
export function nearestRank(p: number, n: number): number {
  return Math.max(0, Math.min(n - 1, Math.ceil((p / 100) * n) - 1));
}

/** How endpoints are ordered; the list's default is slowest p95 first. */
export type EndpointOrder = 'p95' | 'p50' | 'p99' | 'max' | 'requests' | 'errors' | 'nplusone' | 'saving' | 'name';

/** Every {@link EndpointOrder}, for parsers of user input. */
export const endpointOrders: readonly EndpointOrder[] = [
  'p95',
  'p50',
  'p99',
  'max',
  'requests',
  'errors',
  'nplusone',
  'saving',
  'name',
];

/**
 * Sorts endpoints for display: by the figure, largest first (`name`:
 * alphabetical), ties by service and name so the order never depends on
 * the order rows came in.
 */
export function sortEndpoints(endpoints: readonly EndpointStats[], order: EndpointOrder = 'p95'): EndpointStats[] {
  const figure = (e: EndpointStats): number => {
    switch (order) {
      case 'p50':
        return e.p50Ms;
      case 'p99':
        return e.p99Ms;
      case 'max':
        return e.maxMs;
      case 'requests':
        return e.requests;
      case 'errors':
        return e.errorShare;
      case 'nplusone':
        return e.nPlusOneShare;
      case 'saving':
        return e.medianOverlapSavingMs ?? -1;
      case 'name':
        return 0;
      default:
        return e.p95Ms;
    }
  };
  return [...endpoints].sort(
    (a, b) =>
      figure(b) - figure(a) ||
      compareText(a.name, b.name) ||
      compareText(a.service, b.service) ||
      compareText(a.kind, b.kind),
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The key that groups a request into its endpoint. */
function endpointKey(summary: Pick<TraceSummary, 'rootService' | 'rootName' | 'rootKind'>): string {
  return JSON.stringify([summary.rootService, summary.rootKind, summary.rootName]);
}

/**
 * Groups request summaries (server and consumer roots; background work is
 * left out) into endpoints and computes their figures.
 *
 * @example
 * ```ts
 * const endpoints = sortEndpoints(summarizeEndpoints(summaries));
 * `${endpoints[0].name}: p95 ${endpoints[0].p95Ms} ms over ${endpoints[0].requests} requests`;
 * ```
 */
export function summarizeEndpoints(summaries: readonly TraceSummary[]): EndpointStats[] {
  const groups = new Map<string, TraceSummary[]>();
  for (const summary of summaries) {
    if (!isRequestRoot(summary)) continue;
    const key = endpointKey(summary);
    const group = groups.get(key);
    if (group) group.push(summary);
    else groups.set(key, [summary]);
  }
  const out: EndpointStats[] = [];
  for (const group of groups.values()) out.push(endpointOf(group));
  return sortEndpoints(out, 'name');
}

function endpointOf(group: readonly TraceSummary[]): EndpointStats {
  const first = group[0] as TraceSummary;
  const byDuration = [...group].sort((a, b) => a.durationNs - b.durationNs || compareText(a.traceId, b.traceId));
  const n = byDuration.length;
  const at = (p: number): TraceSummary => byDuration[nearestRank(p, n)] as TraceSummary;
  const kind = first.rootKind === 'consumer' ? 'consumer' : 'server';
  const sums = { db: 0, cache: 0, http: 0, queue: 0 };
  let errors = 0;
  let nPlusOne = 0;
  let lastStartNs = first.startTimeNs;
  const savings: number[] = [];
  for (const s of group) {
    const calls = callsOf(s.counts, kind);
    sums.db += calls.db;
    sums.cache += calls.cache;
    sums.http += calls.http;
    sums.queue += calls.queue;
    if (s.error) errors++;
    if (s.nPlusOne > 0) nPlusOne++;
    if (s.startTimeNs > lastStartNs) lastStartNs = s.startTimeNs;
    if (s.overlapSavingMs !== undefined) savings.push(Math.round(s.overlapSavingMs * 1e6));
  }
  savings.sort((a, b) => a - b);
  const stats: { -readonly [K in keyof EndpointStats]: EndpointStats[K] } = {
    service: first.rootService,
    name: first.rootName,
    kind,
    requests: n,
    p50Ms: toMs(at(50).durationNs),
    p95Ms: toMs(at(95).durationNs),
    p99Ms: toMs(at(99).durationNs),
    maxMs: toMs(at(100).durationNs),
    errorShare: errors / n,
    nPlusOneShare: nPlusOne / n,
    callsPerRequest: {
      db: perRequest(sums.db, n),
      cache: perRequest(sums.cache, n),
      http: perRequest(sums.http, n),
      queue: perRequest(sums.queue, n),
    },
    slowestTraceId: at(100).traceId,
    typicalTraceId: at(50).traceId,
    lastStartNs,
  };
  if (savings.length > 0) stats.medianOverlapSavingMs = toMs(savings[nearestRank(50, savings.length)] as number);
  return stats;
}

/**
 * Calls of a request by kind, from its span counts: the request's own root
 * span (the incoming HTTP call, the processed message) is not a call it made.
 */
function callsOf(counts: SpanCounts, kind: 'server' | 'consumer'): CallsPerRequest {
  return {
    db: counts.db,
    cache: counts.cache,
    http: Math.max(0, counts.http - (kind === 'server' ? 1 : 0)),
    queue: Math.max(0, counts.queue - (kind === 'consumer' ? 1 : 0)),
  };
}

/** Means are kept to two decimals: enough to tell 1 call from 1.5, stable in JSON and docs. */
function perRequest(sum: number, n: number): number {
  return Math.round((sum / n) * 100) / 100;
}

/** Nanoseconds to milliseconds, rounded to the microsecond. */
function toMs(ns: number): number {
  return Math.round(ns / 1000) / 1000;
}
