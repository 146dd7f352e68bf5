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

function startWriter(path: string): {
  send: (request: WriterRequest) => void;
  replies: WriterReply[];
  next: () => Promise<WriterReply>;
} {
  const workerData: WriterWorkerData = { path };
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
});
