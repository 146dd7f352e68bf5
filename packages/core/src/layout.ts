/**
 * Decides which spans become arrows and between which lifelines: the drawn
 * structure of a trace that both the sequence model and the analysis read.
 *
 * - the root server span is a call from the Client actor to its service;
 * - a client span (HTTP, DB, cache, RPC) is a call from its service to its
 *   target; when its child is the server span of a traced service (W3C trace
 *   context propagated), the two merge into one call to that service, whose
 *   own calls nest inside;
 * - a producer span publishes to a queue; its consumer is a call from the queue
 *   to the worker, placed where it ran in time, not inside the quick publish;
 * - internal spans are transparent (their children hoist to the nearest drawn
 *   ancestor) unless asked for, then they are self-calls;
 * - the commands of a Redis MULTI or pipeline are one call (see batch.ts);
 * - children that ran on after their parent's response ({@link workAfterResponse})
 *   stay its children: the sequence model draws them after the response and
 *   the analysis and summary leave them out of what the client waited for.
 */
import { describeBatch, groupBatches, startsBatch } from './batch.js';
import { classifySpan, type ParticipantRef, type SpanCategory, type SpanClass } from './classify.js';
import { packLanesBy } from './concurrency.js';
import { linkedProducer } from './linked-traces.js';
import { type CallOutcome, callerDisconnectedAt, drawnCallOutcome } from './outcome.js';
import { repeatStatement } from './statement.js';
import type { Span } from './trace.js';
import { compareNodes, type SpanNode, type SpanTree, type SpanTreeOptions } from './tree.js';

/** How a drawn span appears. */
export type CallRole = 'entry' | 'call' | 'publish' | 'consume' | 'self';

/** A span drawn as an arrow (plus, for a merged call, the server span that answered it). */
export interface DrawnCall {
  readonly node: SpanNode;
  readonly cls: SpanClass;
  readonly role: CallRole;
  /** The lifeline that sends the first arrow. */
  readonly from: ParticipantRef;
  /** The lifeline that receives it; becomes the traced service when a server span answers the call. */
  to: ParticipantRef;
  /** The server span of the callee, when the call reached a traced service. */
  remote: SpanNode | undefined;
  parent: DrawnCall | undefined;
  /** Drawn calls nested inside, in start order. */
  readonly children: DrawnCall[];
  /** 0 for the top-level calls. */
  depth: number;
  /** Number of drawn calls nested below, at any depth. */
  nestedCalls: number;
  /** The arrow's label (see {@link callLabel}). */
  label: string;
  /**
   * For a batch (a Redis MULTI or pipeline: one round trip), the calls of its
   * member spans in start order, brackets included; the batch itself is drawn
   * as one call whose `node` spans them all and carries the first command's span.
   */
  readonly batch?: readonly DrawnCall[];
  /**
   * How the call ended as its caller saw it (status, failed or not, error
   * text, rows, markers; see `drawnCallOutcome`), computed once by the
   * layout; undefined in a lean layout, which draws nothing.
   */
  outcome?: CallOutcome;
  /**
   * Failed calls nested below, at any depth (by their outcome), counted once
   * by the layout so that a fold note need not walk what it folds; undefined
   * in a lean layout.
   */
  nestedFailures?: number;
  /**
   * The interval (ns) in which the callee did its own work: the server span
   * that answered a merged call, else the call's own span. Set by the
   * layout once the call's server span is known; the sequence model reads it.
   */
  work: { readonly start: number; readonly end: number };
}

/** The drawn structure of a trace. */
export interface TraceLayout {
  readonly tree: SpanTree;
  /** Calls drawn at the top level (roots, and consumers that ran after everything else), in start order. */
  readonly top: readonly DrawnCall[];
  /** Every drawn call, parents before children. */
  readonly calls: readonly DrawnCall[];
  /** The class of every node of the tree, by `node.order`: each span is classified once, here. */
  readonly classes: readonly SpanClass[];
}

/** Options for {@link layoutTrace}. */
export interface LayoutOptions {
  /** Draw internal spans as self-calls instead of hoisting their children. */
  readonly internal?: boolean;
  /**
   * A layout looked at once and dropped (the summary the store computes for
   * every trace it ingests): call outcomes, which only drawing reads, are
   * left out. The calls and their nesting are the same either way. (Such a
   * layout's tree is built `lean` too, see {@link SpanTreeOptions}.)
   */
  readonly lean?: boolean;
}

