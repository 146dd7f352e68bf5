/**
 * Builds the span tree of a trace, robustly. Real traces are messy: spans go
 * missing (orphans), several roots appear, clocks of different hosts disagree,
 * spans never end, exporters send duplicates, and broken propagation can even
 * make parent links loop. Every such oddity is repaired for layout and noted.
 *
 * Every pass here is iterative (no recursion), so a 100,000-deep chain of
 * spans is as safe as a flat one.
 */
import { classifySpan, classifyWithoutMemo, type SpanClass } from './classify.js';
import { formatDuration } from './format.js';
import { hasImportMarks, importMarkNotes } from './import-marks.js';
import { linkedProducer, linkedTraceView } from './linked-traces.js';
import { SpanIdList, SpanIndex } from './span-index.js';
import type { Span, SpanKind, Trace } from './trace.js';

/**
 * One span in the tree, with the times used for layout: plain numbers of
 * nanoseconds after the tree's {@link SpanTree.baseNs}, exact for any trace
 * shorter than 104 days, so the layout arithmetic stays on fast numbers.
 * `span` keeps the exact epoch times.
 */
export interface SpanNode {
  readonly span: Span;
  /** Position in the (de-duplicated) input: the last tie-breaker for a stable order. */
  readonly order: number;
  parent: SpanNode | undefined;
  readonly children: SpanNode[];
  /** Layout start (ns after `baseNs`): the recorded start, corrected for clock skew. */
  start: number;
  /** Layout end (ns after `baseNs`): the recorded end, repaired when missing and corrected for clock skew. */
  end: number;
  /** True when the span had no usable end time. */
  readonly missingEnd: boolean;
  /** Distance from its root (roots have depth 0). */
  depth: number;
}

/** A node while the tree is built: its position is renumbered when duplicate spans are dropped. */
type NodeUnderConstruction = Omit<SpanNode, 'order'> & { order: number };

/** A trace as a forest of spans, plus what had to be repaired. */
export interface SpanTree {
  readonly traceId: string;
  /**
   * Earliest recorded start of the trace's spans (exact ns since the Unix
   * epoch; 0 for a trace without spans): node times are offsets from it, so
   * `baseNs + BigInt(node.start)` is an epoch time again (before skew
   * correction, exactly the span's start).
   */
  readonly baseNs: bigint;
  /** Root spans in start order; the first is the primary root. */
  readonly roots: readonly SpanNode[];
  /** Every node, parents before children (breadth-first, children in start order). */
  readonly nodes: readonly SpanNode[];
  readonly byId: ReadonlyMap<string, SpanNode>;
  /**
   * Each node's class ({@link classifySpan} of its span), by
   * {@link SpanNode.order}: computed while each span is read, because a
   * later pass over 100,000 spans finds them out of the CPU cache.
   */
  readonly classes: readonly SpanClass[];
  /** Oddities found and how they were handled, for people reading the diagram. */
  readonly notes: readonly string[];
  /**
   * Spans whose parent link was missing or broken, in the order noted: each
   * hangs under the root it ran in, placed by its own start time (or, with
   * no root to hang it under, is a root of its own). The diagram says so.
   */
  readonly broken: readonly BrokenLink[];
  /**
   * Spans that ran wholly before their parent in the same process (the
   * clocks disagree), each with how far (ns) it was moved, with its subtree,
   * to its parent's start. The diagram notes each beside its call.
   */
  readonly shifted?: ReadonlyMap<SpanNode, number>;
  /**
   * Whether any span's class says it used another call's answer or missed
   * the cache (`SpanClass.mayDepend`): noted as each span is classified, so
   * that a trace where none does (most) need not be walked to find out.
   * Undefined in a tree made by hand: then the calls must be looked at.
   */
  readonly mayDepend?: boolean;
}

/** A span whose recorded parent link could not be followed (see {@link SpanTree.broken}). */
export interface BrokenLink {
  readonly node: SpanNode;
  /**
   * - `missing-parent`: its parent is not in the trace (lost, not exported, dropped);
   * - `self-parent`: it names itself as its parent;
   * - `loop`: parent links form a loop, broken at this span (the loop's earliest).
   */
  readonly reason: 'missing-parent' | 'self-parent' | 'loop';
  /**
   * For a loop: every span on it, in start order, on the entry of the span
   * it was broken at; other spans of the loop placed by their own time
   * (they did not start inside the parent they named) have no list.
   */
  readonly loop?: readonly SpanNode[];
}

