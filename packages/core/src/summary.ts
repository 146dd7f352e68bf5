/**
 * One row per trace for the list view: what was requested, how long it took,
 * what it called, and the hints worth a look (errors, serial calls, N+1).
 *
 * The store summarises every trace as it ingests it, so this runs for every
 * span recorded. It reads the one span tree and call layout the diagram is
 * drawn from (`buildSpanTree`, `layoutTrace` in its lean mode, which classifies
 * each span once without remembering it) and counts the patterns the analysis
 * finds (`countCallPatterns`): the row can never disagree with the diagram.
 */
import { countCallPatterns, extentLength, traceExtent } from './analysis.js';
import type { SpanClass } from './classify.js';
import { layoutTrace, type TraceLayout } from './layout.js';
import { retriedAttempts } from './outcome.js';
import type { Span, SpanKind, Trace } from './trace.js';
import { buildSpanTree, type SpanNode } from './tree.js';

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
  /**
   * Kind of the primary root span (absent for an empty trace): with
   * {@link isRequestRoot} it tells a request from background work.
   */
  readonly rootKind?: SpanKind;
  readonly method?: string;
  readonly route?: string;
  readonly statusCode?: number;
  /** Start of the primary root span, exact ns since the Unix epoch (0 for an empty trace). */
  readonly startTimeNs: bigint;
  /**
   * How long the trace took (ns): the duration of the primary root span, or,
   * when the trace has several roots, from the earliest root's start to the
   * latest root's end (`traceExtent` of the analysis).
   */
  readonly durationNs: number;
  readonly spanCount: number;
  readonly counts: SpanCounts;
  /** Whether the request failed: any span failed, except inside a message attempt that was retried (the outcome follows the last attempt). */
  readonly error: boolean;
  /** Calls that ran in serial runs of two or more that could have overlapped (work after a response left out). */
  readonly serialCalls: number;
  /** Number of `par` blocks in the diagram among the calls the client waited for (and batches count as one call). */
  readonly parGroups: number;
  /** Number of N+1 groups (work after a response left out). */
  readonly nPlusOne: number;
  /**
   * What overlapping the serial runs could have saved at best, in
   * milliseconds: the sum over every serial run of (sum − max) of its calls'
   * durations, as the analysis' `SerialRun.savingMs` reckons it (a what-if,
   * not a promise; work after a response left out). Absent on summaries
   * stored before Lifeline kept it.
   */
  readonly overlapSavingMs?: number;
}

/**
 * Root span kinds that make a trace a request: a server span (an incoming
 * call) or a consumer span (a processed message or job, the way Jaeger and
 * the OpenTelemetry messaging conventions treat a consumer as the start of
 * work). A trace rooted anywhere else (a client call at start-up, a timer's
 * internal span, a queue library's housekeeping) is background work.
 */
export const REQUEST_ROOT_KINDS: readonly SpanKind[] = ['server', 'consumer'];

/**
 * Whether a summarised trace is a request (its root is a server or consumer
 * span) rather than background work. The request list shows requests by default.
 *
 * @example
 * ```ts
 * const requests = summaries.filter(isRequestRoot);
 * ```
 */
export function isRequestRoot(summary: Pick<TraceSummary, 'rootKind'>): boolean {
  return summary.rootKind !== undefined && REQUEST_ROOT_KINDS.includes(summary.rootKind);
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
  return summarizeLayout(layoutTrace(buildSpanTree(trace, { lean: true }), { lean: true }));
}

/**
 * Whether the request failed, given the ids of its failed spans: a failure
 * inside a message attempt that was retried does not count, the request's
 * outcome follows the last attempt ({@link retriedAttempts}).
 */
function finallyFailed(failed: readonly string[], spans: () => readonly Span[]): boolean {
  if (failed.length === 0) return false;
  const retried = retriedAttempts(spans());
  return failed.some((id) => !retried.has(id));
}

/**
 * Summarises a trace from its layout (internal spans hoisted, as
 * `layoutTrace` lays out by default); a lean layout and a drawn one give the same row.
 */
export function summarizeLayout(layout: TraceLayout): TraceSummary {
  const tree = layout.tree;
  const classes = layout.classes;
  const counts = { db: 0, http: 0, cache: 0, queue: 0, internal: 0 };
  const failed: string[] = [];
  for (const node of tree.nodes) {
    const cls = classes[node.order] as SpanClass;
    countCategory(counts, cls);
    if (cls.failed) failed.push(node.span.spanId);
  }
  const error = finallyFailed(failed, () => tree.nodes.map((node) => node.span));
  const { serialCalls, nPlusOne, parGroups, overlapSavingMs } = countCallPatterns(layout);
  const root = tree.roots[0];
  return row(tree.traceId, root, root ? classes[root.order] : undefined, extentLength(traceExtent(tree)), {
    spanCount: tree.nodes.length,
    counts,
    error,
    serialCalls,
    parGroups,
    nPlusOne,
    overlapSavingMs,
  });
}

type Counts = { db: number; http: number; cache: number; queue: number; internal: number };

function countCategory(counts: Counts, cls: SpanClass): void {
  const category = cls.category;
  if (category === 'db') counts.db++;
  else if (category === 'cache') counts.cache++;
  else if (category === 'queue-producer' || category === 'queue-consumer') counts.queue++;
  else if (category === 'internal') counts.internal++;
  else counts.http++;
}

function row(
  traceId: string,
  root: SpanNode | undefined,
  cls: SpanClass | undefined,
  durationNs: number,
  facts: Pick<
    TraceSummary,
    'spanCount' | 'counts' | 'error' | 'serialCalls' | 'parGroups' | 'nPlusOne' | 'overlapSavingMs'
  >,
): TraceSummary {
  // Optional fields are left out rather than set to undefined, and keys keep
  // one order, so rows compare and serialise alike.
  const summary = {
    traceId,
    rootService: root?.span.serviceName ?? '',
    rootName: cls ? cls.label || root?.span.name || '' : '',
  } as { -readonly [K in keyof TraceSummary]: TraceSummary[K] };
  if (root !== undefined) summary.rootKind = root.span.kind;
  if (cls?.method !== undefined) summary.method = cls.method;
  if (cls?.route !== undefined) summary.route = cls.route;
  if (cls?.statusCode !== undefined) summary.statusCode = cls.statusCode;
  summary.startTimeNs = root?.span.startTimeNs ?? 0n;
  summary.durationNs = durationNs;
  summary.spanCount = facts.spanCount;
  summary.counts = facts.counts;
  summary.error = facts.error;
  summary.serialCalls = facts.serialCalls;
  summary.parGroups = facts.parGroups;
  summary.nPlusOne = facts.nPlusOne;
  if (facts.overlapSavingMs !== undefined) summary.overlapSavingMs = facts.overlapSavingMs;
  return summary;
}
