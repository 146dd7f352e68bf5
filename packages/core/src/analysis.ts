/**
 * The numbers shown beside the diagram: where the wall time went, the
 * critical path, serial runs that could have overlapped, N+1 groups, errors.
 */

import { CONNECTION_WAIT_ATTRIBUTE } from './call-timing.js';
import { classifySpan, type SpanCategory, type SpanClass } from './classify.js';
import { type CallDependency, type DependencyReason, longestChainMs, siblingDependencies } from './dependencies.js';
import {
  afterResponseNotes,
  arrangeChildren,
  type ChildRun,
  type DrawnCall,
  isRepeatRun,
  layoutTrace,
  outlivesResponse,
  type RepeatRun,
  responseTime,
  splitRepeats,
  type TraceLayout,
  workAfterResponse,
} from './layout.js';
import { linkedProducer } from './linked-traces.js';
import { errorMessage } from './outcome.js';
import { median } from './stats.js';
import type { Trace } from './trace.js';
import { buildSpanTree, type SpanNode, type SpanTree } from './tree.js';

/** Time spent per kind of work during the root span, in milliseconds. */
export interface CategoryTimes {
  readonly db: number;
  readonly http: number;
  readonly cache: number;
  readonly queue: number;
  /** Root wall time not covered by any outgoing call. */
  readonly own: number;
}

/** One stretch of the critical path: the span doing the work that the end of the request waited for. */
export interface CriticalStep {
  readonly spanId: string;
  readonly name: string;
  readonly serviceName: string;
  /** Offset from the root's start. */
  readonly startMs: number;
  readonly durationMs: number;
}

/** A call of a serial run that used the answer of earlier calls of the run, so had to wait for them. */
export interface DependentCall {
  readonly spanId: string;
  /** The earlier calls of the run whose answers it used. */
  readonly on: readonly string[];
  /** `value`: it sent a value they returned; `cache-aside`: a cache miss, the read it stands in for, the write of its result. */
  readonly reason: DependencyReason;
}

/**
 * Consecutive serial sibling calls. Those that did not use each other's
 * answers could have overlapped; those that did (`dependent`) had to stay serial.
 */
export interface SerialRun {
  readonly parentSpanId: string;
  readonly spanIds: readonly string[];
  readonly sumMs: number;
  readonly maxMs: number;
  /**
   * The least the run could take with every independent call overlapped: the
   * longest chain of calls that used each other's answers (equals `maxMs`
   * when none did, `sumMs` when each used the one before).
   */
  readonly chainMs: number;
  /** What overlapping the independent calls would have saved at best (sum − chain): a what-if, not a promise. */
  readonly savingMs: number;
  /** The calls that used an earlier call's answer, in start order (empty when the calls were independent). */
  readonly dependent: readonly DependentCall[];
}

/** Three or more identical serial calls in a row: the N+1 pattern. */
export interface NPlusOneGroup {
  readonly parentSpanId: string;
  readonly label: string;
  /** Display name of the participant called. */
  readonly target: string;
  readonly count: number;
  readonly totalMs: number;
  readonly p50Ms: number;
  readonly spanIds: readonly string[];
}

/** A failed span. */
export interface TraceError {
  readonly spanId: string;
  readonly name: string;
  readonly message: string;
}

/**
 * Work that ran on after a response was sent (fire-and-forget calls, jobs
 * started by the handler): drawn after the response arrow and not counted in
 * the wall time, the critical path, the time by category or the serial runs.
 */
export interface AfterResponseWork {
  /** Calls that ended after the response of the request (or downstream request) they belong to. */
  readonly calls: number;
  /** How long the longest of them ran on past that response, in milliseconds. */
  readonly durationMs: number;
  readonly spanIds: readonly string[];
}

