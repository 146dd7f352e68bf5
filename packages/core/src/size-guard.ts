/**
 * The size guard's plan: which calls to fold so that a diagram too long for
 * Mermaid's `maxTextSize` keeps as much as fits. Folding a call replaces
 * everything nested under it with one note; the guard folds the fewest such
 * groups, largest first (and of equal ones the deepest), until the text fits.
 *
 * Sizes are estimated from the layout, without building or printing the full
 * diagram (a 100,000-span trace would print megabytes only to throw them
 * away): the estimate walks the calls as the builder does and counts the
 * very texts it draws (arrows, every note, `par` and `loop` lines), so the
 * two cannot drift apart. A trace small enough to be drawn whole first needs
 * no estimate when it fits, and when it does not, the sizes are read off the
 * printed lines instead ({@link measuredSizes}). {@link fitDiagram} measures
 * the real text of each plan and corrects the estimate by the ratio it
 * observed; a large trace
 * estimated far over the limit is not built whole, and the fallback of
 * folding whole levels picks its first depth and cut from the estimate. This step drives the sequence
 * builder and the renderer: they each run once per plan, and never call back.
 */

import { sentAt } from './call-timing.js';
import { formatDuration, truncate } from './format.js';
import {
  arrangeChildren,
  type DrawnCall,
  isRepeatRun,
  splitRepeats,
  splitRepeatsUncached,
  type TraceLayout,
} from './layout.js';
import { drawnCallOutcome } from './outcome.js';
import { type RenderOptions, renderLines, renderMermaid } from './render.js';
import {
  arrangedRuns,
  branchLabels,
  buildBounded,
  buildSequence,
  callTexts,
  computeCallTexts,
  foldText,
  gapThresholdMs,
  loopLabel,
  parLabel,
} from './sequence.js';
import {
  type FoldLimits,
  MAX_DRAWN_DEPTH,
  type Note,
  type SequenceItem,
  type SequenceModel,
  type SequenceOptions,
} from './sequence-model.js';

/** A call whose nested calls can be folded into one note. */
export interface FoldCandidate {
  readonly call: DrawnCall;
  /** Estimated characters the fold removes: the nested lines, less the note that replaces them. */
  readonly saving: number;
}

/**
 * Characters of the lines besides their text and indentation, for
 * participant ids of `id` characters (`p12`): an arrow (`p12->>p13: ` and
 * the newline) and a note (`Note over p12,p13: ` and the newline; most
 * notes a call draws name both its lifelines).
 */
function lineCosts(id: number): { arrow: number; note: number } {
  return { arrow: 2 * id + 3 + 2 + 1, note: 10 + 2 * id + 1 + 2 + 1 };
}
/** Longest text of an arrow or a note as the builder writes it (see sequence.ts). */
const MAX_TEXT = 80;

function textCost(text: string): number {
  return Math.min(text.length, MAX_TEXT);
}

/** What the estimate needs of the fit options. */
export interface EstimateOptions {
  readonly indentWidth: number;
  readonly timings: boolean;
  readonly foldLoops: boolean;
  readonly gapThresholdMs?: number;
  /**
   * Remember the runs, repeats and texts of each call on the layout, for the
   * builds that follow: worth it only when those builds draw most of the
   * calls again. Default false: on a large trace a plan draws a small share
   * of the calls, and keeping what the estimate read of every call would
   * only hold it alive (the builder remembers what it draws).
   */
  readonly remember?: boolean;
}

/**
 * Estimated characters of the lines a call draws itself, whether or not its
 * nested calls are folded: its arrows and the notes around them, read from
 * the very texts the builder draws ({@link callTexts}), at `indent`
 * characters of indentation; remembered on the call with `remember` (see
 * {@link EstimateOptions.remember}). The characters of the lifeline ids
 * depend on how many lifelines the diagram has, known only once every call
 * was seen: the counts of arrows and notes are left in {@link ownArrows}
 * and {@link ownNotes} for {@link lineCosts} to be added then.
 */
function ownCost(call: DrawnCall, layout: TraceLayout, indent: number, options: EstimateOptions): number {
  const texts = (options.remember === true ? callTexts : computeCallTexts)(
    call,
    call.outcome ?? drawnCallOutcome(call),
    layout,
    options.timings,
  );
  let cost = indent + textCost(texts.request);
  let arrows = 1;
  for (const note of texts.before) cost += indent + textCost(note.text);
  for (const note of texts.after) cost += indent + textCost(note.text);
  if (texts.reply !== undefined) {
    cost += indent + textCost(texts.reply.text);
    arrows++;
  }
  for (const note of texts.markers) cost += indent + textCost(note.text);
  ownArrows = arrows;
  ownNotes = texts.before.length + texts.after.length + texts.markers.length;
  return cost;
}

