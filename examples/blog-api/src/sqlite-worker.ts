/**
 * One connection of the SQLite pool, on its own thread. better-sqlite3 is
 * synchronous: on the main thread two queries could never overlap, so
 * `Promise.all` would look exactly like `await` one after another. A pool of
 * threads gives SQLite the concurrency a networked database has.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

interface Request {
  readonly id: number;
  readonly sql: string;
  readonly params: readonly unknown[];
}

const { path, latencyMs } = workerData as { path: string; latencyMs: number };
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const pause = new Int32Array(new SharedArrayBuffer(4));

parentPort?.on('message', (request: Request) => {
  // A networked database answers in milliseconds, SQLite in microseconds.
  // The configured latency stands for the network round trip, spent here on
  // the connection's own thread, so overlapping queries really overlap.
  if (latencyMs > 0) Atomics.wait(pause, 0, 0, latencyMs);
  try {
    const statement = db.prepare(request.sql);
    if (statement.reader) {
      parentPort?.postMessage({ id: request.id, rows: statement.all(...request.params) });
    } else {
      statement.run(...request.params);
      parentPort?.postMessage({ id: request.id, rows: [] });
    }
  } catch (error) {
    parentPort?.postMessage({
      id: request.id,
      error: (error as Error).message,
      code: (error as { code?: string }).code,
    });
  }
});
