/**
 * Aligning sequences in order: the longest common subsequence of two lists
 * of keys (how a diff pairs the calls of two requests), and of several (what
 * an endpoint's shapes all share, drawn once in its merged flow). One rule,
 * one place: both readers break ties the same way, so the same input always
 * gives the same alignment.
 */

/**
 * Index pairs `[i, j]` of a longest common subsequence of `a` and `b`
 * (`a[i] === b[j]`), in order. Of several longest ones, the one that skips
 * items of `a` first wins, so the result is deterministic.
 *
 * Time and memory are `a.length × b.length`; past `maxCells` the table would
 * cost more than it tells, and no pairs are returned.
 *
 * @example
 * ```ts
 * alignPairs(['a', 'b', 'c'], ['b', 'c', 'd']); // [[1, 0], [2, 1]]
 * ```
 */
export function alignPairs(
  a: readonly string[],
  b: readonly string[],
  maxCells = Number.POSITIVE_INFINITY,
): [number, number][] {
  const n = a.length;
  const m = b.length;
  if (n * m > maxCells) return [];
  const table: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    const row = table[i] as Uint32Array;
    const below = table[i + 1] as Uint32Array;
    for (let j = m - 1; j >= 0; j--) {
      row[j] = a[i] === b[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number);
    }
  }
  const pairs: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      pairs.push([i, j]);
      i++;
      j++;
    } else if (((table[i + 1] as Uint32Array)[j] as number) >= ((table[i] as Uint32Array)[j + 1] as number)) i++;
    else j++;
  }
  return pairs;
}

/**
 * Cells of the table {@link commonSubsequence} fills for three or more
 * lists at once; past this the lists are aligned two at a time instead.
 */
const MAX_JOINT_CELLS = 2_000_000;

/**
 * A longest subsequence of keys common to every list, in order.
 *
 * Two lists: the keys of {@link alignPairs}. Three or more: keys missing
 * from any list are set aside first (they cannot be common), then the lists
 * are aligned all at once, so what every list has is found whatever order
 * the lists come in. Folding pairwise instead (the common part of the first
 * two, then of that and the third) can settle on a pair's common part that
 * the third list does not share, and lose a key all of them have. When the
 * joint table would pass two million cells the pairwise fold is used, on the
 * lists already reduced to keys they all have.
 *
 * Of several longest ones, the one that skips items of the earliest list
 * first wins: the result depends on the lists and their order only.
 *
 * @example
 * ```ts
 * commonSubsequence([['x', 'y', 'r'], ['y', 'x', 'r'], ['x', 'r']]); // ['x', 'r']
 * ```
 */
export function commonSubsequence(lists: readonly (readonly string[])[]): string[] {
  const first = lists[0];
  if (first === undefined) return [];
  if (lists.length === 1) return [...first];
  if (lists.length === 2) return alignPairs(first, lists[1] as readonly string[]).map(([i]) => first[i] as string);
  let shared = new Set(first);
  for (const list of lists.slice(1)) {
    const here = new Set(list);
    shared = new Set([...shared].filter((key) => here.has(key)));
  }
  const reduced = lists.map((list) => list.filter((key) => shared.has(key)));
  let cells = 1;
  for (const list of reduced) cells *= list.length + 1;
  if (cells > MAX_JOINT_CELLS) {
    let common = reduced[0] as string[];
    for (const list of reduced.slice(1)) common = alignPairs(common, list).map(([i]) => common[i] as string);
    return common;
  }
  return jointSubsequence(reduced);
}

/**
 * The longest common subsequence of several lists, by dynamic programming
 * over every combination of positions (the product of the lengths plus one
 * cells). At a mismatch the earliest list whose step keeps the length is
 * advanced, as {@link alignPairs} advances its first list.
 */
function jointSubsequence(lists: readonly (readonly string[])[]): string[] {
  const k = lists.length;
  const sizes = lists.map((list) => list.length + 1);
  // Strides of a row-major table: position p of list l adds p × stride[l].
  const strides = new Array<number>(k).fill(1);
  for (let l = k - 2; l >= 0; l--) strides[l] = (strides[l + 1] as number) * (sizes[l + 1] as number);
  const cells = (strides[0] as number) * (sizes[0] as number);
  const table = new Uint32Array(cells);
  const position = new Array<number>(k).fill(0);
  const allMatch = (): boolean => {
    const key = (lists[0] as readonly string[])[position[0] as number];
    for (let l = 1; l < k; l++) if ((lists[l] as readonly string[])[position[l] as number] !== key) return false;
    return true;
  };
  // Every later cell (any position larger) comes before: walk the table backwards.
  for (let cell = cells - 1; cell >= 0; cell--) {
    let rest = cell;
    let atEnd = false;
    for (let l = 0; l < k; l++) {
      const p = Math.floor(rest / (strides[l] as number));
      rest -= p * (strides[l] as number);
      position[l] = p;
      if (p === (sizes[l] as number) - 1) atEnd = true;
    }
    if (atEnd) continue;
    if (allMatch()) {
      let next = cell;
      for (let l = 0; l < k; l++) next += strides[l] as number;
      table[cell] = (table[next] as number) + 1;
      continue;
    }
    let best = 0;
    for (let l = 0; l < k; l++) {
      const value = table[cell + (strides[l] as number)] as number;
      if (value > best) best = value;
    }
    table[cell] = best;
  }
  const out: string[] = [];
  position.fill(0);
  let cell = 0;
  for (;;) {
    let atEnd = false;
    for (let l = 0; l < k; l++) if (position[l] === (sizes[l] as number) - 1) atEnd = true;
    if (atEnd) break;
    if (allMatch()) {
      out.push((lists[0] as readonly string[])[position[0] as number] as string);
      for (let l = 0; l < k; l++) {
        position[l] = (position[l] as number) + 1;
        cell += strides[l] as number;
      }
      continue;
    }
    const here = table[cell] as number;
    for (let l = 0; l < k; l++) {
      if (table[cell + (strides[l] as number)] === here) {
        position[l] = (position[l] as number) + 1;
        cell += strides[l] as number;
        break;
      }
    }
  }
  return out;
}