/** Everything {@link analyzeTrace} finds. */
export interface TraceAnalysis {
  /**
   * How long the trace took: the duration of its primary root span, or, when
   * it has several roots (not counting consumers linked to a producer of the
   * trace), from the earliest root's start to the latest root's end
   * ({@link traceExtent}).
   */
  readonly wallTimeMs: number;
  readonly byCategory: CategoryTimes;
  readonly criticalPath: readonly CriticalStep[];
  readonly serialRuns: readonly SerialRun[];
  /**
   * What overlapping every serial run could save the request at most, in
   * milliseconds ({@link overlapSavingMs}): not the sum of the runs'
   * `savingMs`, since a run nested in a call that another run would overlap
   * only saves what still shortens the request; never more than its duration.
   */
  readonly overlapSavingMs: number;
  readonly nPlusOne: readonly NPlusOneGroup[];
  readonly errors: readonly TraceError[];
  /** Work that ran on after a response, when there was any. */
  readonly afterResponse?: AfterResponseWork;
  /** Oddities of the trace (orphans, skew, ...) and work after the response. */
  readonly notes: readonly string[];
}

/**
 * Analyses a trace.
 *
 * @example
 * ```ts
 * const analysis = analyzeTrace(trace);
 * analysis.byCategory.db; // ms in database calls (overlaps counted once)
 * analysis.serialRuns[0]?.savingMs; // what running that run concurrently could save
 * ```
 */
export function analyzeTrace(trace: Trace): TraceAnalysis {
  return analyzeLayout(layoutTrace(buildSpanTree(trace)));
}

/** Analyses an existing layout. */
export function analyzeLayout(layout: TraceLayout): TraceAnalysis {
  const tree = layout.tree;
  const root = tree.roots[0];
  const errors: TraceError[] = [];
  for (const node of tree.nodes) {
    if ((layout.classes[node.order] as SpanClass).failed)
      errors.push({ spanId: node.span.spanId, name: node.span.name, message: errorMessage(node) });
  }
  const { serialRuns, nPlusOne, overlapSavingMs } = callPatterns(layout);
  const after = workAfterResponse(layout);
  const notes = after.length > 0 ? [...tree.notes, ...afterResponseNotes(layout)] : tree.notes;
  const afterResponse = after.length > 0 ? afterResponseWork(after) : undefined;
  if (!root) {
    return {
      wallTimeMs: 0,
      byCategory: { db: 0, http: 0, cache: 0, queue: 0, own: 0 },
      criticalPath: [],
      serialRuns,
      overlapSavingMs,
      nPlusOne,
      errors,
      ...(afterResponse ? { afterResponse } : {}),
      notes,
    };
  }
  const outlived = outlivedSpans(after);
  return {
    wallTimeMs: ms(extentLength(traceExtent(tree))),
    byCategory: categoryTimes(tree.nodes, root, outlived),
    criticalPath: criticalPath(root, outlived),
    serialRuns,
    overlapSavingMs,
    nPlusOne,
    errors,
    ...(afterResponse ? { afterResponse } : {}),
    notes,
  };
}

/**
 * Start and end (layout ns, as on {@link SpanNode}) of what a trace's
 * duration measures: its primary root span, or, when the trace has several
 * roots, from the earliest start to the latest end among them. A consumer
 * root linked to a producer of the trace is a hand-off within one request,
 * not another root, and does not extend it, just as work a root's response
 * did not wait for does not. Undefined for an empty tree.
 *
 * @example
 * ```ts
 * // 2,000 parentless spans, 1 ms apart, 5 ms each: about 2,004 ms, not 5 ms
 * const extent = traceExtent(buildSpanTree(trace));
 * ```
 */
export function traceExtent(tree: SpanTree): { readonly start: number; readonly end: number } | undefined {
  const primary = tree.roots[0];
  if (primary === undefined) return undefined;
  let start = primary.start;
  let end = primary.end;
  for (const root of tree.roots) {
    if (root === primary) continue;
    if (isHandOff(root, tree)) continue;
    if (root.start < start) start = root.start;
    if (root.end > end) end = root.end;
  }
  return { start, end };
}

/** A consumer root linked to a producer in the same trace: a hand-off within the trace, not a second request. */
function isHandOff(root: SpanNode, tree: SpanTree): boolean {
  return root.span.kind === 'consumer' && linkedProducer(root.span, tree.byId) !== undefined;
}