/** Options for {@link buildSpanTree}. */
export interface SpanTreeOptions {
  /**
   * A tree looked at once and dropped (the summary the store computes for
   * every trace it ingests): spans are classified without remembering the
   * class on the span (see `classifyWithoutMemo`), where entering every
   * fresh span in the cache costs more than it saves.
   */
  readonly lean?: boolean;
}

/**
 * Orders siblings by start, then end, then input order, so the layout is the
 * same every time for the same trace.
 */
export function compareNodes(a: SpanNode, b: SpanNode): number {
  return a.start - b.start || a.end - b.end || a.order - b.order;
}

/**
 * Builds the span tree of a trace. Never throws: bad input is repaired or
 * skipped, and `notes` says what was done.
 *
 * @example
 * ```ts
 * const tree = buildSpanTree(trace);
 * tree.roots[0]?.children.length;
 * tree.notes; // e.g. ['2 spans refer to a parent missing from the trace: drawn under the root span']
 * ```
 */
export function buildSpanTree(trace: Trace, options: SpanTreeOptions = {}): SpanTree {
  const classify = options.lean === true ? classifyWithoutMemo : classifySpan;
  // A trace read with its linked traces is drawn as the focus trace sees it.
  const view = linkedTraceView(trace);
  const notes: string[] = [...view.notes];
  const spans = Array.isArray(view.trace?.spans) ? view.trace.spans : [];
  let duplicates = 0;
  let invalid = 0;
  const baseNs = earliestStart(spans);

  // Each span is read here, once for the tree: what the later passes need of
  // it (its parent's id, its class, whether it is marked, a bad end) is taken
  // while it is in the CPU cache. Past 100,000 spans, every further pass over
  // the spans finds them in memory, not in the cache.
  const candidates: NodeUnderConstruction[] = [];
  const ids = new SpanIdList(spans.length);
  const candidateParentIds = new SpanIdList(spans.length);
  const candidateClasses: SpanClass[] = [];
  const badEndAt: number[] = [];
  const markedAt: number[] = [];
  const joinedAt: number[] = [];
  const joinedRoots = view.joinedRoots;
  let mayDepend = false;
  for (let i = 0; i < spans.length; i++) {
    const raw = spans[i];
    const span = sanitize(raw);
    if (span === undefined) {
      invalid++;
      continue;
    }
    const rawEnd = span.endTimeNs;
    const hasEnd = typeof rawEnd === 'bigint';
    // Offsets are exact: the difference of two exact times, converted once.
    const start = Number(span.startTimeNs - baseNs);
    const at = candidates.length;
    candidates.push({
      span,
      order: at,
      parent: undefined,
      children: [],
      start,
      end: hasEnd && rawEnd > span.startTimeNs ? Number(rawEnd - baseNs) : start,
      missingEnd: !hasEnd,
      depth: 0,
    });
    ids.add(span.spanId);
    const parentId = span.parentSpanId;
    // No parent: none given, an empty one, or W3C trace context's all-zeros id.
    candidateParentIds.add(parentId === undefined || parentId === '' || allZeros(parentId) ? undefined : parentId);
    const cls = classify(span);
    candidateClasses.push(cls);
    if (cls.mayDepend) mayDepend = true;
    if (hasEnd && rawEnd < span.startTimeNs) badEndAt.push(at);
    if (hasImportMarks(span)) markedAt.push(at);
    if (joinedRoots.size > 0 && joinedRoots.has(raw)) joinedAt.push(at);
  }
  // Of spans sharing an id, the first is kept.
  const { index: byId, kept } = SpanIndex.build(ids, candidates);
  let all: NodeUnderConstruction[] = candidates;
  let classes = candidateClasses;
  let parentIds = candidateParentIds;
  if (byId.size < candidates.length) {
    duplicates = candidates.length - byId.size;
    all = [];
    classes = [];
    parentIds = new SpanIdList(byId.size);
    for (let at = 0; at < candidates.length; at++) {
      if (kept[at] === 0) continue;
      const node = candidates[at] as NodeUnderConstruction;
      node.order = all.length;
      all.push(node);
      classes.push(candidateClasses[at] as SpanClass);
      parentIds.add(candidateParentIds.ids[at]);
    }
  }
  const keptAt = (at: number): boolean => kept[at] === 1;
  const badEnds = badEndAt.filter(keptAt).length;
  const joined = new Set<SpanNode>(joinedAt.filter(keptAt).map((at) => candidates[at] as SpanNode));
  if (spans.length === 0) notes.push('trace has no spans');
  if (invalid > 0) notes.push(`${plural(invalid, 'span')} without a valid id or start time ignored`);
  if (duplicates > 0) notes.push(`${plural(duplicates, 'duplicate span id')}: kept the first of each`);
  if (badEnds > 0) notes.push(`${plural(badEnds, 'span')} ending before it started: drawn with zero duration`);
  // Oddities the receiver or an importer marked on spans it kept.
  notes.push(...importMarkNotes(markedAt.filter(keptAt).map((at) => (candidates[at] as SpanNode).span)));

  // Link parents, all looked up at once (see SpanIndex.positionsOf). Spans
  // whose link is broken (a parent missing from the trace, a span naming
  // itself, a loop of parent links) are placed afterwards.
  const parentAt = byId.positionsOf(parentIds);
  const trueRoots: SpanNode[] = [];
  const orphans: SpanNode[] = [];
  const selfParents: SpanNode[] = [];
  let linksToEarlier = 0;
  let linksToLater = 0;
  for (let at = 0; at < all.length; at++) {
    const node = all[at] as SpanNode;
    // A consumer joined from a linked trace is a root here: its parent is in a trace not drawn.
    if (parentIds.ids[at] === undefined || joined.has(node)) {
      trueRoots.push(node);
      continue;
    }
    const p = parentAt[at] as number;
    if (p === at) {
      selfParents.push(node);
    } else if (p >= 0) {
      const parent = all[p] as SpanNode;
      node.parent = parent;
      parent.children.push(node);
      if (p < at) linksToEarlier++;
      else linksToLater++;
    } else {
      orphans.push(node);
    }
  }

  // Whatever is not reachable from a span without a parent sits on a loop of
  // parent links (or below one): each loop is broken at its earliest span.
  // A loop needs a link to an earlier span and one to a later span: when all
  // point the same way (spans in start order, or exported children first, as
  // most are), there is none, and no walk over the tree to look for one.
  const loops = linksToEarlier === 0 || linksToLater === 0 ? [] : findLoops(all, [trueRoots, orphans, selfParents]);
  const looped = loops.map((loop) => loop.brokenAt);
  // Other spans of the loops whose links were cut too: placed like the rest, noted with their loop.
  const alsoLooped = loops.flatMap((loop) => loop.detached);

  // Each span of a broken link hangs, by its own start time, under the root
  // it ran in (else the last root started before it, else the first). Without
  // a recorded root, the earliest server or consumer span with a missing
  // parent is the request (its caller was not recorded) and hosts the rest.
  const detached = [...orphans, ...selfParents, ...looped, ...alsoLooped];
  trueRoots.sort(compareNodes);
  const roots = [...trueRoots];
  let promoted: SpanNode | undefined;
  if (roots.length === 0) {
    for (const node of orphans) {
      if (node.span.kind !== 'server' && node.span.kind !== 'consumer') continue;
      if (
        promoted === undefined ||
        node.start < promoted.start ||
        (node.start === promoted.start && node.end > promoted.end)
      ) {
        promoted = node;
      }
    }
    if (promoted !== undefined) roots.push(promoted);
  }
  const reasonOf = new Map<SpanNode, BrokenLink['reason']>();
  for (const node of orphans) reasonOf.set(node, 'missing-parent');
  for (const node of selfParents) reasonOf.set(node, 'self-parent');
  for (const node of looped) reasonOf.set(node, 'loop');
  for (const node of alsoLooped) reasonOf.set(node, 'loop');
  const reparented = new Set<SpanNode>();
  const broken: BrokenLink[] = [];
  let unplaced = 0;
  const hosts = [...roots];
  for (const [index, node] of detached.entries()) {
    if (node === promoted) continue;
    const host = hosts.length === 0 ? undefined : hostRoot(hosts, node);
    if (host === undefined) {
      // Nothing to hang it under: a root of its own, drawn in start order.
      roots.push(node);
      unplaced++;
    } else {
      reparented.add(node);
      node.parent = host;
      host.children.push(node);
    }
    const reason = reasonOf.get(node) ?? 'missing-parent';
    const loopIndex = index - orphans.length - selfParents.length;
    const loop = reason === 'loop' && loopIndex < loops.length ? loops[loopIndex]?.members : undefined;
    broken.push({ node, reason, ...(loop !== undefined ? { loop } : {}) });
  }
  roots.sort(compareNodes);
  if (promoted !== undefined) {
    notes.push(`the root span's parent is not in the trace (its caller was not recorded): ${promoted.span.name}`);
  }
  notes.push(...brokenLinkNotes(broken, unplaced === 0));

  // Order siblings by start (then end, then input order), visiting the nodes
  // in input order, which is where they lie in memory.
  for (let at = 0; at < all.length; at++) {
    const children = (all[at] as SpanNode).children;
    if (children.length > 1) children.sort(compareNodes);
  }
  let nodes = breadthFirst(roots);

  // Repair missing ends bottom-up: a span that never ended lasted at least as long as its children.
  // Spans whose layout times change from here on are kept, so that only their siblings are sorted again.
  const retimed: SpanNode[] = [];
  let missing = 0;
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i] as SpanNode;
    if (!node.missingEnd) continue;
    missing++;
    let end = node.start;
    for (const child of node.children) if (child.end > end) end = child.end;
    if (end !== node.end) retimed.push(node);
    node.end = end;
  }
  if (missing > 0) {
    notes.push(
      `${plural(missing, 'span')} never ended: drawn as ending with ${missing === 1 ? 'its' : 'their'} last child`,
    );
  }

  const shifted = correctSkew(nodes, reparented, notes, retimed);
  const linked = shiftLinkedConsumers(roots, (root) =>
    root.span.kind === 'consumer' ? linkedProducer(root.span, byId) : undefined,
  );
  if (linked.length > 0) {
    const most = new Map<string, number>();
    for (const { node, producer, shift } of linked) {
      const key = `${producer.span.serviceName}\u0000${node.span.serviceName}`;
      most.set(key, Math.max(shift, most.get(key) ?? 0));
    }
    for (const [key, ns] of most) {
      const [from, to] = key.split('\u0000') as [string, string];
      notes.push(`clock skew between ${from} and ${to}: up to ${formatDuration(ns / 1e6)}, shifted for layout`);
    }
  }

  // Layout times changed: sort the siblings of the spans moved again (a
  // subtree moved whole keeps its own order), and walk the tree again when
  // an order changed.
  if (retimed.length > 0 || linked.length > 0) {
    const lists = new Set<SpanNode[]>();
    for (const node of retimed) lists.add(node.parent === undefined ? roots : node.parent.children);
    if (linked.length > 0) lists.add(roots);
    let reordered = false;
    for (const list of lists) if (sortNodes(list)) reordered = true;
    if (reordered) nodes = breadthFirst(roots);
  }

  // A consumer root linked to a producer in this trace is a hand-off, not a second request.
  const separate = roots.filter(
    (root) => !(joined.has(root) || (root.span.kind === 'consumer' && linkedProducer(root.span, byId) !== undefined)),
  );
  if (separate.length > 1)
    notes.push(`trace has ${separate.length} root spans: drawn one after another in start order`);
  return {
    traceId: typeof trace?.traceId === 'string' ? trace.traceId : '',
    baseNs,
    roots,
    nodes,
    byId,
    classes,
    notes,
    broken,
    shifted,
    mayDepend,
  };
}

