import { type Span, traceToMermaid } from '@lifeline/core';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import { trace as otelTrace, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SqliteSpanExporter } from './exporter.js';
import { parseTraceFile } from './importers/detect.js';
import { decodeSpan, encodeSpans } from './span-encoding.js';
import { openStore } from './store.js';

// A present-day epoch with odd nanoseconds: float64 would round it to 1_700_000_000_123_456_768.
const START = 1_700_000_000_123_456_789n;
const TEN_MS = 10_000_000n;
const START_US = 1_700_000_000_123_456n;

/** Spans of one trace after a write to a fresh store and a read back. */
function roundTrip(spans: readonly Span[]): Span[] {
  const store = openStore({ path: tempDbPath() });
  try {
    store.writeSpans(spans);
    const traceId = spans[0]?.traceId as string;
    return [...(store.getTrace(traceId)?.spans ?? [])];
  } finally {
    store.close();
  }
}

function named(spans: readonly Span[], name: string): Span {
  const found = spans.find((span) => span.name === name);
  if (found === undefined) throw new Error(`no span ${name}`);
  return found;
}

function duration(span: Span): bigint | undefined {
  return span.endTimeNs === undefined ? undefined : span.endTimeNs - span.startTimeNs;
}

/** A server span with two database queries, the second starting the very nanosecond the first ends. */
function touchingQueries(start: bigint): Span[] {
  const traceId = nextId(32);
  const root = makeSpan({
    traceId,
    name: 'GET /articles/:id',
    kind: 'server',
    startTimeNs: start - 1_000_000n,
    endTimeNs: start + 2n * TEN_MS + 1_000_000n,
    attributes: { 'http.request.method': 'GET', 'http.route': '/articles/:id', 'http.response.status_code': 200 },
  });
  const query = (name: string, from: bigint): Span =>
    makeSpan({
      traceId,
      parentSpanId: root.spanId,
      name,
      kind: 'client',
      startTimeNs: from,
      endTimeNs: from + TEN_MS,
      attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'blog', 'db.query.text': name },
    });
  return [root, query('SELECT articles', start), query('SELECT comments', start + TEN_MS)];
}

