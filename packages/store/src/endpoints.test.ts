import { type Span, summarizeEndpoints, type TraceSummary } from '@lifeline/core';
import { makeRequest, makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, type SpanStore } from './store.js';

const T0 = 1_767_225_600_000_000_000n;

/** A seeded generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const routes = ['/articles/:id', '/articles', '/users/:id/feed'];

/** Requests of three routes on two services, with serial queries (some repeated: N+1), errors, equal durations. */
function requests(seed: number, count: number): Span[][] {
  const next = random(seed);
  const out: Span[][] = [];
  for (let i = 0; i < count; i++) {
    const queries = Array.from({ length: Math.floor(next() * 5) }, () => (next() < 0.5 ? 'SELECT a' : 'SELECT b'));
    out.push(
      makeRequest({
        startNs: T0 + BigInt(i) * 1_000_000_000n,
        // Few distinct durations: ties must be ranked the same way everywhere.
        durationMs: 5 + Math.floor(next() * 8) * 5,
        service: next() < 0.8 ? 'blog-api' : 'feed',
        route: routes[Math.floor(next() * routes.length)] as string,
        error: next() < 0.1,
        status: next() < 0.1 ? 404 : 200,
        queries,
      }),
    );
  }
  return out;
}

function allSummaries(store: SpanStore): TraceSummary[] {
  return store.listTraces({ work: 'all' }, { limit: 1000 }).items;
}

describe('the endpoint list', () => {
  it('gives the same figures in SQL as the core computes from the summaries, with and without a time window', () => {
    const store = openStore({ path: tempDbPath() });
    try {
      for (const trace of requests(14, 300)) store.writeSpans(trace);
      // A background trace (a client call at start-up) is no endpoint.
      const traceId = nextId(32);
      store.writeSpans([makeSpan({ traceId, name: 'SELECT 1', kind: 'client', startTimeNs: T0, endTimeNs: T0 + 10n })]);
      const summaries = allSummaries(store);
      expect(summaries).toHaveLength(301);
      const endpoints = store.listEndpoints();
      expect(endpoints).toEqual(summarizeEndpoints(summaries));
      expect(endpoints.length).toBeGreaterThanOrEqual(5);
      expect(endpoints.some((e) => e.errorShare > 0 && e.nPlusOneShare > 0)).toBe(true);
      expect(endpoints.every((e) => e.medianOverlapSavingMs !== undefined)).toBe(true);

      const since = Number(T0 + 100n * 1_000_000_000n);
      const until = Number(T0 + 199n * 1_000_000_000n);
      const windowed = store.listEndpoints({ since, until });
      const inWindow = summaries.filter((s) => Number(s.startTimeNs) >= since && Number(s.startTimeNs) <= until);
      expect(inWindow).toHaveLength(100);
      expect(windowed).toEqual(summarizeEndpoints(inWindow));
      expect(windowed.reduce((n, e) => n + e.requests, 0)).toBe(100);
    } finally {
      store.close();
    }
  });

  it('ranks percentiles by nearest rank and links the slowest and the median request', () => {
    const store = openStore({ path: tempDbPath() });
    try {
      const ids: string[] = [];
      for (let i = 1; i <= 20; i++) {
        const traceId = nextId(32);
        ids.push(traceId);
        store.writeSpans(
          makeRequest({
            traceId,
            startNs: T0 + BigInt(i) * 1_000_000n,
            durationMs: i,
            queries: ['SELECT a', 'SELECT b'],
          }),
        );
      }
      const [endpoint] = store.listEndpoints();
      expect(endpoint).toMatchObject({
        service: 'blog-api',
        name: 'GET /articles/:id',
        kind: 'server',
        requests: 20,
        p50Ms: 10,
        p95Ms: 19,
        p99Ms: 20,
        maxMs: 20,
        errorShare: 0,
        callsPerRequest: { db: 2, cache: 0, http: 0, queue: 0 },
        slowestTraceId: ids[19],
        typicalTraceId: ids[9],
      });
      // Two serial queries each taking half the request (less 1 µs): overlapping them saves one of them.
      expect(endpoint?.medianOverlapSavingMs).toBeCloseTo(10 / 3, 2);
      expect(
        store.endpointTraceIds({ service: 'blog-api', kind: 'server', name: 'GET /articles/:id' }, { limit: 3 }),
      ).toEqual([ids[19], ids[18], ids[17]]);
    } finally {
      store.close();
    }
  });

  it('leaves the saving out for requests summarised before the store kept it', () => {
    const path = tempDbPath();
    const store = openStore({ path });
    store.writeSpans(makeRequest({ startNs: T0, durationMs: 10, queries: ['SELECT a', 'SELECT b'] }));
    store.close();
    const raw = new Database(path);
    raw.prepare('UPDATE traces SET overlap_saving_ns = NULL').run();
    raw.close();
    const reopened = openStore({ path, readonly: true });
    try {
      const [endpoint] = reopened.listEndpoints();
      expect(endpoint?.requests).toBe(1);
      expect(endpoint).not.toHaveProperty('medianOverlapSavingMs');
      expect(reopened.listEndpoints()).toEqual(summarizeEndpoints(allSummaries(reopened)));
    } finally {
      reopened.close();
    }
  });
});