/** What {@link skewShift} reads and moves: a span with its (corrected) times. */
export interface SkewNode {
  readonly span: Span;
  start: number;
  end: number;
}

/**
 * One step of the clock-skew correction described at `correctSkew`, for a
 * node whose parent is already corrected: returns how far the node and its
 * whole subtree must move (0 for not at all). A child in its parent's process
 * that starts too early is clamped in place instead (its start moves, its
 * subtree does not), unless it ended before its parent started: then the
 * node and its subtree move to the parent's start, keeping their durations.
 */
export function skewShift(parent: SkewNode, node: SkewNode): number {
  if (parent.span.kind === 'producer' || node.span.kind === 'consumer') {
    if (node.start >= parent.start) return 0;
    // Causality wins over clocks, as Jaeger's adjuster moves a child that
    // starts before its parent: a message is processed after it was sent,
    // and the publish had handed it over by its end at the latest. The shift
    // is bounded by the parent: the consumer moves no later than that end.
    return (parent.span.kind === 'producer' ? parent.end : parent.start) - node.start;
  }
  if (node.span.serviceName !== parent.span.serviceName) {
    if (node.start >= parent.start && node.end <= parent.end) return 0;
    const duration = node.end - node.start;
    const room = parent.end - parent.start;
    const target = duration <= room ? parent.start + (room - duration) / 2 : parent.start;
    return target - node.start;
  }
  // Wholly before its parent: the clock, not the work, is off (a span
  // stamped on another clock, a thread's clock behind). Clamping would leave
  // nothing of it; it moves into its parent with its subtree, keeping its times.
  if (node.end <= parent.start) return parent.start - node.start;
  if (node.start < parent.start) {
    node.start = parent.start;
    if (node.end < node.start) node.end = node.start;
  }
  return 0;
}