// The arrows and notes of the call {@link ownCost} read last: module scratch, so it allocates nothing.
let ownArrows = 0;
let ownNotes = 0;

/** Characters of a note over one lifeline besides its text and indentation (`Note over p3: `, newline). */
const ONE_LIFELINE_NOTE = 10 + 3 + 2 + 1;

/** Characters of an own-work note (`Note over p3: 24 ms own work`) for a gap of `ns`. */
function ownWorkNoteCost(ns: number, indent: number): number {
  return indent + ONE_LIFELINE_NOTE + formatDuration(ns / 1e6).length + 9;
}

/** Estimated sizes of a layout: the whole text and every call that can be folded. */
export interface SizeEstimate {
  /** Estimated characters of the unfolded text. */
  readonly total: number;
  /** Calls with nested calls drawn, largest saving first; of equal savings the deepest, then the earliest. */
  readonly candidates: readonly FoldCandidate[];
  /**
   * Estimated characters of the text with only the calls above `maxDepth`
   * drawn (deeper ones folded, as the size guard's level folds do), for
   * each `maxDepth` from 1; the last entry draws every level.
   */
  readonly byMaxDepth: readonly number[];
  /** The most items (calls, `par` and `loop` blocks) one level draws: the top level's, or those among one call's nested calls. */
  readonly widest: number;
}

/**
 * Estimates how long the diagram of `layout` is and what folding each call
 * would save, walking the calls as the builder draws them: the same runs of
 * siblings (serial, `par` blocks with their lanes, `loop` blocks drawing one
 * call), the same texts of arrows and notes, own work between calls, and the
 * indentation of each block. Linear in the calls; nothing recurses.
 *
 * Unless `options.remember` says so, nothing is remembered on the layout:
 * the runs, repeats and texts of every call are read once here, while the
 * builder draws only the calls a plan keeps (on a large trace, a small share
 * of them) and remembers those.
 */