/** The participant for the caller of the root server span. */
export const CLIENT: ParticipantRef = { key: 'client', name: 'Client', kind: 'actor' };

/** Categories drawn as a call from a service to the span's target. */
export const CALL_CATEGORIES: ReadonlySet<SpanCategory> = new Set(['http-client', 'db', 'cache', 'rpc-client']);

/** The lifeline on which a call's nested calls are drawn. */
export function contentLifeline(call: DrawnCall): ParticipantRef {
  return (call.role === 'call' && call.remote === undefined) || call.role === 'publish' ? call.from : call.to;
}

/** Start and end (ns) of a call as laid out. */
export function callInterval(call: DrawnCall): { start: number; end: number } {
  return { start: call.node.start, end: call.node.end };
}

/**
 * The interval in which the callee did its own work (the server span of a
 * merged call), while the layout is still finding the server spans; once it
 * is done, `DrawnCall.work` holds it.
 */
function workInterval(call: DrawnCall): { readonly start: number; readonly end: number } {
  return call.remote ?? call.node;
}

/** The label of a call: the server's route template when it has one, else the client's label. */
export function callLabel(call: DrawnCall): string {
  return labelOf(call, classifySpan);
}

function labelOf(call: DrawnCall, classOf: (span: Span, node: SpanNode) => SpanClass): string {
  if (call.remote !== undefined && call.remote !== call.node && call.cls.category === 'http-client') {
    const remote = classOf(call.remote.span, call.remote);
    if (remote.route !== undefined) return remote.label;
  }
  return call.cls.label;
}

/**
 * Lays out a span tree: which spans are drawn, between which lifelines, and
 * nested where. Iterative, linear in the number of spans (plus sorting).
 */