/**
 * Moves spans recorded on another host into their parent's time window.
 * A server span that starts before the client span that called it, or ends
 * after it, can only mean the two clocks disagree: the whole remote subtree is
 * shifted (keeping its internal timings) so it sits centred in the call.
 * Within one process a child cannot start before its parent, so it is clamped;
 * it may legitimately end later (work left running), which is kept.
 * A consumer's wait in a queue is real time, so only a consumer that starts
 * before its publish is moved, to the publish's end (see {@link skewShift});
 * so is a consumer joined by a span link ({@link shiftLinkedConsumers}).
 * Only a recorded parent link is evidence of skew: a span hung under the root
 * because its own parent is missing (`reparented`) never ran inside the root,
 * so it keeps its recorded times (a span after the root's end is then drawn
 * as work after the response); its own subtree is still corrected against it.
 */
function correctSkew(
  order: readonly SpanNode[],
  reparented: ReadonlySet<SpanNode>,
  notes: string[],
  retimed: SpanNode[],
): ReadonlyMap<SpanNode, number> {
  const shifts = new Map<SpanNode, number>();
  // Same-process spans that ran wholly before their parent, moved into it (ns).
  const shiftedIn = new Map<SpanNode, number>();
  const shiftedByService = new Map<string, number>();
  const skewByPair = new Map<string, number>();
  let clamped = 0;
  for (const node of order) {
    const parent = node.parent;
    if (!parent || reparented.has(node)) continue;
    const inherited = shifts.size === 0 ? 0 : (shifts.get(parent) ?? 0);
    node.start += inherited;
    node.end += inherited;
    // Within its parent's time: no kind of span moves (see skewShift), and
    // its span need not be read.
    if (node.start >= parent.start && node.end <= parent.end) {
      if (inherited !== 0) shifts.set(node, inherited);
      continue;
    }
    const before = node.start;
    const delta = skewShift(parent, node);
    if (node.start > before || delta !== 0) retimed.push(node);
    if (node.start > before) {
      clamped++;
      skewByPair.set(
        `${node.span.serviceName}\u0000`,
        Math.max(node.start - before, skewByPair.get(`${node.span.serviceName}\u0000`) ?? 0),
      );
    }
    if (delta !== 0) {
      node.start += delta;
      node.end += delta;
      if (sameProcess(parent, node)) {
        shiftedIn.set(node, delta);
        const service = node.span.serviceName;
        shiftedByService.set(service, Math.max(delta, shiftedByService.get(service) ?? 0));
      } else {
        const key = `${parent.span.serviceName}\u0000${node.span.serviceName}`;
        skewByPair.set(key, Math.max(Math.abs(delta), skewByPair.get(key) ?? 0));
      }
    }
    const total = inherited + delta;
    if (total !== 0) shifts.set(node, total);
  }
  for (const [key, ns] of skewByPair) {
    const [from, to] = key.split('\u0000') as [string, string];
    const amount = formatDuration(ns / 1e6);
    if (to === '') {
      notes.push(
        `clock skew: ${clamped === 1 ? 'a span' : 'spans'} of ${from} start up to ${amount} before their parent: clamped for layout`,
      );
    } else {
      notes.push(`clock skew between ${from} and ${to}: up to ${amount}, shifted for layout`);
    }
  }
  for (const [service, ns] of shiftedByService) {
    notes.push(
      `clock skew: ${shiftedIn.size === 1 ? 'a span' : 'spans'} of ${service} ran up to ${formatDuration(ns / 1e6)} before ${shiftedIn.size === 1 ? 'its parent' : 'their parents'} started: shifted into ${shiftedIn.size === 1 ? 'it' : 'them'} for layout`,
    );
  }
  return shiftedIn;
}