export function estimateSizes(layout: TraceLayout, options: EstimateOptions): SizeEstimate {
  // Calls the diagram draws, parents before children, each with the index of
  // its parent in that order (-1 at the top) and its block nesting (the
  // renderer indents by `par`/`loop` blocks, not by call depth). Indexes
  // into typed arrays, not maps keyed by call: a 100,000-span trace makes
  // that many entries.
  // Sized for every call of the layout up front (they grow past it, should
  // a layout made by hand draw more): grown a push at a time, 100,000 entries
  // are copied over and over.
  const capacity = layout.calls.length + layout.top.length;
  const column = (): number[] => new Array<number>(capacity).fill(0);
  const order: DrawnCall[] = [];
  const parentIndex = column();
  const blocks = column();
  // Characters a call's nested calls add besides their own subtrees: block lines and own-work notes.
  const content = column();
  const indentOf = (nesting: number): number => options.indentWidth * Math.min(nesting, 40);
  let header = 'sequenceDiagram\nautonumber\n'.length;
  const seen = new Set<string>();
  const participant = (key: string, name: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    // `participant p12 as name (db)`
    header += 26 + Math.min(name.length, 60);
  };
  // The most items (calls, `par` and `loop` blocks) any one level draws.
  let widest = layout.top.length;
  for (const call of layout.top) {
    parentIndex[order.length] = -1;
    blocks[order.length] = 0;
    order.push(call);
  }
  // What the sums below need of each call is read in this one walk: past
  // 100,000 calls, every further walk over them finds them out of the CPU cache.
  const own = column();
  const arrowsOf = column();
  const notesOf = column();
  const depthOf = column();
  const foldCost = column();
  for (let i = 0; i < order.length; i++) {
    const call = order[i] as DrawnCall;
    participant(call.from.key, call.from.name);
    participant(call.to.key, call.to.name);
    content[i] = 0;
    own[i] = ownCost(call, layout, indentOf(blocks[i] as number), options);
    arrowsOf[i] = ownArrows;
    notesOf[i] = ownNotes;
    depthOf[i] = Math.min(call.depth, MAX_DRAWN_DEPTH);
    foldCost[i] = 0;
    if (call.children.length === 0) continue;
    const nesting = blocks[i] as number;
    foldCost[i] = foldNoteCost(call, indentOf(nesting));
    if (call.depth + 1 >= MAX_DRAWN_DEPTH) {
      content[i] = foldCost[i] as number;
      continue;
    }
    let extra = 0;
    let items = 0;
    const push = (child: DrawnCall, childNesting: number): void => {
      parentIndex[order.length] = i;
      blocks[order.length] = childNesting;
      order.push(child);
    };
    const showGaps = options.timings && (call.role !== 'call' || call.remote !== undefined) && call.role !== 'publish';
    const work = call.work;
    const thresholdNs = gapThresholdMs((work.end - work.start) / 1e6, options) * 1e6;
    let cursor = work.start;
    const gapUntil = (time: number): void => {
      if (showGaps && time - cursor > thresholdNs) extra += ownWorkNoteCost(time - cursor, indentOf(nesting));
    };
    for (const run of options.remember === true ? arrangedRuns(call.children) : arrangeChildren(call.children)) {
      if (run.type === 'par') {
        let sent = Number.POSITIVE_INFINITY;
        let end = Number.NEGATIVE_INFINITY;
        for (const c of run.calls) {
          const at = sentAt(c);
          if (at < sent) sent = at;
          if (c.node.end > end) end = c.node.end;
        }
        gapUntil(sent);
        if (end > cursor) cursor = end;
        // `par 3 concurrent calls in 2 lanes (wall 1.4 ms, sum 2.6 ms)`, an `and` per further lane, `end`.
        const pad = indentOf(nesting);
        extra += pad + 5 + parLabel(run.calls, run.lanes.length, options.timings).length;
        for (const label of branchLabels(run.lanes).slice(1)) extra += pad + 5 + (label === '' ? 0 : label.length);
        extra += pad + 4;
        for (const lane of run.lanes) for (const c of lane) push(c, nesting + 1);
        items++;
        continue;
      }
      const pieces = !options.foldLoops
        ? run.calls
        : options.remember === true
          ? splitRepeats(run.calls)
          : splitRepeatsUncached(run.calls);
      items += pieces.length;
      for (const piece of pieces) {
        if (isRepeatRun(piece)) {
          const first = piece.calls[0] as DrawnCall;
          let end = first.node.end;
          for (const c of piece.calls) if (c.node.end > end) end = c.node.end;
          gapUntil(sentAt(first));
          if (end > cursor) cursor = end;
          // `loop 12× SELECT authors (total 9.3 ms, p50 0.7 ms)` and `end`: the first call drawn inside.
          const pad = indentOf(nesting);
          extra += pad + 6 + loopLabel(piece, options.timings).label.length + pad + 4;
          push(first, nesting + 1);
        } else {
          gapUntil(sentAt(piece));
          if (piece.node.end > cursor) cursor = piece.node.end;
          push(piece, nesting);
        }
      }
    }
    gapUntil(work.end);
    content[i] = extra;
    if (items > widest) widest = items;
  }
  // Children before parents: each subtree's size is its own lines, its block and note lines, and its children's subtrees.
  const subtree = new Float64Array(order.length);
  const hasDrawnChildren = new Uint8Array(order.length);
  const line = lineCosts(1 + String(seen.size).length);
  // Per call depth: the lines of its calls, the lines between their nested calls, and the notes folding those.
  const drawnAt: number[] = [];
  const contentAt: number[] = [];
  const foldAt: number[] = [];
  for (let i = 0; i < order.length; i++) {
    own[i] = (own[i] as number) + (arrowsOf[i] as number) * line.arrow + (notesOf[i] as number) * line.note;
    subtree[i] = (own[i] as number) + (content[i] as number);
    const depth = depthOf[i] as number;
    drawnAt[depth] = (drawnAt[depth] ?? 0) + (own[i] as number);
    contentAt[depth] = (contentAt[depth] ?? 0) + (content[i] as number);
    // A call with nested calls has a fold note's cost; one without, none.
    if ((foldCost[i] as number) > 0) foldAt[depth] = (foldAt[depth] ?? 0) + (foldCost[i] as number);
  }
  const byMaxDepth: number[] = [];
  let above = header;
  for (let depth = 0; depth < drawnAt.length; depth++) {
    byMaxDepth.push(above + (drawnAt[depth] ?? 0) + (foldAt[depth] ?? 0));
    above += (drawnAt[depth] ?? 0) + (contentAt[depth] ?? 0);
  }
  let total = header;
  for (let i = order.length - 1; i >= 0; i--) {
    const parent = parentIndex[i] as number;
    if (parent < 0) total += subtree[i] as number;
    else {
      subtree[parent] = (subtree[parent] as number) + (subtree[i] as number);
      hasDrawnChildren[parent] = 1;
    }
  }
  const candidates: FoldCandidate[] = [];
  for (let i = 0; i < order.length; i++) {
    if (hasDrawnChildren[i] === 0) continue;
    const call = order[i] as DrawnCall;
    const saving = (subtree[i] as number) - (own[i] as number) - (foldCost[i] as number);
    if (saving > 0) candidates.push({ call, saving });
  }
  // Sorting is stable: of equal saving and depth, the earliest drawn stays first.
  candidates.sort((a, b) => b.saving - a.saving || b.call.depth - a.call.depth);
  if (byMaxDepth.length > 0) byMaxDepth[byMaxDepth.length - 1] = total;
  return { total, candidates, byMaxDepth, widest };
}

