import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Span } from '@lifeline/core';
import { defaultDbPath } from './database.js';
import { type EncodedSpans, encodeSpans } from './span-encoding.js';
import type { WriterReply, WriterRequest, WriterWorkerData } from './writer-thread-messages.js';

/** The writer thread's entry: built JavaScript next to this file, else the TypeScript source. */
export function writerWorkerUrl(): URL {
  const built = new URL('./writer-thread-entry.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : new URL('./writer-thread-entry.ts', import.meta.url);
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

/** Whether `error` is Node's refusal of flags a worker thread cannot take. */
function isInvalidExecArgv(error: unknown): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === 'ERR_WORKER_INVALID_EXEC_ARGV';
}

/**
 * Starts the writer thread with the app's flags (so that `--cpu-prof` or
 * `--enable-source-maps` reach it too). Node refuses, with
 * ERR_WORKER_INVALID_EXEC_ARGV, flags that only a whole process can take:
 * `--max-old-space-size`, `--stack-size`, `--expose-gc` and other V8 flags,
 * `--title`. An app started with one of them must still have its spans
 * stored, so the thread is started again without the flags the error names,
 * and, should Node refuse again, without any.
 */
function startWriterWorker(workerData: WriterWorkerData): Worker {
  const url = writerWorkerUrl();
  const execArgv = writerExecArgv();
  try {
    return new Worker(url, { workerData, execArgv, resourceLimits: WRITER_RESOURCE_LIMITS });
  } catch (error) {
    if (!isInvalidExecArgv(error)) throw error;
    // The message lists the refused flags after the colon, joined by ", ".
    const listed = error.message.slice(error.message.indexOf(':') + 1);
    const refused = new Set(listed.split(',').map((flag) => flag.trim()));
    const kept = execArgv.filter((arg) => !refused.has(arg));
    if (kept.length < execArgv.length) {
      try {
        return new Worker(url, { workerData, execArgv: kept, resourceLimits: WRITER_RESOURCE_LIMITS });
      } catch (again) {
        if (!isInvalidExecArgv(again)) throw again;
      }
    }
    return new Worker(url, { workerData, execArgv: [], resourceLimits: WRITER_RESOURCE_LIMITS });
  }
}

/**
 * V8 limits of the writer thread. Its young generation is kept small: every
 * batch it decodes is garbage once committed, and with V8's default for a
 * thread (16 MB semi-spaces, a 48 MB young generation) that garbage let the
 * thread's heap grow to about 50 MB under a steady few thousand spans a
 * second, resident in the app's process; capped at 8 MB it stays near
 * 26 MB. The thread collects more often for it, which did not show beyond
 * the noise in its CPU per span. The old generation is left unlimited: a
 * thread that ran out of heap would lose the spans it holds.
 */
const WRITER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 8 } as const;

/** Options of {@link SpanWriterThread}; see its constructor. */
export interface SpanWriterThreadOptions {
  readonly path?: string;
  readonly inbox?: boolean;
  readonly cacheKiB?: number;
  readonly checkpointThread?: boolean;
}

/**
 * A worker thread that owns a write connection to one Lifeline database and
 * writes the batches it is sent, each answered once committed. Batches that
 * queue up while a transaction runs are written together in the next one.
 * The thread starts with the first batch and keeps the process alive only
 * while batches are in flight. Used by {@link SqliteSpanExporter} in an app,
 * and by the viewer's OTLP receiver, so that decoding the next request and
 * writing the last one run on two cores.
 *
 * @example
 * ```ts
 * const writer = new SpanWriterThread({ path: '.lifeline/traces.db' });
 * await writer.writeSpans(spans); // committed once it resolves
 * await writer.close();
 * ```
 */
export class SpanWriterThread {
  /** The database file written to. */
  readonly path: string;
  #worker: Worker | undefined;
  #nextId = 0;
  #closed = false;
  /** Requests awaiting their answer, with the thread each was posted to. */
  readonly #pending = new Map<number, { readonly worker: Worker; readonly onReply: (reply: WriterReply) => void }>();

  /** Whether batches go to the store's inbox (see the constructor). */
  readonly inbox: boolean;
  readonly #tuning: Pick<WriterWorkerData, 'cacheKiB' | 'checkpointThread'>;

