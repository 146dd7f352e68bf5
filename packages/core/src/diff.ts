/**
 * What a change did to a request: two flows aligned in order (calls added and
 * removed, loops whose count changed, calls that began or stopped
 * overlapping, errors that appeared or went away), the calls per kind, and
 * wall time, database time and critical path with a noise rule.
 */
import { alignPairs } from './align.js';
import { analyzeTrace, type TraceAnalysis } from './analysis.js';
import { type Flow, type FlowCall, type FlowCallKind, traceFlow } from './flow.js';
import { MIN_REPEAT } from './layout.js';
import { median } from './sequence.js';
import type { Trace } from './trace.js';

/**
 * - `added`, `removed`: a call only one side makes (with everything under it);
 * - `loop`: the same call repeated a different number of times (`6× SELECT authors` → `1×`);
 * - `overlap-gained`, `overlap-lost`: a call that now runs concurrently with its siblings, or no longer does;
 * - `now-dependent`: a call no longer concurrent with siblings because it now uses one's answer, or one uses its
 *   answer (`lifeline.depends_on`, cache-aside): not a lost overlap, since they could not overlap any more;
 * - `new-error`, `fixed-error`: a call that now fails, or no longer does;
 * - `status`: a call answered with another HTTP status code;
 * - `moved`: a serial call now made at another place among its siblings (`SELECT b moved before SELECT a`);
 * - `endpoint`: the two requests compared are not the same endpoint.
 */
export type FlowChangeKind =
  | 'added'
  | 'removed'
  | 'loop'
  | 'overlap-gained'
  | 'overlap-lost'
  | 'now-dependent'
  | 'new-error'
  | 'fixed-error'
  | 'status'
  | 'moved'
  | 'endpoint';

/** One difference between two flows. */
export interface FlowChange {
  readonly kind: FlowChangeKind;
  /** The call as it was (absent for `added`). */
  readonly before?: FlowCall;
  /** The call as it is now (absent for `removed`). */
  readonly after?: FlowCall;
  /** Labels of the calls it is nested in, outermost first (the request's own label first). */
  readonly path: readonly string[];
  /** One readable line: `loop 6× SELECT authors → 1× SELECT authors`. */
  readonly text: string;
}

/** A number of each run, its change and whether the change is beyond the runs' own noise. */
export interface MetricChange {
  /** Median of the `before` samples. */
  readonly before: number;
  /** Median of the `after` samples. */
  readonly after: number;
  /** `after − before`. */
  readonly change: number;
  /**
   * What a change must exceed to count: the larger spread (max − min) of
   * the two runs' samples, and never less than the noise floor.
   */
  readonly noiseBelow: number;
  /** True when `|change| <= noiseBelow`: the runs vary more than they changed. */
  readonly noise: boolean;
  /** Samples behind each side (requests of the endpoint). */
  readonly samples: { readonly before: number; readonly after: number };
}

/** One shape of an endpoint's requests and its share of each run. */
export interface ShapeShare {
  /** The calls under the request: `SELECT articles, SELECT comments`. */
  readonly calls: string;
  /** Share of the requests, 0–1. */
  readonly before: number;
  readonly after: number;
}

/** A regression worth failing a build on (`lifeline diff --fail-on`). */
export type Regression = 'n-plus-one' | 'more-queries' | 'lost-overlap' | 'new-error';

/** Every regression name, for parsers of user input. */
export const REGRESSIONS: readonly Regression[] = ['n-plus-one', 'more-queries', 'lost-overlap', 'new-error'];