describe('exact nanosecond times', () => {
  it('keeps a 10 ms span recorded through the OpenTelemetry SDK exactly 10,000,000 ns long', async () => {
    const path = tempDbPath();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'blog-api' }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new SqliteSpanExporter({ path }) })],
    });
    const tracer = provider.getTracer('exact-time-test');
    const root = tracer.startSpan('GET /articles/:id', {
      kind: SpanKind.SERVER,
      startTime: [1_700_000_000, 122_456_789],
    });
    const parent = otelTrace.setSpan(ROOT_CONTEXT, root);
    const first = tracer.startSpan('SELECT articles', { startTime: [1_700_000_000, 123_456_789] }, parent);
    first.addEvent('rows', {}, [1_700_000_000, 128_456_789]);
    first.end([1_700_000_000, 133_456_789]);
    const second = tracer.startSpan('SELECT comments', { startTime: [1_700_000_000, 133_456_789] }, parent);
    second.end([1_700_000_000, 143_456_789]);
    root.end([1_700_000_000, 144_456_789]);
    await provider.shutdown();

    const store = openStore({ path, readonly: true });
    const spans = store.getTrace(root.spanContext().traceId)?.spans ?? [];
    store.close();
    const articles = named(spans, 'SELECT articles');
    expect(articles.startTimeNs).toBe(START);
    expect(duration(articles)).toBe(TEN_MS);
    expect(articles.events[0]?.timeNs).toBe(START + 5_000_000n);
    expect(named(spans, 'SELECT comments').startTimeNs).toBe(articles.endTimeNs);
  });

  it('keeps a 10 ms span of OTLP JSON exact, whether its times are strings or numbers', () => {
    const span = (spanId: string, start: string, end: string): string =>
      `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"${spanId}","name":"q${spanId}","kind":3,"startTimeUnixNano":${start},"endTimeUnixNano":${end}}`;
    const text = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"spans":[${[
      span('eee19b7ec3c1b174', '"1700000000123456789"', '"1700000000133456789"'),
      span('eee19b7ec3c1b175', '1700000000133456789', '1700000000143456789'),
    ].join(',')}]}]}]}`;
    for (const spans of [parseTraceFile(text).spans, roundTrip(parseTraceFile(text).spans)]) {
      const [fromStrings, fromNumbers] = [named(spans, 'qeee19b7ec3c1b174'), named(spans, 'qeee19b7ec3c1b175')];
      expect(fromStrings.startTimeNs).toBe(START);
      expect(duration(fromStrings)).toBe(TEN_MS);
      expect(fromNumbers.startTimeNs).toBe(START + TEN_MS);
      expect(duration(fromNumbers)).toBe(TEN_MS);
    }
  });

  it('keeps a 10 ms span of Jaeger JSON exact (microseconds)', () => {
    const text = JSON.stringify({
      data: [
        {
          traceID: '5b8efff798038103d269b633813fc60c',
          spans: [
            {
              traceID: '5b8efff798038103d269b633813fc60c',
              spanID: 'eee19b7ec3c1b174',
              operationName: 'SELECT articles',
              startTime: Number(START_US),
              duration: 10_000,
              logs: [{ timestamp: Number(START_US) + 5000, fields: [{ key: 'event', value: 'rows' }] }],
              processID: 'p1',
            },
          ],
          processes: { p1: { serviceName: 'api', tags: [] } },
        },
      ],
    });
    for (const spans of [parseTraceFile(text).spans, roundTrip(parseTraceFile(text).spans)]) {
      const span = named(spans, 'SELECT articles');
      expect(span.startTimeNs).toBe(START_US * 1000n);
      expect(duration(span)).toBe(TEN_MS);
      expect(span.events[0]?.timeNs).toBe((START_US + 5000n) * 1000n);
    }
  });

  it('keeps a 10 ms span of Zipkin v2 JSON exact (microseconds)', () => {
    const text = JSON.stringify([
      {
        traceId: '5b8efff798038103d269b633813fc60c',
        id: 'eee19b7ec3c1b174',
        name: 'select articles',
        kind: 'CLIENT',
        timestamp: Number(START_US),
        duration: 10_000,
        localEndpoint: { serviceName: 'api' },
      },
    ]);
    for (const spans of [parseTraceFile(text).spans, roundTrip(parseTraceFile(text).spans)]) {
      const [span] = spans;
      expect(span?.startTimeNs).toBe(START_US * 1000n);
      expect(span && duration(span)).toBe(TEN_MS);
    }
  });

  it('stores and reads back times, durations and event times to the nanosecond', () => {
    const spans = touchingQueries(START).map((span) => ({
      ...span,
      events: [{ name: 'exception', timeNs: span.startTimeNs + 1n, attributes: {} }],
    }));
    const read = roundTrip(spans);
    for (const span of spans) {
      const back = read.find((s) => s.spanId === span.spanId);
      expect(back?.startTimeNs).toBe(span.startTimeNs);
      expect(back?.endTimeNs).toBe(span.endTimeNs);
      expect(back?.events[0]?.timeNs).toBe(span.startTimeNs + 1n);
    }
    expect(duration(named(read, 'SELECT articles'))).toBe(TEN_MS);
  });

  it('draws queries that touch as serial, and queries that overlap by one nanosecond as par, after a store round trip', async () => {
    const touching = roundTrip(touchingQueries(START));
    const serial = traceToMermaid({ traceId: touching[0]?.traceId ?? '', spans: touching }, { timings: false }).text;
    await parseMermaid(serial);
    expect(serial).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as blog-api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p3: SELECT
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    const [root, first, second] = touchingQueries(START);
    const overlapping = roundTrip([root, { ...first, endTimeNs: (first?.endTimeNs ?? 0n) + 1n }, second] as Span[]);
    const par = traceToMermaid({ traceId: overlapping[0]?.traceId ?? '', spans: overlapping }, { timings: false }).text;
    await parseMermaid(par);
    expect(par).toMatch(/^\s*par\b/m);
  });

  it('keeps any present-day time exact through the worker encoding and the store (property)', () => {
    // Epochs from 2001 to 2100 in nanoseconds, durations up to an hour, gaps from touching to a second.
    const time = fc.bigInt({ min: 1_000_000_000_000_000_000n, max: 4_102_444_800_000_000_000n });
    const length = fc.bigInt({ min: 0n, max: 3_600_000_000_000n });
    const gap = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 1_000_000_000n }));
    fc.assert(
      fc.property(time, length, gap, length, (start, firstLength, between, secondLength) => {
        const traceId = nextId(32);
        const firstEnd = start + firstLength;
        const spans = [
          makeSpan({ traceId, name: 'a', startTimeNs: start, endTimeNs: firstEnd }),
          makeSpan({
            traceId,
            name: 'b',
            startTimeNs: firstEnd + between,
            endTimeNs: firstEnd + between + secondLength,
            events: [{ name: 'e', timeNs: firstEnd + between, attributes: {} }],
          }),
        ];
        const encoded = encodeSpans(spans);
        const decoded = spans.map((_, i) => decodeSpan(encoded.values, i, [{}]));
        const stored = roundTrip(spans);
        for (const read of [decoded, stored]) {
          const [a, b] = [named(read, 'a'), named(read, 'b')];
          expect(a.startTimeNs).toBe(start);
          expect(a.endTimeNs).toBe(firstEnd);
          expect(b.startTimeNs - (a.endTimeNs ?? 0n)).toBe(between);
          expect(duration(b)).toBe(secondLength);
          expect(b.events[0]?.timeNs).toBe(b.startTimeNs);
        }
      }),
      { numRuns: 60 },
    );
  });
});
