/**
 * One row per trace for the list view: what was requested, how long it took,
 * what it called, and the hints worth a look (errors, serial calls, N+1).
 *
 * The store summarises every trace as it ingests it, so this runs for every
 * span recorded and must cost far less than writing the span. It therefore
 * does not draw anything: one pass builds a lean span tree with the same
 * repairs as `buildSpanTree` (orphans, several roots, missing ends, clock
 * skew), one pass decides which spans are drawn calls by the rules of
 * `layoutTrace`, and the counts are read off the children of each call by the
 * concurrency rules the diagram uses (a batch is one call; work after a
 * response is not counted). Each span is classified once. Traces
 * that need the rarer repairs (malformed or duplicate spans, parent cycles)
 * take the full layout instead; both ways give the same row.
 */
import { structure } from './analysis.js';
import { batchMember, describeBatch, groupBatches } from './batch.js';
import { classifyOnce, classifySpan, type ParticipantRef, type SpanClass } from './classify.js';
import { packLanes } from './concurrency.js';
import {
  CALL_CATEGORIES,
  type CallRole,
  CLIENT,
  issuedStart,
  layoutTrace,
  MIN_REPEAT,
  outlivesResponse,
  responseTime,
  sameRepeat,
  serviceRef,
  type TraceLayout,
} from './layout.js';
import { linkedProducer, linkedTraceView } from './linked-traces.js';
import { retriedAttempts, spanFailed } from './outcome.js';
import type { Span, SpanKind, Trace } from './trace.js';
import {
  allZeros,
  buildSpanTree,
  compareNodes,
  earliestStart,
  isWellFormedSpan,
  type SpanNode,
  shiftLinkedConsumers,
  skewShift,
} from './tree.js';

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
  /** Duration of the primary root span (ns). */
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
  return summarizeQuickly(trace) ?? summarizeLayout(layoutTrace(buildSpanTree(trace)));
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

/** Summarises a trace from its full layout: the reference the quick path must always agree with. */
export function summarizeLayout(layout: TraceLayout): TraceSummary {
  const tree = layout.tree;
  const counts = { db: 0, http: 0, cache: 0, queue: 0, internal: 0 };
  const failed: string[] = [];
  for (const node of tree.nodes) {
    countCategory(counts, classifySpan(node.span));
    if (spanFailed(node)) failed.push(node.span.spanId);
  }
  const error = finallyFailed(failed, () => tree.nodes.map((node) => node.span));
  const { serialRuns, nPlusOne, parGroups } = structure(layout);
  const root = tree.roots[0];
  return row(tree.traceId, root, root ? classifySpan(root.span) : undefined, {
    spanCount: tree.nodes.length,
    counts,
    error,
    serialCalls: serialRuns.reduce((n, run) => n + run.spanIds.length, 0),
    parGroups,
    nPlusOne: nPlusOne.length,
    overlapSavingMs: roundMs(serialRuns.reduce((sum, run) => sum + run.savingMs, 0)),
  });
}

/** Milliseconds rounded to the microsecond, as the analysis rounds them. */
function roundMs(value: number): number {
  return Math.round(value * 1000) / 1000;
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
  summary.durationNs = root ? root.end - root.start : 0;
  summary.spanCount = facts.spanCount;
  summary.counts = facts.counts;
  summary.error = facts.error;
  summary.serialCalls = facts.serialCalls;
  summary.parGroups = facts.parGroups;
  summary.nPlusOne = facts.nPlusOne;
  if (facts.overlapSavingMs !== undefined) summary.overlapSavingMs = facts.overlapSavingMs;
  return summary;
}

/** A span of the lean tree: a `SpanNode` that also keeps its class and clock-skew shift. */
interface LeanNode extends SpanNode {
  readonly parent: LeanNode | undefined;
  readonly children: LeanNode[];
  readonly cls: SpanClass;
  shift: number;
}