export function layoutTrace(tree: SpanTree, options: LayoutOptions = {}): TraceLayout {
  const showInternal = options.internal === true;
  const lean = options.lean === true;
  const classes = tree.classes;
  const container: (DrawnCall | undefined)[] = new Array(tree.nodes.length + 1);
  const drawn: (DrawnCall | undefined)[] = new Array(tree.nodes.length + 1);
  let top: DrawnCall[] = [];
  const linkedConsumers: { call: DrawnCall; producer: SpanNode }[] = [];
  // Calls whose nested calls were added out of start order, and calls among
  // whose nested calls a batch may begin: noted as each call is added, while
  // its class is at hand, so that the walk below sorts and groups only those.
  const unsorted = new Set<DrawnCall>();
  const batchHosts = new Set<DrawnCall>();

  const add = (
    node: SpanNode,
    cls: SpanClass,
    role: CallRole,
    from: ParticipantRef,
    to: ParticipantRef,
    parent: DrawnCall | undefined,
  ): DrawnCall => {
    const call: DrawnCall = {
      node,
      cls,
      role,
      from,
      to,
      remote: undefined,
      parent,
      children: [],
      depth: 0,
      nestedCalls: 0,
      label: cls.label,
      work: node,
      // Set once the calls are nested (not in a lean layout); present from the
      // start, so that setting them later does not grow every call's storage.
      outcome: undefined,
      nestedFailures: undefined,
    };
    const siblings = parent ? parent.children : top;
    const last = siblings[siblings.length - 1];
    if (parent !== undefined) {
      if (last !== undefined && compareNodes(last.node, node) > 0) unsorted.add(parent);
      // Redis commands recorded without an operation name are members only
      // between brackets: most calls with such commands among them have none.
      if (role === 'call' && startsBatch(cls.batch)) batchHosts.add(parent);
    }
    siblings.push(call);
    drawn[node.order] = call;
    container[node.order] = call;
    return call;
  };

  for (const node of tree.nodes) {
    const span = node.span;
    const cls = classes[node.order] as SpanClass;
    // The span's service and kind come with its class: the span itself is not read here (see classifySpan).
    const own = cls.service;
    const parentCall = node.parent ? container[node.parent.order] : undefined;
    const category = cls.category;

    if (node.parent === undefined || parentCall === undefined) {
      if (cls.kind === 'server') add(node, cls, 'entry', CLIENT, own, undefined);
      else if (category === 'queue-consumer') {
        const call = add(node, cls, 'consume', cls.target ?? own, own, undefined);
        const producer = linkedProducer(span, tree.byId);
        if (producer) linkedConsumers.push({ call, producer });
      } else if (category === 'queue-producer') add(node, cls, 'publish', own, cls.target ?? own, undefined);
      else if (CALL_CATEGORIES.has(category) && cls.target) add(node, cls, 'call', own, cls.target, undefined);
      else add(node, cls, 'self', own, own, undefined);
      continue;
    }

    if (cls.kind === 'server') {
      const parentDrawn = drawn[node.parent.order];
      if (
        parentDrawn !== undefined &&
        parentDrawn.role === 'call' &&
        parentDrawn.remote === undefined &&
        CALL_CATEGORIES.has(parentDrawn.cls.category)
      ) {
        parentDrawn.remote = node;
        parentDrawn.to = own;
        container[node.order] = parentDrawn;
      } else if (contentLifeline(parentCall).key === own.key) {
        container[node.order] = parentCall;
      } else {
        const call = add(node, cls, 'call', contentLifeline(parentCall), own, parentCall);
        call.remote = node;
      }
      continue;
    }

    if (category === 'queue-consumer') {
      // A consumer runs after its message was published: draw it beside the
      // calls it overlapped, outside the publish arrow and any call that had
      // already finished when it started.
      let host: DrawnCall | undefined = parentCall;
      while (host !== undefined && (host.role === 'publish' || node.start >= workInterval(host).end))
        host = host.parent;
      add(node, cls, 'consume', cls.target ?? own, own, host);
      continue;
    }

    if (category === 'queue-producer') {
      add(node, cls, 'publish', own, cls.target ?? own, parentCall);
      continue;
    }

    if (CALL_CATEGORIES.has(category) && cls.target) {
      // Layered instrumentation (an ORM over a driver, fetch over undici) records
      // one call twice: the inner span is the same arrow, not a nested one.
      if (
        parentCall.role === 'call' &&
        parentCall.remote === undefined &&
        parentCall.cls.category === category &&
        parentCall.to.key === cls.target.key
      ) {
        container[node.order] = parentCall;
        continue;
      }
      add(node, cls, 'call', own, cls.target, parentCall);
      continue;
    }

    if (showInternal) {
      add(node, cls, 'self', own, own, parentCall);
    } else {
      container[node.order] = parentCall;
    }
  }

  // A consumer in a linked trace (the message carried a link, not a parent)
  // is drawn where its producer's message went, like one carried as parent.
  if (linkedConsumers.length > 0) {
    const moved = new Set<DrawnCall>();
    for (const { call, producer } of linkedConsumers) {
      let host = container[producer.order];
      while (host !== undefined && (host.role === 'publish' || call.node.start >= workInterval(host).end)) {
        host = host.parent;
      }
      if (host === undefined || isWithin(host, call)) continue;
      call.parent = host;
      host.children.push(call);
      unsorted.add(host);
      moved.add(call);
    }
    if (moved.size > 0) top = top.filter((call) => !moved.has(call));
  }

  const byStart = (a: DrawnCall, b: DrawnCall): number => compareNodes(a.node, b.node);
  top.sort(byStart);
  // Children sorted and batches grouped, depths top-down, nested counts
  // bottom-up, over a breadth-first order: one walk over the calls does what
  // it can (past 100,000 spans each walk finds the calls out of the CPU cache).
  const classOf = (_span: Span, node: SpanNode): SpanClass => classes[node.order] as SpanClass;
  const ordered: DrawnCall[] = [...top];
  for (let i = 0; i < ordered.length; i++) {
    const call = ordered[i] as DrawnCall;
    if (unsorted.size > 0 && unsorted.has(call)) call.children.sort(byStart);
    // A batch's own call is made by the grouping, its members' nested calls already in order.
    if (batchHosts.size > 0 && call.batch === undefined && batchHosts.has(call)) foldBatches(call);
    call.depth = call.parent ? call.parent.depth + 1 : 0;
    // A call's label is its class's (set when it was added) unless a server span answered it.
    if (call.remote !== undefined && call.remote !== call.node) call.label = labelOf(call, classOf);
    call.work = workInterval(call);
    if (!lean) {
      call.outcome = drawnCallOutcome(call);
      call.nestedFailures = 0;
    }
    const children = call.children;
    for (let c = 0; c < children.length; c++) ordered.push(children[c] as DrawnCall);
  }
  for (let i = ordered.length - 1; i >= 0; i--) {
    const call = ordered[i] as DrawnCall;
    const parent = call.parent;
    if (parent === undefined) continue;
    parent.nestedCalls += call.nestedCalls + 1;
    if (parent.nestedFailures !== undefined && call.nestedFailures !== undefined && call.outcome !== undefined)
      parent.nestedFailures += call.nestedFailures + (call.outcome.error ? 1 : 0);
  }
  return { tree, top, calls: ordered, classes };
}