/** Length of an extent from {@link traceExtent}, 0 for none. */
export function extentLength(extent: { readonly start: number; readonly end: number } | undefined): number {
  return extent === undefined ? 0 : Math.max(0, extent.end - extent.start);
}

function afterResponseWork(after: readonly { response: number; calls: readonly DrawnCall[] }[]): AfterResponseWork {
  let count = 0;
  let longest = 0;
  const spanIds: string[] = [];
  for (const { response, calls } of after) {
    for (const call of calls) {
      count++;
      spanIds.push(call.node.span.spanId);
      if (call.node.end - response > longest) longest = call.node.end - response;
    }
  }
  return { calls: count, durationMs: ms(longest), spanIds };
}

/** The spans of the calls that ran on after a response, with everything below them. */
function outlivedSpans(after: readonly { calls: readonly DrawnCall[] }[]): Set<SpanNode> {
  const out = new Set<SpanNode>();
  const stack: SpanNode[] = [];
  for (const { calls } of after) {
    for (const call of calls) {
      if (call.batch) for (const member of call.batch) stack.push(member.node);
      else stack.push(call.node);
    }
  }
  while (stack.length > 0) {
    const node = stack.pop() as SpanNode;
    if (out.has(node)) continue;
    out.add(node);
    for (const child of node.children) stack.push(child);
  }
  return out;
}

const BUCKET: Partial<Record<SpanCategory, 'db' | 'http' | 'cache' | 'queue'>> = {
  db: 'db',
  cache: 'cache',
  'http-client': 'http',
  'rpc-client': 'http',
  'queue-producer': 'queue',
};

/**
 * Time by category within the root span: the union of the root service's
 * outgoing calls of each kind, so overlapping calls are not counted twice.
 */
function categoryTimes(nodes: readonly SpanNode[], root: SpanNode, outlived: ReadonlySet<SpanNode>): CategoryTimes {
  const buckets: Record<'db' | 'http' | 'cache' | 'queue', [number, number][]> = {
    db: [],
    http: [],
    cache: [],
    queue: [],
  };
  const all: [number, number][] = [];
  for (const node of nodes) {
    if (node === root || node.span.serviceName !== root.span.serviceName) continue;
    if (node.span.kind === 'server' || node.span.kind === 'consumer') continue;
    // A call the response did not wait for is not time the client spent on it.
    if (outlived.has(node)) continue;
    const bucket = BUCKET[classifySpan(node.span).category];
    if (!bucket) continue;
    // Time spent waiting for a pooled connection is database time, not own work.
    const waitSeconds = node.span.attributes[CONNECTION_WAIT_ATTRIBUTE];
    const waitNs =
      typeof waitSeconds === 'number' && Number.isFinite(waitSeconds) && waitSeconds > 0 ? waitSeconds * 1e9 : 0;
    const start = Math.max(node.start - waitNs, root.start);
    const end = Math.min(node.end, root.end);
    if (end <= start) continue;
    buckets[bucket].push([start, end]);
    all.push([start, end]);
  }
  const wall = root.end - root.start;
  return {
    db: ms(unionLength(buckets.db)),
    http: ms(unionLength(buckets.http)),
    cache: ms(unionLength(buckets.cache)),
    queue: ms(unionLength(buckets.queue)),
    own: ms(Math.max(0, wall - unionLength(all))),
  };
}

/** Total length covered by a set of intervals, overlaps counted once. */
export function unionLength(intervals: [number, number][]): number {
  if (intervals.length === 0) return 0;
  intervals.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [curStart, curEnd] = intervals[0] as [number, number];
  for (let i = 1; i < intervals.length; i++) {
    const [start, end] = intervals[i] as [number, number];
    if (start > curEnd) {
      total += curEnd - curStart;
      curStart = start;
      curEnd = end;
    } else if (end > curEnd) {
      curEnd = end;
    }
  }
  return total + (curEnd - curStart);
}

interface Frame {
  readonly node: SpanNode;
  readonly lo: number;
  cursor: number;
  readonly kids: SpanNode[];
  i: number;
}

