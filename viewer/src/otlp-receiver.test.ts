import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
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
import { createViewerApp } from './app.js';
import { decodeExportTraceResponse, decodeStatus } from './otlp-protobuf.js';
import { type RunningViewer, startViewer } from './server.js';

/** Records real spans of a small request with the OpenTelemetry SDK. */
async function recordSpans(service: string): Promise<{ spans: ReadableSpan[]; traceId: string }> {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('lifeline-viewer-test', '1.0.0');
  const root = tracer.startSpan('GET /orders/:id', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'http.response.status_code': 200 },
  });
  const parent = trace.setSpan(context.active(), root);
  for (const table of ['orders', 'order_items']) {
    const query = tracer.startSpan(
      `SELECT ${table}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'postgresql',
          'db.namespace': 'shop',
          'db.query.text': `SELECT * FROM ${table} WHERE order_id = $1`,
        },
      },
      parent,
    );
    query.addEvent('rows', { count: 3 });
    query.end();
  }
  root.end();
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return { spans: [...spans], traceId: root.spanContext().traceId };
}

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

/** A throwaway OTLP endpoint that keeps what an exporter sends, to replay and corrupt it. */
async function captureExport(
  make: (url: string) => SpanExporter,
  spans: ReadableSpan[],
): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  let captured: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      captured = { headers: request.headers, body: Buffer.concat(chunks) };
      response.writeHead(200, { 'content-type': String(request.headers['content-type']) }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const exporter = make(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`);
  await exportWith(exporter, spans);
  await exporter.shutdown();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (captured === undefined) throw new Error('the exporter sent nothing');
  return captured;
}