/** Characters of the note that replaces a folded call's content: `Note over p12: 37 calls folded`, as the builder writes it. */
function foldNoteCost(call: DrawnCall, indent: number): number {
  return indent + ONE_LIFELINE_NOTE + foldText(call.children, false).length;
}

/** What the fold plan needs of the sizes: the whole text and the candidates. */
export type FoldSizes = Pick<SizeEstimate, 'total' | 'candidates'>;

/** Notes the builder draws among a call's nested calls (their spanId names that call): folded with them. */
const CONTENT_NOTES: ReadonlySet<Note['reason']> = new Set(['own-work', 'after-response', 'folded']);

/**
 * The sizes of a layout read off the printed lines of its whole drawing
 * (`model` built with nothing folded, `lines` from {@link renderLines}):
 * each line is counted for the call that drew it, an arrow or a note of its
 * own for the call, an own-work or after-response note and the lines of a
 * `par` or `loop` block for the call they sit in; a fold saves what its
 * call's nested calls drew and what sits between them, less the note that
 * replaces them. Exact for the text measured, and linear in its lines: when
 * the whole drawing was printed already, this replaces the walk of
 * {@link estimateSizes}.
 */
export function measuredSizes(layout: TraceLayout, model: SequenceModel, lines: readonly string[]): FoldSizes {
  const index = new Map<string, number>();
  const calls = layout.calls;
  for (let i = 0; i < calls.length; i++) {
    const id = (calls[i] as DrawnCall).node.span.spanId;
    if (!index.has(id)) index.set(id, i);
  }
  const own = new Float64Array(calls.length);
  const content = new Float64Array(calls.length);
  // The indentation of each call's request line: the fold note that replaces its content sits there.
  const indent = new Float64Array(calls.length);
  const seenRequest = new Uint8Array(calls.length);
  let total = 0;
  let line = 2 + model.participants.length;
  for (let k = 0; k < line && k < lines.length; k++) total += (lines[k] as string).length + 1;
  /** The cost of the next line (its newline included), added to the total. */
  const next = (): number => {
    const cost = (lines[line++]?.length ?? 0) + 1;
    total += cost;
    return cost;
  };
  const add = (into: Float64Array, i: number | undefined, cost: number): void => {
    if (i !== undefined) into[i] = (into[i] as number) + cost;
  };
  // A block's lines belong to the call whose nested calls it groups.
  const blockOwner = (spanIds: readonly string[]): number | undefined => {
    const i = spanIds[0] === undefined ? undefined : index.get(spanIds[0]);
    const parent = i === undefined ? undefined : (calls[i] as DrawnCall).parent;
    return parent === undefined ? undefined : index.get(parent.node.span.spanId);
  };
  const walk = (items: readonly SequenceItem[]): void => {
    for (const item of items) {
      switch (item.type) {
        case 'message': {
          const i = index.get(item.spanId);
          if (i !== undefined && seenRequest[i] === 0) {
            seenRequest[i] = 1;
            const text = lines[line] ?? '';
            let pad = 0;
            while (pad < text.length && (text.charCodeAt(pad) === 32 || text.charCodeAt(pad) === 9)) pad++;
            indent[i] = pad;
          }
          add(own, i, next());
          break;
        }
        case 'note': {
          const i = item.spanId === undefined ? undefined : index.get(item.spanId);
          add(CONTENT_NOTES.has(item.reason) ? content : own, i, next());
          break;
        }
        case 'loop': {
          const owner = blockOwner(item.spanIds);
          add(content, owner, next());
          walk(item.items);
          add(content, owner, next());
          break;
        }
        case 'par': {
          const owner = blockOwner(item.spanIds);
          for (const branch of item.branches) {
            add(content, owner, next());
            walk(branch);
          }
          add(content, owner, next());
          break;
        }
      }
    }
  };
  walk(model.items);
  // Children before parents (the layout lists parents first): each subtree is its lines and its children's.
  const subtree = new Float64Array(calls.length);
  const drawnBelow = new Uint8Array(calls.length);
  const parentIndex = (call: DrawnCall): number | undefined =>
    call.parent === undefined ? undefined : index.get(call.parent.node.span.spanId);
  for (let i = calls.length - 1; i >= 0; i--) {
    subtree[i] = (subtree[i] as number) + (own[i] as number) + (content[i] as number);
    const parent = parentIndex(calls[i] as DrawnCall);
    if (parent !== undefined && seenRequest[i] === 1) {
      subtree[parent] = (subtree[parent] as number) + (subtree[i] as number);
      drawnBelow[parent] = 1;
    }
  }
  const candidates: FoldCandidate[] = [];
  for (let i = 0; i < calls.length; i++) {
    if (drawnBelow[i] === 0 || seenRequest[i] === 0) continue;
    const call = calls[i] as DrawnCall;
    const saving = (subtree[i] as number) - (own[i] as number) - foldNoteCost(call, indent[i] as number);
    if (saving > 0) candidates.push({ call, saving });
  }
  // As {@link estimateSizes} orders them: largest saving, then deepest, then earliest.
  candidates.sort((a, b) => b.saving - a.saving || b.call.depth - a.call.depth);
  return { total, candidates };
}

