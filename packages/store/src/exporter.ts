import { resolve } from 'node:path';
import { diag } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { defaultDbPath, openDatabase } from './database.js';
import { describeWriteError } from './errors.js';
import { encodeReadableSpans } from './readable-span.js';
import { SpanWriter } from './span-writer.js';
import { SpanWriterThread } from './writer-thread-app-side.js';

/** Spans converted and posted to the writer thread per turn of the event loop. */
const POST_CHUNK_SPANS = 128;

/** Options of {@link SqliteSpanExporter}. */
export interface SqliteSpanExporterOptions {
  /** Database file (default {@link defaultDbPath}). */
  readonly path?: string;
  /**
   * Told each distinct write failure once (a full disk, a read-only file);
   * by default it goes to OpenTelemetry's `diag` logger, which prints nothing
   * unless one is set (e.g. by `OTEL_LOG_LEVEL`).
   */
  readonly onError?: (message: string) => void;
  /**
   * Append spans to the store's inbox (the default): the app pays for a
   * sequential append only, and the store's next reader (the viewer, the
   * CLI, `openStore`) stores them under their keys and summarises their
   * traces. With false, the writer thread does that itself, in the app's
   * process.
   */
  readonly inbox?: boolean;
}

/**
 * An OpenTelemetry `SpanExporter` that stores spans in Lifeline's SQLite file.
 *
 * `export` only encodes the spans into a compact array and posts it to a
 * writer thread that owns the database connection, so the app's event loop
 * never waits for SQLite. It never throws: any failure (read-only file, full
 * disk, a lock held too long) reaches the result callback as
 * `ExportResultCode.FAILED` with a clear message and is logged once through
 * `diag`. Batching is left to the `BatchSpanProcessor`; `forceFlush()` and
 * `shutdown()` resolve once every exported batch is committed.
 *
 * While batches are in flight the writer thread keeps the process alive, so
 * an app that calls `provider.shutdown()` on exit (or on SIGTERM) loses no
 * finished span.
 *
 * @example
 * ```ts
 * import { TracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
 * import { SqliteSpanExporter } from '@lifeline/store';
 *
 * const provider = new TracerProvider({
 *   spanProcessors: [new BatchSpanProcessor({ exporter: new SqliteSpanExporter({ path: '.lifeline/traces.db' }) })],
 * });
 * process.once('SIGTERM', () => provider.shutdown().finally(() => process.exit(0)));
 * ```
 */
export class SqliteSpanExporter implements SpanExporter {
  /** The database file written to. */
  readonly path: string;
  readonly #writer: SpanWriterThread;
  readonly #onError: (message: string) => void;
  #stopped = false;
  #lastLoggedError: string | undefined;
  #shutdownPromise: Promise<void> | undefined;
  readonly #exports = new Set<Promise<void>>();
  /** The spans of every export not yet answered, for {@link writeUnfinishedSync}. */
  readonly #unfinished = new Set<ReadableSpan[]>();
  /** Set once the process is exiting: exports are then written on the calling thread. */
  #exiting = false;
  /** The calling thread's own connection, opened by the first synchronous write. */
  #syncWriter: SpanWriter | undefined;
  readonly #inbox: boolean;

