import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpanIdList, SpanIndex } from './span-index.js';

const HEX = '0123456789abcdef';

/** Ids of every form the index tells apart: W3C lowercase hex, the same in uppercase, other lengths, non-hex strings. */
const anyId = fc.oneof(
  fc.string({ unit: fc.constantFrom(...HEX), minLength: 16, maxLength: 16 }),
  fc.string({ unit: fc.constantFrom(...HEX), minLength: 16, maxLength: 16 }).map((id) => id.toUpperCase()),
  fc.string({ unit: fc.constantFrom(...HEX), minLength: 1, maxLength: 32 }),
  fc.string({ maxLength: 20 }),
);

/** A list of the given ids, parsed as the tree adds them. */
function listOf(ids: readonly (string | undefined)[]): SpanIdList {
  const list = new SpanIdList(8);
  for (const id of ids) list.add(id);
  return list;
}

/** Fills a SpanIndex and a Map the same way, returning both and what each `add` answered. */
function fill(ids: readonly string[], capacity = ids.length) {
  const index = new SpanIndex<number>(capacity);
  const map = new Map<string, number>();
  const added = ids.map((id, i) => {
    const fresh = !map.has(id);
    if (fresh) map.set(id, i);
    return [index.add(id, i), fresh];
  });
  return { index, map, added };
}

describe('SpanIndex', () => {
  // Below 512 ids everything goes to the Map; from 512 on, W3C ids go to the table.
  for (const size of [10, 600, 3000]) {
    it(`answers like a Map for ${size} ids of mixed forms, with duplicates`, () => {
      fc.assert(
        fc.property(
          fc.array(anyId, { minLength: size, maxLength: size }),
          fc.array(anyId, { maxLength: 50 }),
          (ids, probes) => {
            // Duplicates of earlier ids, in both cases, so that add must refuse the exact ones only.
            const withRepeats = [...ids, ...ids.slice(0, 40), ...ids.slice(0, 40).map((id) => id.toUpperCase())];
            const { index, map, added } = fill(withRepeats);
            for (const [answer, fresh] of added) expect(answer).toBe(fresh);
            expect(index.size).toBe(map.size);
            expect([...index]).toEqual([...map]);
            expect([...index.keys()]).toEqual([...map.keys()]);
            expect([...index.values()]).toEqual([...map.values()]);
            for (const id of [...withRepeats, ...probes]) {
              expect(index.get(id)).toBe(map.get(id));
              expect(index.has(id)).toBe(map.has(id));
            }
          },
        ),
        { numRuns: size > 1000 ? 10 : 40 },
      );
    });
  }

  // The bulk forms fill the table in the order of its regions: the same answers as one `add` at a time.
  for (const size of [10, 600, 3000]) {
    it(`builds in bulk and looks up in bulk like a Map for ${size} ids of mixed forms, with duplicates`, () => {
      fc.assert(
        fc.property(
          fc.array(anyId, { minLength: size, maxLength: size }),
          fc.array(fc.option(anyId, { nil: undefined }), { maxLength: 60 }),
          (ids, probes) => {
            const withRepeats = [...ids, ...ids.slice(0, 40), ...ids.slice(0, 40).map((id) => id.toUpperCase())];
            const map = new Map<string, number>();
            const firsts = withRepeats.map((id, i) => {
              const fresh = !map.has(id);
              if (fresh) map.set(id, i);
              return fresh ? 1 : 0;
            });
            const { index, kept } = SpanIndex.build(
              listOf(withRepeats),
              withRepeats.map((_, i) => i),
            );
            expect([...kept]).toEqual(firsts);
            expect([...index]).toEqual([...map]);
            const lookups = [...withRepeats, ...probes];
            const values = [...index.values()];
            const positions = index.positionsOf(listOf(lookups));
            lookups.forEach((id, i) => {
              const position = positions[i] as number;
              expect(position < 0 ? undefined : values[position]).toBe(id === undefined ? undefined : map.get(id));
              if (id !== undefined) expect(index.get(id)).toBe(map.get(id));
            });
          },
        ),
        { numRuns: size > 1000 ? 10 : 40 },
      );
    });
  }

  it('grows a list past the capacity it was made with, and refuses a list holding no id', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => (i * 7919).toString(16).padStart(16, '0'));
    const list = new SpanIdList(2);
    for (const id of ids) list.add(id);
    const { index } = SpanIndex.build(list, ids);
    expect(index.get(ids[999] as string)).toBe(ids[999]);
    expect(() => SpanIndex.build(listOf(['a', undefined]), ['a', 'b'])).toThrow(RangeError);
    expect(() => SpanIndex.build(listOf(['a', 'b']), ['a'])).toThrow(RangeError);
  });

  it('keeps sequential ids apart (the hash spreads ids that differ in their last digits only)', () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => (i + 1).toString(16).padStart(16, '0'));
    const { index } = fill(ids);
    expect(index.size).toBe(100_000);
    expect(index.get('00000000000186a0')).toBe(99_999);
    expect(index.get('00000000000186a1')).toBeUndefined();
    // The same halves in the other order are another id.
    expect(index.get('0000000100000000')).toBeUndefined();
  });

  it('tells ids apart that differ only in case, and finds nothing for non-strings', () => {
    const ids = Array.from({ length: 600 }, (_, i) => `abcdef${i.toString(16).padStart(10, '0')}`);
    const { index } = fill([...ids, 'ABCDEF0000000000'], 601);
    expect(index.get('abcdef0000000000')).toBe(0);
    expect(index.get('ABCDEF0000000000')).toBe(600);
    expect(index.get(undefined as unknown as string)).toBeUndefined();
  });

  it('refuses more ids than its capacity', () => {
    const index = new SpanIndex<number>(600);
    for (let i = 0; i < 600; i++) index.add(i.toString(16).padStart(16, '0'), i);
    expect(() => index.add('ffffffffffffffff', 600)).toThrow(RangeError);
    expect(() => index.add('not hex', 600)).toThrow(RangeError);
    expect(index.size).toBe(600);
  });
});
