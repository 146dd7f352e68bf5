import { httpServer, sql, trace } from '@lifeline/test-support/spans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concurrentGroups, type Interval, packLanes } from './concurrency.js';
import { arrangeChildren, type DrawnCall, layoutTrace } from './layout.js';
import { buildSpanTree } from './tree.js';

const intervals = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 30 })), { maxLength: 40 })
  .map((pairs) =>
    pairs.map(([start, length]) => ({ start, end: start + length })).sort((a, b) => a.start - b.start || a.end - b.end),
  );

/** The largest number of intervals open at one instant (touching ones are not open together). */
function peakOverlap(items: readonly Interval[]): number {
  const events = items.flatMap((i) => (i.end > i.start ? [[i.start, 1] as const, [i.end, -1] as const] : []));
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let peak = 0;
  for (const [, delta] of events) {
    open += delta;
    peak = Math.max(peak, open);
  }
  return peak;
}

describe('concurrentGroups', () => {
  it('keeps touching intervals in separate groups', () => {
    expect(
      concurrentGroups([
        { start: 0, end: 10 },
        { start: 10, end: 20 },
      ]),
    ).toHaveLength(2);
  });

  it('groups a chain where each overlaps only the previous one', () => {
    const chain = [
      { start: 0, end: 10 },
      { start: 5, end: 15 },
      { start: 12, end: 20 },
    ];
    expect(concurrentGroups(chain)).toEqual([chain]);
  });

  it('never lets intervals of different groups overlap, and keeps every interval once', () => {
    fc.assert(
      fc.property(intervals, (items) => {
        const groups = concurrentGroups(items);
        expect(groups.flat()).toEqual(items);
        for (let g = 1; g < groups.length; g++) {
          const previousEnd = Math.max(...(groups[g - 1] as Interval[]).map((i) => i.end));
          expect((groups[g] as Interval[])[0]?.start).toBeGreaterThanOrEqual(previousEnd);
        }
      }),
    );
  });
});

describe('packLanes', () => {
  it('uses as many lanes as the peak overlap, each lane serial and in start order', () => {
    fc.assert(
      fc.property(intervals, (items) => {
        const lanes = packLanes(items);
        expect(lanes.flat()).toHaveLength(items.length);
        for (const lane of lanes) {
          for (let i = 1; i < lane.length; i++) {
            expect((lane[i] as Interval).start).toBeGreaterThanOrEqual((lane[i - 1] as Interval).end);
          }
        }
        // Zero-length intervals overlap nothing but still need a lane when nothing else is free.
        if (items.every((i) => i.end > i.start)) expect(lanes.length).toBe(peakOverlap(items));
      }),
    );
  });

  it('puts each interval into the first free lane, in small groups and in large ones alike', () => {
    const wide = fc
      .array(fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 60 })), { maxLength: 90 })
      .map((pairs) =>
        pairs.map(([start, length]) => ({ start, end: start + length })).sort((a, b) => a.start - b.start),
      );
    fc.assert(
      fc.property(wide, (items) => {
        // First fit, spelled out: the lane whose last interval ended at or before the start.
        const expected: Interval[][] = [];
        for (const item of items) {
          const lane = expected.find((l) => (l[l.length - 1] as Interval).end <= item.start);
          if (lane) lane.push(item);
          else expected.push([item]);
        }
        expect(packLanes(items)).toEqual(expected);
      }),
    );
  });

  it('puts each interval into the first lane that is free', () => {
    const a = { start: 0, end: 10 };
    const b = { start: 2, end: 30 };
    const c = { start: 4, end: 8 };
    const d = { start: 12, end: 14 };
    expect(packLanes([a, b, c, d])).toEqual([[a, d], [b], [c]]);
  });
});

describe('arrangeChildren', () => {
  it('makes the serial runs and par blocks of concurrentGroups and packLanes, in start order', () => {
    fc.assert(
      fc.property(intervals, (items) => {
        const queries = items.map((item, i) =>
          sql({ id: `q${i}`, parent: 'root', start: item.start + 1, end: item.end + 1, query: `SELECT ${i}` }),
        );
        const root = httpServer({ id: 'root', start: 0, end: 200, route: '/r' });
        const top = layoutTrace(buildSpanTree(trace(root, ...queries)), {}).top[0];
        const children = top?.children ?? [];
        expect(children).toHaveLength(items.length);
        const spanOf = (call: DrawnCall) => call.node.span.spanId;
        // The reference: each group of concurrentGroups, a group of one joining the serial run around it.
        const expected: unknown[] = [];
        let serial: string[] = [];
        const intervalsOf = children.map((call) => ({ start: call.node.start, end: call.node.end, call }));
        for (const group of concurrentGroups(intervalsOf)) {
          if (group.length === 1) {
            serial.push(spanOf((group[0] as (typeof intervalsOf)[number]).call));
            continue;
          }
          if (serial.length > 0) expected.push({ type: 'serial', calls: serial });
          serial = [];
          expected.push({
            type: 'par',
            calls: group.map((g) => spanOf(g.call)),
            lanes: packLanes(group).map((lane) => lane.map((g) => spanOf(g.call))),
          });
        }
        if (serial.length > 0) expected.push({ type: 'serial', calls: serial });
        const runs = arrangeChildren(children).map((run) =>
          run.type === 'par'
            ? { type: 'par', calls: run.calls.map(spanOf), lanes: run.lanes.map((lane) => lane.map(spanOf)) }
            : { type: 'serial', calls: run.calls.map(spanOf) },
        );
        expect(runs).toEqual(expected);
      }),
    );
  });
});
