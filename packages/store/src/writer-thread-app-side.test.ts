import type { Worker } from 'node:worker_threads';
import { makeRequest, tempDbPath } from '@lifeline/test-support/spans';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openStore } from './store.js';
import { SpanWriterThread } from './writer-thread-app-side.js';

const T0 = 1_700_000_000_000_000_000;

/** Every writer thread started, to read the limits V8 gave it. */
const startedWorkers = vi.hoisted(() => [] as Worker[]);
vi.mock('node:worker_threads', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:worker_threads')>();
  class RecordedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      startedWorkers.push(this);
    }
  }
  return { ...actual, Worker: RecordedWorker };
});
const threads: SpanWriterThread[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((thread) => thread.close()));
});

describe('SpanWriterThread', () => {
  it('resolves once spans are committed, and refuses writes after close without starting a new thread', async () => {
    const path = tempDbPath();
    const thread = new SpanWriterThread({ path });
    threads.push(thread);
    const spans = makeRequest({ startNs: T0, durationMs: 3, queries: ['SELECT a', 'SELECT b'] });
    expect(await thread.writeSpans(spans)).toBe(spans.length);
    const store = openStore({ path, readonly: true });
    try {
      expect(store.getTrace(spans[0]?.traceId as string)?.spans).toHaveLength(spans.length);
    } finally {
      store.close();
    }
    await thread.close();
    const late = makeRequest({ startNs: T0 + 1e9, durationMs: 1 });
    await expect(thread.writeSpans(late)).rejects.toThrow(/has been closed/);
    // Closing again has nothing left to stop.
    await thread.close();
  });

  it('stores spans of an app started with flags a worker thread refuses (--max-old-space-size, --expose-gc)', async () => {
    const path = tempDbPath();
    // The writer thread is started with the app's flags: these two are
    // V8 flags that Node only takes for a whole process.
    const added = ['--max-old-space-size=4096', '--expose-gc'];
    process.execArgv.push(...added);
    const thread = new SpanWriterThread({ path });
    threads.push(thread);
    const spans = makeRequest({ startNs: T0, durationMs: 2, queries: ['SELECT a'] });
    try {
      expect(await thread.writeSpans(spans)).toBe(spans.length);
    } finally {
      for (const flag of added) process.execArgv.splice(process.execArgv.lastIndexOf(flag), 1);
    }
    const store = openStore({ path, readonly: true });
    try {
      expect(store.getTrace(spans[0]?.traceId as string)?.spans).toHaveLength(spans.length);
    } finally {
      store.close();
    }
  });

  it("runs its thread with a small young generation, so that each batch's garbage does not grow the app's memory", async () => {
    const path = tempDbPath();
    const thread = new SpanWriterThread({ path });
    threads.push(thread);
    startedWorkers.length = 0;
    const spans = makeRequest({ startNs: T0, durationMs: 3, queries: ['SELECT a'] });
    expect(await thread.writeSpans(spans)).toBe(spans.length);
    expect(startedWorkers).toHaveLength(1);
    // V8's default for a thread is 16 MB semi-spaces, a young generation of 48 MB.
    const young = startedWorkers[0]?.resourceLimits?.maxYoungGenerationSizeMb;
    expect(young).toBeGreaterThan(0);
    expect(young).toBeLessThanOrEqual(8);
  });
});
