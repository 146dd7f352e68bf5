/**
 * The export queue between the app and the store. The OpenTelemetry SDK's
 * BatchSpanProcessor keeps finished spans in a queue of `maxQueueSize` until
 * the exporter takes them, and drops a span that finds the queue full,
 * reporting it only through OpenTelemetry's diag logger. When several apps
 * write one database file, one waits for the other's write lock and a burst
 * can fill the SDK's default queue of 2,048 spans. Lifeline gives the queue
 * room for such bursts and counts what is dropped anyway, so that the loss is
 * said on stderr and stored, never silent.
 */
import { type Context, TraceFlags } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

/**
 * Spans the queue holds by default: room for about two seconds of a busy
 * app's spans while another process holds the database's write lock (the
 * SDK's default is 2,048). Override with `OTEL_BSP_MAX_QUEUE_SIZE`.
 */
export const DEFAULT_MAX_QUEUE_SIZE = 65_536;

/**
 * The queue size: `OTEL_BSP_MAX_QUEUE_SIZE` when it is a whole number of 1 or
 * more (the OpenTelemetry SDK environment variable for the same setting),
 * else {@link DEFAULT_MAX_QUEUE_SIZE}.
 */
export function maxQueueSizeFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.OTEL_BSP_MAX_QUEUE_SIZE?.trim();
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isInteger(value) && value >= 1 ? value : DEFAULT_MAX_QUEUE_SIZE;
}

/**
 * Spans handed to the store per export by default (the SDK's default is 512).
 * Under load a request's spans end over some milliseconds and an export takes
 * whatever has ended, so a request is often split between two exports; the
 * writer then summarises its trace twice, rewrites its summary row and
 * inserts the second part span by span. Exports four times the SDK's size
 * split four times fewer requests and commit four times less often. The
 * app's event loop is not held longer: the exporter posts an export to the
 * writer thread in slices of 128 spans, one per turn of the loop. Override
 * with `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
 */
export const DEFAULT_MAX_EXPORT_BATCH_SIZE = 2048;

/**
 * The export batch size: `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` when it is a whole
 * number of 1 or more, else {@link DEFAULT_MAX_EXPORT_BATCH_SIZE}; never more
 * than `maxQueueSize` (the SDK's own rule).
 */
export function maxExportBatchSizeFromEnv(maxQueueSize: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE?.trim();
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Math.min(maxQueueSize, Number.isInteger(value) && value >= 1 ? value : DEFAULT_MAX_EXPORT_BATCH_SIZE);
}

/**
 * Counts spans in and out of a BatchSpanProcessor's queue, by the SDK's own
 * rule: a sampled span that ends while `maxQueueSize` spans wait is dropped;
 * spans leave the queue when they are handed to the exporter.
 */
export class ExportQueueCounter {
  readonly maxQueueSize: number;
  #queued = 0;
  #dropped = 0;
  readonly #onFirstDrop: ((counter: ExportQueueCounter) => void) | undefined;

  /**
   * @param maxQueueSize the processor's `maxQueueSize`.
   * @param onFirstDrop called once, when the first span is dropped.
   */
  constructor(maxQueueSize: number, onFirstDrop?: (counter: ExportQueueCounter) => void) {
    this.maxQueueSize = maxQueueSize;
    this.#onFirstDrop = onFirstDrop;
  }

  /** Spans dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Spans waiting in the queue. */
  get queued(): number {
    return this.#queued;
  }

  /** A sampled span ended and is offered to the queue. */
  entered(): void {
    if (this.#queued >= this.maxQueueSize) {
      this.#dropped++;
      if (this.#dropped === 1) this.#onFirstDrop?.(this);
      return;
    }
    this.#queued++;
  }

  /** `count` spans were handed to the exporter. */
  left(count: number): void {
    this.#queued = Math.max(0, this.#queued - count);
  }

  /** The processor to register: `processor` with every ended span counted first. */
  wrapProcessor(processor: SpanProcessor): SpanProcessor {
    const counter = this;
    return {
      onStart(span: Span, parentContext: Context): void {
        processor.onStart(span, parentContext);
      },
      onEnd(span: ReadableSpan): void {
        // The SDK queues sampled spans only.
        if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) counter.entered();
        processor.onEnd(span);
      },
      forceFlush: () => processor.forceFlush(),
      shutdown: () => processor.shutdown(),
    };
  }

  /** The exporter to give the processor: `exporter`, counting the spans it is handed. */
  wrapExporter(exporter: SpanExporter): SpanExporter {
    const counter = this;
    return {
      export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
        counter.left(spans.length);
        exporter.export(spans, resultCallback);
      },
      shutdown: () => exporter.shutdown(),
      forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
    };
  }
}
