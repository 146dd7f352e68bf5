import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { startCheckpointThread } from './checkpoint-thread.js';
import { openDatabase, type SqliteDatabase } from './database.js';
import { describeWriteError, sqliteCode } from './errors.js';
import { encodedCount, mergeEncoded } from './span-encoding.js';
import { SpanWriter } from './span-writer.js';
import { writerWorkerUrl } from './writer-thread-app-side.js';
import type { WriterReply, WriterRequest, WriterWorkerData } from './writer-thread-messages.js';

const BUSY_RETRIES = 3;
/** Batches already queued behind the current one are written in the same transaction, up to this many spans. */
const COALESCE_SPANS = 8192;
const BUSY_PAUSE_MS = 200;
/** WAL pages after which a commit of the writer thread checkpoints (SQLite's default is 1000). */
const WAL_CHECKPOINT_PAGES = 10_000;
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * WAL pages after which a commit of the writer checkpoints itself when a
 * checkpoint thread does that work: a backstop, reached only should that
 * thread fall behind (or fail), that bounds the WAL at about 160 MB.
 */
const WAL_BACKSTOP_PAGES = 40_000;
/**
 * Page cache of the writer's connection, in KiB (SQLite's `cache_size` takes
 * a negative number as KiB). better-sqlite3 builds SQLite with 16 MB per
 * connection; the writer thread lives in the app's process, where a full
 * 16 MB cache (it fills once the store is larger than that, which it soon
 * is) is app memory spent on Lifeline. Inserting 150,000 request-shaped
 * spans cost the writer the same CPU per span with 4 MB as with 16 MB: what
 * it touches most is the growing end of the tables and indexes, and the
 * rest is read from the operating system's file cache.
 */