/**
 * The critical path, walking back from the root's end: at each moment, the
 * span the request was waiting on. A span's own work (time no child covers)
 * is a step of that span, so the steps add up to the root's duration.
 * Consumers of queue messages are left out, and so is work that ran on after
 * a response: the request never waited for them.
 */
function criticalPath(root: SpanNode, outlived: ReadonlySet<SpanNode>): CriticalStep[] {
  const reversed: { node: SpanNode; start: number; end: number }[] = [];
  const emit = (node: SpanNode, start: number, end: number): void => {
    const last = reversed[reversed.length - 1];
    if (last && last.node === node && last.start === end) last.start = start;
    else reversed.push({ node, start, end });
  };
  const frame = (node: SpanNode, lo: number, hi: number): Frame => ({
    node,
    lo,
    cursor: hi,
    kids: node.children
      .filter((c) => !(c.span.kind === 'consumer' && node.span.kind === 'producer') && !outlived.has(c))
      .sort((a, b) => b.end - a.end || a.order - b.order),
    i: 0,
  });
  const stack: Frame[] = [frame(root, root.start, root.end)];
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    if (f.i < f.kids.length && f.cursor > f.lo) {
      const child = f.kids[f.i++] as SpanNode;
      const end = Math.min(child.end, f.cursor);
      const start = Math.max(child.start, f.lo);
      if (end <= start) continue;
      if (f.cursor > end) emit(f.node, end, f.cursor);
      f.cursor = start;
      stack.push(frame(child, start, end));
    } else {
      if (f.cursor > f.lo) emit(f.node, f.lo, f.cursor);
      stack.pop();
    }
  }
  reversed.reverse();
  return reversed.map((step) => ({
    spanId: step.node.span.spanId,
    name: classifySpan(step.node.span).label || step.node.span.name,
    serviceName: step.node.span.serviceName,
    startMs: ms(step.start - root.start),
    durationMs: ms(step.end - step.start),
  }));
}

/**
 * Serial runs, N+1 groups and `par` groups among the calls the client waited
 * for (work after a response left out), by the same rules the diagram uses:
 * what the analysis reports.
 */
export function callPatterns(layout: TraceLayout): {
  serialRuns: SerialRun[];
  nPlusOne: NPlusOneGroup[];
  parGroups: number;
  overlapSavingMs: number;
} {
  const serialRuns: SerialRun[] = [];
  const nPlusOne: NPlusOneGroup[] = [];
  let parGroups = 0;
  const overlapSavingMs = walkCallPatterns(layout, {
    serial: (parent, calls, dependencies) => serialRuns.push(serialRun(parent, calls, dependencies)),
    repeat: (parent, piece) => {
      const durations = piece.calls.map(duration);
      nPlusOne.push({
        parentSpanId: parent.node.span.spanId,
        label: piece.label,
        target: (piece.calls[0] as DrawnCall).to.name,
        count: piece.calls.length,
        totalMs: round(durations.reduce((a, b) => a + b, 0)),
        p50Ms: median(durations),
        spanIds: piece.calls.map((c) => c.node.span.spanId),
      });
    },
    par: () => parGroups++,
  });
  return { serialRuns, nPlusOne, parGroups, overlapSavingMs };
}

/**
 * The counts of {@link callPatterns} (calls in serial runs, `par` groups, N+1
 * groups) and what overlapping the serial runs could save the request
 * (`TraceAnalysis.overlapSavingMs`), without building the runs: what the
 * list-view summary shows.
 */
export function countCallPatterns(layout: TraceLayout): {
  serialCalls: number;
  parGroups: number;
  nPlusOne: number;
  overlapSavingMs: number;
} {
  let serialCalls = 0;
  let parGroups = 0;
  let nPlusOne = 0;
  const overlapSavingMs = walkCallPatterns(layout, {
    serial: (_parent, calls) => {
      serialCalls += calls.length;
    },
    repeat: () => nPlusOne++,
    par: () => parGroups++,
  });
  return { serialCalls, parGroups, nPlusOne, overlapSavingMs };
}

