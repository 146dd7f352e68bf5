import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Span } from '@lifeline/core';
import { openStore, type SpanStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpHttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningViewer, startViewer } from './server.js';

// A present-day epoch with odd nanoseconds: float64 would round it to a multiple of 256 ns.
const START = 1_700_000_000_123_456_789n;
const TEN_MS = 10_000_000n;

/**
 * Records, with the OpenTelemetry SDK, a request whose two queries last
 * exactly 10 ms each, the second starting the nanosecond the first ends.
 */
async function recordTouchingQueries(service: string): Promise<{ spans: ReadableSpan[]; traceId: string }> {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('lifeline-exact-time-test');
  const root = tracer.startSpan('GET /orders/:id', {
    kind: SpanKind.SERVER,
    startTime: [1_700_000_000, 122_456_789],
    attributes: { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'http.response.status_code': 200 },
  });
  const parent = trace.setSpan(context.active(), root);
  const query = (table: string, from: number, to: number): void => {
    const span = tracer.startSpan(
      `SELECT ${table}`,
      {
        kind: SpanKind.CLIENT,
        startTime: [1_700_000_000, from],
        attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'shop', 'db.query.text': `SELECT ${table}` },
      },
      parent,
    );
    span.addEvent('rows', {}, [1_700_000_000, from + 1]);
    span.end([1_700_000_000, to]);
  };
  query('orders', 123_456_789, 133_456_789);
  query('order_items', 133_456_789, 143_456_789);
  root.end([1_700_000_000, 144_456_789]);
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return { spans: [...spans], traceId: root.spanContext().traceId };
}

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

function named(spans: readonly Span[] | undefined, name: string): Span {
  const found = spans?.find((span) => span.name === name);
  if (found === undefined) throw new Error(`no span ${name}`);
  return found;
}

describe('exact times through the OTLP/HTTP receiver and the viewer API', () => {
  let dir: string;
  let viewer: RunningViewer;
  let store: SpanStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-exact-'));
    const db = join(dir, 'traces.db');
    viewer = await startViewer({ port: 0, db });
    store = openStore({ path: db, readonly: true });
  });

  afterAll(async () => {
    await viewer?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const exporters = {
    protobuf: (url: string) => new OtlpHttpProtoExporter({ url }),
    json: (url: string) => new OtlpHttpJsonExporter({ url }),
  };

  for (const [encoding, make] of Object.entries(exporters)) {
    it(`keeps a 10 ms span exactly 10,000,000 ns long and touching spans serial (OTLP ${encoding})`, async () => {
      const { spans, traceId } = await recordTouchingQueries(`exact-${encoding}`);
      const exporter = make(`${viewer.url}/v1/traces`);
      const result = await exportWith(exporter, spans);
      await exporter.shutdown();
      expect(result.error).toBeUndefined();

      const stored = store.getTrace(traceId)?.spans;
      const orders = named(stored, 'SELECT orders');
      const items = named(stored, 'SELECT order_items');
      expect(orders.startTimeNs).toBe(START);
      expect((orders.endTimeNs ?? 0n) - orders.startTimeNs).toBe(TEN_MS);
      expect(items.startTimeNs).toBe(orders.endTimeNs);
      expect(orders.events[0]?.timeNs).toBe(START + 1n);

      const mermaid = await (await fetch(`${viewer.url}/api/traces/${traceId}/mermaid?timings=0`)).text();
      await parseMermaid(mermaid);
      expect(mermaid).not.toMatch(/^\s*par\b/m);
    });
  }

  it('sends exact times in the API JSON as decimal strings', async () => {
    const { spans, traceId } = await recordTouchingQueries('exact-api');
    const exporter = exporters.protobuf(`${viewer.url}/v1/traces`);
    await exportWith(exporter, spans);
    await exporter.shutdown();

    const body = (await (await fetch(`${viewer.url}/api/traces/${traceId}`)).json()) as {
      spans: { name: string; startTimeNs: unknown; endTimeNs: unknown; events: { timeNs: unknown }[] }[];
      summary: { startTimeNs: unknown; durationNs: unknown };
    };
    const orders = body.spans.find((span) => span.name === 'SELECT orders');
    expect(orders).toMatchObject({
      startTimeNs: '1700000000123456789',
      endTimeNs: '1700000000133456789',
      events: [{ timeNs: '1700000000123456790' }],
    });
    expect(body.summary).toMatchObject({ startTimeNs: '1700000000122456789', durationNs: 22_000_000 });
    const list = (await (await fetch(`${viewer.url}/api/traces?service=exact-api`)).json()) as {
      items: { startTimeNs: unknown }[];
    };
    expect(list.items.map((item) => item.startTimeNs)).toEqual(['1700000000122456789']);
  });
});
