/**
 * The size guard's plan: which calls to fold so that a diagram too long for
 * Mermaid's `maxTextSize` keeps as much as fits. Folding a call replaces
 * everything nested under it with one note; the guard folds the fewest such
 * groups, largest first (and of equal ones the deepest), until the text fits.
 *
 * Sizes are estimated from the layout, without building or printing the full
 * diagram (a 100,000-span trace would print megabytes only to throw them
 * away); {@link fitDiagram} measures the real text of each plan and corrects
 * the estimate by the ratio it observed. This step drives the sequence
 * builder and the renderer: they each run once per plan, and never call back.
 */

import { truncate } from './format.js';
import { type DrawnCall, MIN_REPEAT, sameRepeat, type TraceLayout } from './layout.js';
import { type RenderOptions, renderMermaid } from './render.js';
import { buildBounded, buildSequence } from './sequence.js';
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

/** Characters of the note that replaces a folded call's content: `Note over p12: 37 calls folded`. */
function noteCost(call: DrawnCall, indentWidth: number): number {
  return indentWidth * Math.min(call.depth + 1, 40) + 30;
}

/**
 * Estimated characters of the lines a call draws itself (its request and,
 * for calls that answer, its response), at its depth. The label is capped
 * as the sequence model caps it; the response is a status, with a duration
 * when timings are shown.
 */
function ownCost(call: DrawnCall, indentWidth: number, timings: boolean): number {
  const pad = indentWidth * Math.min(call.depth, 40);
  const request = pad + 12 + Math.min(call.label.length, 80);
  const answers = call.role === 'entry' || call.role === 'call';
  return answers ? request + pad + 14 + (timings ? 10 : 0) : request;
}

/**
 * Calls of a run of siblings that the diagram draws: of three or more
 * consecutive identical calls only the first, as the loop block shows it.
 * An approximation of the builder's rule (which also asks that they ran one
 * after another): the measured text corrects what it misses.
 */
function drawnChildren(children: readonly DrawnCall[], foldLoops: boolean): DrawnCall[] {
  if (!foldLoops) return [...children];
  const drawn: DrawnCall[] = [];
  let i = 0;
  while (i < children.length) {
    const first = children[i] as DrawnCall;
    let j = i + 1;
    while (j < children.length && sameRepeat(children[j] as DrawnCall, first)) j++;
    if (j - i >= MIN_REPEAT) drawn.push(first);
    else for (let k = i; k < j; k++) drawn.push(children[k] as DrawnCall);
    i = j;
  }
  return drawn;
}

/** Estimated sizes of a layout: the whole text and every call that can be folded. */
export interface SizeEstimate {
  /** Estimated characters of the unfolded text. */
  readonly total: number;
  /** Calls with nested calls drawn, largest saving first; of equal savings the deepest, then the earliest. */
  readonly candidates: readonly FoldCandidate[];
}

/**
 * Estimates how long the diagram of `layout` is and what folding each call
 * would save.
 */
