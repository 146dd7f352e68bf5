/**
 * One row per trace for the list view: what was requested, how long it took,
 * what it called, and the hints worth a look (errors, serial calls, N+1).
 */
import { structure } from './analysis.js';
import { classifySpan } from './classify.js';
import { layoutTrace, spanFailed } from './layout.js';
import type { Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** Counts of spans by kind of work. */
export interface SpanCounts {
  readonly db: number;
  /** HTTP and RPC spans, incoming and outgoing. */
  readonly http: number;
  readonly cache: number;
  /** Producer and consumer spans. */
  readonly queue: number;
  readonly internal: number;
}

/** The list-view row of a trace. */
export interface TraceSummary {
  readonly traceId: string;
  /** `service.name` of the primary root span ('' for an empty trace). */
  readonly rootService: string;
  /** Label of the primary root span, e.g. `GET /articles/:id`. */
  readonly rootName: string;
  readonly method?: string;
  readonly route?: string;
  readonly statusCode?: number;
  /** Start of the primary root span (ns since epoch). */
  readonly startTimeNs: number;
  /** Duration of the primary root span (ns). */
  readonly durationNs: number;
  readonly spanCount: number;
  readonly counts: SpanCounts;
  /** Whether any span failed. */
  readonly error: boolean;
  /** Calls that ran in serial runs of two or more that could have overlapped. */
  readonly serialCalls: number;
  /** Number of `par` blocks in the diagram. */
  readonly parGroups: number;
  /** Number of N+1 groups. */
  readonly nPlusOne: number;
}

/**
 * Summarises a trace for the request list.
 *
 * @example
 * ```ts
 * const row = summarizeTrace(trace);
 * `${row.rootName} ${row.statusCode} ${formatDuration(row.durationNs / 1e6)}`; // 'GET /articles/:id 200 42 ms'
 * ```
 */
export function summarizeTrace(trace: Trace): TraceSummary {
  const tree = buildSpanTree(trace);
  const layout = layoutTrace(tree);
  const counts = { db: 0, http: 0, cache: 0, queue: 0, internal: 0 };
  let error = false;
  for (const node of tree.nodes) {
    const category = classifySpan(node.span).category;
    if (category === 'db') counts.db++;
    else if (category === 'cache') counts.cache++;
    else if (category === 'queue-producer' || category === 'queue-consumer') counts.queue++;
    else if (category === 'internal') counts.internal++;
    else counts.http++;
    if (!error && spanFailed(node)) error = true;
  }
  const { serialRuns, nPlusOne, parGroups } = structure(layout);
  const root = tree.roots[0];
  const cls = root ? classifySpan(root.span) : undefined;
  return {
    traceId: tree.traceId,
    rootService: root?.span.serviceName ?? '',
    rootName: cls ? cls.label || root?.span.name || '' : '',
    ...(cls?.method !== undefined ? { method: cls.method } : {}),
    ...(cls?.route !== undefined ? { route: cls.route } : {}),
    ...(cls?.statusCode !== undefined ? { statusCode: cls.statusCode } : {}),
    startTimeNs: root?.span.startTimeNs ?? 0,
    durationNs: root ? root.end - root.start : 0,
    spanCount: tree.nodes.length,
    counts,
    error,
    serialCalls: serialRuns.reduce((n, run) => n + run.spanIds.length, 0),
    parGroups,
    nPlusOne: nPlusOne.length,
  };
}