  /**
   * @param options.path the database file (default `defaultDbPath()`).
   * @param options.inbox append spans to the store's inbox, for its next
   *   reader to settle (`SpanWriter.appendEncoded`), instead of storing them
   *   under their keys with their traces' summaries. Default false. With it,
   *   `writeReporting` cannot tell conflicting ids: they are found when the
   *   inbox is settled.
   * @param options.cacheKiB page cache of the thread's connection in KiB
   *   (SQLite `cache_size`). Default 4096: in an app's process the cache is
   *   the app's memory. A receiver in a process of its own may give more,
   *   so that the index pages its inserts touch stay in the cache.
   * @param options.checkpointThread copy the WAL back into the database
   *   file on a thread of its own, beside the writer (SQLite's PASSIVE
   *   checkpoints), instead of in the writer's commits. Default false. For a
   *   receiver, whose senders wait for each commit: a checkpoint in a commit
   *   holds every export behind it.
   */
  constructor(options: SpanWriterThreadOptions = {}) {
    this.path = resolve(options.path ?? defaultDbPath());
    this.inbox = options.inbox ?? false;
    this.#tuning = {
      ...(options.cacheKiB === undefined ? {} : { cacheKiB: options.cacheKiB }),
      ...(options.checkpointThread === true ? { checkpointThread: true } : {}),
    };
  }

  /**
   * Stores spans; resolves with their number once committed, rejects with the
   * writer's message (full disk, read-only file, lock held too long) otherwise.
   */
  async writeSpans(spans: readonly Span[]): Promise<number> {
    return (await this.writeReporting(spans)).stored;
  }

  /**
   * Stores spans like {@link writeSpans}, and resolves with how many were
   * handed to the store and how many of them a different span already held
   * the ids of (not stored: the first is kept), with the first few named as
   * `span <id> of trace <id>`.
   */
  writeReporting(
    spans: readonly Span[],
  ): Promise<{ readonly stored: number; readonly conflicts: number; readonly conflictExamples: readonly string[] }> {
    if (spans.length === 0) return Promise.resolve({ stored: 0, conflicts: 0, conflictExamples: [] });
    const batch = encodeSpans(spans);
    return new Promise((done, fail) => {
      this.post(batch, false, (reply) => {
        if (reply.type === 'written') {
          done({
            stored: reply.inserted,
            conflicts: reply.conflicts ?? 0,
            conflictExamples: reply.conflictExamples ?? [],
          });
        } else fail(new Error(reply.type === 'failed' ? reply.message : 'the writer thread closed unexpectedly'));
      });
    });
  }

  /**
   * Posts a batch in the writer's compact form. `more` says that another
   * slice of the same export follows at once, so the writer may wait a few
   * milliseconds for it and commit both together.
   */
  post(batch: EncodedSpans, more: boolean, onReply: (reply: WriterReply) => void): void {
    if (this.#closed) {
      // A late request (a receiver still reading its body) must not start a
      // new thread that nothing would ever close.
      onReply({ type: 'failed', id: 0, message: `the writer for ${this.path} has been closed` });
      return;
    }
    this.#send({ type: 'write', id: 0, batch, more }, onReply);
  }

  /**
   * Closes the database once every batch posted before is written, and stops
   * the thread. Batches posted afterwards fail.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    await new Promise<void>((done) => this.#send({ type: 'close', id: 0 }, () => done()));
    this.#worker = undefined;
    await worker.terminate();
  }

  #send(request: WriterRequest, onReply: (reply: WriterReply) => void): void {
    const id = ++this.#nextId;
    const worker = this.#startWorker();
    this.#pending.set(id, { worker, onReply });
    // Keep the process alive only while batches are in flight.
    if (this.#pending.size === 1) worker.ref();
    worker.postMessage({ ...request, id });
  }

  #startWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = startWriterWorker({ path: this.path, inbox: this.inbox, ...this.#tuning });
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.#settle(reply.id, reply));
    // Only this thread's requests fail with it: after an error a new thread
    // may already be writing, and this one's later exit must not touch its work.
    const abandon = (message: string) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const [id, pending] of [...this.#pending]) {
        if (pending.worker === worker) this.#settle(id, { type: 'failed', id, message });
      }
    };
    worker.on('error', (error) => abandon(`Lifeline's writer thread failed: ${error.message}`));
    worker.on('exit', (code) => abandon(`Lifeline's writer thread exited (code ${code}) before writing`));
    this.#worker = worker;
    return worker;
  }

  #settle(id: number, reply: WriterReply): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    if (!this.#hasPending(pending.worker)) pending.worker.unref();
    pending.onReply(reply);
  }

  #hasPending(worker: Worker): boolean {
    for (const other of this.#pending.values()) if (other.worker === worker) return true;
    return false;
  }
}
