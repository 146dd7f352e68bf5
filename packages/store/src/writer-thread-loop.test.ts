import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { makeRequest, tempDbPath } from '@lifeline/test-support/spans';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { encodeSpans } from './span-encoding.js';
import { openStore } from './store.js';
import { configureWriterConnection } from './writer-thread-loop.js';
import type { WriterReply, WriterRequest, WriterWorkerData } from './writer-thread-messages.js';

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

function startWriter(
  path: string,
  tuning: Pick<WriterWorkerData, 'cacheKiB' | 'checkpointThread'> = {},
): {
  send: (request: WriterRequest) => void;
  replies: WriterReply[];
  next: () => Promise<WriterReply>;
} {
  const workerData: WriterWorkerData = { path, ...tuning };
  const worker = new Worker(new URL('./writer-thread-entry.ts', import.meta.url), { workerData, execArgv: [] });
  workers.push(worker);
  const replies: WriterReply[] = [];
  const waiting: ((reply: WriterReply) => void)[] = [];
  worker.on('message', (reply: WriterReply) => {
    replies.push(reply);
    waiting.shift()?.(reply);
  });
  return {
    send: (request) => worker.postMessage(request),
    replies,
    next: () => new Promise((done) => waiting.push(done)),
  };
}

describe('the writer thread', () => {
  it('writes a slice announced as followed by more once the rest is late', async () => {
    const path = tempDbPath();
    const writer = startWriter(path);
    const spans = makeRequest({
      startNs: 1_767_225_600_000_000_000,
      durationMs: 20,
      queries: ['SELECT a', 'SELECT b'],
    });
    const answer = writer.next();
    writer.send({ type: 'write', id: 1, batch: encodeSpans(spans), more: true });
    expect(await answer).toEqual({ type: 'written', id: 1, inserted: 3 });
    const store = openStore({ path, readonly: true });
    expect(store.stats()).toMatchObject({ traces: 1, spans: 3 });
    store.close();
  });

  it('answers every slice of a coalesced group, in order, and closes after writing what it holds', async () => {
    const path = tempDbPath();
    const writer = startWriter(path);
    const traces = [0, 1, 2].map((i) =>
      makeRequest({ startNs: 1_767_225_600_000_000_000 + i, durationMs: 20, queries: ['SELECT a'] }),
    );
    writer.send({ type: 'write', id: 1, batch: encodeSpans(traces[0] ?? []), more: true });
    writer.send({ type: 'write', id: 2, batch: encodeSpans(traces[1] ?? []), more: true });
    writer.send({ type: 'write', id: 3, batch: encodeSpans(traces[2] ?? []), more: true });
    const closed = new Promise<void>((done) => {
      const poll = setInterval(() => {
        if (writer.replies.some((r) => r.type === 'closed')) {
          clearInterval(poll);
          done();
        }
      }, 5);
    });
    writer.send({ type: 'close', id: 4 });
    await closed;
    expect(writer.replies).toEqual([
      { type: 'written', id: 1, inserted: 2 },
      { type: 'written', id: 2, inserted: 2 },
      { type: 'written', id: 3, inserted: 2 },
      { type: 'closed', id: 4 },
    ]);
    const store = openStore({ path, readonly: true });
    expect(store.stats()).toMatchObject({ traces: 3, spans: 6 });
    store.close();
  });

  it("keeps its connection's page cache small and maps no file pages into the app's memory", () => {
    const db = configureWriterConnection(openDatabase(tempDbPath(), { migrate: true }));
    try {
      // better-sqlite3's default is 16 MB (-16000 KiB).
      const cacheKib = -(db.pragma('cache_size', { simple: true }) as number);
      expect(cacheKib).toBeGreaterThan(0);
      expect(cacheKib).toBeLessThanOrEqual(4096);
      expect(db.pragma('mmap_size', { simple: true })).toBe(0);
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
    } finally {
      db.close();
    }
  });

  it('takes a larger page cache, and leaves checkpoints to their thread up to a backstop, when asked', () => {
    const db = configureWriterConnection(openDatabase(tempDbPath(), { migrate: true }), {
      cacheKiB: 65_536,
      checkpointThread: true,
    });
    try {
      expect(db.pragma('cache_size', { simple: true })).toBe(-65_536);
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(40_000);
    } finally {
      db.close();
    }
  });

  /**
   * Writes about 6 MB of WAL (more than the checkpoint thread's 4 MB
   * threshold, less than the writer's own 40 MB) and reports the database
   * file's size before and after a wait with the writer idle: only a
   * checkpoint copies pages into the file.
   */
  async function fileGrowth(tuning: Pick<WriterWorkerData, 'checkpointThread'>, waitMs: number): Promise<number> {
    const path = tempDbPath();
    const writer = startWriter(path, tuning);
    let id = 0;
    for (let round = 0; round < 6; round++) {
      const spans = Array.from({ length: 10 }, (_, i) =>
        makeRequest({
          startNs: 1_767_225_600_000_000_000 + round * 1_000_000_000 + i,
          durationMs: 20,
          queries: Array.from({ length: 200 }, (_, q) => `SELECT * FROM orders WHERE id = ${q} -- ${'x'.repeat(200)}`),
        }),
      ).flat();
      const answer = writer.next();
      writer.send({ type: 'write', id: ++id, batch: encodeSpans(spans), more: false });
      expect(await answer).toMatchObject({ type: 'written', inserted: spans.length });
    }
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(4 * 1024 * 1024);
    const before = statSync(path).size;
    // The thread looks every 200 ms; a loaded machine may take a few looks.
    for (let waited = 0; waited < waitMs && statSync(path).size === before; waited += 100) await sleep(100);
    return statSync(path).size - before;
  }

  it('copies the WAL into the database file on the checkpoint thread while the writer is idle', async () => {
    expect(await fileGrowth({ checkpointThread: true }, 5_000)).toBeGreaterThan(1024 * 1024);
  });

  it('without a checkpoint thread, leaves a WAL under its own threshold uncopied', async () => {
    // Five of the checkpoint thread's looks.
    expect(await fileGrowth({}, 1_000)).toBe(0);
  });
});
