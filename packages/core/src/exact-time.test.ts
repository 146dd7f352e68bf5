import { expectValidMermaid, sql, TRACE_ID } from '@lifeline/test-support/spans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { traceToMermaid } from './mermaid.js';
import { summarizeTrace } from './summary.js';
import type { Span, Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** A server span and its database queries, at exact times. */
function request(start: bigint, end: bigint, queries: readonly { start: bigint; end: bigint }[]): Trace {
  const base = sql({ id: 'x', start: 0, end: 0, query: 'SELECT 1' });
  const at = (span: Span, startTimeNs: bigint, endTimeNs: bigint): Span => ({ ...span, startTimeNs, endTimeNs });
  const root: Span = {
    ...base,
    spanId: 'root',
    name: 'GET /reports/:id',
    kind: 'server',
    attributes: { 'http.request.method': 'GET', 'http.route': '/reports/:id', 'http.response.status_code': 200 },
    startTimeNs: start,
    endTimeNs: end,
  };
  const children = queries.map((q, i) =>
    at(sql({ id: `q${i}`, parent: 'root', start: 0, end: 0, query: `SELECT * FROM table_${i}` }), q.start, q.end),
  );
  return { traceId: TRACE_ID, spans: [root, ...children] };
}

// Present-day epochs (2001 to 2100) in nanoseconds: far beyond float64's exact integers.
const epoch = fc.bigInt({ min: 1_000_000_000_000_000_000n, max: 4_102_444_800_000_000_000n });
// Each query's duration, and the gap before it: 0 touches, negative overlaps (by as little as 1 ns).
const step = fc.record({
  duration: fc.bigInt({ min: 1n, max: 50_000_000n }),
  gap: fc.oneof(fc.constant(0n), fc.constant(-1n), fc.bigInt({ min: -5_000_000n, max: 5_000_000n })),
});

describe('exact times in the tree, the diagram and the summary', () => {
  it('lays out exact offsets and draws par exactly when queries overlap, at any present-day epoch (property)', async () => {
    const property = fc.asyncProperty(epoch, fc.array(step, { minLength: 2, maxLength: 5 }), async (start, steps) => {
      // Each query starts `gap` after the previous one ends; then all are moved to start 1 µs into the request.
      const placed: { start: bigint; end: bigint }[] = [];
      let cursor = 0n;
      for (const s of steps) {
        const from = placed.length === 0 ? 0n : cursor + s.gap;
        placed.push({ start: from, end: from + s.duration });
        cursor = from + s.duration;
      }
      // Math.min and Math.max do not take bigints.
      let first = 0n;
      let last = 0n;
      for (const q of placed) {
        if (q.start < first) first = q.start;
        if (q.end > last) last = q.end;
      }
      const shift = start + 1_000n - first;
      const queries = placed.map((q) => ({ start: q.start + shift, end: q.end + shift }));
      const end = last + shift + 1_000n;
      const trace = request(start, end, queries);
      const overlaps = queries.some((a, i) => queries.some((b, j) => i !== j && a.start < b.end && b.start < a.end));

      const tree = buildSpanTree(trace);
      expect(tree.baseNs).toBe(start);
      for (const span of trace.spans) {
        const node = tree.byId.get(span.spanId);
        expect(node?.start).toBe(Number(span.startTimeNs - start));
        expect(node?.end).toBe(Number((span.endTimeNs ?? 0n) - start));
      }
      const summary = summarizeTrace(trace);
      expect(summary.startTimeNs).toBe(start);
      expect(summary.durationNs).toBe(Number(end - start));
      expect(summary.parGroups > 0).toBe(overlaps);
      const { text } = traceToMermaid(trace, { timings: false });
      expect(/^\s*par\b/m.test(text), text).toBe(overlaps);
      await expectValidMermaid(text);
    });
    await fc.assert(property, { numRuns: 60 });
  });

  it('draws two queries that touch at an odd nanosecond as serial, and one nanosecond of overlap as par', async () => {
    const t = 1_700_000_000_123_456_789n;
    const serial = request(t - 1_000_000n, t + 21_000_000n, [
      { start: t, end: t + 10_000_000n },
      { start: t + 10_000_000n, end: t + 20_000_000n },
    ]);
    const serialText = traceToMermaid(serial, { timings: false }).text;
    await expectValidMermaid(serialText);
    expect(serialText).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /reports/:id
      p2->>p3: SELECT table_0
      p3-->>p2: ok
      p2->>p3: SELECT table_1
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    const overlapping = request(t - 1_000_000n, t + 21_000_000n, [
      { start: t, end: t + 10_000_001n },
      { start: t + 10_000_000n, end: t + 20_000_000n },
    ]);
    const parText = traceToMermaid(overlapping, { timings: false }).text;
    await expectValidMermaid(parText);
    expect(parText).toMatch(/^\s*par\b/m);
  });

  it('takes number and decimal-string times (spans built by hand, or read from JSON) as whole nanoseconds', () => {
    const exact = request(1_700_000_000_000_000_000n, 1_700_000_000_020_000_000n, [
      { start: 1_700_000_000_000_001_000n, end: 1_700_000_000_010_001_000n },
    ]);
    const loose = {
      ...exact,
      spans: exact.spans.map((span) => ({
        ...span,
        startTimeNs: span.startTimeNs.toString(),
        endTimeNs: Number(span.endTimeNs),
      })),
    } as unknown as Trace;
    const tree = buildSpanTree(loose);
    expect(tree.baseNs).toBe(1_700_000_000_000_000_000n);
    expect(tree.byId.get('q0')?.start).toBe(1000);
    expect(tree.notes).toEqual([]);
    expect(traceToMermaid(loose, { timings: false }).text).toBe(traceToMermaid(exact, { timings: false }).text);
  });
});