const WRITER_CACHE_KIB = 4096;
/** Longest wait for the announced next slice of an export before writing what has come. */
const HOLD_MS = 5;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Sets up the writer thread's connection (on top of what `openDatabase`
 * sets for every connection) and returns it: its checkpoints and its page
 * cache. `options` are those of `SpanWriterThread`: `cacheKiB` (default
 * 4096) and `checkpointThread` (the writer's own checkpoint as a backstop).
 */
export function configureWriterConnection(
  db: SqliteDatabase,
  options: { readonly cacheKiB?: number; readonly checkpointThread?: boolean } = {},
): SqliteDatabase {
  // In an app this thread is the one place where a long checkpoint
  // stalls no one, so it lets the WAL grow to about 40 MB before copying
  // it back: pages written several times between checkpoints (index and
  // summary pages, the growing end of the tables) are copied and synced
  // once instead of each time. A receiver's senders do wait for its
  // commits, so there a checkpoint thread copies the WAL back beside the
  // writer (checkpoint-thread.ts) and the writer's own checkpoint is only a
  // backstop. The file is cut back to 64 MB afterwards should a reader have
  // held a checkpoint off.
  db.pragma(`wal_autocheckpoint = ${options.checkpointThread === true ? WAL_BACKSTOP_PAGES : WAL_CHECKPOINT_PAGES}`);
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  // No mmap_size either (SQLite's default, 0): pages read through a memory
  // map count in the app's resident memory as well.
  db.pragma(`cache_size = -${Math.max(1, Math.floor(options.cacheKiB ?? WRITER_CACHE_KIB))}`);
  return db;
}

/** Runs in the writer thread: owns the database connection and writes each batch it is sent. */
export function runWriterLoop(): void {
  const port = parentPort;
  if (port === null) throw new Error('runWriterLoop must run in a worker thread');
  const { path, inbox, cacheKiB, checkpointThread } = workerData as WriterWorkerData;
  let db: SqliteDatabase | undefined;
  let writer: SpanWriter | undefined;
  let stopCheckpoints: (() => void) | undefined;

  const reply = (message: WriterReply) => port.postMessage(message);

  const close = (id: number) => {
    stopCheckpoints?.();
    stopCheckpoints = undefined;
    if (db?.open) db.close();
    db = undefined;
    writer = undefined;
    reply({ type: 'closed', id });
  };

  /** Writes several batches in one transaction; one answer per batch. */
  const write = (group: readonly Extract<WriterRequest, { type: 'write' }>[]) => {
    const batch = mergeEncoded(group.map((request) => request.batch));
    for (let attempt = 0; ; attempt++) {
      try {
        // Opened lazily and reopened after a failure, so a database that
        // was unavailable (locked, read-only, disk full) is retried on the next batch.
        if (writer === undefined) {
          db = configureWriterConnection(openDatabase(path, { migrate: true }), {
            ...(cacheKiB === undefined ? {} : { cacheKiB }),
            ...(checkpointThread === true ? { checkpointThread } : {}),
          });
          writer = new SpanWriter(db);
          // Started once the file exists and is migrated; it outlives a reopened connection.
          if (checkpointThread === true) stopCheckpoints ??= startCheckpointThread(path, writerWorkerUrl());
        }
        if (inbox === true) {
          // Copies and conflicting ids are found when the inbox is settled, by the store's reader.
          writer.appendEncoded(batch);
          for (const request of group)
            reply({ type: 'written', id: request.id, inserted: encodedCount(request.batch) });
          return;
        }
        const written = writer.writeEncoded(batch);
        // Batches committed together share one result: its conflicts are
        // told to the last of them, so that none goes unreported.
        const last = group[group.length - 1];
        for (const request of group) {
          reply(
            request === last && written.conflicts > 0
              ? {
                  type: 'written',
                  id: request.id,
                  inserted: encodedCount(request.batch),
                  conflicts: written.conflicts,
                  conflictExamples: written.conflictExamples,
                }
              : { type: 'written', id: request.id, inserted: encodedCount(request.batch) },
          );
        }
        return;
      } catch (error) {
        const code = sqliteCode(error);
        if (code?.startsWith('SQLITE_BUSY') && attempt < BUSY_RETRIES) {
          pause(BUSY_PAUSE_MS * (attempt + 1));
          continue;
        }
        try {
          db?.close();
        } catch {
          // Closing a connection that failed is best effort; the next batch opens a fresh one.
        }
        db = undefined;
        writer = undefined;
        const message = describeWriteError(path, error);
        for (const request of group) {
          reply(
            code === undefined
              ? { type: 'failed', id: request.id, message }
              : { type: 'failed', id: request.id, message, code },
          );
        }
        return;
      }
    }
  };

  type WriteRequest = Extract<WriterRequest, { type: 'write' }>;
  /** Requests received but not yet written: the rest of their export is on its way. */
  let held: WriteRequest[] = [];
  let heldSize = 0;
  let heldTimer: NodeJS.Timeout | undefined;

  const flushHeld = () => {
    if (heldTimer !== undefined) clearTimeout(heldTimer);
    heldTimer = undefined;
    const group = held;
    held = [];
    heldSize = 0;
    if (group.length > 0) write(group);
  };

  port.on('message', (first: WriterRequest) => {
    // Under load the exporter posts faster than one transaction commits:
    // draining what is already queued into one transaction saves commits.
    // An export arrives in several slices, one per turn of the app's event
    // loop; committing each slice alone would cost a commit per slice, so a
    // group that ends with "more follows" waits for the next slice (a few
    // hundred microseconds), or for a short timer should it never come.
    let request: WriterRequest | undefined = first;
    while (request !== undefined) {
      if (request.type === 'close') {
        flushHeld();
        close(request.id);
        return;
      }
      held.push(request);
      heldSize += encodedCount(request.batch);
      request = undefined;
      while (heldSize < COALESCE_SPANS) {
        const next = receiveMessageOnPort(port)?.message as WriterRequest | undefined;
        if (next === undefined) break;
        if (next.type !== 'write') {
          request = next;
          break;
        }
        held.push(next);
        heldSize += encodedCount(next.batch);
      }
      const last = held.at(-1);
      if (request === undefined && heldSize < COALESCE_SPANS && last?.more === true) {
        heldTimer ??= setTimeout(flushHeld, HOLD_MS);
        return;
      }
      flushHeld();
    }
  });
}