/** A drawn call, with only what the counts need. */
interface LeanCall {
  readonly node: LeanNode;
  readonly role: CallRole;
  readonly from: ParticipantRef;
  to: ParticipantRef;
  remote: LeanNode | undefined;
  parent: LeanCall | undefined;
  readonly children: LeanCall[];
  label: string;
  /** Layout times of the node, where `packLanes` reads them. */
  readonly start: number;
  readonly end: number;
}

/**
 * The summary without the full layout, or undefined when the trace needs a
 * repair only the full span tree makes (malformed or duplicate spans, parent
 * cycles). Exported for the tests that hold it to {@link summarizeLayout}.
 */
export function summarizeQuickly(trace: Trace): TraceSummary | undefined {
  // The spans buildSpanTree keeps of a trace read with its linked traces.
  const view = linkedTraceView(trace);
  // Notes are for problems the full tree reports: let it take those traces.
  if (view.notes.length > 0) return undefined;
  const spans: readonly unknown[] | undefined = Array.isArray(view.trace?.spans) ? view.trace.spans : undefined;
  if (spans === undefined) return undefined;
  const total = spans.length;
  const all: LeanNode[] = [];
  const byId = new Map<string, LeanNode>();
  const counts = { db: 0, http: 0, cache: 0, queue: 0, internal: 0 };
  const failed: string[] = [];
  let missingEnds = false;
  // Layout times are offsets from the earliest start, as in buildSpanTree.
  const baseNs = earliestStart(spans);
  for (let i = 0; i < total; i++) {
    const span = spans[i];
    if (!isWellFormedSpan(span) || byId.has(span.spanId)) return undefined;
    const rawEnd = span.endTimeNs;
    const hasEnd = rawEnd !== undefined;
    const start = Number(span.startTimeNs - baseNs);
    const cls = classifyOnce(span);
    const node: LeanNode = {
      span,
      order: i,
      parent: undefined,
      children: [],
      start,
      end: hasEnd && rawEnd > span.startTimeNs ? Number(rawEnd - baseNs) : start,
      missingEnd: !hasEnd,
      depth: 0,
      cls,
      shift: 0,
    };
    byId.set(span.spanId, node);
    all.push(node);
    countCategory(counts, cls);
    if (!hasEnd) missingEnds = true;
    if (spanFailed(node)) failed.push(span.spanId);
  }
  const error = finallyFailed(failed, () => all.map((node) => node.span));

  // Parents, orphans and roots exactly as buildSpanTree links them.
  let roots: LeanNode[] = [];
  const orphans: LeanNode[] = [];
  for (const node of all) {
    const parentId = node.span.parentSpanId;
    if (parentId === undefined || parentId === '' || allZeros(parentId) || view.joinedRoots.has(node.span)) {
      roots.push(node);
    } else if (parentId === node.span.spanId) {
      roots.push(node);
    } else {
      const parent = byId.get(parentId);
      if (parent) {
        (node as { parent: LeanNode | undefined }).parent = parent;
        parent.children.push(node);
      } else {
        orphans.push(node);
      }
    }
  }
  roots.sort(compareNodes);
  const reparented = new Set<LeanNode>();
  if (orphans.length > 0) {
    const primary = roots[0];
    if (primary) {
      for (const orphan of orphans) {
        reparented.add(orphan);
        (orphan as { parent: LeanNode | undefined }).parent = primary;
        primary.children.push(orphan);
      }
    } else {
      roots = orphans.sort(compareNodes);
    }
  }
  const order = breadthFirst(roots);
  // Spans not reachable from a root sit on a cycle of parent links: the full tree breaks those.
  if (order.length !== total) return undefined;

  if (missingEnds) {
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i] as LeanNode;
      if (!node.missingEnd) continue;
      let end = node.start;
      for (const child of node.children) if (child.end > end) end = child.end;
      node.end = end;
    }
  }
  correctSkew(order, reparented);
  shiftLinkedConsumers(roots, (root) => (root.span.kind === 'consumer' ? linkedProducer(root.span, byId) : undefined));
  for (const node of order) if (node.children.length > 1) node.children.sort(compareNodes);
  roots.sort(compareNodes);
  const nodes = breadthFirst(roots);

  const calls = layoutCalls(nodes, byId);
  const facts = countStructure(calls);
  const root = roots[0];
  return row(typeof trace.traceId === 'string' ? trace.traceId : '', root, root?.cls, {
    spanCount: total,
    counts,
    error,
    ...facts,
  });
}