/** Whether a child ran in its parent's process, as {@link skewShift} judges it (neither a hand-off through a queue nor another service). */
function sameProcess(parent: SkewNode, node: SkewNode): boolean {
  return (
    parent.span.kind !== 'producer' &&
    node.span.kind !== 'consumer' &&
    node.span.serviceName === parent.span.serviceName
  );
}

/** A node the linked-consumer correction moves: its times and its subtree. */
export interface LinkedSkewNode extends SkewNode {
  readonly children: readonly LinkedSkewNode[];
}

/**
 * The clock-skew correction for consumers joined by a span link rather than
 * a parent (see linked-traces.ts): a root consumer that starts before the
 * producer its link names is moved with its whole subtree by
 * {@link skewShift}, its producer standing for the parent. Producers are
 * corrected before their consumers (a consumer's own publishes may feed
 * another linked consumer); roots linked in a cycle are left as recorded.
 *
 * @returns each moved root with its producer and the shift (ns), in the order applied
 */
export function shiftLinkedConsumers<N extends LinkedSkewNode>(
  roots: readonly N[],
  producerOf: (root: N) => N | undefined,
): { readonly node: N; readonly producer: N; readonly shift: number }[] {
  const waiting = new Map<LinkedSkewNode, N[]>();
  const queue: LinkedSkewNode[] = [];
  for (const root of roots) {
    const producer = producerOf(root);
    if (producer === undefined || producer === root) queue.push(root);
    else {
      const list = waiting.get(producer);
      if (list === undefined) waiting.set(producer, [root]);
      else list.push(root);
    }
  }
  const moved: { node: N; producer: N; shift: number }[] = [];
  if (waiting.size === 0) return moved;
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i] as LinkedSkewNode;
    for (const consumer of waiting.get(node) ?? []) {
      const shift = skewShift(node, consumer);
      if (shift > 0) {
        const stack: LinkedSkewNode[] = [consumer];
        while (stack.length > 0) {
          const moving = stack.pop() as LinkedSkewNode;
          moving.start += shift;
          moving.end += shift;
          for (const child of moving.children) stack.push(child);
        }
        moved.push({ node: consumer, producer: node as N, shift });
      }
      queue.push(consumer);
    }
    waiting.delete(node);
    for (const child of node.children) queue.push(child);
  }
  return moved;
}

