import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignPairs, commonSubsequence } from './align.js';

/** Whether `sub` can be read out of `list` in order. */
function isSubsequence(sub: readonly string[], list: readonly string[]): boolean {
  let at = 0;
  for (const key of list) if (at < sub.length && sub[at] === key) at++;
  return at === sub.length;
}

/** Length of the longest subsequence of `lists[0]` found in every list, by trying them all (small lists only). */
function bruteForceLength(lists: readonly (readonly string[])[]): number {
  const first = lists[0] ?? [];
  let best = 0;
  for (let mask = 0; mask < 1 << first.length; mask++) {
    const sub = first.filter((_, i) => (mask & (1 << i)) !== 0);
    if (sub.length > best && lists.every((list) => isSubsequence(sub, list))) best = sub.length;
  }
  return best;
}

describe('alignPairs', () => {
  it('pairs the items of a longest common subsequence, in order', () => {
    expect(alignPairs(['a', 'b', 'c', 'd'], ['b', 'x', 'd'])).toEqual([
      [1, 0],
      [3, 2],
    ]);
    expect(alignPairs([], ['a'])).toEqual([]);
  });

  it('breaks ties by skipping items of the first list first', () => {
    // [x] and [y] are both longest; skipping x first finds y.
    expect(alignPairs(['x', 'y'], ['y', 'x'])).toEqual([[1, 0]]);
    expect(alignPairs(['y', 'x'], ['x', 'y'])).toEqual([[1, 0]]);
  });

  it('pairs nothing when the table would pass the cell limit', () => {
    expect(alignPairs(['a', 'b'], ['a', 'b'], 3)).toEqual([]);
    expect(alignPairs(['a', 'b'], ['a', 'b'], 4)).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });
});

describe('commonSubsequence', () => {
  it('gives one list as it is, and two as their aligned pairs', () => {
    expect(commonSubsequence([])).toEqual([]);
    expect(commonSubsequence([['a', 'b']])).toEqual(['a', 'b']);
    expect(
      commonSubsequence([
        ['x', 'y', 'r'],
        ['y', 'x', 'r'],
      ]),
    ).toEqual(['y', 'r']);
  });

  it('finds a key all lists have that folding them two at a time loses', () => {
    // The first two alone settle on [y, r]; the third has no y, yet every list has x and r.
    const lists = [
      ['x', 'y', 'r'],
      ['y', 'x', 'r'],
      ['x', 'r'],
    ];
    const pairwise = commonSubsequence([commonSubsequence(lists.slice(0, 2)), lists[2] as string[]]);
    expect(pairwise).toEqual(['r']);
    expect(commonSubsequence(lists)).toEqual(['x', 'r']);
    expect(commonSubsequence([...lists, ['z', 'x', 'q', 'r']])).toEqual(['x', 'r']);
  });

  it('is a longest common subsequence of three or four lists', () => {
    const list = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 7 });
    fc.assert(
      fc.property(fc.array(list, { minLength: 3, maxLength: 4 }), (lists) => {
        const common = commonSubsequence(lists);
        for (const l of lists) expect(isSubsequence(common, l)).toBe(true);
        expect(common).toHaveLength(bruteForceLength(lists));
        // Same lists, same answer.
        expect(commonSubsequence(lists.map((l) => [...l]))).toEqual(common);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it('aligns long lists two at a time, on the keys they all have, past the joint table limit', () => {
    // 201³ cells would pass the limit: the keys only one list has are set aside, then the fold runs.
    const long = (tag: string) => Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? `k${i}` : `${tag}${i}`));
    const common = commonSubsequence([long('a'), long('b'), long('c')]);
    expect(common).toEqual(Array.from({ length: 20 }, (_, i) => `k${i * 10}`));
  });
});