/** Where {@link walkCallPatterns} reports what it finds. */
interface PatternSink {
  /** Two or more serial calls under `parent`, with the dependencies among `parent`'s children. */
  serial(parent: DrawnCall, calls: DrawnCall[], dependencies: ReadonlyMap<DrawnCall, CallDependency>): void;
  /** A run of the same call again (N+1) under `parent`. */
  repeat(parent: DrawnCall, run: RepeatRun): void;
  /** A group of concurrent calls. */
  par(): void;
}

/**
 * The one walk behind the analysis' patterns and the summary's counts.
 * Returns what overlapping the serial runs could save the request, in ms
 * (`TraceAnalysis.overlapSavingMs`), reckoned from the innermost calls out:
 * each call could end earlier by what its own children could save, so a
 * run's calls count with their shortened durations, a `par` block ends when
 * its member that would end last does, and a single call passes on what its
 * children could save. A run nested in a call that an outer run would
 * overlap is then counted only as far as it still shortens the request,
 * and the total never exceeds the time the request took.
 */
function walkCallPatterns(layout: TraceLayout, sink: PatternSink): number {
  const repeats = (parent: DrawnCall, calls: readonly DrawnCall[]): void => {
    for (const piece of splitRepeats(calls)) if (isRepeatRun(piece)) sink.repeat(parent, piece);
  };
  // Calls that ran on after a response, and all they did, are not what the client waited for.
  const after = new Set<DrawnCall>();
  for (const entry of workAfterResponse(layout)) {
    const stack = [...entry.calls];
    while (stack.length > 0) {
      const call = stack.pop() as DrawnCall;
      after.add(call);
      for (const child of call.children) stack.push(child);
    }
  }
  const { calls } = layout;
  // Per call (by index): its waited children's runs and their dependencies, for the second pass.
  const runsAt: (readonly ChildRun[] | undefined)[] = new Array(calls.length);
  const dependenciesAt: (ReadonlyMap<DrawnCall, CallDependency> | undefined)[] = new Array(calls.length);
  // What each call's children could save (ms), children before parents: the calls in reverse.
  const inner = new Map<DrawnCall, number>();
  const savingOf = (call: DrawnCall): number => inner.get(call) ?? 0;
  const shortened = (call: DrawnCall): number => Math.max(0, duration(call) - savingOf(call));
  const dependenciesOf = (index: number): ReadonlyMap<DrawnCall, CallDependency> => {
    let found = dependenciesAt[index];
    if (found === undefined) {
      found = siblingDependencies((calls[index] as DrawnCall).children);
      dependenciesAt[index] = found;
    }
    return found;
  };
  for (let index = calls.length - 1; index >= 0; index--) {
    const call = calls[index] as DrawnCall;
    if (call.children.length === 0 || after.has(call)) continue;
    const response = responseTime(call);
    const waited = call.children.filter((child) => !outlivesResponse(response, child.node));
    if (waited.length < 2) {
      // One call waited for: no run or block, only what that call could save (a consumer saves the request nothing).
      const only = waited[0];
      const saving = only === undefined || only.role === 'consume' ? 0 : savingOf(only);
      if (saving > 0) inner.set(call, Math.min(saving, duration(call)));
      continue;
    }
    const runs = arrangeChildren(waited);
    runsAt[index] = runs;
    let saving = 0;
    for (const run of runs) {
      if (run.type === 'par') {
        saving += parSaving(run.calls, savingOf);
        continue;
      }
      forEachSerialRun(run.calls, (candidates) => {
        saving +=
          candidates.length === 1
            ? savingOf(candidates[0] as DrawnCall)
            : runSaving(candidates, dependenciesOf(index), shortened);
      });
    }
    if (saving > 0) inner.set(call, Math.min(saving, duration(call)));
  }
  // The patterns in the calls' order, parents before children.
  for (let index = 0; index < calls.length; index++) {
    const call = calls[index] as DrawnCall;
    const runs = runsAt[index];
    // One child is one serial call: no run, no par, no repeat.
    if (runs === undefined || call.children.length < 2) continue;
    for (const run of runs) {
      if (run.type === 'par') {
        sink.par();
        for (const lane of run.lanes) repeats(call, lane);
        continue;
      }
      repeats(call, run.calls);
      forEachSerialRun(run.calls, (candidates) => {
        if (candidates.length >= 2) sink.serial(call, candidates, dependenciesOf(index));
      });
    }
  }
  // Several roots are several requests: their savings add up only where they
  // ran one after another. Where they overlapped, the trace ends when the one
  // that would end last does, as in a par block.
  // Only the requests the trace's wall time spans count: a consumer drawn at
  // the top because it ran after everything else (its span hangs below a
  // request), or a hand-off from a producer of the trace, is work nobody
  // waited for, like a consumer inside a call.
  let total = 0;
  const roots = layout.top.filter(
    (call) => !after.has(call) && call.node.parent === undefined && !isHandOff(call.node, layout.tree),
  );
  for (const run of roots.length < 2 ? [{ type: 'serial' as const, calls: roots }] : arrangeChildren(roots)) {
    if (run.type === 'par') total += parSaving(run.calls, savingOf);
    else for (const call of run.calls) total += savingOf(call);
  }
  return round(total);
}