/**
 * How far the layout moved a span from where its clock put it (ns): the
 * clock-skew corrections of {@link buildSpanTree}, 0 for a span kept in place.
 */
export function layoutShift(node: SpanNode, tree: Pick<SpanTree, 'baseNs'>): number {
  return node.start - Number(node.span.startTimeNs - tree.baseNs);
}

/** Whether an id is all zeros: W3C trace context's "no parent". */
export function allZeros(id: string): boolean {
  if (id.length === 0) return false;
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) !== 48) return false;
  return true;
}

/**
 * The loops of parent links, broken (see {@link breakLoops}): the spans not
 * reached by walking down from the spans without a parent link (`starts`)
 * sit on a loop or below one.
 */
function findLoops(
  all: readonly SpanNode[],
  starts: readonly (readonly SpanNode[])[],
): { brokenAt: SpanNode; members: SpanNode[]; detached: SpanNode[] }[] {
  const reached = new Uint8Array(all.length);
  let reachedCount = 0;
  const markFrom = (start: SpanNode): void => {
    const stack = [start];
    reached[start.order] = 1;
    reachedCount++;
    while (stack.length > 0) {
      const node = stack.pop() as SpanNode;
      const children = node.children;
      for (let c = 0; c < children.length; c++) {
        const child = children[c] as SpanNode;
        if (reached[child.order] === 0) {
          reached[child.order] = 1;
          reachedCount++;
          stack.push(child);
        }
      }
    }
  };
  for (const list of starts) for (const node of list) markFrom(node);
  // Every span reached (nearly every trace): there is no loop.
  return reachedCount === all.length ? [] : breakLoops(all, reached, markFrom);
}