function breadthFirst(roots: readonly LeanNode[]): LeanNode[] {
  const out: LeanNode[] = roots.slice();
  for (let i = 0; i < out.length; i++) for (const child of (out[i] as LeanNode).children) out.push(child);
  return out;
}

/** The clock-skew correction of `buildSpanTree`, without the notes (see there for the reasoning). */
function correctSkew(order: readonly LeanNode[], reparented: ReadonlySet<LeanNode>): void {
  for (const node of order) {
    const parent = node.parent;
    if (!parent || reparented.has(node)) continue;
    const inherited = parent.shift;
    node.start += inherited;
    node.end += inherited;
    const delta = skewShift(parent, node);
    if (delta !== 0) {
      node.start += delta;
      node.end += delta;
    }
    node.shift = inherited + delta;
  }
}

function contentLifeline(call: LeanCall): ParticipantRef {
  return (call.role === 'call' && call.remote === undefined) || call.role === 'publish' ? call.from : call.to;
}

function workEnd(call: LeanCall): number {
  return (call.remote ?? call.node).end;
}

/**
 * The drawn calls, by the rules of `layoutTrace` (internal spans hoisted),
 * each with its children in start order and its label.
 */
function layoutCalls(nodes: readonly LeanNode[], byId: ReadonlyMap<string, LeanNode>): LeanCall[] {
  const container: (LeanCall | undefined)[] = new Array(nodes.length);
  const drawn: (LeanCall | undefined)[] = new Array(nodes.length);
  const calls: LeanCall[] = [];
  let linked: { call: LeanCall; producer: LeanNode }[] | undefined;
  const add = (
    node: LeanNode,
    role: CallRole,
    from: ParticipantRef,
    to: ParticipantRef,
    parent: LeanCall | undefined,
  ): LeanCall => {
    const call: LeanCall = {
      node,
      role,
      from,
      to,
      remote: undefined,
      parent,
      children: [],
      label: node.cls.label,
      start: node.start,
      end: node.end,
    };
    if (parent) parent.children.push(call);
    calls.push(call);
    drawn[node.order] = call;
    container[node.order] = call;
    return call;
  };

  for (const node of nodes) {
    const span = node.span;
    const cls = node.cls;
    const own = serviceRef(span.serviceName);
    const parentCall = node.parent ? container[node.parent.order] : undefined;
    const category = cls.category;

    if (node.parent === undefined || parentCall === undefined) {
      if (span.kind === 'server') add(node, 'entry', CLIENT, own, undefined);
      else if (category === 'queue-consumer') {
        const call = add(node, 'consume', cls.target ?? own, own, undefined);
        const producer = linkedProducer(span, byId);
        if (producer) {
          linked ??= [];
          linked.push({ call, producer });
        }
      } else if (category === 'queue-producer') add(node, 'publish', own, cls.target ?? own, undefined);
      else if (CALL_CATEGORIES.has(category) && cls.target) add(node, 'call', own, cls.target, undefined);
      else add(node, 'self', own, own, undefined);
      continue;
    }

    if (span.kind === 'server') {
      const parentDrawn = drawn[node.parent.order];
      if (
        parentDrawn !== undefined &&
        parentDrawn.role === 'call' &&
        parentDrawn.remote === undefined &&
        CALL_CATEGORIES.has(parentDrawn.node.cls.category)
      ) {
        parentDrawn.remote = node;
        parentDrawn.to = own;
        container[node.order] = parentDrawn;
      } else if (contentLifeline(parentCall).key === own.key) {
        container[node.order] = parentCall;
      } else {
        add(node, 'call', contentLifeline(parentCall), own, parentCall).remote = node;
      }
      continue;
    }

    if (category === 'queue-consumer') {
      let host: LeanCall | undefined = parentCall;
      while (host !== undefined && (host.role === 'publish' || node.start >= workEnd(host))) host = host.parent;
      add(node, 'consume', cls.target ?? own, own, host);
      continue;
    }

    if (category === 'queue-producer') {
      add(node, 'publish', own, cls.target ?? own, parentCall);
      continue;
    }

    if (CALL_CATEGORIES.has(category) && cls.target) {
      if (
        parentCall.role === 'call' &&
        parentCall.remote === undefined &&
        parentCall.node.cls.category === category &&
        parentCall.to.key === cls.target.key
      ) {
        container[node.order] = parentCall;
        continue;
      }
      add(node, 'call', own, cls.target, parentCall);
      continue;
    }

    container[node.order] = parentCall;
  }

  if (linked !== undefined) {
    for (const { call, producer } of linked) {
      let host = container[producer.order];
      while (host !== undefined && (host.role === 'publish' || call.node.start >= workEnd(host))) host = host.parent;
      if (host === undefined || isWithin(host, call)) continue;
      call.parent = host;
      host.children.push(call);
    }
  }

  for (const call of calls) {
    if (call.children.length > 1) call.children.sort(byStart);
    foldBatches(call, calls);
    const remote = call.remote;
    if (remote !== undefined && remote !== call.node && call.node.cls.category === 'http-client') {
      if (remote.cls.route !== undefined) call.label = remote.cls.label;
    }
  }
  return calls;
}