describe('the OTLP/HTTP receiver', () => {
  let dir: string;
  let viewer: RunningViewer;
  let small: RunningViewer;
  let store: SpanStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-otlp-'));
    const db = join(dir, 'traces.db');
    viewer = await startViewer({ port: 0, db });
    small = await startViewer({ port: 0, db: join(dir, 'small.db'), bodyLimit: '2kb' });
    store = openStore({ path: db, readonly: true });
  });

  afterAll(async () => {
    await viewer?.close();
    await small?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: Uint8Array | string, headers: Record<string, string>, target = viewer): Promise<Response> =>
    fetch(`${target.url}/v1/traces`, { method: 'POST', body: body as BodyInit, headers });

  it('stores spans sent by the OpenTelemetry OTLP/HTTP JSON exporter and renders them', async () => {
    const { spans, traceId } = await recordSpans('json-shop');
    const exporter = new OtlpHttpJsonExporter({ url: `${viewer.url}/v1/traces` });
    const result = await exportWith(exporter, spans);
    await exporter.shutdown();
    expect(result.error).toBeUndefined();
    expect(result.code).toBe(0);

    const stored = store.getTrace(traceId);
    expect(stored?.spans).toHaveLength(3);
    expect(new Set(stored?.spans.map((span) => span.serviceName))).toEqual(new Set(['json-shop']));
    const query = stored?.spans.find((span) => span.name === 'SELECT orders');
    expect(query?.attributes['db.query.text']).toBe('SELECT * FROM orders WHERE order_id = $1');
    expect(query?.events[0]?.name).toBe('rows');

    const page = await fetch(`${viewer.url}/api/traces/${traceId}`);
    expect(page.status).toBe(200);
    const body = (await page.json()) as { sequence: { mermaid: string; model: { messageCount: number } } };
    expect(body.sequence.model.messageCount).toBeGreaterThanOrEqual(4);
    await parseMermaid(body.sequence.mermaid);
  });

  it('stores on the receiving thread when the app is built without a writer thread', async () => {
    const own = openStore({ path: join(dir, 'in-thread.db') });
    const app = createViewerApp({ store: own });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { spans, traceId } = await recordSpans('in-thread-shop');
      const { port } = server.address() as AddressInfo;
      const exporter = new OtlpHttpJsonExporter({ url: `http://127.0.0.1:${port}/v1/traces` });
      const result = await exportWith(exporter, spans);
      await exporter.shutdown();
      expect(result.code).toBe(0);
      expect(own.getTrace(traceId)?.spans).toHaveLength(3);
    } finally {
      app.closeLive();
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      own.close();
    }
  });

  it('stores spans sent by the OpenTelemetry OTLP/HTTP protobuf exporter, gzip-compressed too', async () => {
    for (const compression of ['none', 'gzip'] as const) {
      const { spans, traceId } = await recordSpans(`proto-shop-${compression}`);
      const exporter = new OtlpHttpProtoExporter({
        url: `${viewer.url}/v1/traces`,
        compression: compression as never,
      });
      const result = await exportWith(exporter, spans);
      await exporter.shutdown();
      expect(result.error).toBeUndefined();
      expect(result.code).toBe(0);
      const stored = store.getTrace(traceId);
      expect(stored?.spans).toHaveLength(3);
      const ids = new Set(spans.map((span) => span.spanContext().spanId));
      expect(new Set(stored?.spans.map((span) => span.spanId))).toEqual(ids);
      const root = stored?.spans.find((span) => span.parentSpanId === undefined);
      expect(root?.kind).toBe('server');
      expect(root?.attributes['http.response.status_code']).toBe(200);
      const mermaid = await (await fetch(`${viewer.url}/api/traces/${traceId}/mermaid`)).text();
      expect(mermaid).toContain(`proto-shop-${compression}`);
      await parseMermaid(mermaid);
    }
  });

  it('answers a protobuf request with a protobuf ExportTraceServiceResponse', async () => {
    const { spans } = await recordSpans('proto-response');
    const sent = await captureExport((url) => new OtlpHttpProtoExporter({ url }), spans);
    expect(sent.headers['content-type']).toBe('application/x-protobuf');
    const response = await post(sent.body, { 'content-type': 'application/x-protobuf' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-protobuf');
    const decoded = decodeExportTraceResponse(new Uint8Array(await response.arrayBuffer()));
    expect(decoded.partialSuccess).toBeUndefined();
  });

  describe('with bad input', () => {
    let protobufBody: Buffer;
    let jsonBody: Buffer;
    let before: { traces: number; spans: number };
    let keptTraceId: string;

    beforeAll(async () => {
      const recorded = await recordSpans('kept-before-bad-input');
      keptTraceId = recorded.traceId;
      protobufBody = (await captureExport((url) => new OtlpHttpProtoExporter({ url }), recorded.spans)).body;
      jsonBody = (await captureExport((url) => new OtlpHttpJsonExporter({ url }), recorded.spans)).body;
      const ok = await post(protobufBody, { 'content-type': 'application/x-protobuf' });
      expect(ok.status).toBe(200);
      const stats = store.stats();
      before = { traces: stats.traces, spans: stats.spans };
    });

    const expectStoreIntact = (): void => {
      const stats = store.stats();
      expect({ traces: stats.traces, spans: stats.spans }).toEqual(before);
      expect(store.getTrace(keptTraceId)?.spans).toHaveLength(3);
    };

    it('rejects malformed JSON with 400 and the reason', async () => {
      const response = await post('{"resourceSpans": [', { 'content-type': 'application/json' });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { code: number; message: string };
      expect(body.code).toBe(3);
      expect(body.message).toMatch(/not valid JSON/);
      const wrongShape = await post('{"resourceSpans": "many"}', { 'content-type': 'application/json' });
      expect(wrongShape.status).toBe(400);
      expect(((await wrongShape.json()) as { message: string }).message).toContain('resourceSpans');
      const notAnObject = await post('[1, 2]', { 'content-type': 'application/json; charset=utf-8' });
      expect(notAnObject.status).toBe(400);
      expectStoreIntact();
    });

    it('rejects a truncated protobuf body with 400 and a protobuf Status', async () => {
      const truncated = protobufBody.subarray(0, Math.floor(protobufBody.length * 0.6));
      const response = await post(truncated, { 'content-type': 'application/x-protobuf' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/x-protobuf');
      const status = decodeStatus(new Uint8Array(await response.arrayBuffer()));
      expect(status.code).toBe(3);
      expect(status.message).toMatch(/invalid protobuf/);
      expectStoreIntact();
    });

    it('rejects JSON sent as protobuf, and protobuf sent as JSON', async () => {
      expect((await post(jsonBody, { 'content-type': 'application/x-protobuf' })).status).toBe(400);
      expect((await post(protobufBody, { 'content-type': 'application/json' })).status).toBe(400);
      expectStoreIntact();
    });

    it('answers 415 to other content types and encodings', async () => {
      const text = await post(jsonBody, { 'content-type': 'text/plain' });
      expect(text.status).toBe(415);
      expect(((await text.json()) as { message: string }).message).toContain('text/plain');
      const form = await post('a=1', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(form.status).toBe(415);
      const brotli = await post(jsonBody, { 'content-type': 'application/json', 'content-encoding': 'br' });
      expect(brotli.status).toBe(415);
      expectStoreIntact();
    });

    it('rejects a broken gzip body with 400', async () => {
      const gzipped = gzipSync(protobufBody);
      const broken = gzipped.subarray(0, gzipped.length - 12);
      const response = await post(broken, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
      expect(response.status).toBe(400);
      expect(decodeStatus(new Uint8Array(await response.arrayBuffer())).message).toMatch(/gzip/);
      const notGzip = await post(jsonBody, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      expect(notGzip.status).toBe(400);
      expectStoreIntact();
    });

    it('answers 413 to bodies over the limit, compressed or inflated', async () => {
      const big = JSON.stringify({ resourceSpans: [], padding: 'x'.repeat(10_000) });
      const plain = await post(big, { 'content-type': 'application/json' }, small);
      expect(plain.status).toBe(413);
      expect(((await plain.json()) as { message: string }).message).toContain('2048 bytes');
      // 1 kB of gzip that inflates past the limit: the bomb is stopped while inflating.
      const bomb = gzipSync(Buffer.from(big));
      expect(bomb.length).toBeLessThan(2048);
      const inflated = await post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, small);
      expect(inflated.status).toBe(413);
      // Streamed without a Content-Length, the limit is enforced while reading.
      const chunk = new TextEncoder().encode(`{"resourceSpans": [], "padding": "${'y'.repeat(1000)}`);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 8) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const streamed = await fetch(`${small.url}/v1/traces`, {
        method: 'POST',
        body: stream,
        headers: { 'content-type': 'application/json' },
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      const fine = await post('{"resourceSpans": []}', { 'content-type': 'application/json' }, small);
      expect(fine.status).toBe(200);
      expectStoreIntact();
    });

    it('keeps the good spans of a partly invalid request and reports partial success', async () => {
      const request = JSON.parse(jsonBody.toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
      };
      const spans = request.resourceSpans[0]?.scopeSpans[0]?.spans ?? [];
      const traceId = `${'f'.repeat(31)}1`;
      for (const span of spans) span.traceId = traceId;
      const bad = spans[1];
      if (bad === undefined) throw new Error('expected at least two spans');
      bad.spanId = 'not-hex';
      const response = await post(JSON.stringify(request), { 'content-type': 'application/json' });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
      expect(body.partialSuccess?.rejectedSpans).toBe('1');
      expect(body.partialSuccess?.errorMessage).toContain('spans[1]');
      expect(store.getTrace(traceId)?.spans).toHaveLength(spans.length - 1);
    });

    it('keeps both halves of a call whose server span shares its client span id (B3 data relayed as OTLP)', async () => {
      const traceId = `${'d'.repeat(31)}3`;
      const start = 1_767_225_600_000_000_000n;
      const otlpSpan = (spanId: string, parentSpanId: string, name: string, kind: number, offsetMs: number) => ({
        traceId,
        spanId,
        parentSpanId,
        name,
        kind,
        startTimeUnixNano: String(start + BigInt(offsetMs) * 1_000_000n),
        endTimeUnixNano: String(start + BigInt(offsetMs + 5) * 1_000_000n),
      });
      const resource = (service: string, spans: object[]) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ spans }],
      });
      const body = {
        resourceSpans: [
          resource('frontend', [
            otlpSpan('a1a1a1a1a1a1a1a1', '', 'GET /checkout', 2, 0),
            otlpSpan('1111111111111111', 'a1a1a1a1a1a1a1a1', 'GET', 3, 1),
          ]),
          resource('pricing', [otlpSpan('1111111111111111', 'a1a1a1a1a1a1a1a1', 'GET /price', 2, 2)]),
        ],
      };
      const response = await post(JSON.stringify(body), { 'content-type': 'application/json' });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { partialSuccess?: unknown }).partialSuccess).toBeUndefined();
      const stored = store.getTrace(traceId)?.spans ?? [];
      expect(stored.map((s) => s.name).sort()).toEqual(['GET', 'GET /checkout', 'GET /price']);
      expect(stored.find((s) => s.name === 'GET /price')?.parentSpanId).toBe('1111111111111111');
    });

    /** The captured JSON export, parsed, with every span moved to trace `traceId`. */
    const exportedUnder = (traceId: string) => {
      const request = JSON.parse(jsonBody.toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
      };
      const spans = request.resourceSpans[0]?.scopeSpans[0]?.spans ?? [];
      for (const span of spans) span.traceId = traceId;
      return { request, spans };
    };

    it('accepts an exact copy of stored spans, and rejects a different span under a stored id with a message naming it', async () => {
      const traceId = `${'e'.repeat(31)}2`;
      const { request, spans } = exportedUnder(traceId);
      const first = await post(JSON.stringify(request), { 'content-type': 'application/json' });
      expect(((await first.json()) as { partialSuccess?: unknown }).partialSuccess).toBeUndefined();
      const copy = await post(JSON.stringify(request), { 'content-type': 'application/json' });
      expect(((await copy.json()) as { partialSuccess?: unknown }).partialSuccess).toBeUndefined();
      const changed = spans[0];
      if (changed === undefined) throw new Error('expected a span');
      changed.name = 'the same id, another span';
      const response = await post(JSON.stringify(request), { 'content-type': 'application/json' });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
      expect(body.partialSuccess?.rejectedSpans).toBe('1');
      expect(body.partialSuccess?.errorMessage).toBe(
        `span ${changed.spanId} of trace ${traceId} has the ids of a different span already stored or sent: kept the first, rejected this one`,
      );
      expect(store.getTrace(traceId)?.spans.map((s) => s.name)).not.toContain('the same id, another span');
    });

    it('names a span that conflicts twice in one request once', async () => {
      const traceId = `${'e'.repeat(31)}3`;
      const { request, spans } = exportedUnder(traceId);
      await (await post(JSON.stringify(request), { 'content-type': 'application/json' })).arrayBuffer();
      const first = spans[0];
      if (first === undefined) throw new Error('expected a span');
      // Two different spans under one stored id, in one request: both are rejected, the id is named once.
      spans.splice(0, spans.length, { ...first, name: 'another span' }, { ...first, name: 'yet another span' });
      const response = await post(JSON.stringify(request), { 'content-type': 'application/json' });
      const body = (await response.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
      expect(body.partialSuccess?.rejectedSpans).toBe('2');
      expect(body.partialSuccess?.errorMessage).toBe(
        `2 spans have the ids of a different span already stored or sent: kept the first, rejected these (span ${first.spanId} of trace ${traceId})`,
      );
    });

    it('counts invalid and conflicting spans together in the message, as rejectedSpans does', async () => {
      const traceId = `${'e'.repeat(31)}4`;
      const { request, spans } = exportedUnder(traceId);
      await (await post(JSON.stringify(request), { 'content-type': 'application/json' })).arrayBuffer();
      const [first, second] = spans;
      if (first === undefined || second === undefined) throw new Error('expected two spans');
      // Four spans: one stored already under another name, one without a start, two new ones.
      spans.splice(
        0,
        spans.length,
        { ...first, name: 'another span' },
        { ...second, spanId: 'aaaaaaaaaaaaaaa1', startTimeUnixNano: undefined },
        { ...second, spanId: 'aaaaaaaaaaaaaaa2' },
        { ...second, spanId: 'aaaaaaaaaaaaaaa3' },
      );
      const response = await post(JSON.stringify(request), { 'content-type': 'application/json' });
      const body = (await response.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
      expect(body.partialSuccess?.rejectedSpans).toBe('2');
      expect(body.partialSuccess?.errorMessage).toMatch(
        new RegExp(
          `^2 of 4 spans were rejected: 1 invalid \\(first problem: .*startTimeUnixNano is missing or 0\\); span ${first.spanId} of trace ${traceId} has the ids of a different span`,
        ),
      );
      expect(store.getTrace(traceId)?.spans.map((s) => s.spanId)).toEqual(
        expect.arrayContaining(['aaaaaaaaaaaaaaa2', 'aaaaaaaaaaaaaaa3']),
      );
    });
  });
});
