/**
 * The concurrency rules that decide where a diagram shows `par` blocks.
 * Pure functions over time intervals, shared by the sequence model and the
 * analysis so both always agree on what ran serially and what overlapped.
 */

/** Anything with a start and an end on one time axis. */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

/**
 * Splits siblings (sorted by start) into runs that overlapped: each next
 * interval joins the run while it starts before the latest end so far.
 * A run of one is a serial call.
 *
 * @example
 * ```ts
 * concurrentGroups([{ start: 0, end: 10 }, { start: 5, end: 8 }, { start: 10, end: 12 }]);
 * // [[{0,10}, {5,8}], [{10,12}]]
 * ```
 */
export function concurrentGroups<T extends Interval>(sorted: readonly T[]): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let maxEnd = Number.NEGATIVE_INFINITY;
  for (const item of sorted) {
    // Intervals that only touch are serial: the second call could not have
    // started before the first answered.
    if (current.length > 0 && item.start < maxEnd) {
      current.push(item);
    } else {
      if (current.length > 0) groups.push(current);
      current = [item];
      maxEnd = Number.NEGATIVE_INFINITY;
    }
    if (item.end > maxEnd) maxEnd = item.end;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Groups up to this size are packed by a linear scan of the lanes (see {@link packLanes}). */
const SMALL_GROUP = 32;

/**
 * Packs a concurrent group (sorted by start) into the fewest lanes: each
 * interval goes to the first lane whose last interval ended at or before its
 * start, or opens a new lane. Greedy first-fit over start-sorted intervals is
 * optimal (it never uses more lanes than the peak overlap). A segment tree
 * over the lanes' end times finds the first fitting lane in O(log n), so a
 * group of 10,000 overlapping calls is still fast.
 */
export function packLanes<T extends Interval>(group: readonly T[]): T[][] {
  return packLanesBy(group, startOf, endOf);
}

function startOf(interval: Interval): number {
  return interval.start;
}

function endOf(interval: Interval): number {
  return interval.end;
}

/**
 * {@link packLanes} for items that are not intervals themselves, with their
 * times read by `start` and `end`: the diagram packs its calls as they are,
 * rather than making an interval per call and mapping the lanes back.
 */
export function packLanesBy<T>(group: readonly T[], start: (item: T) => number, end: (item: T) => number): T[][] {
  const lanes: T[][] = [];
  if (group.length === 0) return lanes;
  if (group.length <= SMALL_GROUP) {
    // The same first fit by a scan of the lanes' end times: most groups are a
    // handful of calls, where the tree's typed array costs more than it saves.
    const ends: number[] = [];
    for (const item of group) {
      const from = start(item);
      let lane = 0;
      while (lane < ends.length && (ends[lane] as number) > from) lane++;
      if (lane === ends.length) lanes.push([]);
      (lanes[lane] as T[]).push(item);
      ends[lane] = end(item);
    }
    return lanes;
  }
  let size = 1;
  while (size < group.length) size *= 2;
  // tree[size + i] = end time of lane i (Infinity while the lane does not exist); inner nodes hold the minimum.
  const tree = new Float64Array(2 * size).fill(Number.POSITIVE_INFINITY);
  const update = (lane: number, laneEnd: number): void => {
    let i = size + lane;
    tree[i] = laneEnd;
    for (i >>= 1; i >= 1; i >>= 1) tree[i] = Math.min(tree[2 * i] as number, tree[2 * i + 1] as number);
  };
  const firstFitting = (from: number): number => {
    if ((tree[1] as number) > from) return -1;
    let i = 1;
    while (i < size) i = (tree[2 * i] as number) <= from ? 2 * i : 2 * i + 1;
    return i - size;
  };
  for (const item of group) {
    let lane = firstFitting(start(item));
    if (lane < 0) {
      lane = lanes.length;
      lanes.push([]);
    }
    (lanes[lane] as T[]).push(item);
    update(lane, end(item));
  }
  return lanes;
}