/** `foldBatches` of layout.ts: each batch among the children becomes one call (appended to `calls`). */
function foldBatches(call: LeanCall, calls: LeanCall[]): void {
  const children = call.children;
  let any = false;
  for (const child of children) {
    if (child.role === 'call' && child.remote === undefined && batchMember(child.node.span) !== undefined) {
      any = true;
      break;
    }
  }
  if (!any) return;
  const grouped = groupBatches(children, (child) => ({
    start: child.start,
    end: child.end,
    member: child.role === 'call' && child.remote === undefined ? batchMember(child.node.span) : undefined,
    target: child.to.key,
    parentOrder: child.node.parent?.order ?? -1,
  }));
  children.length = 0;
  for (const entry of grouped) {
    if (!Array.isArray(entry)) {
      children.push(entry);
      continue;
    }
    const first = entry[0] as LeanCall;
    let end = first.end;
    const nested: LeanCall[] = [];
    for (const member of entry) {
      if (member.end > end) end = member.end;
      for (const child of member.children) nested.push(child);
      member.children.length = 0;
    }
    const batch: LeanCall = {
      node: first.node,
      role: 'call',
      from: first.from,
      to: first.to,
      remote: undefined,
      parent: call,
      children: nested,
      label: describeBatch(entry, (member) => member.node.span).label,
      start: first.start,
      end,
    };
    for (const child of nested) child.parent = batch;
    if (nested.length > 1) nested.sort(byStart);
    children.push(batch);
    calls.push(batch);
  }
}

function byStart(a: LeanCall, b: LeanCall): number {
  return compareNodes(a.node, b.node);
}

function isWithin(host: LeanCall, call: LeanCall): boolean {
  for (let h: LeanCall | undefined = host; h !== undefined; h = h.parent) if (h === call) return true;
  return false;
}

/**
 * Serial calls, `par` groups and N+1 groups among the children of every
 * call, by the rules of `arrangeChildren`, `splitRepeats` and the analysis'
 * serial runs, counted without building the runs.
 */