/** How two requests (or two runs of one endpoint) differ. */
export interface FlowDiff {
  /** Differences of the flows, in the order of the new flow (removed calls where they were). */
  readonly changes: readonly FlowChange[];
  /** Calls per kind, every call of a loop counted. */
  readonly counts: Readonly<Record<FlowCallKind, { readonly before: number; readonly after: number }>>;
  /** Calls per callee (display name), both sides; the request itself left out. */
  readonly byParticipant: Readonly<Record<string, { readonly before: number; readonly after: number }>>;
  /** In milliseconds. `criticalPath` is the time of the critical path spent waiting for calls (not own work). */
  readonly timing: {
    readonly wallTime: MetricChange;
    readonly databaseTime: MetricChange;
    readonly criticalPath: MetricChange;
  };
  /** Calls (labels) that joined or left the critical path. */
  readonly criticalPathCalls: { readonly joined: readonly string[]; readonly left: readonly string[] };
  /** The regressions found, each once, in {@link REGRESSIONS} order. */
  readonly regressions: readonly Regression[];
  /** Whether anything beyond noise differs. */
  readonly same: boolean;
  /** The requests whose flows were compared (for a run: the representative request of each side). */
  readonly beforeTraceId: string;
  readonly afterTraceId: string;
  /**
   * When the requests of either side take more than one shape (calls and
   * loop counts, no times): each shape's share of each side's requests
   * (0–1), most common first. Empty otherwise.
   */
  readonly shapes: readonly ShapeShare[];
  /** Per span id of the `after` request's drawn calls: how the diagram highlights it. */
  readonly highlights: Readonly<Record<string, 'added' | 'changed'>>;
}

/** Options of {@link diffTraces} and {@link diffRequests}. */
export interface DiffOptions {
  /**
   * Smallest change in milliseconds that counts when the runs show no
   * spread (one request each). Default 0.5: below it, differences are the
   * clock's and the scheduler's, not the code's.
   */
  readonly noiseFloorMs?: number;
  /** Smallest change, as a share of the `before` median, that counts. Default 0.05 (5 %). */
  readonly noiseFloorRatio?: number;
}

/**
 * Compares two requests.
 *
 * @example
 * ```ts
 * const diff = diffTraces(before, after);
 * diff.changes.map((change) => change.text); // ['loop 6× SELECT authors → 1× SELECT authors']
 * diff.regressions; // []
 * ```
 */
export function diffTraces(before: Trace, after: Trace, options: DiffOptions = {}): FlowDiff {
  return diffRequests([before], [after], options);
}

/**
 * Compares two runs of one endpoint, several requests each: the flows of a
 * representative request of each side (the most common shape, then the
 * median wall time), and the timings over all of them, so that the runs'
 * own spread decides what is noise.
 *
 * @throws {RangeError} when either side has no request.
 */
