import { httpClient, httpServer, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { layoutTrace, type TraceLayout } from './layout.js';
import { renderMermaid, traceToMermaid } from './mermaid.js';
import { renderLines } from './render.js';
import { buildSequence } from './sequence.js';
import { chooseFolds, estimateSizes, measuredSizes } from './size-guard.js';
import type { Span, Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/**
 * An API that calls `calls` downstream services over HTTP, one after another
 * and some side by side. No span of a call records a response status (the
 * client's nor the callee's server span), so each reply is followed by a
 * no-response-status note; each service runs a few queries, some of them
 * concurrent, some an N+1 loop, with own work between them.
 */
function noStatusTrace(calls: number): Trace {
  const spans: Span[] = [
    httpServer({ id: 'root', service: 'api', route: '/reports/:id', start: 0, end: calls * 20 + 10, status: 200 }),
  ];
  for (let i = 0; i < calls; i++) {
    // Every third call overlaps the one before it: a `par` block.
    const start = i % 3 === 2 ? i * 20 - 5 : i * 20 + 1;
    const service = `svc-${i % 7}`;
    spans.push(
      httpClient({
        id: `c${i}`,
        parent: 'root',
        service: 'api',
        url: `http://${service}:8080/items/${i}`,
        status: null,
        start,
        end: start + 18,
      }),
      httpServer({
        id: `s${i}`,
        parent: `c${i}`,
        service,
        route: '/items/:id',
        start: start + 1,
        end: start + 17,
      }),
    );
    for (let q = 0; q < 6; q++) {
      // Queries 0-2 repeat one statement (a loop), 3 and 4 overlap, and a gap of own work before 5.
      const at = start + 2 + (q < 5 ? q * 1.5 : 12);
      const query = q < 3 ? 'SELECT * FROM authors WHERE id = $1' : `SELECT * FROM table_${q} WHERE id = $1`;
      spans.push(sql({ id: `q${i}-${q}`, parent: `s${i}`, service, query, start: q === 4 ? at - 1 : at, end: at + 1 }));
    }
  }
  return trace(...spans);
}

function layoutOf(t: Trace): TraceLayout {
  return layoutTrace(buildSpanTree(t));
}

describe('size guard estimate', () => {
  for (const timings of [true, false]) {
    it(`counts every line the diagram draws, notes included (timings ${timings})`, () => {
      const layout = layoutOf(noStatusTrace(60));
      const text = renderMermaid(buildSequence(layout, { timings }));
      expect(text).toContain('no response status recorded');
      const estimate = estimateSizes(layout, { indentWidth: 2, timings, foldLoops: true });
      expect(estimate.total / text.length).toBeGreaterThan(0.93);
      expect(estimate.total / text.length).toBeLessThan(1.07);
      // Every level drawn: the last size by depth is the whole text.
      expect(estimate.byMaxDepth[estimate.byMaxDepth.length - 1]).toBe(estimate.total);
    });
  }

  it('estimates the text of a fold plan as it is drawn', () => {
    const layout = layoutOf(noStatusTrace(60));
    const estimate = estimateSizes(layout, { indentWidth: 2, timings: true, foldLoops: true });
    const keep = 0.5 * estimate.total;
    const plan = chooseFolds(estimate.candidates, estimate.total - keep, estimate.total - 0.4 * estimate.total);
    expect(plan).toBeDefined();
    const folded = renderMermaid(
      buildSequence(layout, {}, { foldSpanIds: new Set(plan?.calls.map((call) => call.node.span.spanId)) }),
    );
    const planned = estimate.total - (plan?.saved ?? 0);
    expect(planned / folded.length).toBeGreaterThan(0.93);
    expect(planned / folded.length).toBeLessThan(1.07);
  });

  for (const timings of [true, false]) {
    it(`reads the sizes off the printed whole drawing: the text's length, and each fold's saving as drawn (timings ${timings})`, () => {
      const layout = layoutOf(noStatusTrace(60));
      const model = buildSequence(layout, { timings });
      const lines = renderLines(model);
      const text = renderMermaid(model);
      const sizes = measuredSizes(layout, model, lines);
      expect(sizes.total).toBe(text.length);
      // The same calls as the estimate offers, largest saving first.
      const estimate = estimateSizes(layout, { indentWidth: 2, timings, foldLoops: true });
      expect(new Set(sizes.candidates.map((c) => c.call))).toEqual(new Set(estimate.candidates.map((c) => c.call)));
      for (let i = 1; i < sizes.candidates.length; i++)
        expect((sizes.candidates[i - 1]?.saving as number) >= (sizes.candidates[i]?.saving as number)).toBe(true);
      // Folding one call removes what the sizes say, give or take the fold note's wording and the
      // lines of participants only its nested calls talk to (the largest fold, the root's, drops them).
      const participantLines = lines.slice(2, 2 + model.participants.length).join('\n').length + 1;
      for (const [candidate, slack] of [
        [sizes.candidates[0], participantLines],
        [sizes.candidates[1], 2],
        [sizes.candidates[sizes.candidates.length - 1], 2],
      ] as const) {
        const folded = renderMermaid(
          buildSequence(layout, { timings }, { foldSpanIds: new Set([candidate?.call.node.span.spanId as string]) }),
        );
        const removed = text.length - folded.length;
        expect(removed).toBeGreaterThanOrEqual((candidate?.saving as number) - 2);
        expect(removed).toBeLessThanOrEqual((candidate?.saving as number) + slack);
      }
    });
  }

  it('estimates each depth of a level fold as it is drawn', () => {
    const layout = layoutOf(noStatusTrace(60));
    const estimate = estimateSizes(layout, { indentWidth: 2, timings: true, foldLoops: true });
    const text = renderMermaid(buildSequence(layout, {}, { maxDepth: 2 }));
    expect((estimate.byMaxDepth[1] as number) / text.length).toBeGreaterThan(0.9);
    expect((estimate.byMaxDepth[1] as number) / text.length).toBeLessThan(1.1);
  });

  it('folds whole groups when they can fit, with the notes counted', () => {
    const t = noStatusTrace(60);
    const full = renderMermaid(buildSequence(layoutOf(t), {}));
    const max = Math.round(0.45 * full.length);
    const diagram = traceToMermaid(t, { maxTextLength: max });
    expect(diagram.folded).toBe(true);
    expect(diagram.text.length).toBeLessThanOrEqual(max);
    expect(diagram.text.length).toBeGreaterThanOrEqual(0.8 * max);
    // The fewest largest groups, not whole levels cut short.
    expect(diagram.model.notes.at(-1)).toMatch(
      /^diagram folded to stay under \d+ characters: \d+ calls under \d+ arrows/,
    );
  });

  it('draws whole every trace that fits and folds every one that does not, near the limit on either side', () => {
    // Limits from well above to well below each trace's whole text: small
    // traces are drawn first, larger ones estimated first, and one estimated
    // over the limit by more than the estimate's error is never built whole.
    for (const calls of [5, 20, 60]) {
      const t = noStatusTrace(calls);
      const whole = traceToMermaid(t, { maxTextLength: 10_000_000 });
      expect(whole.folded).toBe(false);
      for (const share of [1.5, 1.08, 1.01, 1, 0.99, 0.95, 0.9, 0.8, 0.6]) {
        const max = Math.round(share * whole.text.length);
        const diagram = traceToMermaid(t, { maxTextLength: max });
        if (whole.text.length <= max) {
          expect(diagram.folded, `${calls} calls, limit ${share}× the text`).toBe(false);
          expect(diagram.text).toBe(whole.text);
        } else {
          expect(diagram.folded, `${calls} calls, limit ${share}× the text`).toBe(true);
          expect(diagram.text.length).toBeLessThanOrEqual(max);
        }
      }
    }
  });

  it('cuts a call with thousands of calls below it short at that level instead of folding them all', () => {
    // Two services, each running 1,500 different queries, every 100th failing.
    const spans: Span[] = [
      httpServer({ id: 'root', service: 'api', route: '/wide', start: 0, end: 4000, status: 200 }),
    ];
    for (let c = 0; c < 2; c++) {
      const start = c * 2000;
      spans.push(
        httpClient({
          id: `c${c}`,
          parent: 'root',
          service: 'api',
          url: `http://svc-${c}:8080/x`,
          start,
          end: start + 1990,
        }),
        httpServer({
          id: `s${c}`,
          parent: `c${c}`,
          service: `svc-${c}`,
          route: '/x',
          start: start + 1,
          end: start + 1989,
        }),
      );
      for (let q = 0; q < 1500; q++) {
        const at = start + 2 + q;
        spans.push(
          sql({
            id: `q${c}-${q}`,
            parent: `s${c}`,
            service: `svc-${c}`,
            query: `SELECT * FROM table_${q} WHERE id = $1`,
            start: at,
            end: at + 0.9,
            ...(q % 100 === 99 ? { error: 'deadlock detected' } : {}),
          }),
        );
      }
    }
    const max = 50_000;
    const diagram = traceToMermaid(trace(...spans), { maxTextLength: max });
    expect(diagram.folded).toBe(true);
    expect(diagram.text.length).toBeLessThanOrEqual(max);
    // Most of the limit is used: the queries are drawn up to a count per level, not all folded away.
    expect(diagram.text.length).toBeGreaterThan(0.8 * max);
    const notes = diagram.text.split('\n').filter((line) => line.includes('more calls folded'));
    expect(notes).toHaveLength(2);
    // No failure is hidden: the ones not drawn are counted in the fold notes.
    const drawnFailures = diagram.text.split('\n').filter((line) => line.includes('deadlock detected')).length;
    const foldedFailures = notes.reduce((sum, line) => sum + Number(/(\d+) failed/.exec(line)?.[1] ?? 0), 0);
    expect(drawnFailures + foldedFailures).toBe(30);
  });
});