  constructor(options: SqliteSpanExporterOptions = {}) {
    this.path = resolve(options.path ?? defaultDbPath());
    this.#inbox = options.inbox ?? true;
    this.#writer = new SpanWriterThread({ path: this.path, inbox: this.#inbox });
    this.#onError = options.onError ?? ((message) => diag.error(`SqliteSpanExporter: ${message}`));
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    try {
      if (this.#stopped) {
        resultCallback({ code: ExportResultCode.FAILED, error: new Error('SqliteSpanExporter has been shut down') });
        return;
      }
      if (spans.length === 0) {
        resultCallback({ code: ExportResultCode.SUCCESS });
        return;
      }
      if (this.#exiting) {
        this.#writeSync(spans);
        resultCallback({ code: ExportResultCode.SUCCESS });
        return;
      }
      let settle!: () => void;
      const exported = new Promise<void>((done) => {
        settle = done;
      });
      this.#exports.add(exported);
      this.#unfinished.add(spans);
      const chunks = Math.ceil(spans.length / POST_CHUNK_SPANS);
      let unanswered = chunks;
      let failure: Error | undefined;
      const answer = (error?: Error) => {
        if (error !== undefined) failure ??= error;
        if (--unanswered > 0) return;
        this.#exports.delete(exported);
        this.#unfinished.delete(spans);
        settle();
        if (failure !== undefined) {
          this.#fail(resultCallback, failure);
          return;
        }
        this.#lastLoggedError = undefined;
        try {
          resultCallback({ code: ExportResultCode.SUCCESS });
        } catch {
          // The callback belongs to the span processor; its failure must not reach the app.
        }
      };
      // Converting and cloning a 512-span batch in one go would hold the
      // app's event loop for a millisecond or more; posting it in slices,
      // one per turn of the loop, lets requests run in between.
      const post = (chunk: number) => {
        try {
          const from = chunk * POST_CHUNK_SPANS;
          const batch = encodeReadableSpans(spans, from, Math.min(spans.length, from + POST_CHUNK_SPANS));
          this.#writer.post(batch, chunk + 1 < chunks, (reply) => {
            if (reply.type === 'written') answer();
            else answer(new Error(reply.type === 'failed' ? reply.message : 'the writer thread closed unexpectedly'));
          });
        } catch (error) {
          answer(error instanceof Error ? error : new Error(String(error)));
        }
        if (chunk + 1 < chunks) setImmediate(post, chunk + 1);
      };
      post(0);
    } catch (error) {
      this.#fail(resultCallback, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * For the process's `exit` event, when nothing asynchronous can finish any
   * more and the writer thread is about to stop with the process: writes
   * every span handed to this exporter whose commit is not confirmed yet on
   * the calling thread, and from then on writes each export the same way
   * (so a span processor flushed right after loses nothing either). Spans the
   * writer thread commits in the meantime are not stored twice. Never throws;
   * a failure is reported like a failed export.
   *
   * @example
   * ```ts
   * process.on('exit', () => {
   *   exporter.writeUnfinishedSync();
   *   void processor.forceFlush(); // hands its buffer to export() at once
   * });
   * ```
   */
  writeUnfinishedSync(): void {
    this.#exiting = true;
    for (const spans of [...this.#unfinished]) {
      this.#unfinished.delete(spans);
      this.#writeSync(spans);
    }
  }

  /** Writes an export on this thread; a failure is reported, not thrown. */
  #writeSync(spans: readonly ReadableSpan[]): void {
    try {
      // Opened only when there is something to write: most exits find nothing.
      this.#syncWriter ??= new SpanWriter(openDatabase(this.path, { migrate: true }));
      const batch = encodeReadableSpans(spans);
      if (this.#inbox) this.#syncWriter.appendEncoded(batch);
      else this.#syncWriter.writeEncoded(batch);
    } catch (error) {
      this.#reportSync(error);
    }
  }

  #reportSync(error: unknown): void {
    const message = describeWriteError(this.path, error);
    if (this.#lastLoggedError === message) return;
    this.#lastLoggedError = message;
    try {
      this.#onError(message);
    } catch {
      // A failing error handler must not break the exporter contract.
    }
  }

  /** Resolves once every batch exported so far is committed (or has failed). */
  async forceFlush(): Promise<void> {
    await Promise.all([...this.#exports]);
  }

  /** Flushes, then closes the database and stops the writer thread. Later exports fail. */
  shutdown(): Promise<void> {
    this.#shutdownPromise ??= this.#shutdown();
    return this.#shutdownPromise;
  }

  async #shutdown(): Promise<void> {
    this.#stopped = true;
    await this.forceFlush();
    await this.#writer.close();
  }

  #fail(resultCallback: (result: ExportResult) => void, error: Error): void {
    // One log line per distinct failure: a full disk must not flood the app's log.
    if (this.#lastLoggedError !== error.message) {
      this.#lastLoggedError = error.message;
      try {
        this.#onError(error.message);
      } catch {
        // A failing error handler must not break the exporter contract.
      }
    }
    try {
      resultCallback({ code: ExportResultCode.FAILED, error });
    } catch {
      // The callback belongs to the span processor; its failure must not reach the app.
    }
  }
}