/**
 * What a `par` block's members could save it, in ms: the block ends when its
 * member that would end last does, each member ending earlier by what its
 * own runs could save (`savingOf`).
 */
function parSaving(calls: readonly DrawnCall[], savingOf: (call: DrawnCall) => number): number {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  let earlierEnd = Number.NEGATIVE_INFINITY;
  for (const c of calls) {
    start = Math.min(start, c.node.start);
    end = Math.max(end, c.node.end);
    earlierEnd = Math.max(earlierEnd, c.node.end - savingOf(c) * 1e6);
  }
  return Math.max(0, ms(end - Math.max(start, earlierEnd)));
}

/**
 * Calls `each` with the stretches of a serial run that its consumers split
 * (a consumer is not a call its parent made and waited for), one call or more.
 */
function forEachSerialRun(calls: readonly DrawnCall[], each: (candidates: DrawnCall[]) => void): void {
  let candidates: DrawnCall[] = [];
  for (const c of calls) {
    if (c.role !== 'consume') {
      candidates.push(c);
      continue;
    }
    if (candidates.length > 0) each(candidates);
    candidates = [];
  }
  if (candidates.length > 0) each(candidates);
}

/**
 * What running a serial run's calls side by side could save: the sum of
 * their durations less the longest chain of calls that used each other's
 * answers, each call counted with its `shortened` duration (what it would
 * take once its own nested runs overlapped).
 */
function runSaving(
  calls: readonly DrawnCall[],
  dependencies: ReadonlyMap<DrawnCall, CallDependency>,
  shortened: (call: DrawnCall) => number,
): number {
  let sum = 0;
  let longest = 0;
  for (const call of calls) {
    sum += duration(call);
    longest = Math.max(longest, shortened(call));
  }
  const chain = dependencies.size === 0 ? longest : Math.max(longest, longestChainMs(calls, shortened, dependencies));
  return Math.max(0, sum - chain);
}

/**
 * The one reckoning of what a serial run could save, behind the analysis, the
 * list-view summary, the endpoints' saving and the Markdown line: the sum of
 * the durations less the longest chain of calls that used each other's answers.
 */
function serialRun(
  parent: DrawnCall,
  calls: readonly DrawnCall[],
  dependencies: ReadonlyMap<DrawnCall, CallDependency>,
): SerialRun {
  const durations = calls.map(duration);
  const sumMs = round(durations.reduce((a, b) => a + b, 0));
  const maxMs = durations.reduce((a, b) => Math.max(b, a), 0);
  const dependent: DependentCall[] = [];
  // Most runs have no dependencies at all (the list-view summary reckons every trace): no set for them.
  if (dependencies.size > 0) {
    const inRun = new Set(calls);
    for (const call of calls) {
      const found = dependencies.get(call);
      const on = found?.on.filter((c) => inRun.has(c));
      if (found === undefined || on === undefined || on.length === 0) continue;
      dependent.push({ spanId: call.node.span.spanId, on: on.map((c) => c.node.span.spanId), reason: found.reason });
    }
  }
  const chainMs =
    dependent.length === 0 ? maxMs : round(Math.max(maxMs, longestChainMs(calls, duration, dependencies)));
  return {
    parentSpanId: parent.node.span.spanId,
    spanIds: calls.map((c) => c.node.span.spanId),
    sumMs,
    maxMs,
    chainMs,
    savingMs: round(Math.max(0, sumMs - chainMs)),
    dependent,
  };
}

