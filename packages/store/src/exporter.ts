import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { diag } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { defaultDbPath } from './database.js';
import { encodeReadableSpans } from './readable-span.js';
import type { WriterReply, WriterRequest, WriterWorkerData } from './writer-protocol.js';

/** Spans converted and posted to the writer thread per turn of the event loop. */
const POST_CHUNK_SPANS = 128;

/** Options of {@link SqliteSpanExporter}. */
export interface SqliteSpanExporterOptions {
  /** Database file (default {@link defaultDbPath}). */
  readonly path?: string;
}

/** The writer thread's entry: built JavaScript next to this file, else the TypeScript source. */
function writerWorkerUrl(): URL {
  const built = new URL('./writer-worker.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : new URL('./writer-worker.ts', import.meta.url);
}

/**
 * Flags that would load the app's preloads (its OpenTelemetry setup) into the
 * writer thread too; the writer must stay untraced, so they are dropped.
 */
function writerExecArgv(): string[] {
  const preload = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);
  const kept: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const flag = arg.split('=', 1)[0] as string;
    if (preload.has(flag)) {
      if (!arg.includes('=')) i++;
      continue;
    }
    kept.push(arg);
  }
  return kept;
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
 * import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
 * import { SqliteSpanExporter } from '@lifeline/store';
 *
 * const provider = new BasicTracerProvider({
 *   spanProcessors: [new BatchSpanProcessor(new SqliteSpanExporter({ path: '.lifeline/traces.db' }))],
 * });
 * process.once('SIGTERM', () => provider.shutdown().finally(() => process.exit(0)));
 * ```
 */
export class SqliteSpanExporter implements SpanExporter {
  /** The database file written to. */
  readonly path: string;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, (reply: WriterReply) => void>();
  #stopped = false;
  #lastLoggedError: string | undefined;
  #shutdownPromise: Promise<void> | undefined;
  readonly #exports = new Set<Promise<void>>();

  constructor(options: SqliteSpanExporterOptions = {}) {
    this.path = resolve(options.path ?? defaultDbPath());
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
      let settle!: () => void;
      const exported = new Promise<void>((done) => {
        settle = done;
      });
      this.#exports.add(exported);
      const chunks = Math.ceil(spans.length / POST_CHUNK_SPANS);
      let unanswered = chunks;
      let failure: Error | undefined;
      const answer = (error?: Error) => {
        if (error !== undefined) failure ??= error;
        if (--unanswered > 0) return;
        this.#exports.delete(exported);
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
          this.#send({ type: 'write', id: 0, batch, more: chunk + 1 < chunks }, (reply) => {
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
    const worker = this.#worker;
    if (worker === undefined) return;
    await new Promise<void>((done) => this.#send({ type: 'close', id: 0 }, () => done()));
    this.#worker = undefined;
    await worker.terminate();
  }

  #fail(resultCallback: (result: ExportResult) => void, error: Error): void {
    // One log line per distinct failure: a full disk must not flood the app's log.
    if (this.#lastLoggedError !== error.message) {
      this.#lastLoggedError = error.message;
      diag.error(`SqliteSpanExporter: ${error.message}`);
    }
    try {
      resultCallback({ code: ExportResultCode.FAILED, error });
    } catch {
      // The callback belongs to the span processor; its failure must not reach the app.
    }
  }

  #send(request: WriterRequest, onReply: (reply: WriterReply) => void): void {
    const id = ++this.#nextId;
    const worker = this.#startWorker();
    this.#pending.set(id, onReply);
    // Keep the process alive only while batches are in flight.
    if (this.#pending.size === 1) worker.ref();
    worker.postMessage({ ...request, id });
  }

  #startWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const workerData: WriterWorkerData = { path: this.path };
    const worker = new Worker(writerWorkerUrl(), { workerData, execArgv: writerExecArgv() });
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.#settle(reply.id, reply));
    const abandon = (message: string) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const id of [...this.#pending.keys()]) {
        this.#settle(id, { type: 'failed', id, message });
      }
    };
    worker.on('error', (error) => abandon(`Lifeline's writer thread failed: ${error.message}`));
    worker.on('exit', (code) => {
      if (this.#pending.size > 0) abandon(`Lifeline's writer thread exited (code ${code}) before writing`);
      else if (this.#worker === worker) this.#worker = undefined;
    });
    this.#worker = worker;
    return worker;
  }

  #settle(id: number, reply: WriterReply): void {
    const onReply = this.#pending.get(id);
    if (onReply === undefined) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker?.unref();
    onReply(reply);
  }
}
