import { makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { openStore } from './store.js';

const T0 = 1_767_225_600_000_000_000n;

/** A store of `count` one-span traces, one a second apart; trace `i` is named `job i`, the one at `special` `needle`. */
function storeOf(count: number, special: number) {
  const store = openStore({ path: tempDbPath() });
  const ids: string[] = [];
  const spans = Array.from({ length: count }, (_, i) => {
    const traceId = nextId(32);
    ids.push(traceId);
    return makeSpan({
      traceId,
      name: i === special ? 'needle' : `job ${i}`,
      serviceName: i === special ? 'rare' : 'worker',
      startTimeNs: T0 + BigInt(i) * 1_000_000_000n,
    });
  });
  store.writeSpans(spans);
  return { store, ids };
}

describe('list filters that look into spans', () => {
  it('stop after the traces they may examine, say so, and go on from there with the cursor', () => {
    const { store } = storeOf(2500, -1);
    try {
      const first = store.listTraces({ q: 'zzzz' }, { maxScannedTraces: 1000 });
      expect(first.items).toEqual([]);
      expect(first.stoppedAfterTraces).toBe(1000);
      const second = store.listTraces({ q: 'zzzz' }, { maxScannedTraces: 1000, cursor: first.nextCursor as string });
      expect(second.stoppedAfterTraces).toBe(1000);
      const third = store.listTraces({ q: 'zzzz' }, { maxScannedTraces: 1000, cursor: second.nextCursor as string });
      expect(third).toEqual({ items: [] });
    } finally {
      store.close();
    }
  });

  it('find what a full scan finds, in list order, across windows and pages', () => {
    const { store, ids } = storeOf(2500, 300);
    try {
      // Newest first: trace 300 is examined in the third window of 1,000.
      const needle = store.listTraces({ q: 'NEEDLE' });
      expect(needle.items.map((item) => item.traceId)).toEqual([ids[300]]);
      expect(needle.nextCursor).toBeUndefined();
      expect(store.listTraces({ service: 'rare' }).items.map((item) => item.traceId)).toEqual([ids[300]]);

      // "job 1" is in 1, 10-19, 100-199, 1000-1999: 1,111 traces, newest first, in pages of 400.
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = store.listTraces({ q: 'job 1' }, { limit: 400, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.items.map((item) => item.traceId));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      const expected = ids.filter((_, i) => String(i).startsWith('1')).reverse();
      expect(seen).toEqual(expected);
      // Slowest first keeps the list's order too (all are equally long: by trace id, descending).
      const slowest = store.listTraces({ q: 'job 2' }, { order: 'slowest', limit: 5 });
      expect(slowest.items.map((item) => item.traceId)).toEqual(
        ids
          .filter((_, i) => String(i).startsWith('2'))
          .sort()
          .reverse()
          .slice(0, 5),
      );
    } finally {
      store.close();
    }
  });
});