/**
 * Chooses calls to fold so that the estimated savings reach `need` without
 * passing `room`: as few as it can, largest first. Once one candidate alone
 * covers what is still needed, the smallest such candidate ends the plan, so
 * the folded text stays as close to the limit as the groups allow. No chosen
 * call is nested in another.
 *
 * @returns the calls to fold with their estimated saving, or undefined when
 *   the candidates cannot save enough without passing `room`.
 */
export function chooseFolds(
  candidates: readonly FoldCandidate[],
  need: number,
  room: number,
): { readonly calls: readonly DrawnCall[]; readonly saved: number } | undefined {
  const chosen = new Set<DrawnCall>();
  // Calls with a chosen call somewhere below: folding them would double-count.
  const above = new Set<DrawnCall>();
  const free = (call: DrawnCall): boolean => {
    if (chosen.has(call) || above.has(call)) return false;
    for (let p = call.parent; p !== undefined; p = p.parent) if (chosen.has(p)) return false;
    return true;
  };
  // A candidate that is not free never becomes free again (the chosen set only
  // grows), so each is found not free at most once: skip lists over the
  // candidates jump past those, and a plan costs near-linear time in the
  // candidates, not one scan of them per pick.
  const n = candidates.length;
  const nextLive = new Int32Array(n + 1);
  const prevLive = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) {
    nextLive[i] = i;
    // prevLive is shifted by one: prevLive[i + 1] is the live index at or below i, 0 meaning none.
    prevLive[i] = i;
  }
  const findNext = (i: number): number => {
    let root = i;
    while (nextLive[root] !== root) root = nextLive[root] as number;
    while (nextLive[i] !== root) {
      const up = nextLive[i] as number;
      nextLive[i] = root;
      i = up;
    }
    return root;
  };
  const findPrev = (i: number): number => {
    let root = i + 1;
    while (prevLive[root] !== root) root = prevLive[root] as number;
    let at = i + 1;
    while (prevLive[at] !== root) {
      const up = prevLive[at] as number;
      prevLive[at] = root;
      at = up;
    }
    return root - 1;
  };
  const retire = (i: number): void => {
    nextLive[i] = i + 1;
    prevLive[i + 1] = i;
  };
  // Index of the first candidate whose saving is below `amount` (candidates are sorted largest first).
  const firstBelow = (amount: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((candidates[mid] as FoldCandidate).saving >= amount) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let saved = 0;
  while (saved < need) {
    let pick = -1;
    // The smallest candidate that alone covers what is missing.
    for (let i = findPrev(firstBelow(need - saved) - 1); i >= 0; i = findPrev(i - 1)) {
      const candidate = candidates[i] as FoldCandidate;
      if (saved + candidate.saving > room) break;
      if (free(candidate.call)) {
        pick = i;
        break;
      }
      retire(i);
    }
    if (pick < 0) {
      // Otherwise the largest that still leaves the text long enough.
      for (let i = findNext(firstBelow(room - saved + 1)); i < n; i = findNext(i + 1)) {
        if (free((candidates[i] as FoldCandidate).call)) {
          pick = i;
          break;
        }
        retire(i);
      }
    }
    if (pick < 0) return undefined;
    const chosenCandidate = candidates[pick] as FoldCandidate;
    retire(pick);
    chosen.add(chosenCandidate.call);
    for (let p = chosenCandidate.call.parent; p !== undefined && !above.has(p); p = p.parent) above.add(p);
    saved += chosenCandidate.saving;
  }
  return { calls: [...chosen], saved };
}

/** What the size guard builds and prints with: the sequence and render options. */
export type FitOptions = SequenceOptions & RenderOptions;

/**
 * Builds and prints the diagram of a layout within `max` characters (see
 * `traceToMermaid` for the folding rules): the whole drawing when it fits,
 * else the fewest largest groups folded, else whole levels folded or cut short.
 *
 * @returns the text, the model it was printed from, and whether anything was folded
 */