/**
 * Finds the loops of parent links among the spans not reached from any span
 * without a parent, and breaks each at its earliest span (which then has no
 * parent), and at every other span that did not start inside the parent it
 * names (`detached`). Iterative: each span is walked up at most once.
 */
function breakLoops(
  all: readonly SpanNode[],
  reached: Uint8Array,
  markFrom: (node: SpanNode) => void,
): { brokenAt: SpanNode; members: SpanNode[]; detached: SpanNode[] }[] {
  const loops: { brokenAt: SpanNode; members: SpanNode[]; detached: SpanNode[] }[] = [];
  const walked = new Uint32Array(all.length);
  let walk = 0;
  for (const first of all) {
    if (reached[first.order] === 1 || walked[first.order] !== 0) continue;
    walk++;
    let node: SpanNode | undefined = first;
    while (node !== undefined && reached[node.order] === 0 && walked[node.order] === 0) {
      walked[node.order] = walk;
      node = node.parent;
    }
    // Stopped on a span of this very walk: the walk went round a loop.
    if (node === undefined || reached[node.order] === 1 || walked[node.order] !== walk) continue;
    const members: SpanNode[] = [node];
    for (let m = node.parent; m !== undefined && m !== node; m = m.parent) members.push(m);
    members.sort(compareNodes);
    const brokenAt = members[0] as SpanNode;
    // The loop shows these links are corrupt: besides the earliest span's,
    // a link is kept only where the span ran inside the parent it names;
    // a span that did not is placed by its own time, as long as it ran.
    const detached = members.filter((m) => m === brokenAt || !startsWithin(m, m.parent));
    for (const member of detached) {
      const parent = member.parent;
      if (parent === undefined) continue;
      const at = parent.children.indexOf(member);
      if (at >= 0) parent.children.splice(at, 1);
      member.parent = undefined;
    }
    loops.push({ brokenAt, members, detached: detached.filter((m) => m !== brokenAt) });
    for (const member of detached) markFrom(member);
  }
  return loops;
}

/** Whether a span started inside the time of the parent it names. */
function startsWithin(node: SpanNode, parent: SpanNode | undefined): boolean {
  return parent !== undefined && node.start >= parent.start && node.start < Math.max(parent.end, parent.start + 1);
}

/** The root a span of a broken link ran in: the one whose time holds its start, else the last one started before it, else the first. */
function hostRoot(roots: readonly SpanNode[], node: SpanNode): SpanNode | undefined {
  let before: SpanNode | undefined;
  for (const root of roots) {
    if (root.start <= node.start && node.start < root.end) return root;
    if (root.start <= node.start && (before === undefined || root.start >= before.start)) before = root;
  }
  return before ?? roots[0];
}

/** Names of spans for a note: the first few, then how many more. */
export function spanNames(nodes: readonly SpanNode[], shown = 3): string {
  const names = nodes.slice(0, shown).map((node) => classifySpan(node.span).label || node.span.name || '(unnamed)');
  return nodes.length > shown ? `${names.join(', ')} +${nodes.length - shown} more` : names.join(', ');
}

/** One note per kind of broken link: how many spans, which, and where they were drawn. */
function brokenLinkNotes(broken: readonly BrokenLink[], underRoot: boolean): string[] {
  const placed = underRoot ? 'drawn by start time under the root span' : 'drawn by start time';
  const notes: string[] = [];
  const missing = broken.filter((b) => b.reason === 'missing-parent').map((b) => b.node);
  const self = broken.filter((b) => b.reason === 'self-parent').map((b) => b.node);
  // One entry per loop carries its members; other spans of a loop cut loose are among them.
  const loops = broken.filter((b) => b.reason === 'loop' && b.loop !== undefined);
  if (missing.length > 0) {
    notes.push(
      `${plural(missing.length, 'span')} ${missing.length === 1 ? 'refers' : 'refer'} to a parent missing from the trace (${spanNames(missing)}): ${placed}`,
    );
  }
  if (self.length > 0) {
    notes.push(`${plural(self.length, 'span')} naming itself as parent (${spanNames(self)}): ${placed}`);
  }
  if (loops.length > 0) {
    const members = loops.flatMap((b) => b.loop ?? [b.node]);
    notes.push(
      `parent links form ${plural(loops.length, 'loop')} over ${plural(members.length, 'span')} (${spanNames(members)}): broken at the earliest span of each, ${placed}`,
    );
  }
  return notes;
}

