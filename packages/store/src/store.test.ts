import { readFileSync, statSync } from 'node:fs';
import type { Span, TraceSummary } from '@lifeline/core';
import { makeRequest, makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import { parseTraceFile } from './importers/detect.js';
import { MAX_LINKED_TRACES, openStore, type SpanStore, type TraceFilter, type TracePage } from './store.js';

const T0 = 1_767_225_600_000_000_000;
const MS = 1_000_000;
const T0N = BigInt(T0);

/** Exact ns `ms` milliseconds after T0. */
function at(ms: number): bigint {
  return T0N + BigInt(Math.round(ms * 1e6));
}

function withStore(run: (store: SpanStore) => void): void {
  const store = openStore({ path: tempDbPath() });
  try {
    run(store);
  } finally {
    store.close();
  }
}

function allPages(store: SpanStore, filter: TraceFilter, page: TracePage): TraceSummary[] {
  const seen: TraceSummary[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const result = store.listTraces(filter, { ...page, ...(cursor === undefined ? {} : { cursor }) });
    seen.push(...result.items);
    if (result.nextCursor === undefined) return seen;
    expect(result.items).toHaveLength(page.limit ?? 50);
    cursor = result.nextCursor;
  }
  throw new Error('pagination did not end');
}

describe('openStore', () => {
  it('stores spans and reads the same spans back', () => {
    withStore((store) => {
      const spans = makeRequest({ startNs: T0, durationMs: 40, queries: ['SELECT articles', 'SELECT comments'] });
      const [root, query] = spans as [Span, Span, Span];
      const rich: Span = {
        ...query,
        status: { code: 'error', message: 'deadlock' },
        events: [{ name: 'exception', timeNs: at(5), attributes: { 'exception.type': 'Error' } }],
        links: [{ traceId: nextId(32), spanId: nextId(16), attributes: { reason: 'retry' } }],
        attributes: { ...query.attributes, tags: ['a', 'b'], rows: 3, cached: false },
        scope: { name: '@opentelemetry/instrumentation-pg', version: '0.77.0' },
      };
      const written = [root, rich, spans[2] as Span];
      store.writeSpans(written);
      const trace = store.getTrace(root.traceId);
      expect(trace?.traceId).toBe(root.traceId);
      const byId = new Map(trace?.spans.map((s) => [s.spanId, s]));
      for (const span of written) expect(byId.get(span.spanId)).toEqual(span);
      expect(store.getTrace(nextId(32))).toBeUndefined();
    });
  });

  it('ignores spans it already has instead of failing the batch', () => {
    withStore((store) => {
      const spans = makeRequest({ startNs: T0, durationMs: 10, queries: ['SELECT a'] });
      store.writeSpans(spans);
      const extra = makeSpan({
        traceId: spans[0]?.traceId as string,
        parentSpanId: spans[0]?.spanId,
        startTimeNs: at(1),
      });
      const written = store.writeSpans([...spans, extra, { ...(spans[1] as Span), name: 'renamed duplicate' }]);
      // Copies are duplicates; a different span under a stored id is a conflict, counted and named.
      expect(written).toMatchObject({
        inserted: 1,
        duplicates: 2,
        conflicts: 1,
        conflictExamples: [`span ${spans[1]?.spanId} of trace ${spans[1]?.traceId}`],
      });
      expect(store.writeSpans(spans)).toMatchObject({ inserted: 0, duplicates: 2, conflicts: 0 });
      const trace = store.getTrace(spans[0]?.traceId as string);
      expect(trace?.spans).toHaveLength(3);
      expect(trace?.spans.map((s) => s.name)).not.toContain('renamed duplicate');
      expect(store.stats()).toMatchObject({ traces: 1, spans: 3 });
      expect(store.listTraces().items[0]?.spanCount).toBe(3);
    });
  });

  it('stores a span repeated within one batch of a new trace once and counts it once', () => {
    withStore((store) => {
      const spans = makeRequest({
        startNs: T0,
        durationMs: 100,
        queries: Array.from({ length: 40 }, (_, i) => `SELECT t${i}`),
      });
      const repeated = spans[7] as Span;
      const written = store.writeSpans([
        ...spans.slice(0, 20),
        { ...repeated, name: 'a later copy' },
        ...spans.slice(20),
        { ...repeated },
      ]);
      expect(written).toMatchObject({ inserted: 41, duplicates: 1, conflicts: 1 });
      expect(store.stats().spans).toBe(41);
      expect(store.listTraces().items[0]?.spanCount).toBe(41);
      expect(store.getTrace(repeated.traceId)?.spans.find((s) => s.spanId === repeated.spanId)).toEqual(repeated);
    });
  });

  it('summarises a trace whose spans arrive in several batches', () => {
    withStore((store) => {
      const [root, ...children] = makeRequest({ startNs: T0, durationMs: 30, queries: ['SELECT a', 'SELECT b'] });
      store.writeSpans(children);
      store.writeSpans([root as Span]);
      const [summary] = store.listTraces().items;
      expect(summary).toMatchObject({
        traceId: root?.traceId,
        rootName: 'GET /articles/:id',
        rootService: 'blog-api',
        method: 'GET',
        route: '/articles/:id',
        statusCode: 200,
        spanCount: 3,
        durationNs: Number((root?.endTimeNs as bigint) - T0N),
        startTimeNs: T0N,
        error: false,
      });
      expect(summary?.counts.db).toBe(2);
    });
  });

  it('summarises a trace split across batches alike whether the same writer or several wrote it', () => {
    // Three identical statements in a row (one N+1 group) that the batches split.
    const queries = ['SELECT a', 'SELECT b', 'SELECT b', 'SELECT b', 'SELECT c'];
    const spans = makeRequest({ startNs: T0, durationMs: 60, queries });
    const parts = [spans.slice(2, 4), spans.slice(4), spans.slice(0, 2)];
    const path = tempDbPath();
    const one = openStore({ path });
    for (const part of parts) one.writeSpans(part);
    const bySameWriter = one.listTraces().items[0];
    one.close();
    // Two writers on one file: each must notice what the other added.
    const sharedPath = tempDbPath();
    const a = openStore({ path: sharedPath });
    const b = openStore({ path: sharedPath });
    a.writeSpans(parts[0] as Span[]);
    b.writeSpans(parts[1] as Span[]);
    a.writeSpans(parts[2] as Span[]);
    const bySeveral = a.listTraces().items[0];
    a.close();
    b.close();
    expect(bySameWriter).toMatchObject({ spanCount: 6, rootName: 'GET /articles/:id', nPlusOne: 1 });
    expect({ ...bySeveral, traceId: undefined }).toEqual({ ...bySameWriter, traceId: undefined });
    const reference = openStore({ path: tempDbPath() });
    reference.writeSpans(spans);
    expect(reference.listTraces().items[0]).toEqual(bySameWriter);
    reference.close();
  });

  it('keeps a huge trace that streams in without its root counted, and summarises it fully when the root arrives', () => {
    withStore((store) => {
      const traceId = nextId(32);
      const rootId = nextId(16);
      const child = (i: number) =>
        makeSpan({ traceId, parentSpanId: rootId, name: `step ${i}`, startTimeNs: at(i + 1) });
      store.writeSpans(Array.from({ length: 2500 }, (_, i) => child(i)));
      expect(store.listTraces().items[0]?.spanCount).toBe(2500);
      const internalBefore = store.listTraces().items[0]?.counts.internal ?? 0;
      store.writeSpans([
        ...Array.from({ length: 7 }, (_, i) => child(2500 + i)),
        ...Array.from({ length: 3 }, (_, i) =>
          makeSpan({
            traceId,
            parentSpanId: rootId,
            name: 'SELECT reports',
            kind: 'client',
            startTimeNs: at(2600 + i),
            attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' },
          }),
        ),
      ]);
      const partial = store.listTraces().items[0];
      expect(partial?.spanCount).toBe(2510);
      // Counts by kind stay exact on the cheap path.
      expect(partial?.counts.db).toBe(3);
      expect(partial?.counts.internal).toBe(internalBefore + 7);
      expect(partial?.startTimeNs).toBe(at(1));
      store.writeSpans([
        makeSpan({
          traceId,
          spanId: rootId,
          name: 'GET /report',
          kind: 'server',
          startTimeNs: T0N,
          endTimeNs: at(3000),
        }),
      ]);
      const full = store.listTraces().items[0];
      expect(full).toMatchObject({ spanCount: 2511, startTimeNs: T0N, durationNs: 3000 * MS, rootService: 'blog-api' });
    });
  });

  describe('listTraces', () => {
    const shapes = [
      { startNs: T0, durationMs: 120, service: 'blog-api', route: '/articles/:id', queries: ['SELECT articles'] },
      { startNs: T0 + 1000 * MS, durationMs: 15, service: 'blog-api', route: '/health', method: 'HEAD' },
      { startNs: T0 + 2000 * MS, durationMs: 480, service: 'blog-api', route: '/articles', status: 500, error: true },
      { startNs: T0 + 3000 * MS, durationMs: 60, service: 'recommendations', route: '/recs/:user' },
      {
        startNs: T0 + 4000 * MS,
        durationMs: 200,
        service: 'blog-api',
        route: '/articles/:id',
        queries: ['SELECT comments_100%'],
      },
    ];

    function seeded(run: (store: SpanStore, ids: string[]) => void): void {
      withStore((store) => {
        const traces = shapes.map((shape) => makeRequest(shape));
        store.writeSpans(traces.flat());
        run(
          store,
          traces.map((t) => t[0]?.traceId as string),
        );
      });
    }

    const ids = (items: TraceSummary[]) => items.map((i) => i.traceId);

    it('lists newest first by default and slowest first on request', () => {
      seeded((store, t) => {
        expect(ids(store.listTraces().items)).toEqual([t[4], t[3], t[2], t[1], t[0]]);
        expect(ids(store.listTraces({}, { order: 'slowest' }).items)).toEqual([t[2], t[4], t[0], t[3], t[1]]);
      });
    });

    it('filters by service, route, method, status, duration, error, text and time', () => {
      seeded((store, t) => {
        const list = (filter: TraceFilter) => ids(store.listTraces(filter).items);
        expect(list({ service: 'recommendations' })).toEqual([t[3]]);
        expect(list({ route: '/articles/:id' })).toEqual([t[4], t[0]]);
        expect(list({ method: 'head' })).toEqual([t[1]]);
        expect(list({ status: 500 })).toEqual([t[2]]);
        expect(list({ minMs: 120 })).toEqual([t[4], t[2], t[0]]);
        expect(list({ maxMs: 60 })).toEqual([t[3], t[1]]);
        expect(list({ minMs: 100, maxMs: 300 })).toEqual([t[4], t[0]]);
        expect(list({ error: true })).toEqual([t[2]]);
        expect(list({ error: false })).toEqual([t[4], t[3], t[1], t[0]]);
        expect(list({ q: 'select' })).toEqual([t[4], t[0]]);
        expect(list({ q: 'comments_100%' })).toEqual([t[4]]);
        expect(list({ q: 'ments_1' })).toEqual([t[4]]);
        expect(list({ q: '%' })).toEqual([t[4]]);
        expect(list({ since: T0 + 1000 * MS, until: T0 + 3000 * MS })).toEqual([t[3], t[2], t[1]]);
        expect(list({ service: 'blog-api', error: false, minMs: 100 })).toEqual([t[4], t[0]]);
      });
    });

    it('finds a request recorded without a route template by the path the list shows', () => {
      withStore((store) => {
        const text = readFileSync(
          new URL('../../../test/fixtures/public/zipkin/simple-db-p6.json', import.meta.url),
          'utf8',
        );
        store.writeSpans(parseTraceFile(text, { fileName: 'simple-db-p6.json' }).spans);
        const [listed] = store.listTraces().items;
        expect(listed).toMatchObject({ rootName: 'POST /book', method: 'POST' });
        expect(listed?.route).toBeUndefined();
        expect(ids(store.listTraces({ route: '/book' }).items)).toEqual([listed?.traceId]);
        expect(store.listTraces({ route: '/books' }).items).toEqual([]);
        expect(store.listTraces({ route: '/boo' }).items).toEqual([]);
      });
    });

    it('matches a route filter against the template, else the normalised path, else the name', () => {
      withStore((store) => {
        const templated = makeRequest({ startNs: T0, durationMs: 10, route: '/articles/:id' });
        const [bare] = makeRequest({ startNs: T0 + MS, durationMs: 10 });
        const [unnamed] = makeRequest({ startNs: T0 + 2 * MS, durationMs: 10 });
        const byPath = { ...(bare as Span), attributes: { 'http.request.method': 'GET', 'url.path': '/articles/42' } };
        const byName = { ...(unnamed as Span), name: 'handle-upload', attributes: {} };
        store.writeSpans([...templated, byPath, byName]);
        const list = (route: string) => ids(store.listTraces({ route }).items);
        expect(list('/articles/:id')).toEqual([byPath.traceId, templated[0]?.traceId]);
        expect(list('/articles/42')).toEqual([byPath.traceId]);
        expect(list('/articles/7')).toEqual([byPath.traceId]);
        expect(list('handle-upload')).toEqual([byName.traceId]);
        expect(list('GET /articles/:id')).toEqual([]);
      });
    });

    it('finds the latest trace matching a filter', () => {
      seeded((store, t) => {
        expect(store.latestTrace()?.traceId).toBe(t[4]);
        expect(store.latestTrace({ service: 'recommendations' })?.traceId).toBe(t[3]);
        expect(store.latestTrace({ status: 418 })).toBeUndefined();
      });
    });

    it('rejects a cursor that is malformed or belongs to the other order', () => {
      seeded((store) => {
        const { nextCursor } = store.listTraces({}, { limit: 2 });
        expect(nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(() => store.listTraces({}, { limit: 2, cursor: nextCursor as string, order: 'slowest' })).toThrow(
          StoreError,
        );
        expect(() => store.listTraces({}, { cursor: 'not a cursor' })).toThrow(/Invalid page cursor/);
      });
    });
  });

  it('pages through many traces with ties without duplicates or gaps, newest and slowest first', () => {
    withStore((store) => {
      const spans: Span[] = [];
      const expected = new Set<string>();
      for (let i = 0; i < 137; i++) {
        // Few distinct start times and durations: ties must be broken by trace id.
        const trace = makeRequest({ startNs: T0 + (i % 7) * MS, durationMs: 10 + (i % 5) });
        spans.push(...trace);
        expected.add(trace[0]?.traceId as string);
      }
      store.writeSpans(spans);
      for (const order of ['newest', 'slowest'] as const) {
        for (const limit of [1, 10, 50, 137, 200]) {
          const seen = allPages(store, {}, { order, limit });
          expect(seen).toHaveLength(137);
          expect(new Set(seen.map((s) => s.traceId))).toEqual(expected);
          const keys = seen.map((s) => (order === 'newest' ? s.startTimeNs : BigInt(s.durationNs)));
          expect(keys).toEqual([...keys].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
        }
      }
      const filtered = allPages(store, { minMs: 12 }, { order: 'slowest', limit: 7 });
      expect(filtered.length).toBe([...Array(137).keys()].filter((i) => i % 5 >= 2).length);
    });
  });

  it('lists requests (server or consumer roots) apart from background work, with pages', () => {
    withStore((store) => {
      const request = makeRequest({ startNs: T0, durationMs: 20, queries: ['SELECT a'] });
      const jobTrace = nextId(32);
      const job = makeSpan({
        traceId: jobTrace,
        name: 'process mail',
        kind: 'consumer',
        startTimeNs: T0N + BigInt(MS),
      });
      const jobQuery = makeSpan({
        traceId: jobTrace,
        parentSpanId: job.spanId,
        kind: 'client',
        startTimeNs: T0N + BigInt(MS),
      });
      const startUp = makeSpan({
        traceId: nextId(32),
        name: 'CREATE TABLE',
        kind: 'client',
        startTimeNs: T0N + BigInt(2 * MS),
      });
      const ticks = [0, 1, 2, 3, 4].map((i) =>
        makeSpan({ traceId: nextId(32), name: 'moveStalledJobsToWait mail', startTimeNs: T0N + BigInt((3 + i) * MS) }),
      );
      store.writeSpans([...request, job, jobQuery, startUp, ...ticks]);
      const names = (filter: TraceFilter) => allPages(store, filter, { limit: 2 }).map((s) => s.rootName);
      expect(names({ work: 'requests' })).toEqual(['process mail', 'GET /articles/:id']);
      expect(names({ work: 'background' })).toEqual([...ticks.map(() => 'moveStalledJobsToWait mail'), 'CREATE TABLE']);
      expect(names({})).toHaveLength(8);
      expect(names({ work: 'all' })).toEqual(names({}));
      expect(store.listTraces({ work: 'requests' }).items.map((s) => s.rootKind)).toEqual(['consumer', 'server']);
      expect(store.latestTrace({ work: 'requests' })?.traceId).toBe(jobTrace);
      // The default page of requests reads the partial index instead of stepping over background rows.
      const plan = new Database(store.path, { readonly: true });
      const steps = plan
        .prepare(
          "EXPLAIN QUERY PLAN SELECT * FROM traces t WHERE t.root_kind IN ('server', 'consumer') ORDER BY t.start_ns DESC, t.trace_id DESC LIMIT 51",
        )
        .all() as { detail: string }[];
      plan.close();
      expect(steps.map((s) => s.detail).join('\n')).toContain('traces_requests_by_start');
    });
  });

  it('joins a producer trace with the consumer trace that links to it', () => {
    withStore((store) => {
      const producerTrace = nextId(32);
      const consumerTrace = nextId(32);
      const unrelated = makeRequest({ startNs: T0, durationMs: 5 });
      const publish = makeSpan({ traceId: producerTrace, name: 'orders publish', kind: 'producer', startTimeNs: T0N });
      const consume = makeSpan({
        traceId: consumerTrace,
        name: 'orders process',
        kind: 'consumer',
        serviceName: 'worker',
        startTimeNs: at(3),
        links: [{ traceId: producerTrace, spanId: publish.spanId, attributes: {} }],
      });
      const work = makeSpan({ traceId: consumerTrace, parentSpanId: consume.spanId, startTimeNs: at(4) });
      store.writeSpans([publish, ...unrelated]);
      store.writeSpans([consume, work]);
      const fromProducer = store.getTrace(producerTrace, { linked: true });
      expect(fromProducer?.spans.map((s) => s.spanId)).toEqual([publish.spanId, consume.spanId, work.spanId]);
      // The consumer's own trace is read as itself: links are followed downstream only.
      const fromConsumer = store.getTrace(consumerTrace, { linked: true });
      expect(fromConsumer?.spans.map((s) => s.spanId)).toEqual([consume.spanId, work.spanId]);
      expect(store.getTrace(consumerTrace)?.spans).toHaveLength(2);
      expect(store.latestTrace({}, { linked: true })?.spans.map((s) => s.spanId)).toEqual([
        consume.spanId,
        work.spanId,
      ]);
    });
  });

  /** A producer trace (one publish) and the spans of a consumer trace linked to the given publishes. */
  const publishIn = (traceId: string, at: number): Span =>
    makeSpan({ traceId, name: 'orders publish', kind: 'producer', startTimeNs: T0N + BigInt(at * MS) });
  const consumerOf = (traceId: string, at: number, publishes: readonly Span[]): Span =>
    makeSpan({
      traceId,
      name: 'orders process',
      kind: 'consumer',
      serviceName: 'worker',
      startTimeNs: T0N + BigInt(at * MS),
      links: publishes.map((p) => ({ traceId: p.traceId, spanId: p.spanId, attributes: {} })),
    });
  const traceIds = (spans: readonly Span[] | undefined): string[] => [...new Set(spans?.map((s) => s.traceId))];

  it("reads a batch consumer with each producer, never a producer with the batch's other producers", () => {
    withStore((store) => {
      const a = publishIn(nextId(32), 0);
      const b = publishIn(nextId(32), 1);
      const consumer = consumerOf(nextId(32), 10, [a, b]);
      store.writeSpans([a, b, consumer]);
      expect(traceIds(store.getTrace(a.traceId, { linked: true })?.spans)).toEqual([a.traceId, consumer.traceId]);
      expect(traceIds(store.getTrace(b.traceId, { linked: true })?.spans)).toEqual([b.traceId, consumer.traceId]);
      expect(traceIds(store.getTrace(consumer.traceId, { linked: true })?.spans)).toEqual([consumer.traceId]);
    });
  });

  it('reads a consumer linked to hundreds of producers without reading them', () => {
    withStore((store) => {
      const publishes = Array.from({ length: 300 }, (_, i) => publishIn(nextId(32), i));
      const consumer = consumerOf(nextId(32), 400, publishes);
      store.writeSpans([...publishes, consumer]);
      expect(store.getTrace(consumer.traceId, { linked: true })?.spans).toEqual([consumer]);
      expect(traceIds(store.getTrace(publishes[150]?.traceId ?? '', { linked: true })?.spans)).toEqual([
        publishes[150]?.traceId,
        consumer.traceId,
      ]);
    });
  });

  it('reads every consumer of a message and theirs in turn, bounded to the earliest traces', () => {
    withStore((store) => {
      const publish = publishIn(nextId(32), 0);
      // Written latest first: the bound keeps the earliest consumers, not the first written.
      const consumers = Array.from({ length: MAX_LINKED_TRACES + 10 }, (_, i) =>
        consumerOf(nextId(32), 1000 - i, [publish]),
      );
      store.writeSpans([publish, ...consumers]);
      const read = traceIds(store.getTrace(publish.traceId, { linked: true })?.spans);
      expect(read).toHaveLength(MAX_LINKED_TRACES);
      const earliest = consumers.slice(-(MAX_LINKED_TRACES - 1)).map((c) => c.traceId);
      expect(new Set(read)).toEqual(new Set([publish.traceId, ...earliest]));

      // A chain: the consumer publishes again, and that message's consumer links back (a cycle).
      const first = publishIn(nextId(32), 0);
      const hop = consumerOf(nextId(32), 5, [first]);
      const again = makeSpan({ ...publishIn(hop.traceId, 6), parentSpanId: hop.spanId });
      const last = consumerOf(first.traceId, 9, [again]);
      const lost = consumerOf(nextId(32), 7, [publishIn(nextId(32), 0)]);
      store.writeSpans([first, hop, again, last, { ...lost, links: [...lost.links, ...hop.links] }]);
      const chain = store.getTrace(first.traceId, { linked: true })?.spans ?? [];
      expect(chain.map((s) => s.spanId)).toEqual([first.spanId, hop.spanId, again.spanId, lost.spanId, last.spanId]);
      expect(store.getTrace(lost.traceId, { linked: true })?.spans.map((s) => s.spanId)).toEqual([lost.spanId]);
    });
  });

  it('reports changed summaries after a sequence number, in order', () => {
    withStore((store) => {
      const start = store.changesSince(0);
      expect(start).toEqual({ seq: 0, items: [] });
      const first = makeRequest({ startNs: T0, durationMs: 5 });
      const second = makeRequest({ startNs: T0 + MS, durationMs: 5 });
      store.writeSpans([...first, ...second]);
      const afterTwo = store.changesSince(0);
      expect(afterTwo.items.map((i) => i.traceId)).toEqual([first[0]?.traceId, second[0]?.traceId]);
      expect(store.changesSince(afterTwo.seq)).toEqual({ seq: afterTwo.seq, items: [] });
      const late = makeSpan({ traceId: first[0]?.traceId as string, parentSpanId: first[0]?.spanId, startTimeNs: T0N });
      store.writeSpans([late]);
      const update = store.changesSince(afterTwo.seq);
      expect(update.seq).toBeGreaterThan(afterTwo.seq);
      expect(update.items.map((i) => [i.traceId, i.spanCount])).toEqual([[first[0]?.traceId, 2]]);
      expect(store.changesSince(0, { limit: 1 }).items.map((i) => i.traceId)).toEqual([second[0]?.traceId]);
    });
  });

  describe('prune', () => {
    it('keeps the newest traces when limited by count', () => {
      withStore((store) => {
        const traces = Array.from({ length: 1200 }, (_, i) => makeRequest({ startNs: T0 + i * MS, durationMs: 1 }));
        store.writeSpans(traces.flat());
        expect(store.prune({ maxTraces: 100 })).toEqual({ deletedTraces: 1100 });
        expect(store.stats()).toMatchObject({ traces: 100, spans: 100 });
        const kept = new Set(allPages(store, {}, { limit: 1000 }).map((s) => s.traceId));
        expect(kept).toEqual(new Set(traces.slice(1100).map((t) => t[0]?.traceId)));
        expect(store.getTrace(traces[0]?.[0]?.traceId as string)).toBeUndefined();
      });
    });

    it('deletes traces older than the age limit', () => {
      withStore((store) => {
        const nowNs = Date.now() * MS;
        const day = 86_400_000 * MS;
        const old = makeRequest({ startNs: nowNs - 10 * day, durationMs: 3, queries: ['SELECT x'] });
        const recent = makeRequest({ startNs: nowNs - day, durationMs: 3 });
        store.writeSpans([...old, ...recent]);
        expect(store.prune({ maxAgeDays: 7 })).toEqual({ deletedTraces: 1 });
        expect(store.listTraces().items.map((i) => i.traceId)).toEqual([recent[0]?.traceId]);
        expect(store.stats().spans).toBe(1);
      });
    });

    it('does not wait for a reader that holds the log open', () => {
      const path = tempDbPath();
      const store = openStore({ path });
      store.writeSpans(
        Array.from({ length: 50 }, (_, i) => makeRequest({ startNs: T0 + i * MS, durationMs: 1 })).flat(),
      );
      // A viewer in the middle of a read: its snapshot keeps the WAL from being truncated.
      const reader = new Database(path, { readonly: true });
      reader.prepare('BEGIN').run();
      reader.prepare('SELECT count(*) FROM spans').get();
      try {
        const started = Date.now();
        expect(store.prune({ maxTraces: 10 })).toEqual({ deletedTraces: 40 });
        // Waiting for the reader would take the whole 10-second busy timeout.
        expect(Date.now() - started).toBeLessThan(5000);
        store.writeSpans(makeRequest({ startNs: T0 + 100 * MS, durationMs: 1 }));
        expect(store.stats().traces).toBe(11);
      } finally {
        reader.prepare('COMMIT').run();
        reader.close();
        store.close();
      }
    });

    it('shrinks the file below the size limit by deleting the oldest traces', () => {
      const path = tempDbPath();
      const store = openStore({ path });
      const padding = 'x'.repeat(2000);
      const traces = Array.from({ length: 3000 }, (_, i) => {
        const [root] = makeRequest({ startNs: T0 + i * MS, durationMs: 2 });
        return { ...(root as Span), attributes: { ...(root as Span).attributes, padding } };
      });
      for (let i = 0; i < traces.length; i += 500) store.writeSpans(traces.slice(i, i + 500));
      const before = store.stats();
      expect(before.sizeBytes).toBeGreaterThan(6 * 1024 * 1024);
      const result = store.prune({ maxSizeMb: 2 });
      const after = store.stats();
      expect(after.sizeBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
      expect(result.deletedTraces).toBe(3000 - after.traces);
      expect(after.traces).toBeGreaterThan(0);
      const newest = store.listTraces({}, { limit: 1 }).items[0];
      expect(newest?.traceId).toBe(traces.at(-1)?.traceId);
      store.close();
      expect(statSync(path).size).toBeLessThanOrEqual(2 * 1024 * 1024);
    });
  });

  it('opens read-only without creating anything and refuses writes', () => {
    const path = tempDbPath();
    expect(() => openStore({ path, readonly: true })).toThrow(/No Lifeline database/);
    const writer = openStore({ path });
    writer.writeSpans(makeRequest({ startNs: T0, durationMs: 1 }));
    const reader = openStore({ path, readonly: true });
    expect(reader.stats().traces).toBe(1);
    expect(() => reader.writeSpans(makeRequest({ startNs: T0, durationMs: 1 }))).toThrow(/read-only/);
    reader.close();
    writer.close();
  });

  it('stores each distinct resource once', () => {
    const path = tempDbPath();
    const store = openStore({ path });
    const resource = { 'service.name': 'blog-api', 'host.name': 'web-1' };
    store.writeSpans(Array.from({ length: 20 }, () => makeSpan({ traceId: nextId(32), resource: { ...resource } })));
    store.writeSpans([makeSpan({ traceId: nextId(32), resource: { 'service.name': 'other' } })]);
    store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) FROM resources').pluck().get()).toBe(2);
    raw.close();
  });
});

describe('paging over times a database holds from before they were range-checked', () => {
  it.each(['newest', 'slowest'] as const)(
    'reaches every trace in order %s when some keys are reals such as 1e30, and the cursor round-trips',
    (order) => {
      const path = tempDbPath();
      const store = openStore({ path });
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) {
        const spans = makeRequest({ startNs: at(i * 10), durationMs: 5 + i });
        ids.push(spans[0]?.traceId ?? '');
        store.writeSpans(spans);
      }
      store.close();
      // What an older receiver stored for "1e30" and "1e308": reals in integer columns.
      const raw = new Database(path);
      const plant = raw.prepare('UPDATE traces SET start_ns = ?, duration_ns = ? WHERE trace_id = ?');
      for (const id of ids.slice(0, 4)) plant.run(1e30, 1e308, id);
      raw.close();
      const reopened = openStore({ path });
      try {
        const seen = allPages(reopened, {}, { order, limit: 2 });
        expect(new Set(seen.map((item) => item.traceId))).toEqual(new Set(ids));
        expect(seen).toHaveLength(ids.length);
        // The planted rows come first and read as whole nanoseconds, not as numbers.
        expect(typeof seen[0]?.startTimeNs).toBe('bigint');
      } finally {
        reopened.close();
      }
    },
  );
});
