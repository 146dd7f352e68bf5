/**
 * The size guard's plan: which calls to fold so that a diagram too long for
 * Mermaid's `maxTextSize` keeps as much as fits. Folding a call replaces
 * everything nested under it with one note; the guard folds the fewest such
 * groups, largest first (and of equal ones the deepest), until the text fits.
 *
 * Sizes are estimated from the layout, without building or printing the full
 * diagram (a 100,000-span trace would print megabytes only to throw them
 * away); the caller measures the real text of each plan and corrects the
 * estimate by the ratio it observed.
 */
import { type DrawnCall, MIN_REPEAT, sameRepeat, type TraceLayout } from './layout.js';
import { MAX_DRAWN_DEPTH } from './sequence.js';

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
  // Calls the diagram draws, parents before children, with their drawn children.
  const order: DrawnCall[] = [];
  const kids = new Map<DrawnCall, DrawnCall[]>();
  const stack = drawnChildren(layout.top, options.foldLoops).reverse();
  while (stack.length > 0) {
    const call = stack.pop() as DrawnCall;
    order.push(call);
    if (call.children.length === 0 || call.depth + 1 >= MAX_DRAWN_DEPTH) continue;
    const drawn = drawnChildren(call.children, options.foldLoops);
    kids.set(call, drawn);
    for (let i = drawn.length - 1; i >= 0; i--) stack.push(drawn[i] as DrawnCall);
  }
  // Children before parents: each subtree's size is its own lines plus its children's subtrees.
  const subtree = new Map<DrawnCall, number>();
  for (let i = order.length - 1; i >= 0; i--) {
    const call = order[i] as DrawnCall;
    let nested = 0;
    for (const child of kids.get(call) ?? []) nested += subtree.get(child) ?? 0;
    subtree.set(call, ownCost(call, options.indentWidth, options.timings) + nested);
  }
  const candidates: FoldCandidate[] = [];
  let total = 40;
  for (const call of drawnChildren(layout.top, options.foldLoops)) total += subtree.get(call) ?? 0;
  const position = new Map<DrawnCall, number>();
  order.forEach((call, i) => {
    position.set(call, i);
    const drawn = kids.get(call);
    if (drawn === undefined || drawn.length === 0) return;
    const nested = (subtree.get(call) ?? 0) - ownCost(call, options.indentWidth, options.timings);
    const saving = nested - noteCost(call, options.indentWidth);
    if (saving > 0) candidates.push({ call, saving });
  });
  candidates.sort(
    (a, b) =>
      b.saving - a.saving || b.call.depth - a.call.depth || (position.get(a.call) ?? 0) - (position.get(b.call) ?? 0),
  );
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
  // Index of the first candidate whose saving is below `amount` (candidates are sorted largest first).
  const firstBelow = (amount: number): number => {
    let lo = 0;
    let hi = candidates.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((candidates[mid] as FoldCandidate).saving >= amount) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let saved = 0;
  while (saved < need) {
    let pick: FoldCandidate | undefined;
    // The smallest candidate that alone covers what is missing.
    for (let i = firstBelow(need - saved) - 1; i >= 0; i--) {
      const candidate = candidates[i] as FoldCandidate;
      if (saved + candidate.saving > room) break;
      if (free(candidate.call)) {
        pick = candidate;
        break;
      }
    }
    if (pick === undefined) {
      // Otherwise the largest that still leaves the text long enough.
      for (let i = firstBelow(room - saved + 1); i < candidates.length; i++) {
        const candidate = candidates[i] as FoldCandidate;
        if (free(candidate.call)) {
          pick = candidate;
          break;
        }
      }
    }
    if (pick === undefined) return undefined;
    chosen.add(pick.call);
    for (let p = pick.call.parent; p !== undefined; p = p.parent) above.add(p);
    saved += pick.saving;
  }
  return { calls: [...chosen], saved };
}