export function diffRequests(before: readonly Trace[], after: readonly Trace[], options: DiffOptions = {}): FlowDiff {
  if (before.length === 0 || after.length === 0) throw new RangeError('diffRequests needs a request on each side');
  const a = before.map(sample);
  const b = after.map(sample);
  // Requests of an endpoint can take several shapes (a query on every other
  // request). When both runs show the same shapes, their representatives
  // are taken of one shape, the most common over both: comparing one run's
  // 3-of-5 with the other's 10-of-20 would report a change nobody made.
  const shapesA = new Set(a.map((s) => s.shape));
  const shapesB = new Set(b.map((s) => s.shape));
  const sameShapes = shapesA.size === shapesB.size && [...shapesA].every((shape) => shapesB.has(shape));
  const shared = sameShapes ? mostCommonShape([...a, ...b]) : undefined;
  const repA = representative(shared === undefined ? a : a.filter((s) => s.shape === shared));
  const repB = representative(shared === undefined ? b : b.filter((s) => s.shape === shared));
  const changes: FlowChange[] = [];
  const highlights: Record<string, 'added' | 'changed'> = {};
  alignLevel(repA.flow.calls, repB.flow.calls, [], changes, highlights, true);

  const counts = {} as Record<FlowCallKind, { before: number; after: number }>;
  for (const kind of Object.keys(repB.flow.counts) as FlowCallKind[]) {
    counts[kind] = { before: repA.flow.counts[kind], after: repB.flow.counts[kind] };
  }
  const byParticipant: Record<string, { before: number; after: number }> = {};
  for (const [name, count] of Object.entries(repA.flow.byParticipant))
    byParticipant[name] = { before: count, after: 0 };
  for (const [name, count] of Object.entries(repB.flow.byParticipant)) {
    byParticipant[name] = { before: byParticipant[name]?.before ?? 0, after: count };
  }

  const floorMs = options.noiseFloorMs ?? 0.5;
  const ratio = options.noiseFloorRatio ?? 0.05;
  const metric = (read: (s: Sample) => number): MetricChange => metricChange(a.map(read), b.map(read), floorMs, ratio);
  const timing = {
    wallTime: metric((s) => s.analysis.wallTimeMs),
    databaseTime: metric((s) => s.analysis.byCategory.db),
    criticalPath: metric(waitingOnCalls),
  };
  const pathA = new Set(criticalLabels(repA));
  const pathB = new Set(criticalLabels(repB));
  const criticalPathCalls = {
    joined: [...pathB].filter((label) => !pathA.has(label)),
    left: [...pathA].filter((label) => !pathB.has(label)),
  };

  const found = new Set<Regression>();
  for (const change of changes) {
    if (change.kind === 'overlap-lost') found.add('lost-overlap');
    if (change.kind === 'new-error' || (change.kind === 'added' && hasFailure(change.after))) found.add('new-error');
    if (newLoop(change)) found.add('n-plus-one');
  }
  if (counts.database.after > counts.database.before) found.add('more-queries');
  const regressions = REGRESSIONS.filter((r) => found.has(r));
  const countsDiffer = Object.values(counts).some((c) => c.before !== c.after);
  const same =
    changes.length === 0 &&
    !countsDiffer &&
    timing.wallTime.noise &&
    timing.databaseTime.noise &&
    timing.criticalPath.noise;
  return {
    changes,
    counts,
    byParticipant,
    timing,
    criticalPathCalls,
    regressions,
    same,
    beforeTraceId: repA.trace.traceId,
    afterTraceId: repB.trace.traceId,
    highlights,
    shapes: shapeShares(a, b),
  };
}

/** The shape most requests of both sides take; ties to the first in shape order, so both sides agree. */
function mostCommonShape(samples: readonly Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.shape, (counts.get(s.shape) ?? 0) + 1);
  return [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))[0]?.[0] ?? '';
}

/** Shares of each shape on each side, when either side has more than one; most common (after) first. */
function shapeShares(a: readonly Sample[], b: readonly Sample[]): ShapeShare[] {
  const all = new Map<string, { calls: string; before: number; after: number }>();
  for (const [side, samples] of [['before', a] as const, ['after', b] as const]) {
    for (const s of samples) {
      const entry = all.get(s.shape) ?? { calls: shapeCalls(s.flow), before: 0, after: 0 };
      entry[side] += 1 / samples.length;
      all.set(s.shape, entry);
    }
  }
  if (all.size < 2) return [];
  return [...all.values()]
    .map((e) => ({ calls: e.calls, before: round(e.before), after: round(e.after) }))
    .sort((x, y) => y.after - x.after || y.before - x.before);
}

/** `SELECT articles, SELECT comments`: the calls under the request, a loop as `6× SELECT authors`. */
function shapeCalls(flow: Flow): string {
  const calls = flow.calls[0]?.children ?? [];
  if (calls.length === 0) return 'no call';
  return calls.map((c) => `${c.count > 1 ? `${c.count}× ` : ''}${c.label}`).join(', ');
}

interface Sample {
  readonly trace: Trace;
  readonly flow: Flow;
  readonly analysis: TraceAnalysis;
  /** The flow's shape: keys and counts, no times. */
  readonly shape: string;
}

function sample(trace: Trace): Sample {
  const flow = traceFlow(trace);
  return { trace, flow, analysis: analyzeTrace(trace), shape: shapeOf(flow.calls) };
}

