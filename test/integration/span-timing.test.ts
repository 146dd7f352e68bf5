import type { Span } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockLines, validDiagram } from './support/diagram.ts';
import { dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missingPg = await missingServices('postgres');

/** The query spans of a trace: pg also records pool and connection spans. */
function querySpans(spans: readonly Span[]): Span[] {
  return dbSpans(spans, 'postgresql').filter(
    (span) => typeof (span.attributes['db.query.text'] ?? span.attributes['db.statement']) === 'string',
  );
}

/** Pairs of spans with the same parent whose intervals overlap, described for a failure message. */
function overlappingSiblings(spans: readonly Span[]): string[] {
  const byParent = new Map<string, Span[]>();
  for (const span of spans) {
    const parent = span.parentSpanId ?? '';
    byParent.set(parent, [...(byParent.get(parent) ?? []), span]);
  }
  const overlaps: string[] = [];
  for (const siblings of byParent.values()) {
    const ordered = [...siblings].sort((a, b) => Number(a.startTimeNs - b.startTimeNs));
    for (let i = 1; i < ordered.length; i++) {
      const previous = ordered[i - 1];
      const next = ordered[i];
      if (previous === undefined || next === undefined) continue;
      const previousEnd = previous.endTimeNs ?? previous.startTimeNs;
      if (next.startTimeNs < previousEnd) {
        overlaps.push(
          `${next.name} starts ${Number(previousEnd - next.startTimeNs) / 1000} µs before ${previous.name} ends`,
        );
      }
    }
  }
  return overlaps;
}

/** Share of spans whose start is not a whole millisecond. */
function subMillisecondShare(spans: readonly Span[]): number {
  const precise = spans.filter((span) => {
    const sub = Number(span.startTimeNs % 1_000_000n);
    return sub > 1000 && sub < 1e6 - 1000;
  });
  return precise.length / spans.length;
}

const requests = 20;

describe.skipIf(missingPg.length > 0)('span timing of back-to-back PostgreSQL queries', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'shop' });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('never draws two awaited sub-millisecond queries as overlapping', async () => {
    // All requests first, one after the other, then their traces: spans reach
    // the database in batches, so waiting after each request would mostly wait.
    const traceIds: string[] = [];
    for (let i = 1; i <= requests; i++) {
      const response = await fetch(`${app.url}/quick/${i}`);
      expect(await response.json()).toEqual({ id: i });
      traceIds.push(traceIdOf(response));
    }
    const recorded: Span[] = [];
    for (const [i, traceId] of traceIds.entries()) {
      const trace = await waitForTrace(db.path, traceId, (s) => querySpans(s).length === 2);
      const queries = querySpans(trace.spans);
      recorded.push(...queries);
      expect(overlappingSiblings(trace.spans), `request ${i + 1}`).toEqual([]);
      const [first, second] = [...queries].sort((a, b) => Number(a.startTimeNs - b.startTimeNs));
      expect(first?.attributes['db.query.text']).toMatch(/author_id/);
      expect(second?.attributes['db.query.text']).toMatch(/post_count/);
      const text = await validDiagram(trace);
      expect(blockLines(text, 'par'), `request ${i + 1}:\n${text}`).toEqual([]);
    }
    // The queries take well under a millisecond, so whole-millisecond starts
    // would have put many of them before the end of the query they followed.
    const durationsMs = recorded.map((span) => Number((span.endTimeNs ?? span.startTimeNs) - span.startTimeNs) / 1e6);
    expect(durationsMs.filter((ms) => ms < 1).length).toBeGreaterThan(0);
    expect(subMillisecondShare(recorded)).toBeGreaterThan(0.5);
  });

  it('folds a run of awaited quick queries into one loop with no par block', async () => {
    const traceIds: string[] = [];
    for (let i = 1; i <= requests; i++) {
      const response = await fetch(`${app.url}/quick-loop`);
      expect(await response.json()).toEqual({ ids: [1, 2, 3, 4, 5] });
      traceIds.push(traceIdOf(response));
    }
    for (const [i, traceId] of traceIds.entries()) {
      const trace = await waitForTrace(db.path, traceId, (s) => querySpans(s).length === 5);
      expect(overlappingSiblings(trace.spans), `request ${i + 1}`).toEqual([]);
      const text = await validDiagram(trace);
      expect(blockLines(text, 'par'), `request ${i + 1}:\n${text}`).toEqual([]);
      expect(blockLines(text, 'loop'), `request ${i + 1}:\n${text}`).toHaveLength(1);
    }
  });
});