export function estimateSizes(
  layout: TraceLayout,
  options: { readonly indentWidth: number; readonly timings: boolean; readonly foldLoops: boolean },
): SizeEstimate {
  // Calls the diagram draws, parents before children, each with the index of
  // its parent in that order (-1 at the top). Indexes into typed arrays, not
  // maps keyed by call: a 100,000-span trace makes that many entries.
  const order: DrawnCall[] = [];
  const parentIndex: number[] = [];
  const stack: { call: DrawnCall; parent: number }[] = drawnChildren(layout.top, options.foldLoops)
    .reverse()
    .map((call) => ({ call, parent: -1 }));
  while (stack.length > 0) {
    const { call, parent } = stack.pop() as { call: DrawnCall; parent: number };
    const index = order.length;
    order.push(call);
    parentIndex.push(parent);
    if (call.children.length === 0 || call.depth + 1 >= MAX_DRAWN_DEPTH) continue;
    const drawn = drawnChildren(call.children, options.foldLoops);
    for (let i = drawn.length - 1; i >= 0; i--) stack.push({ call: drawn[i] as DrawnCall, parent: index });
  }
  // Children before parents: each subtree's size is its own lines plus its children's subtrees.
  const own = new Float64Array(order.length);
  const subtree = new Float64Array(order.length);
  const hasDrawnChildren = new Uint8Array(order.length);
  for (let i = 0; i < order.length; i++) {
    own[i] = ownCost(order[i] as DrawnCall, options.indentWidth, options.timings);
    subtree[i] = own[i] as number;
  }
  let total = 40;
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
    const saving = (subtree[i] as number) - (own[i] as number) - noteCost(call, options.indentWidth);
    if (saving > 0) candidates.push({ call, saving });
  }
  // Sorting is stable: of equal saving and depth, the earliest drawn stays first.
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
  const full = buildBounded(layout, options, { maxArrows });
  let fullText: string | undefined;
  if (!full.overflowed) {
    fullText = renderMermaid(full.model, options);
    if (fullText.length <= max) return { text: fullText, model: full.model, folded: false };
  }
  const fitted = foldLargestGroups(layout, options, max, maxArrows, fullText?.length);
  if (fitted) return { ...fitted, folded: true };
  return { ...foldLevels(layout, options, max, maxArrows, full.model, fullText), folded: true };
}

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
  fullLength: number | undefined,
): { text: string; model: SequenceModel } | undefined {
  const indent = options.indent !== undefined && /^[ \t]*$/.test(options.indent) ? options.indent : '  ';
  const estimate = estimateSizes(layout, {
    indentWidth: indent.length,
    timings: options.timings !== false,
    foldLoops: options.foldLoops !== false,
  });
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
  fullModel: SequenceModel,
  fullText: string | undefined,
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
  const withChildren: number[] = [];
  for (const call of layout.calls) {
    if (call.depth + 1 > deepest) deepest = call.depth + 1;
    if (call.children.length > 0) withChildren[call.depth] = (withChildren[call.depth] ?? 0) + 1;
  }
  deepest = Math.min(deepest, MAX_DRAWN_DEPTH);
  let best: { model: SequenceModel; text: string; maxDepth: number } | undefined;
  if (fullText !== undefined) {
    // The full rendering tells how many characters each level costs, so the
    // first depth tried is usually the one that fits.
    const sizes = levelSizes(fullModel, fullText);
    const estimate = (maxDepth: number): number => {
      let total = sizes.header;
      for (let level = 0; level < maxDepth; level++) total += sizes.levels[level] ?? 0;
      return total + (withChildren[maxDepth - 1] ?? 0) * (48 + 2 * maxDepth);
    };
    let depth = deepest - 1;
    while (depth >= 1 && estimate(depth) > max) depth--;
    for (; depth >= 1 && !best; depth--) {
      const fits = attempt({ maxDepth: depth });
      if (fits) best = { ...fits, maxDepth: depth };
    }
  } else {
    // Too big to draw at all: deepen level by level while it still fits.
    for (let depth = 1; depth < deepest; depth++) {
      const fits = attempt({ maxDepth: depth });
      if (!fits) break;
      best = { ...fits, maxDepth: depth };
    }
  }
  if (!best || best.maxDepth < 2) {
    // Even the shallowest drawing is too long (a very wide level), or only the
    // top level fits: keep one more level, each level cut short.
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
    const probes: { items: number; length: number }[] = [];
    // This depth drawn whole was too long already: no limit from its widest level up fits.
    const whole = tooLong.get(depth);
    if (whole !== undefined) {
      itemsHi = Math.min(itemsHi, whole.items - 1);
      probes.push(whole);
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
      if (lastLength !== undefined) probes.push({ items, length: lastLength });
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

/**
 * Characters of a rendered model per nesting level (each line counted with
 * its newline), plus the header. Lines are matched to items in the order the
 * renderer writes them; block lines (`par`, `and`, `loop`, `end`) count at the
 * level of the first arrow inside.
 */
function levelSizes(model: SequenceModel, text: string): { header: number; levels: number[] } {
  const lines = text.split('\n');
  let i = 0;
  let header = 0;
  for (; i < 2 + model.participants.length; i++) header += (lines[i]?.length ?? 0) + 1;
  const levels: number[] = [];
  const add = (level: number): void => {
    levels[level] = (levels[level] ?? 0) + (lines[i++]?.length ?? 0) + 1;
  };
  const firstLevel = (items: readonly SequenceItem[]): number => {
    for (const item of items) {
      if (item.type === 'message' || item.type === 'note') return item.level;
      const inner = item.type === 'loop' ? firstLevel(item.items) : firstLevel(item.branches[0] ?? []);
      if (inner >= 0) return inner;
    }
    return -1;
  };
  const walk = (items: readonly SequenceItem[]): void => {
    for (const item of items) {
      if (item.type === 'message' || item.type === 'note') {
        add(item.level);
      } else if (item.type === 'loop') {
        const level = Math.max(0, firstLevel(item.items));
        add(level);
        walk(item.items);
        add(level);
      } else {
        const level = Math.max(0, firstLevel(item.branches[0] ?? []));
        item.branches.forEach((branch, b) => {
          add(level);
          walk(branch);
          if (b === item.branches.length - 1) add(level);
        });
      }
    }
  };
  walk(model.items);
  return { header, levels };
}