function shapeOf(calls: readonly FlowCall[]): string {
  return calls
    .map(
      (c) => `${c.key}×${c.count}${c.parGroup !== undefined ? '∥' : ''}${c.failed ? '!' : ''}(${shapeOf(c.children)})`,
    )
    .join(';');
}

/** The request of the most common shape, and of those the one with the median wall time. */
function representative(samples: readonly Sample[]): Sample {
  const byShape = new Map<string, Sample[]>();
  for (const s of samples) {
    const list = byShape.get(s.shape);
    if (list) list.push(s);
    else byShape.set(s.shape, [s]);
  }
  let common: Sample[] = [];
  for (const list of byShape.values()) if (list.length > common.length) common = list;
  const sorted = [...common].sort((x, y) => x.analysis.wallTimeMs - y.analysis.wallTimeMs);
  return sorted[(sorted.length - 1) >> 1] as Sample;
}

/** Time on the critical path spent waiting for calls: the root's own work left out. */
function waitingOnCalls(s: Sample): number {
  const rootId = s.flow.calls[0]?.spanId;
  let total = 0;
  for (const step of s.analysis.criticalPath) if (step.spanId !== rootId) total += step.durationMs;
  return Math.round(total * 1000) / 1000;
}

function criticalLabels(s: Sample): string[] {
  const rootId = s.flow.calls[0]?.spanId;
  return s.analysis.criticalPath.filter((step) => step.spanId !== rootId).map((step) => step.name);
}

function metricChange(
  before: readonly number[],
  after: readonly number[],
  floorMs: number,
  ratio: number,
): MetricChange {
  const mBefore = median(before);
  const mAfter = median(after);
  const spread = Math.max(range(before), range(after));
  const noiseBelow = round(Math.max(spread, floorMs, ratio * Math.abs(mBefore)));
  const change = round(mAfter - mBefore);
  return {
    before: round(mBefore),
    after: round(mAfter),
    change,
    noiseBelow,
    noise: Math.abs(change) <= noiseBelow,
    samples: { before: before.length, after: after.length },
  };
}