/**
 * Replaces the member calls of each batch among a call's children by one call
 * (see batch.ts): a transaction or pipeline is one round trip, so it is one
 * arrow, and concurrency, loops and the analysis count it once.
 */
function foldBatches(call: DrawnCall): void {
  const children = call.children;
  let any = false;
  for (const child of children) {
    if (child.role === 'call' && child.remote === undefined && startsBatch(child.cls.batch)) {
      any = true;
      break;
    }
  }
  if (!any) return;
  const grouped = groupBatches(children, (child) => ({
    start: child.node.start,
    end: child.node.end,
    member: child.role === 'call' && child.remote === undefined ? child.cls.batch : undefined,
    target: child.to.key,
    parentOrder: child.node.parent?.order ?? -1,
  }));
  children.length = 0;
  for (const entry of grouped) children.push(Array.isArray(entry) ? batchCall(entry, call) : entry);
}

/** One call standing for the members of a batch. */
function batchCall(members: readonly DrawnCall[], parent: DrawnCall): DrawnCall {
  const first = members[0] as DrawnCall;
  let end = first.node.end;
  const children: DrawnCall[] = [];
  for (const member of members) {
    if (member.node.end > end) end = member.node.end;
    for (const child of member.children) children.push(child);
    member.children.length = 0;
  }
  const { head, label } = describeBatch(members, (member) => member.node.span);
  const shown = head ?? first;
  const call: DrawnCall = {
    node: { ...first.node, span: shown.node.span, end, children: [] },
    cls: { ...shown.cls, label },
    role: 'call',
    from: first.from,
    to: first.to,
    remote: undefined,
    parent,
    children,
    depth: 0,
    nestedCalls: 0,
    label,
    batch: members,
    work: { start: first.node.start, end },
    outcome: undefined,
    nestedFailures: undefined,
  };
  for (const child of children) child.parent = call;
  if (children.length > 1) children.sort((a, b) => compareNodes(a.node, b.node));
  return call;
}

/**
 * When the callee of a call answered while work it started ran on: the end
 * (ns) of the server span that sent the response, for the root request and
 * for a call that reached a traced service; undefined for calls without a
 * response of their own to draw (a consumer, a publish, a plain client span).
 */
export function responseTime(call: Pick<DrawnCall, 'role' | 'node' | 'remote'>): number | undefined {
  const server = answeringSpan(call);
  if (server === undefined) return undefined;
  const disconnected = disconnectTime(server);
  return disconnected === undefined ? server.end : disconnected;
}

/** The server span that answers a call: the entry itself, or the traced service a call reached. */
function answeringSpan(call: Pick<DrawnCall, 'role' | 'node' | 'remote'>): SpanNode | undefined {
  if (call.role === 'entry') return call.node;
  if (call.role === 'call' && call.remote !== undefined) return call.remote;
  return undefined;
}

/**
 * When the caller of a server span disconnected before the response, as a
 * layout time (ns after the tree's base, shifted with the span), within the
 * span; undefined when it did not.
 */
function disconnectTime(node: SpanNode): number | undefined {
  const at = callerDisconnectedAt(node.span);
  if (at === undefined) return undefined;
  const time = node.start + Number(at - node.span.startTimeNs);
  return Math.min(Math.max(time, node.start), node.end);
}

/**
 * Whether the caller of the server span that answers `call` disconnected
 * before the response: then {@link responseTime} is the disconnect, and the
 * work after it ran on after the caller went away.
 */
export function callerWentAway(call: Pick<DrawnCall, 'role' | 'node' | 'remote'>): boolean {
  const server = answeringSpan(call);
  return server !== undefined && callerDisconnectedAt(server.span) !== undefined;
}

/**
 * Whether a child call ran on after its parent's response was sent: it ended
 * after the response (a call ending exactly with it was waited for). Such
 * calls are drawn after the response arrow and are not time the caller waited.
 */
export function outlivesResponse(response: number | undefined, child: { readonly end: number }): boolean {
  return response !== undefined && child.end > response;
}

/** Children of a call that ran on after its response, with the response they outlived. */
export interface AfterResponse {
  readonly call: DrawnCall;
  /** End of the server span that answered (ns). */
  readonly response: number;
  /** The children that ran on after it, in start order. */
  readonly calls: readonly DrawnCall[];
}

