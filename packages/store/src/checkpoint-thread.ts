/**
 * The checkpoint thread of a writer that serves a receiver: copies the WAL
 * back into the database file beside the writer, so that the writer's
 * commits do not wait for the copy and its sync.
 *
 * SQLite lets a checkpoint run while another connection writes: a PASSIVE
 * checkpoint copies the frames committed before it started and takes no lock
 * a writer waits for (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html).
 * Once it has copied every frame, the writer's next transaction starts the
 * WAL file over from its beginning (https://www.sqlite.org/wal.html,
 * "Checkpointing").
 */
import { statSync } from 'node:fs';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { openDatabase, type SqliteDatabase } from './database.js';
import type { CheckpointWorkerData } from './writer-thread-messages.js';

/** How often the thread looks at the WAL's size, in milliseconds. */
const CHECK_EVERY_MS = 200;
/** WAL bytes from which a checkpoint is run: about 1,000 pages of 4 KiB, SQLite's own default threshold. */
const CHECKPOINT_FROM_BYTES = 4 * 1024 * 1024;

/** Bytes of the WAL file of the database at `path`, 0 when there is none. */
function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * Runs in the checkpoint thread: every {@link CHECK_EVERY_MS} ms, a PASSIVE
 * checkpoint once the WAL holds {@link CHECKPOINT_FROM_BYTES} or more. A
 * failed checkpoint (the file locked by a `lifeline prune`, say) is tried
 * again at the next look; the writer's own, rarer checkpoints remain behind
 * it. Ends on a `close` message.
 */
export function runCheckpointLoop(): void {
  const port = parentPort;
  if (port === null) throw new Error('runCheckpointLoop must run in a worker thread');
  const { path } = workerData as CheckpointWorkerData;
  let db: SqliteDatabase | undefined;
  const timer = setInterval(() => {
    if (walBytes(path) < CHECKPOINT_FROM_BYTES) return;
    try {
      db ??= openDatabase(path, { migrate: false });
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Reopened at the next look: the writer reports what is wrong with the file.
      try {
        db?.close();
      } catch {
        // Closing a failed connection is best effort.
      }
      db = undefined;
    }
  }, CHECK_EVERY_MS);
  port.on('message', () => {
    clearInterval(timer);
    if (db?.open) db.close();
    db = undefined;
    port.close();
  });
}

/**
 * Starts the checkpoint thread for the database at `path` (from the writer
 * thread, once the file exists and is migrated). The returned function
 * stops it; the thread does not keep the process alive.
 */
export function startCheckpointThread(path: string, entry: URL): () => void {
  const data: CheckpointWorkerData = { role: 'checkpoint', path };
  const worker = new Worker(entry, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  worker.unref();
  // A thread that failed leaves the checkpoints to the writer's own.
  worker.on('error', () => {});
  return () => worker.postMessage('close');
}