function range(values: readonly number[]): number {
  if (values.length < 2) return 0;
  return Math.max(...values) - Math.min(...values);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function hasFailure(call: FlowCall | undefined): boolean {
  if (call === undefined) return false;
  return call.failed || call.children.some(hasFailure);
}

function newLoop(change: FlowChange): boolean {
  if (change.kind === 'loop')
    return (change.after?.count ?? 0) >= MIN_REPEAT && (change.before?.count ?? 0) < MIN_REPEAT;
  if (change.kind === 'added') return containsLoop(change.after);
  return false;
}

function containsLoop(call: FlowCall | undefined): boolean {
  if (call === undefined) return false;
  return call.count >= MIN_REPEAT || call.children.some(containsLoop);
}

/**
 * Aligns two lists of sibling calls in order: the longest common
 * subsequence of their keys, then calls of the same key left over on both
 * sides paired in order (a call that moved, e.g. into a `par` block that
 * sorts its members). Pairs are compared and their children aligned in turn.
 */
function alignLevel(
  before: readonly FlowCall[],
  after: readonly FlowCall[],
  path: readonly string[],
  changes: FlowChange[],
  highlights: Record<string, 'added' | 'changed'>,
  top = false,
): void {
  const pairs = lcs(before, after);
  const pairedA = new Set(pairs.map(([i]) => i));
  const pairedB = new Set(pairs.map(([, j]) => j));
  const inOrder = pairs.length;
  for (let j = 0; j < after.length; j++) {
    if (pairedB.has(j)) continue;
    const key = (after[j] as FlowCall).key;
    const i = before.findIndex((call, index) => !pairedA.has(index) && call.key === key);
    if (i >= 0) {
      pairs.push([i, j]);
      pairedA.add(i);
      pairedB.add(j);
    }
  }
  // Pairs found after the common subsequence are calls out of order. Among
  // serial calls the order is the code's (B now awaited before A); members
  // of a concurrent group have no order of their own.
  const moves = new Map<number, string>();
  for (const [i, j] of pairs.slice(inOrder)) {
    const a = before[i] as FlowCall;
    const b = after[j] as FlowCall;
    if (a.parGroup !== undefined || b.parGroup !== undefined) continue;
    const passed = pairs.find(([pi, pj]) => pj > j && pi < i && (after[pj] as FlowCall).parGroup === undefined);
    const behind = pairs.find(([pi, pj]) => pj < j && pi > i && (after[pj] as FlowCall).parGroup === undefined);
    if (passed !== undefined) moves.set(j, `moved before ${(after[passed[1]] as FlowCall).label}`);
    else if (behind !== undefined) moves.set(j, `moved after ${(after[behind[1]] as FlowCall).label}`);
  }
  // Two requests compared head to head are the request of each side, whatever their routes.
  if (top && before.length === 1 && after.length === 1 && pairs.length === 0) {
    const [a, b] = [before[0] as FlowCall, after[0] as FlowCall];
    if (a.kind === b.kind) {
      pairs.push([0, 0]);
      pairedA.add(0);
      pairedB.add(0);
      changes.push({
        kind: 'endpoint',
        before: a,
        after: b,
        path: [],
        text: `compared ${a.label} on ${a.to} with ${b.label} on ${b.to}`,
      });
    }
  }
  pairs.sort((x, y) => x[1] - y[1]);
  const pairOfB = new Map(pairs.map(([i, j]) => [j, i]));
  // Removed calls are reported where they were: before the first kept call that followed them.
  let nextA = 0;
  const removedUpTo = (limit: number): void => {
    for (; nextA < limit; nextA++) {
      if (pairedA.has(nextA)) continue;
      const gone = before[nextA] as FlowCall;
      changes.push({ kind: 'removed', before: gone, path, text: `removed ${describe(gone)}${nested(gone)}` });
    }
  };
  // A group that began (or stopped) overlapping is said once, by its first member.
  const overlapSaid = new Set<string>();
  for (let j = 0; j < after.length; j++) {
    const b = after[j] as FlowCall;
    const i = pairOfB.get(j);
    if (i === undefined) {
      changes.push({ kind: 'added', after: b, path, text: `added ${describe(b)}${nested(b)}` });
      markAll(b, highlights);
      continue;
    }
    removedUpTo(i);
    const a = before[i] as FlowCall;
    const own = compare(a, b, after, before, path).filter((change) => {
      const group =
        change.kind === 'overlap-gained'
          ? `+${b.parGroup}`
          : change.kind === 'overlap-lost' || change.kind === 'now-dependent'
            ? `-${a.parGroup}`
            : undefined;
      if (group === undefined) return true;
      if (overlapSaid.has(group)) {
        highlights[b.spanId] ??= 'changed';
        return false;
      }
      overlapSaid.add(group);
      return true;
    });
    const moved = moves.get(j);
    if (moved !== undefined)
      own.unshift({ kind: 'moved', before: a, after: b, path, text: `${b.label} (${b.to}) ${moved}` });
    if (own.length > 0) {
      changes.push(...own);
      highlights[b.spanId] ??= 'changed';
    }
    alignLevel(a.children, b.children, [...path, b.label], changes, highlights);
  }
  removedUpTo(before.length);
}

function markAll(call: FlowCall, highlights: Record<string, 'added' | 'changed'>): void {
  highlights[call.spanId] = 'added';
  for (const child of call.children) markAll(child, highlights);
}

function compare(
  a: FlowCall,
  b: FlowCall,
  afterSiblings: readonly FlowCall[],
  beforeSiblings: readonly FlowCall[],
  path: readonly string[],
): FlowChange[] {
  const out: FlowChange[] = [];
  if (a.count !== b.count) {
    out.push({
      kind: 'loop',
      before: a,
      after: b,
      path,
      text: `${a.count >= MIN_REPEAT ? 'loop ' : ''}${a.count}× ${a.label} → ${b.count >= MIN_REPEAT ? 'loop ' : ''}${b.count}× ${b.label} (${b.to})`,
    });
  }
  const wasConcurrent = a.parGroup !== undefined;
  const isConcurrent = b.parGroup !== undefined;
  if (!wasConcurrent && isConcurrent) {
    const partners = afterSiblings.filter((s) => s !== b && s.parGroup === b.parGroup).map((s) => s.label);
    out.push({
      kind: 'overlap-gained',
      before: a,
      after: b,
      path,
      text: `${b.label} (${b.to}) now overlaps ${list(partners)}`,
    });
  } else if (wasConcurrent && !isConcurrent) {
    const partners = beforeSiblings.filter((s) => s !== a && s.parGroup === a.parGroup).map((s) => s.label);
    // A call that now uses a former partner's answer (or whose answer a
    // former partner now uses) could not overlap it any more: the code
    // changed what it needs, which is no lost overlap.
    const used = (b.usesAnswerOf ?? []).filter((label) => partners.includes(label));
    const usedBy = afterSiblings
      .filter((s) => s !== b && partners.includes(s.label) && (s.usesAnswerOf ?? []).includes(b.label))
      .map((s) => s.label);
    out.push({
      kind: used.length > 0 || usedBy.length > 0 ? 'now-dependent' : 'overlap-lost',
      before: a,
      after: b,
      path,
      text:
        used.length > 0
          ? `${b.label} (${b.to}) no longer overlaps ${list(partners)}: it now uses the answer of ${list(used)}`
          : usedBy.length > 0
            ? `${b.label} (${b.to}) no longer overlaps ${list(partners)}: ${list(usedBy)} now uses its answer`
            : `${b.label} (${b.to}) no longer overlaps ${list(partners)}: they run one after another`,
    });
  }
  if (!a.failed && b.failed) {
    out.push({
      kind: 'new-error',
      before: a,
      after: b,
      path,
      text: `${b.label} (${b.to}) now fails: ${b.error ?? 'error'}`,
    });
  } else if (a.failed && !b.failed) {
    out.push({
      kind: 'fixed-error',
      before: a,
      after: b,
      path,
      text: `${b.label} (${b.to}) no longer fails (was: ${a.error ?? 'error'})`,
    });
  } else if (a.statusCode !== undefined && b.statusCode !== undefined && a.statusCode !== b.statusCode) {
    out.push({
      kind: 'status',
      before: a,
      after: b,
      path,
      text: `${b.label} (${b.to}) answers ${b.statusCode}, was ${a.statusCode}`,
    });
  }
  return out;
}

function describe(call: FlowCall): string {
  const loop = call.count >= MIN_REPEAT ? `loop ${call.count}× ` : '';
  return `${loop}${call.label} (${call.from} → ${call.to})${call.failed ? `, failing: ${call.error ?? 'error'}` : ''}`;
}

function nested(call: FlowCall): string {
  let count = 0;
  const walk = (calls: readonly FlowCall[]): void => {
    for (const c of calls) {
      count++;
      walk(c.children);
    }
  };
  walk(call.children);
  return count === 0 ? '' : ` and ${count} ${count === 1 ? 'call' : 'calls'} under it`;
}

function list(labels: readonly string[]): string {
  const unique = [...new Set(labels)];
  if (unique.length === 0) return 'its siblings';
  if (unique.length <= 3) return unique.join(', ');
  return `${unique.slice(0, 3).join(', ')} and ${unique.length - 3} more`;
}

/**
 * Index pairs of a longest common subsequence of the two lists' keys (see
 * align.ts). Lists of siblings are short (a level of one request); past four
 * million cells the table would cost more than it tells, and calls are
 * paired by key alone.
 */
function lcs(a: readonly FlowCall[], b: readonly FlowCall[]): [number, number][] {
  return alignPairs(
    a.map((call) => call.key),
    b.map((call) => call.key),
    4_000_000,
  );
}