/** Every call of a layout whose children ran on after its response, parents before children. */
export function workAfterResponse(layout: TraceLayout): AfterResponse[] {
  const out: AfterResponse[] = [];
  for (const call of layout.calls) {
    const response = responseTime(call);
    if (response === undefined || !call.children.some((child) => outlivesResponse(response, child.node))) continue;
    out.push({ call, response, calls: call.children.filter((child) => outlivesResponse(response, child.node)) });
  }
  return out;
}

/**
 * One note per response that work outlived, for the analysis and the
 * diagram's notes: `2 calls ran on after the response to POST /signup`, or
 * `1 call ran on after the caller of GET /report disconnected`.
 */
export function afterResponseNotes(layout: TraceLayout): readonly string[] {
  // The size guard builds one layout several times: the notes are read once.
  let notes = afterResponseNotesOf.get(layout);
  if (notes === undefined) {
    notes = afterResponseNotesUncached(layout);
    afterResponseNotesOf.set(layout, notes);
  }
  return notes;
}

/** {@link afterResponseNotes} without remembering them, for a layout drawn only once. */
export function afterResponseNotesUncached(layout: TraceLayout): readonly string[] {
  return workAfterResponse(layout).map(({ call, calls }) => {
    const count = `${calls.length} ${calls.length === 1 ? 'call' : 'calls'}`;
    const label = call.label || call.node.span.name;
    return callerWentAway(call)
      ? `${count} ran on after the caller of ${label} disconnected`
      : `${count} ran on after the response to ${label}`;
  });
}

/** {@link afterResponseNotes} per layout (a layout is not changed once made). */
const afterResponseNotesOf = new WeakMap<TraceLayout, readonly string[]>();

/** Whether `host` is `call` itself or drawn inside it (attaching there would make a loop). */
function isWithin(host: DrawnCall, call: DrawnCall): boolean {
  for (let h: DrawnCall | undefined = host; h !== undefined; h = h.parent) if (h === call) return true;
  return false;
}

/** A run of three or more serial calls with the same target and statement: the N+1 pattern. */
export interface RepeatRun {
  readonly type: 'repeat';
  readonly calls: readonly DrawnCall[];
  readonly label: string;
}

/** What decides whether two serial calls count as "the same call again". */
export interface RepeatIdentity {
  readonly role: CallRole;
  readonly from: { readonly key: string };
  readonly to: { readonly key: string };
  readonly label: string;
  /** The span, with its class when the caller already has it (else it is classified, from the cache). */
  readonly node: { readonly span: Span; readonly cls?: SpanClass };
  /** The call's class, as the layout made it: read first, so comparing calls classifies nothing. */
  readonly cls?: SpanClass;
  /** The calls it made in turn, when it made any (a call to a traced service). */
  readonly children?: readonly { readonly label: string }[];
}

/**
 * Whether two calls are the same call again: same role, same lifelines, same
 * label, the same outcome, the same calls made in turn, and the same
 * normalised statement ({@link repeatStatement}): three
 * different queries on one table share the label `SELECT authors` but are
 * not a repeat, while `id = 1` and `id = 2` are. Compared field by field, so
 * no text inside a name can make two different calls look alike.
 */
export function sameRepeat(a: RepeatIdentity, b: RepeatIdentity): boolean {
  if (a.role !== b.role || a.label !== b.label || a.to.key !== b.to.key || a.from.key !== b.from.key) return false;
  // A loop draws one representative call: a failed call, or one that made
  // other calls than its neighbours, is not the same call again, or the
  // loop would hide the failure or the other calls.
  const aClass = a.cls ?? a.node.cls ?? classifySpan(a.node.span);
  const bClass = b.cls ?? b.node.cls ?? classifySpan(b.node.span);
  if (aClass.failed !== bClass.failed) return false;
  const aChildren = a.children ?? [];
  const bChildren = b.children ?? [];
  if (aChildren.length !== bChildren.length) return false;
  for (let i = 0; i < aChildren.length; i++) if (aChildren[i]?.label !== bChildren[i]?.label) return false;
  return repeatStatement(aClass, a.label) === repeatStatement(bClass, b.label);
}

/** Minimum number of consecutive identical calls folded into a loop. */
export const MIN_REPEAT = 3;

/** A stretch of one call's children: consecutive serial calls, or one concurrent group. */
export type ChildRun =
  | { readonly type: 'serial'; readonly calls: readonly DrawnCall[] }
  | { readonly type: 'par'; readonly calls: readonly DrawnCall[]; readonly lanes: readonly (readonly DrawnCall[])[] };