/** Sorts sibling nodes (see {@link compareNodes}) in place; true when their order changed. */
function sortNodes(list: SpanNode[]): boolean {
  if (list.length < 2) return false;
  const before = list.slice();
  list.sort(compareNodes);
  for (let i = 0; i < list.length; i++) if (list[i] !== before[i]) return true;
  return false;
}

/** Every node under `roots`, parents before children (breadth-first, children in their order), each with its depth set. */
function breadthFirst(roots: readonly SpanNode[]): SpanNode[] {
  const out: SpanNode[] = [...roots];
  for (const root of roots) root.depth = 0;
  for (let i = 0; i < out.length; i++) {
    const node = out[i] as SpanNode;
    const children = node.children;
    for (let c = 0; c < children.length; c++) {
      const child = children[c] as SpanNode;
      child.depth = node.depth + 1;
      out.push(child);
    }
  }
  return out;
}

const KINDS: ReadonlySet<string> = new Set<SpanKind>(['internal', 'server', 'client', 'producer', 'consumer']);

/**
 * Whether a value is a span every part of which the tree can take as it is:
 * an id, a finite start, and fields of the right types.
 */
function isWellFormedSpan(raw: unknown): raw is Span {
  if (typeof raw !== 'object' || raw === null) return false;
  const s = raw as Partial<Span>;
  return (
    typeof s.spanId === 'string' &&
    s.spanId !== '' &&
    typeof s.startTimeNs === 'bigint' &&
    (s.endTimeNs === undefined || typeof s.endTimeNs === 'bigint') &&
    typeof s.name === 'string' &&
    typeof s.serviceName === 'string' &&
    typeof s.kind === 'string' &&
    KINDS.has(s.kind) &&
    typeof s.status === 'object' &&
    s.status !== null &&
    typeof s.attributes === 'object' &&
    s.attributes !== null &&
    Array.isArray(s.events) &&
    Array.isArray(s.links) &&
    (s.parentSpanId === undefined || typeof s.parentSpanId === 'string')
  );
}

/**
 * Returns the span itself when it is well formed, a repaired copy when only
 * optional parts are malformed, and undefined when it has no id or start time.
 */
function sanitize(raw: unknown): Span | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const s = raw as Partial<Span>;
  if (typeof s.spanId !== 'string' || s.spanId === '') return undefined;
  const startTimeNs = exactTime(s.startTimeNs);
  if (startTimeNs === undefined) return undefined;
  if (isWellFormedSpan(s)) return s;
  const endTimeNs = exactTime(s.endTimeNs);
  return {
    ...(s as Span),
    startTimeNs,
    endTimeNs,
    name: typeof s.name === 'string' ? s.name : '',
    serviceName: typeof s.serviceName === 'string' ? s.serviceName : 'unknown',
    kind: typeof s.kind === 'string' && KINDS.has(s.kind) ? s.kind : 'internal',
    status: typeof s.status === 'object' && s.status !== null ? s.status : { code: 'unset' },
    attributes: typeof s.attributes === 'object' && s.attributes !== null ? s.attributes : {},
    events: Array.isArray(s.events) ? s.events : [],
    links: Array.isArray(s.links) ? s.links : [],
    resource: typeof s.resource === 'object' && s.resource !== null ? s.resource : {},
    parentSpanId: typeof s.parentSpanId === 'string' ? s.parentSpanId : undefined,
  };
}

/**
 * A time as the model holds it: a bigint as it is; a finite number (a span
 * built by hand, or read from JSON) rounded to whole nanoseconds; a decimal
 * string (the JSON form `bigintToJson` writes) parsed exactly.
 */
function exactTime(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? BigInt(Math.round(value)) : undefined;
  if (typeof value === 'string' && /^-?\d{1,30}$/.test(value)) return BigInt(value);
  return undefined;
}

/** The earliest start among the spans with an id (0 when there are none): the base of layout times. */
export function earliestStart(spans: readonly unknown[]): bigint {
  let base: bigint | undefined;
  for (const raw of spans) {
    const s = raw as Partial<Span> | null;
    if (typeof s?.spanId !== 'string' || s.spanId === '') continue;
    const start = exactTime(s.startTimeNs);
    if (start !== undefined && (base === undefined || start < base)) base = start;
  }
  return base ?? 0n;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
