import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, openSync } from 'node:fs';
import { tempDbPath } from '@lifeline/test-support/spans';
import {
  DiagLogLevel,
  diag,
  trace as otelTrace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { SqliteSpanExporter } from './exporter.js';
import { openStore } from './store.js';

/** Real SDK spans, recorded by a tracer and captured in memory. */
function recordSpans(count: number): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'blog-api' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('exporter-test', '1.0.0');
  const root = tracer.startSpan('GET /articles/:id', { kind: SpanKind.SERVER });
  const parent = otelTrace.setSpan(ROOT_CONTEXT, root);
  for (let i = 0; i < count - 1; i++) {
    const child = tracer.startSpan(
      'SELECT articles',
      { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', tags: ['a', 'b'] } },
      parent,
    );
    child.addEvent('row', { index: i });
    child.end();
  }
  root.end();
  return memory.getFinishedSpans();
}

function exportOnce(exporter: SqliteSpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((done) => exporter.export(spans, done));
}

const exporters: SqliteSpanExporter[] = [];
function exporterFor(path: string): SqliteSpanExporter {
  const exporter = new SqliteSpanExporter({ path });
  exporters.push(exporter);
  return exporter;
}
afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
});

describe('SqliteSpanExporter', () => {
  it('writes exported spans to the database and reports success', async () => {
    const path = tempDbPath();
    const exporter = exporterFor(path);
    const spans = recordSpans(5);
    const result = await exportOnce(exporter, spans);
    expect(result).toEqual({ code: ExportResultCode.SUCCESS });
    const store = openStore({ path, readonly: true });
    const stored = store.getTrace(spans[0]?.spanContext().traceId as string);
    expect(stored?.spans.map((s) => s.spanId).sort()).toEqual(spans.map((s) => s.spanContext().spanId).sort());
    expect(stored?.spans.every((s) => s.serviceName === 'blog-api')).toBe(true);
    store.close();
  });

  it("appends to the store's inbox by default, and stores spans under their keys itself with inbox: false", async () => {
    const counts = (path: string) => {
      const db = openDatabase(path, { readonly: true });
      try {
        return ['inbox', 'spans', 'traces'].map((table) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
      } finally {
        db.close();
      }
    };
    const spans = recordSpans(4);
    const appended = tempDbPath();
    expect(await exportOnce(exporterFor(appended), spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(counts(appended)).toEqual([4, 0, 0]);
    const direct = tempDbPath();
    const exporter = new SqliteSpanExporter({ path: direct, inbox: false });
    exporters.push(exporter);
    expect(await exportOnce(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(counts(direct)).toEqual([0, 4, 1]);
    // The first read settles the inbox: both files then hold the same.
    for (const path of [appended, direct]) {
      const store = openStore({ path, readonly: true });
      expect(store.listTraces().items.map((item) => item.spanCount)).toEqual([4]);
      store.close();
    }
    expect(counts(appended)).toEqual([0, 4, 1]);
  });

  it('does not modify the spans it exports', async () => {
    const exporter = exporterFor(tempDbPath());
    const spans = recordSpans(3);
    const copy = (s: ReadableSpan) =>
      structuredClone({
        name: s.name,
        kind: s.kind,
        context: s.spanContext(),
        parent: s.parentSpanContext,
        startTime: s.startTime,
        endTime: s.endTime,
        status: s.status,
        attributes: s.attributes,
        events: s.events,
        links: s.links,
        resource: s.resource.attributes,
        scope: s.instrumentationScope,
      });
    const snapshot = spans.map(copy);
    const attributeObjects = spans.map((s) => s.attributes);
    await exportOnce(exporter, spans);
    expect(spans.map(copy)).toEqual(snapshot);
    expect(spans.map((s) => s.attributes)).toEqual(attributeObjects);
    expect(snapshot.some((s) => s.events.length > 0)).toBe(true);
  });

  it('flushes everything a BatchSpanProcessor hands it on shutdown', async () => {
    const path = tempDbPath();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'blog-api' }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new SqliteSpanExporter({ path }),
          maxExportBatchSize: 64,
          scheduledDelayMillis: 60_000,
        }),
      ],
    });
    const tracer: Tracer = provider.getTracer('shutdown-test');
    for (let i = 0; i < 500; i++) tracer.startSpan(`job ${i}`).end();
    await provider.shutdown();
    const store = openStore({ path, readonly: true });
    expect(store.stats().spans).toBe(500);
    store.close();
  });

  it('resolves forceFlush only after every exported batch is committed', async () => {
    const path = tempDbPath();
    const exporter = exporterFor(path);
    const batches = Array.from({ length: 10 }, () => recordSpans(50));
    const results: ExportResult[] = [];
    for (const batch of batches) exporter.export(batch, (r) => results.push(r));
    await exporter.forceFlush();
    expect(results).toHaveLength(10);
    expect(results.every((r) => r.code === ExportResultCode.SUCCESS)).toBe(true);
    const store = openStore({ path, readonly: true });
    expect(store.stats()).toMatchObject({ traces: 10, spans: 500 });
    store.close();
  });

  it('stores an export posted to the writer in many slices and acknowledges it once', async () => {
    const path = tempDbPath();
    const exporter = exporterFor(path);
    const spans = recordSpans(1000);
    const results: ExportResult[] = [];
    await new Promise<void>((done) =>
      exporter.export(spans, (result) => {
        results.push(result);
        done();
      }),
    );
    expect(results).toEqual([{ code: ExportResultCode.SUCCESS }]);
    const store = openStore({ path, readonly: true });
    expect(store.stats()).toMatchObject({ traces: 1, spans: 1000 });
    expect(store.listTraces().items[0]).toMatchObject({ spanCount: 1000, rootName: 'GET /articles/:id' });
    store.close();
  });

  it('fails exports after shutdown without throwing', async () => {
    const exporter = exporterFor(tempDbPath());
    await exporter.shutdown();
    const result = await exportOnce(exporter, recordSpans(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/shut down/);
  });

  it('reports a database it cannot use as FAILED with a clear message, logged once, without throwing', async () => {
    const path = tempDbPath('notes.txt');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'not a database '.repeat(200));
    const logged: string[] = [];
    diag.setLogger(
      {
        error: (message: string) => logged.push(message),
        warn: () => {},
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      DiagLogLevel.ERROR,
    );
    try {
      const exporter = exporterFor(path);
      const first = await exportOnce(exporter, recordSpans(2));
      const second = await exportOnce(exporter, recordSpans(2));
      expect(first.code).toBe(ExportResultCode.FAILED);
      expect(first.error?.message).toMatch(/notes\.txt is not a Lifeline database/);
      expect(second.code).toBe(ExportResultCode.FAILED);
      expect(logged.filter((m) => m.includes('not a Lifeline database'))).toHaveLength(1);
    } finally {
      diag.disable();
    }
  });

  it('writes unconfirmed exports, and every later one, on the calling thread once told the process is exiting', () => {
    const path = tempDbPath();
    const exporter = exporterFor(path);
    const results: ExportResult[] = [];
    // Posted to the writer thread, not confirmed yet: nothing asynchronous runs before the check below.
    exporter.export(recordSpans(300), (result) => results.push(result));
    exporter.writeUnfinishedSync();
    const later = recordSpans(3);
    exporter.export(later, (result) => results.push(result));
    expect(results).toEqual([{ code: ExportResultCode.SUCCESS }]);
    const store = openStore({ path, readonly: true });
    try {
      expect(store.stats().spans).toBe(303);
      expect(store.getTrace(later[0]?.spanContext().traceId as string)?.spans).toHaveLength(3);
    } finally {
      store.close();
    }
  });

  it('tells onError, instead of diag, of each distinct failure once', async () => {
    const path = tempDbPath('other.txt');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'not a database either '.repeat(200));
    const told: string[] = [];
    const exporter = new SqliteSpanExporter({ path, onError: (message) => told.push(message) });
    exporters.push(exporter);
    expect((await exportOnce(exporter, recordSpans(2))).code).toBe(ExportResultCode.FAILED);
    expect((await exportOnce(exporter, recordSpans(2))).code).toBe(ExportResultCode.FAILED);
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/other\.txt is not a Lifeline database/);
  });

  it('reports a read-only database file as FAILED with a clear message', async () => {
    const path = tempDbPath();
    const setup = openStore({ path });
    setup.close();
    chmodSync(path, 0o444);
    let immutable = false;
    if (process.getuid?.() === 0) {
      // root writes through file modes; the immutable attribute stops it too.
      try {
        execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
        immutable = true;
      } catch {
        immutable = false;
      }
    }
    let writable = true;
    try {
      closeSync(openSync(path, 'r+'));
    } catch {
      writable = false;
    }
    try {
      if (writable) {
        if (process.env.CI) throw new Error('cannot make a file read-only on this machine');
        console.warn('skipped: cannot make a file read-only here (root without chattr)');
        return;
      }
      const exporter = exporterFor(path);
      const result = await exportOnce(exporter, recordSpans(3));
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error?.message).toMatch(
        new RegExp(`could not write spans to ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the file is read-only`),
      );
    } finally {
      if (immutable) execFileSync('chattr', ['-i', path]);
    }
  });

  it('answers an empty export at once', async () => {
    const exporter = exporterFor(tempDbPath());
    expect(await exportOnce(exporter, [])).toEqual({ code: ExportResultCode.SUCCESS });
  });

  it('records status, events and links as the SDK reported them', async () => {
    const path = tempDbPath();
    const exporter = exporterFor(path);
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
    const tracer = provider.getTracer('detail-test', '2.0.0');
    const producer = tracer.startSpan('orders publish', { kind: SpanKind.PRODUCER });
    producer.end();
    const consumer = tracer.startSpan('orders process', {
      kind: SpanKind.CONSUMER,
      links: [{ context: producer.spanContext() }],
      root: true,
    });
    consumer.addEvent('retry', { attempt: 2 });
    consumer.setStatus({ code: SpanStatusCode.ERROR, message: 'poison message' });
    consumer.end();
    await exportOnce(exporter, memory.getFinishedSpans());
    const store = openStore({ path, readonly: true });
    const stored = store.getTrace(consumer.spanContext().traceId, { linked: true });
    const storedConsumer = stored?.spans.find((s) => s.name === 'orders process');
    expect(storedConsumer).toMatchObject({
      kind: 'consumer',
      status: { code: 'error', message: 'poison message' },
      events: [{ name: 'retry', attributes: { attempt: 2 } }],
      links: [{ traceId: producer.spanContext().traceId, spanId: producer.spanContext().spanId }],
      scope: { name: 'detail-test', version: '2.0.0' },
    });
    expect(storedConsumer?.serviceName).toMatch(/^unknown_service/);
    expect(consumer.spanContext().traceId).not.toBe(producer.spanContext().traceId);
    // Links are read from producer to consumer: the publish's trace brings the consumer's along.
    const fromProducer = store.getTrace(producer.spanContext().traceId, { linked: true });
    expect(fromProducer?.spans.map((s) => s.name)).toEqual(['orders publish', 'orders process']);
    expect(stored?.spans.map((s) => s.name)).toEqual(['orders process']);
    store.close();
  });
});