/**
 * When the app issued a call (ns): its span's start, less the time it then
 * waited for a pooled or busy connection (`db.client.connection.wait_time`,
 * seconds). Queries issued together on a pool of one connection run one
 * after the other, yet the app did not wait for one before asking for the
 * next: they overlap from their issue on.
 */
function issuedAt(call: DrawnCall): number {
  return issuedStart(call.node.span, call.node.start);
}

/** When a call ended (ns, layout time). */
function callEnd(call: DrawnCall): number {
  return call.node.end;
}

/** {@link issuedAt} of a span that started at `start` (ns, layout time). */
export function issuedStart(span: Span, start: number): number {
  const seconds = span.attributes['db.client.connection.wait_time'];
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return start;
  return start - seconds * 1e9;
}

/**
 * Arranges children (in start order) into serial runs and concurrent groups,
 * the latter packed into lanes. The same rule applies at every depth. A call
 * counts from when it was issued ({@link issuedAt}), so calls that waited
 * for a connection together are one concurrent group.
 */
export function arrangeChildren(children: readonly DrawnCall[]): ChildRun[] {
  let waited = false;
  for (const call of children) {
    if (issuedAt(call) !== call.node.start) {
      waited = true;
      break;
    }
  }
  // Stable: calls that did not wait keep their order.
  const calls = waited ? [...children].sort((a, b) => issuedAt(a) - issuedAt(b)) : children;
  const runs: ChildRun[] = [];
  let serial: DrawnCall[] = [];
  // The groups of `concurrentGroups`, walked in place over the calls: a
  // serial call, the most common group, then needs no array of its own, and
  // no call needs an interval object made for it.
  const closeGroup = (from: number, to: number): void => {
    if (to - from === 1) {
      serial.push(calls[from] as DrawnCall);
      return;
    }
    if (serial.length > 0) runs.push({ type: 'serial', calls: serial });
    serial = [];
    const group = calls.slice(from, to);
    runs.push({ type: 'par', calls: group, lanes: packLanesBy(group, issuedAt, callEnd) });
  };
  let groupStart = 0;
  let maxEnd = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i] as DrawnCall;
    // As in concurrentGroups: intervals that only touch are serial.
    if (i > groupStart && !(issuedAt(call) < maxEnd)) {
      closeGroup(groupStart, i);
      groupStart = i;
      maxEnd = Number.NEGATIVE_INFINITY;
    }
    if (call.node.end > maxEnd) maxEnd = call.node.end;
  }
  if (calls.length > 0) closeGroup(groupStart, calls.length);
  if (serial.length > 0) runs.push({ type: 'serial', calls: serial });
  return runs;
}

const REPEATS = Symbol('repeat runs');

/**
 * Splits serial calls into single calls and repeat runs (three or more in a
 * row with the same target and statement, see {@link sameRepeat}: the N+1 pattern).
 * Remembered per list, like `arrangedRuns`: the builder, the size guard and
 * the analysis all split the same runs of one layout, and comparing
 * statements is the costly part.
 */
export function splitRepeats(serial: readonly DrawnCall[]): readonly (DrawnCall | RepeatRun)[] {
  const memo = serial as readonly DrawnCall[] & { [REPEATS]?: readonly (DrawnCall | RepeatRun)[] };
  const known = memo[REPEATS];
  if (known !== undefined) return known;
  const out = splitRepeatsUncached(serial);
  if (Object.isExtensible(serial)) memo[REPEATS] = out;
  return out;
}

/** {@link splitRepeats} without remembering the result on the list. */
export function splitRepeatsUncached(serial: readonly DrawnCall[]): (DrawnCall | RepeatRun)[] {
  const out: (DrawnCall | RepeatRun)[] = [];
  let i = 0;
  while (i < serial.length) {
    const first = serial[i] as DrawnCall;
    let j = i + 1;
    while (j < serial.length && sameRepeat(serial[j] as DrawnCall, first)) j++;
    if (j - i >= MIN_REPEAT) {
      out.push({ type: 'repeat', calls: serial.slice(i, j), label: first.label });
    } else {
      for (let k = i; k < j; k++) out.push(serial[k] as DrawnCall);
    }
    i = j;
  }
  return out;
}

/** Whether an element of {@link splitRepeats}' result is a repeat run. */
export function isRepeatRun(item: DrawnCall | RepeatRun): item is RepeatRun {
  return (item as Partial<RepeatRun>).type === 'repeat';
}