export function fitDiagram(
  layout: TraceLayout,
  options: FitOptions,
  max: number,
): { text: string; model: SequenceModel; folded: boolean } {
  // Every arrow line takes at least 11 characters ("p1->>p2: x" and a newline),
  // so a drawing with more arrows than this is certainly too long: building
  // stops there instead of drawing 100,000 spans only to throw them away.
  const maxArrows = Math.floor(max / 11) + 1;
  const indent = options.indent !== undefined && /^[ \t]*$/.test(options.indent) ? options.indent : '  ';
  const estimateOf = (): SizeEstimate =>
    estimateSizes(layout, {
      indentWidth: indent.length,
      timings: options.timings !== false,
      foldLoops: options.foldLoops !== false,
      ...(options.gapThresholdMs !== undefined ? { gapThresholdMs: options.gapThresholdMs } : {}),
      // No plan draws more arrows than `maxArrows`: a layout of more calls is
      // mostly folded in every build, one of fewer drawn again nearly whole.
      remember: layout.calls.length <= maxArrows,
    });
  // A small trace is drawn whole first: it usually fits, and then needs no
  // estimate; when it does not, its printed lines give the sizes. A larger
  // one is estimated first, and not built whole when the estimate is over the
  // limit by more than its error: the estimate reads the texts the builder
  // draws and lands within a few percent, while building and printing a
  // drawing only to throw it away costs several times the estimate.
  const small = layout.calls.length * SMALL_CALL_CHARS <= max;
  let estimate = small ? undefined : estimateOf();
  const drawWhole = estimate === undefined || estimate.total <= SURELY_TOO_LONG * max;
  // Drawn whole at once, a small trace that fits is built only this once: nothing is worth remembering.
  const full = drawWhole ? buildBounded(layout, options, { maxArrows, once: small }) : undefined;
  let measured: FoldSizes | undefined;
  let fullLength: number | undefined;
  if (full !== undefined && !full.overflowed) {
    const lines = renderLines(full.model, options);
    const fullText = `${lines.join('\n')}\n`;
    if (fullText.length <= max) return { text: fullText, model: full.model, folded: false };
    fullLength = fullText.length;
    // The whole drawing was printed: its lines give the sizes exactly, without the estimate's walk.
    if (estimate === undefined) measured = measuredSizes(layout, full.model, lines);
  }
  if (measured === undefined) estimate ??= estimateOf();
  const fitted = foldLargestGroups(layout, options, max, maxArrows, measured ?? (estimate as SizeEstimate), fullLength);
  if (fitted) return { ...fitted, folded: true };
  // The level fallback needs the sizes of each depth, which only the estimate gives.
  estimate ??= estimateOf();
  return {
    ...foldLevels(layout, options, max, maxArrows, estimate),
    folded: true,
  };
}

/**
 * An estimate above this share of the limit is taken as too long without
 * building the drawing to check: the estimate is within 7 % of the text
 * (see the size guard's tests), so a drawing this far over never fits.
 */
const SURELY_TOO_LONG = 1.1;

/**
 * Characters a drawn call typically prints (a request and a reply line): a
 * trace with fewer calls than the limit over this most likely fits and is
 * drawn whole at once; one with more often does not, and is estimated first
 * (about a tenth of the cost of building and printing it), which saves
 * building it only to throw it away. Calls folded into loops print less, so
 * such a trace may still fit: it then costs the estimate as well.
 */
const SMALL_CALL_CHARS = 64;

/**
 * Share of the limit a folded diagram is first aimed at: just under it, so
 * that as few groups as possible are folded. Each further plan, with the
 * estimate corrected by what the last one measured, aims a little lower.
 */
const FOLD_TARGET = 0.97;
const FOLD_TARGET_STEP = 0.04;
/** Share of the limit a folded diagram uses at least, where groups small enough exist. */
const FOLD_FLOOR = 0.8;
/** Plans measured before the guard settles for the best one that fits. */
const FOLD_ATTEMPTS = 6;

/**
 * Folds the fewest groups of nested calls, largest first, until the text
 * fits; undefined when no plan of whole groups fits (a single level wider
 * than the limit).
 */
