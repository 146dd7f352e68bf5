import { consume, httpServer, publish, span, TRACE_ID, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace, boundAnalysis, type TraceAnalysis } from './analysis.js';
import { summarizeTrace } from './summary.js';

/** 2,000 spans without a parent, 1 ms apart, 5 ms each: about 2 s of work in one trace. */
const parentless = trace(
  ...Array.from({ length: 2000 }, (_, i) =>
    span({ id: `o${i}`, name: `orphan ${i}`, kind: 'server', start: i, end: i + 5 }),
  ),
);

describe('the duration of a trace', () => {
  it('of several roots runs from the earliest start to the latest end, in the summary and the analysis', () => {
    const summary = summarizeTrace(parentless);
    expect(summary.durationNs).toBe(2004 * 1e6);
    expect(summary.spanCount).toBe(2000);
    expect(analyzeTrace(parentless).wallTimeMs).toBe(2004);
  });

  it('takes the latest end of any root, not of the last one started', () => {
    const t = trace(
      span({ id: 'a', kind: 'server', start: 0, end: 100 }),
      span({ id: 'b', kind: 'server', start: 10, end: 20 }),
    );
    expect(summarizeTrace(t).durationNs).toBe(100 * 1e6);
    expect(analyzeTrace(t).wallTimeMs).toBe(100);
  });

  it('of one root is that root span, however long its children ran on', () => {
    const t = trace(
      httpServer({ id: 'r', start: 0, end: 30, method: 'GET', route: '/a', status: 200 }),
      span({ id: 'late', parent: 'r', kind: 'internal', start: 10, end: 500 }),
    );
    expect(summarizeTrace(t).durationNs).toBe(30 * 1e6);
  });

  it('is not stretched by a consumer linked to a producer of the trace', () => {
    const t = trace(
      httpServer({ id: 'r', start: 0, end: 30, method: 'POST', route: '/orders', status: 202 }),
      publish({ id: 'p', parent: 'r', start: 5, end: 6, queue: 'orders' }),
      consume({
        id: 'c',
        start: 200,
        end: 900,
        queue: 'orders',
        links: [{ traceId: TRACE_ID, spanId: 'p', attributes: {} }],
      }),
    );
    expect(summarizeTrace(t).durationNs).toBe(30 * 1e6);
    expect(analyzeTrace(t).wallTimeMs).toBe(30);
  });
});

describe('boundAnalysis', () => {
  const step = (i: number) => ({ spanId: `s${i}`, name: 'x', serviceName: 'api', startMs: i, durationMs: 1 });
  const huge: TraceAnalysis = {
    wallTimeMs: 5000,
    byCategory: { db: 1, http: 0, cache: 0, queue: 0, own: 4999 },
    criticalPath: Array.from({ length: 2500 }, (_, i) => step(i)),
    serialRuns: [
      {
        parentSpanId: 'r',
        spanIds: Array.from({ length: 1200 }, (_, i) => `q${i}`),
        sumMs: 1200,
        maxMs: 1,
        chainMs: 1,
        savingMs: 1199,
        dependent: [],
      },
    ],
    overlapSavingMs: 1199,
    nPlusOne: [],
    errors: Array.from({ length: 1001 }, (_, i) => ({ spanId: `e${i}`, name: 'x', message: 'boom' })),
    notes: ['one note'],
  };

  it('keeps the first entries of each list and counts what it left out', () => {
    const bounded = boundAnalysis(huge, 1000);
    expect(bounded.criticalPath).toHaveLength(1000);
    expect(bounded.criticalPath[999]).toEqual(step(999));
    expect(bounded.serialRuns[0]?.spanIds).toHaveLength(1000);
    expect(bounded.serialRuns[0]?.sumMs).toBe(1200);
    expect(bounded.errors).toHaveLength(1000);
    expect(bounded.omitted).toEqual({ criticalPath: 1500, spanIds: 200, errors: 1 });
    expect(bounded.wallTimeMs).toBe(5000);
    expect(bounded.notes).toEqual(['one note']);
  });

  it('says nothing was left out of an analysis within bounds', () => {
    expect(boundAnalysis(analyzeTrace(parentless)).omitted).toBeUndefined();
    expect('omitted' in boundAnalysis(huge, 5000)).toBe(false);
  });
});