function countStructure(
  calls: readonly LeanCall[],
): Pick<TraceSummary, 'serialCalls' | 'parGroups' | 'nPlusOne' | 'overlapSavingMs'> {
  let serialCalls = 0;
  let parGroups = 0;
  let nPlusOne = 0;
  let overlapSavingMs = 0;
  const serial: LeanCall[] = [];
  // Sum and max of the current run's durations, rounded as the analysis' serial runs round them.
  let runSum = 0;
  let runMax = 0;
  const endRun = (run: number): void => {
    if (run >= 2) {
      serialCalls += run;
      overlapSavingMs += roundMs(roundMs(runSum) - runMax);
    }
    runSum = 0;
    runMax = 0;
  };
  const flushSerial = (): void => {
    if (serial.length === 0) return;
    nPlusOne += countRepeats(serial);
    // A consumer is not a call its parent made and waited for: it splits a run.
    let run = 0;
    for (const call of serial) {
      if (call.role !== 'consume') {
        run++;
        const ms = roundMs((call.end - call.start) / 1e6);
        runSum += ms;
        if (ms > runMax) runMax = ms;
        continue;
      }
      endRun(run);
      run = 0;
    }
    endRun(run);
    serial.length = 0;
  };
  // Calls that ran on after a response, and all they did, are not what the client waited for.
  const after = new Map<LeanCall, boolean>();
  const isAfter = (call: LeanCall): boolean => {
    const known = after.get(call);
    if (known !== undefined) return known;
    // Up the parents to the first known answer, then back down: no recursion on deep traces.
    const chain: LeanCall[] = [];
    let answer = false;
    for (let c: LeanCall | undefined = call; c !== undefined; c = c.parent) {
      const cached = after.get(c);
      if (cached !== undefined) {
        answer = cached;
        break;
      }
      chain.push(c);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const c = chain[i] as LeanCall;
      if (!answer && c.parent !== undefined) answer = outlivesResponse(responseTime(c.parent), c);
      after.set(c, answer);
    }
    return after.get(call) as boolean;
  };
  for (const call of calls) {
    if (call.children.length < 2 || isAfter(call)) continue;
    const response = responseTime(call);
    let kids = call.children;
    if (response !== undefined && kids.some((kid) => outlivesResponse(response, kid))) {
      kids = kids.filter((kid) => !outlivesResponse(response, kid));
    }
    // One child is one serial call: no run, no par, no repeat.
    if (kids.length < 2) continue;
    // From when each was issued, as arrangeChildren counts them.
    const issued = kids.map((kid) => issuedStart(kid.node.span, kid.start));
    if (issued.some((start, k) => start !== (kids[k] as LeanCall).start)) {
      const order = kids.map((_, k) => k).sort((a, b) => (issued[a] as number) - (issued[b] as number));
      kids = order.map((k) => kids[k] as LeanCall);
      const sorted = order.map((k) => issued[k] as number);
      issued.splice(0, issued.length, ...sorted);
    }
    let i = 0;
    while (i < kids.length) {
      const first = kids[i] as LeanCall;
      let maxEnd = first.end;
      let j = i + 1;
      // Intervals that only touch are serial, as in concurrentGroups.
      while (j < kids.length && (issued[j] as number) < maxEnd) {
        const end = (kids[j] as LeanCall).end;
        if (end > maxEnd) maxEnd = end;
        j++;
      }
      if (j - i === 1) {
        serial.push(first);
      } else {
        flushSerial();
        parGroups++;
        // A lane needs MIN_REPEAT calls to hold a repeat.
        if (j - i >= MIN_REPEAT) {
          const group = kids.slice(i, j).map((kid, k) => ({ start: issued[i + k] as number, end: kid.end, kid }));
          for (const lane of packLanes(group)) nPlusOne += countRepeats(lane.map((entry) => entry.kid));
        }
      }
      i = j;
    }
    flushSerial();
  }
  return { serialCalls, parGroups, nPlusOne, overlapSavingMs: roundMs(overlapSavingMs) };
}

/** Number of runs of MIN_REPEAT or more consecutive same calls (same statement, `sameRepeat`), as `splitRepeats` finds them. */
function countRepeats(list: readonly LeanCall[]): number {
  let found = 0;
  let i = 0;
  while (i < list.length) {
    const first = list[i] as LeanCall;
    let j = i + 1;
    while (j < list.length && sameRepeat(list[j] as LeanCall, first)) j++;
    if (j - i >= MIN_REPEAT) found++;
    i = j;
  }
  return found;
}