function foldLargestGroups(
  layout: TraceLayout,
  options: FitOptions,
  max: number,
  maxArrows: number,
  estimate: FoldSizes,
  fullLength: number | undefined,
): { text: string; model: SequenceModel } | undefined {
  // Real characters per estimated character, known exactly when the full text was printed.
  let scale = fullLength !== undefined ? fullLength / Math.max(1, estimate.total) : 1;
  let best: { text: string; model: SequenceModel } | undefined;
  const tried = new Set<string>();
  for (let attempt = 0; attempt < FOLD_ATTEMPTS; attempt++) {
    const keep = ((FOLD_TARGET - attempt * FOLD_TARGET_STEP) * max) / scale;
    const floor = (FOLD_FLOOR * max) / scale;
    const plan = chooseFolds(estimate.candidates, estimate.total - keep, estimate.total - floor);
    if (plan === undefined) break;
    const key = plan.calls
      .map((call) => call.node.span.spanId)
      .sort()
      .join(',');
    if (tried.has(key)) break;
    tried.add(key);
    const drawn = drawFolded(layout, options, plan.calls, max, maxArrows);
    // A plan that overflowed the arrow bound is certainly too long: assume half as long again.
    const length = drawn?.text.length ?? 1.5 * max;
    if (drawn && length <= max && (!best || length > best.text.length)) best = drawn;
    if (length <= max && length >= FOLD_FLOOR * max) break;
    scale = length / Math.max(1, estimate.total - plan.saved);
  }
  return best;
}

/** Builds and prints the diagram with `folds` folded, led by a note saying what was folded. */
function drawFolded(
  layout: TraceLayout,
  options: FitOptions,
  folds: readonly DrawnCall[],
  max: number,
  maxArrows: number,
): { text: string; model: SequenceModel } | undefined {
  const built = buildBounded(layout, options, {
    foldSpanIds: new Set(folds.map((call) => call.node.span.spanId)),
    maxArrows,
  });
  if (built.overflowed) return undefined;
  const numbers = new Map<string, number>();
  for (const arrow of built.model.arrows) if (!numbers.has(arrow.spanId)) numbers.set(arrow.spanId, arrow.number);
  // Only groups the diagram draws were folded (a call repeated in a loop is drawn once).
  const groups = folds
    .filter((call) => numbers.has(call.node.span.spanId))
    .sort(
      (a, b) =>
        b.nestedCalls - a.nestedCalls ||
        (numbers.get(a.node.span.spanId) ?? 0) - (numbers.get(b.node.span.spanId) ?? 0),
    );
  const calls = groups.reduce((sum, call) => sum + call.nestedCalls, 0);
  const shown = groups
    .slice(0, FOLD_NOTE_GROUPS)
    .map((call) => `${call.nestedCalls} under ${numbers.get(call.node.span.spanId)} ${truncate(call.label, 30)}`);
  if (groups.length > FOLD_NOTE_GROUPS) shown.push(`${groups.length - FOLD_NOTE_GROUPS} more`);
  const text =
    `diagram folded to stay under ${max} characters: ${calls} ${calls === 1 ? 'call' : 'calls'} ` +
    `under ${groups.length} ${groups.length === 1 ? 'arrow' : 'arrows'} (${shown.join(', ')})`;
  const participants = built.model.participants;
  const first = participants[0];
  const last = participants[participants.length - 1];
  const over = first === undefined || last === undefined ? [] : first === last ? [first.id] : [first.id, last.id];
  const note: Note = { type: 'note', over, text, reason: 'folded', level: 0 };
  const model: SequenceModel = {
    ...built.model,
    items: over.length > 0 ? [note, ...built.model.items] : built.model.items,
    notes: [...built.model.notes, text],
  };
  return { text: renderMermaid(model, options), model };
}

/** Share of the limit up to which a depth's estimated text is tried (the estimate runs a few percent over). */
const LEVEL_SLACK = 1.1;

/** Plans of a level cut short that are aimed by measured lengths before the search falls back to halving. */
const MAX_AIMED_PLANS = 6;

/** Folded groups named in the note at the top of a folded diagram; the rest are counted. */
const FOLD_NOTE_GROUPS = 3;

/**
 * The fallback for traces whose width, not depth, is the problem: folds
 * whole levels, and cuts each level short when even one level is too long.
 */
