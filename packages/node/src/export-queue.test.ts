import { DiagLogLevel, diag } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_EXPORT_BATCH_SIZE,
  DEFAULT_MAX_QUEUE_SIZE,
  ExportQueueCounter,
  maxExportBatchSizeFromEnv,
  maxQueueSizeFromEnv,
} from './export-queue.js';

/** An exporter that holds every export until released, as one waiting for another process's write lock does. */
class BlockedExporter {
  readonly received: ReadableSpan[] = [];
  #waiting: (() => void)[] = [];
  #open = false;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    const go = () => {
      this.received.push(...spans);
      done({ code: ExportResultCode.SUCCESS });
    };
    if (this.#open) go();
    else this.#waiting.push(go);
  }
  /** From now on every export completes: the lock was let go. */
  release(): void {
    this.#open = true;
    for (const go of this.#waiting.splice(0)) go();
  }
  shutdown(): Promise<void> {
    this.release();
    return Promise.resolve();
  }
  forceFlush(): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}

afterEach(() => diag.disable());

describe('ExportQueueCounter', () => {
  it('counts exactly the spans the SDK drops when its queue is full, and none when it has room', async () => {
    // The SDK reports its drops only through diag: listen, to compare counts.
    const warnings: string[] = [];
    diag.setLogger(
      { error: () => {}, warn: (m) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.WARN,
    );
    const exporter = new BlockedExporter();
    const firstDrops: number[] = [];
    const counter = new ExportQueueCounter(20, (c) => firstDrops.push(c.dropped));
    const batching = new BatchSpanProcessor({
      exporter: counter.wrapExporter(exporter),
      maxQueueSize: 20,
      maxExportBatchSize: 5,
      scheduledDelayMillis: 1,
    });
    const provider = new TracerProvider({ spanProcessors: [counter.wrapProcessor(batching)] });
    const tracer = provider.getTracer('test');
    for (let i = 0; i < 100; i++) tracer.startSpan(`s${i}`).end();
    expect(counter.dropped).toBeGreaterThan(0);
    expect(firstDrops).toEqual([1]);
    const droppedBeforeRelease = counter.dropped;
    exporter.release();
    await provider.forceFlush();
    // The SDK says how many it dropped when the next span finds room.
    tracer.startSpan('after').end();
    await provider.shutdown();
    // Every span is either stored or counted as dropped.
    expect(exporter.received.length + counter.dropped).toBe(101);
    expect(counter.dropped).toBe(droppedBeforeRelease);
    // ...and the SDK agrees on the number it dropped.
    const reported = warnings
      .map((m) => /Dropped (\d+) spans because maxQueueSize reached/.exec(m)?.[1])
      .filter((n) => n !== undefined)
      .reduce((sum, n) => sum + Number(n), 0);
    expect(reported).toBe(counter.dropped);
  });

  it('drops nothing when the queue holds the burst', async () => {
    const exporter = new BlockedExporter();
    const counter = new ExportQueueCounter(1000);
    const batching = new BatchSpanProcessor({
      exporter: counter.wrapExporter(exporter),
      maxQueueSize: 1000,
    });
    const provider = new TracerProvider({ spanProcessors: [counter.wrapProcessor(batching)] });
    for (let i = 0; i < 900; i++) provider.getTracer('test').startSpan(`s${i}`).end();
    exporter.release();
    await provider.shutdown();
    expect(counter.dropped).toBe(0);
    expect(exporter.received).toHaveLength(900);
    expect(counter.queued).toBe(0);
  });
});

describe('maxQueueSizeFromEnv', () => {
  it('reads OTEL_BSP_MAX_QUEUE_SIZE and falls back to the default for anything but a whole number', () => {
    expect(maxQueueSizeFromEnv({})).toBe(DEFAULT_MAX_QUEUE_SIZE);
    expect(maxQueueSizeFromEnv({ OTEL_BSP_MAX_QUEUE_SIZE: '4096' })).toBe(4096);
    for (const bad of ['', '0', '-3', '1.5', 'lots']) {
      expect(maxQueueSizeFromEnv({ OTEL_BSP_MAX_QUEUE_SIZE: bad })).toBe(DEFAULT_MAX_QUEUE_SIZE);
    }
  });
});

describe('maxExportBatchSizeFromEnv', () => {
  it('reads OTEL_BSP_MAX_EXPORT_BATCH_SIZE, falls back to the default, and never exceeds the queue', () => {
    expect(maxExportBatchSizeFromEnv(DEFAULT_MAX_QUEUE_SIZE, {})).toBe(DEFAULT_MAX_EXPORT_BATCH_SIZE);
    expect(maxExportBatchSizeFromEnv(DEFAULT_MAX_QUEUE_SIZE, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' })).toBe(512);
    for (const bad of ['', '0', '-3', '1.5', 'lots']) {
      expect(maxExportBatchSizeFromEnv(DEFAULT_MAX_QUEUE_SIZE, { OTEL_BSP_MAX_EXPORT_BATCH_SIZE: bad })).toBe(
        DEFAULT_MAX_EXPORT_BATCH_SIZE,
      );
    }
    expect(maxExportBatchSizeFromEnv(1000, {})).toBe(1000);
  });
});