function duration(call: DrawnCall): number {
  return ms(call.node.end - call.node.start);
}

/**
 * Nanoseconds to milliseconds, rounded to the microsecond: float64 epoch
 * nanoseconds are only exact to a few hundred nanoseconds, and printing that
 * noise (54.000128 ms) helps nobody.
 */
function ms(ns: number): number {
  return round(ns / 1e6);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Most entries {@link boundAnalysis} keeps in each list of an analysis (the
 * critical path, serial runs, N+1 groups, errors, notes) and in each list of
 * span ids within one entry. A trace of 250,000 spans has a critical path of
 * as many steps: 40 MB of JSON nobody reads.
 */
export const MAX_ANALYSIS_ITEMS = 1000;

/** How many entries {@link boundAnalysis} left out of each list; absent lists lost nothing. */
export interface AnalysisOmissions {
  readonly criticalPath?: number;
  readonly serialRuns?: number;
  readonly nPlusOne?: number;
  readonly errors?: number;
  readonly notes?: number;
  /** Span ids left out of the entries kept (serial runs, N+1 groups, work after the response). */
  readonly spanIds?: number;
  /** Dependent calls left out of the serial runs kept. */
  readonly dependent?: number;
}

/** An analysis with its lists cut by {@link boundAnalysis}. */
export interface BoundedTraceAnalysis extends TraceAnalysis {
  /** What was left out, present only when something was. */
  readonly omitted?: AnalysisOmissions;
}

/**
 * Cuts every list of an analysis to its first `max` entries, so the analysis
 * of a huge trace stays small, and says how many entries each list lost.
 * Totals (wall time, time by category, an N+1 group's `count` and
 * `totalMs`, `afterResponse.calls`) still cover everything.
 *
 * @param max - entries kept per list, at least 1 (default {@link MAX_ANALYSIS_ITEMS})
 *
 * @example
 * ```ts
 * const { criticalPath, omitted } = boundAnalysis(analyzeTrace(trace), 100);
 * omitted?.criticalPath; // steps left out, when there were more than 100
 * ```
 */
export function boundAnalysis(analysis: TraceAnalysis, max: number = MAX_ANALYSIS_ITEMS): BoundedTraceAnalysis {
  const limit = Math.max(1, Math.floor(max));
  const omitted: Record<string, number> = {};
  const count = (key: keyof AnalysisOmissions, n: number): void => {
    if (n > 0) omitted[key] = (omitted[key] ?? 0) + n;
  };
  const cut = <T>(list: readonly T[], key: keyof AnalysisOmissions): readonly T[] => {
    if (list.length <= limit) return list;
    count(key, list.length - limit);
    return list.slice(0, limit);
  };
  const serialRuns = cut(analysis.serialRuns, 'serialRuns').map((run) => ({
    ...run,
    spanIds: cut(run.spanIds, 'spanIds'),
    dependent: cut(run.dependent, 'dependent'),
  }));
  const nPlusOne = cut(analysis.nPlusOne, 'nPlusOne').map((group) => ({
    ...group,
    spanIds: cut(group.spanIds, 'spanIds'),
  }));
  const bounded: BoundedTraceAnalysis = {
    ...analysis,
    criticalPath: cut(analysis.criticalPath, 'criticalPath'),
    serialRuns,
    nPlusOne,
    errors: cut(analysis.errors, 'errors'),
    ...(analysis.afterResponse
      ? { afterResponse: { ...analysis.afterResponse, spanIds: cut(analysis.afterResponse.spanIds, 'spanIds') } }
      : {}),
    notes: cut(analysis.notes, 'notes'),
  };
  return Object.keys(omitted).length === 0 ? bounded : { ...bounded, omitted };
}