function foldLevels(
  layout: TraceLayout,
  options: FitOptions,
  max: number,
  maxArrows: number,
  estimate: SizeEstimate,
): { text: string; model: SequenceModel } {
  // The length of a plan's text is kept even when it does not fit: it guides the next plan.
  let lastLength: number | undefined;
  // Set by a complete build: from this many items per level up, nothing was cut by count.
  let lastWidest: number | undefined;
  // Whole levels found too long, by depth: where the search of a level cut short starts.
  const tooLong = new Map<number, { items: number; length: number }>();
  const attempt = (limits: FoldLimits): { model: SequenceModel; text: string } | undefined => {
    lastLength = undefined;
    lastWidest = undefined;
    const built = buildBounded(layout, options, { ...limits, maxArrows });
    if (built.overflowed) return undefined;
    lastWidest = built.widestLevel;
    const text = renderMermaid(built.model, options);
    lastLength = text.length;
    if (text.length <= max) return { model: built.model, text };
    if (limits.maxItems === undefined)
      tooLong.set(limits.maxDepth ?? MAX_DRAWN_DEPTH, { items: lastWidest, length: lastLength });
    return undefined;
  };
  // Fold the deepest levels first: the largest depth that fits wins.
  let deepest = 1;
  for (const call of layout.calls) if (call.depth + 1 > deepest) deepest = call.depth + 1;
  deepest = Math.min(deepest, MAX_DRAWN_DEPTH);
  // The estimate tells how many characters each level costs, so the first
  // depth tried is usually the one that fits; a little slack for what it
  // overestimates, the measured text decides.
  const estimated = (maxDepth: number): number =>
    estimate.byMaxDepth[Math.min(maxDepth, estimate.byMaxDepth.length) - 1] ?? 0;
  let best: { model: SequenceModel; text: string; maxDepth: number } | undefined;
  let depth = deepest - 1;
  while (depth >= 1 && estimated(depth) > LEVEL_SLACK * max) depth--;
  for (; depth >= 1 && !best; depth--) {
    const fits = attempt({ maxDepth: depth });
    if (fits) best = { ...fits, maxDepth: depth };
  }
  if (!best || best.maxDepth < 2 || best.text.length < FOLD_FLOOR * max) {
    // Even the shallowest drawing is too long (a very wide level), only the
    // top level fits, or the deepest whole levels that fit leave most of the
    // limit unused (a call with thousands of calls below it folds them all):
    // keep one more level, each level cut short, when that draws more.
    const depth = best ? Math.min(best.maxDepth + 1, deepest) : 1;
    let itemsLo = 1;
    let itemsHi = Math.max(1, Math.min(layout.calls.length, maxArrows));
    let cut: { model: SequenceModel; text: string } | undefined;
    // The largest number of items per level that fits. The text grows about
    // linearly with the items, so each next plan is aimed by the lengths the
    // last two measured (a secant), kept inside the bounds still open, with
    // halving once six aimed plans have not settled it. Any choice of plans inside the
    // bounds ends on the same largest fit as plain halving; aimed ones need a
    // few builds where halving needs a dozen (each build draws thousands of
    // arrows).
    const probes: { items: number; length: number; estimated?: boolean }[] = [];
    // This depth drawn whole was too long already: no limit from its widest level up fits.
    const whole = tooLong.get(depth);
    if (whole !== undefined) {
      itemsHi = Math.min(itemsHi, whole.items - 1);
      probes.push(whole);
    } else if (estimated(depth) > max) {
      // Not drawn, being estimated too long: the estimate aims the first
      // plan, and gives way to the lengths measured from then on.
      const items = Math.min(estimate.widest + 1, itemsHi + 1);
      if (estimated(depth) > SURELY_TOO_LONG * max) itemsHi = Math.min(itemsHi, items - 1);
      probes.push({ items, length: estimated(depth), estimated: true });
    }
    let aimed = 0;
    while (itemsLo <= itemsHi) {
      let mid = (itemsLo + itemsHi) >> 1;
      const last = probes[probes.length - 1];
      if (last !== undefined && aimed < MAX_AIMED_PLANS) {
        const before = probes[probes.length - 2];
        const perItem =
          before !== undefined && before.items !== last.items && before.length !== last.length
            ? (last.length - before.length) / (last.items - before.items)
            : last.length / last.items;
        if (perItem > 0 && Number.isFinite(perItem)) {
          const target = last.items + Math.floor((max - last.length) / perItem);
          mid = Math.min(itemsHi, Math.max(itemsLo, target));
          aimed++;
        }
      }
      const fits = attempt({ maxDepth: depth, maxItems: mid });
      // A plan that cut nothing draws what every larger one draws: it stands
      // for all limits from the widest level up (a failure rules them all out).
      const items = lastWidest !== undefined && lastWidest <= mid ? lastWidest : mid;
      if (lastLength !== undefined) {
        if (probes[0]?.estimated === true) probes.shift();
        probes.push({ items, length: lastLength });
      }
      if (fits) {
        cut = fits;
        itemsLo = items < mid ? itemsHi + 1 : mid + 1;
      } else {
        itemsHi = items - 1;
      }
    }
    if (cut && (!best || cut.text.length > best.text.length)) best = { ...cut, maxDepth: depth };
  }
  if (!best) {
    const model = buildSequence(layout, options, { maxDepth: 1, maxItems: 1 });
    best = { model, text: renderMermaid(model, options), maxDepth: 1 };
  }
  const model: SequenceModel = {
    ...best.model,
    notes: [
      ...best.model.notes,
      `diagram folded to stay under ${max} characters (the trace has ${layout.calls.length} drawn calls)`,
    ],
  };
  return { text: best.text, model };
}
