import { chmodSync } from 'node:fs';
import type { Span } from '@lifeline/core';
import { makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from './database.js';
import { encodeSpans } from './span-encoding.js';
import { SpanWriter } from './span-writer.js';
import { openStore } from './store.js';

const T0 = 1_767_225_600_000_000_000n;
const MS = 1_000_000n;

/** Requests of a root and `calls` database calls, some failing, some with events and links, some unfinished. */
function requests(count: number, calls: number): Span[] {
  const spans: Span[] = [];
  for (let r = 0; r < count; r++) {
    const traceId = nextId(32);
    const rootId = nextId(16);
    const start = T0 + BigInt(r) * 100n * MS;
    spans.push(
      makeSpan({
        traceId,
        spanId: rootId,
        name: `GET /items/:id`,
        kind: 'server',
        startTimeNs: start,
        endTimeNs: start + 50n * MS,
        attributes: { 'http.request.method': 'GET', 'http.route': '/items/:id', 'http.response.status_code': 200 },
      }),
    );
    for (let c = 0; c < calls; c++) {
      const callStart = start + BigInt(c + 1) * MS;
      const call = makeSpan({
        traceId,
        parentSpanId: rootId,
        name: 'SELECT items',
        kind: 'client',
        // Two processes, so two resource rows: each span must get its own back.
        serviceName: c % 2 === 0 ? 'blog-api' : 'items-db-proxy',
        startTimeNs: callStart,
        endTimeNs: callStart + MS / 2n,
        attributes: { 'db.system': 'postgresql', 'db.statement': `SELECT * FROM items WHERE id = ${c}` },
        ...(r % 3 === 1 && c === 0 ? { status: { code: 'error' as const, message: 'deadlock detected' } } : {}),
        ...(r % 4 === 2 && c === 0
          ? { events: [{ name: 'retry', timeNs: callStart + 1n, attributes: { n: 1 } }] }
          : {}),
        ...(r % 4 === 3 && c === 0
          ? { links: [{ traceId: nextId(32), spanId: nextId(16), attributes: { 'messaging.system': 'rabbitmq' } }] }
          : {}),
      });
      if (c === calls - 1 && r % 5 === 4) {
        // A call still running when the request was exported: no end time.
        const { endTimeNs: _, ...open } = call;
        spans.push(open);
      } else spans.push(call);
    }
  }
  return spans;
}

/** Everything a reader sees of a store: summaries in list order, every trace's spans, the counts. */
function readAll(path: string) {
  const store = openStore({ path });
  try {
    const { items } = store.listTraces({ work: 'all' }, { limit: 1000 });
    return {
      summaries: items.map(({ traceId, spanCount, durationNs, error, counts, serialCalls, nPlusOne }) => ({
        traceId,
        spanCount,
        durationNs,
        error,
        counts,
        serialCalls,
        nPlusOne,
      })),
      traces: items.map((item) => store.getTrace(item.traceId)?.spans),
      endpoints: store.listEndpoints(),
      spans: store.stats().spans,
    };
  } finally {
    store.close();
  }
}

function rawCount(path: string, table: string): number {
  const db = openDatabase(path, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

describe("the store's inbox", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is read exactly as the same spans written under their keys, split across batches and settles', () => {
    const spans = requests(40, 6);
    // Each trace's spans arrive in two exports, the root last, as a busy app's batch processor sends them.
    const early = spans.filter((span) => span.parentSpanId !== undefined && span.name.length % 2 === 0);
    const late = spans.filter((span) => !early.includes(span));
    const direct = tempDbPath();
    const appended = tempDbPath();
    const directWriter = new SpanWriter(openDatabase(direct, { migrate: true }));
    const appendWriter = new SpanWriter(openDatabase(appended, { migrate: true }));
    for (const batch of [early.slice(0, 100), late, early.slice(100)]) {
      directWriter.write(batch);
      expect(appendWriter.appendEncoded(encodeSpans(batch))).toBe(batch.length);
    }
    directWriter.database.close();
    appendWriter.database.close();
    expect(rawCount(appended, 'inbox')).toBe(spans.length);
    expect(rawCount(appended, 'spans')).toBe(0);
    expect(rawCount(appended, 'traces')).toBe(0);

    const expected = readAll(direct);
    const seen = readAll(appended);
    expect(seen.spans).toBe(spans.length);
    expect(seen.summaries).toEqual(expected.summaries);
    expect(seen.traces).toEqual(expected.traces);
    expect(seen.endpoints).toEqual(expected.endpoints);
    expect(rawCount(appended, 'inbox')).toBe(0);
  });

  it('settles the oldest rows first, a bounded number per transaction, and keeps the first of repeated and conflicting ids', () => {
    const path = tempDbPath();
    const writer = new SpanWriter(openDatabase(path, { migrate: true }));
    const spans = requests(10, 3);
    const first = spans[1] as Span;
    const copy = { ...first };
    const conflicting = { ...first, name: 'SELECT something else' };
    writer.appendEncoded(encodeSpans(spans));
    writer.appendEncoded(encodeSpans([copy, conflicting]));

    const settled = writer.settleInbox(25);
    expect(settled).toMatchObject({ inserted: 25, duplicates: 0, conflicts: 0 });
    expect(rawCount(path, 'inbox')).toBe(spans.length + 2 - 25);
    const rest = writer.settleInbox(1000);
    expect(rest).toMatchObject({ inserted: spans.length - 25, duplicates: 1, conflicts: 1 });
    expect(rest?.conflictExamples).toEqual([`span ${first.spanId} of trace ${first.traceId}`]);
    expect(writer.settleInbox()).toBeUndefined();
    expect(writer.inboxPending()).toBe(false);
    writer.database.close();

    const store = openStore({ path, readonly: true });
    try {
      expect(store.stats().spans).toBe(spans.length);
      expect(store.getTrace(first.traceId)?.spans.find((span) => span.spanId === first.spanId)?.name).toBe(first.name);
    } finally {
      store.close();
    }
  });

  it('is settled by a read-only store through a connection of its own, and read as it is when the file cannot be written', () => {
    const path = tempDbPath();
    const writer = new SpanWriter(openDatabase(path, { migrate: true }));
    writer.appendEncoded(encodeSpans(requests(3, 2)));
    writer.database.close();

    const reader = openStore({ path, readonly: true });
    try {
      expect(reader.listTraces().items).toHaveLength(3);
      expect(() => reader.writeSpans(requests(1, 1))).toThrow(/read-only/);
    } finally {
      reader.close();
    }
    expect(rawCount(path, 'inbox')).toBe(0);

    // A second app appends; the file then becomes unwritable for this reader.
    const again = new SpanWriter(openDatabase(path, { migrate: true }));
    again.appendEncoded(encodeSpans(requests(2, 2)));
    again.database.close();
    if (process.getuid?.() === 0) return; // root writes any file: the rest needs an ordinary user
    chmodSync(path, 0o444);
    try {
      const stale = openStore({ path, readonly: true });
      try {
        expect(stale.listTraces().items).toHaveLength(3);
      } finally {
        stale.close();
      }
    } finally {
      chmodSync(path, 0o644);
    }
  });

  it.each([
    { opened: 'writable', readonly: false },
    { opened: 'read-only', readonly: true },
  ])(
    'answers a $opened read with what is stored when settling fails, says what waits and why, and settles on a later read',
    ({ readonly }) => {
      const path = tempDbPath();
      const writer = new SpanWriter(openDatabase(path, { migrate: true }));
      const stored = requests(2, 1);
      writer.write(stored);
      const waiting = requests(3, 2);
      writer.appendEncoded(encodeSpans(waiting));
      // A trigger in the file makes every connection's settle fail as a file
      // this process may not write, or a full disk, would.
      writer.database.exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON spans BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END",
      );
      writer.database.close();
      vi.useFakeTimers({ toFake: ['Date'] });
      const store = openStore({ path, readonly });
      try {
        expect(
          store
            .listTraces()
            .items.map((item) => item.traceId)
            .sort(),
        ).toEqual([...new Set(stored.map((span) => span.traceId))].sort());
        expect(store.stats()).toMatchObject({ traces: 2, spans: stored.length });
        expect(store.getTrace(waiting[0]?.traceId as string)).toBeUndefined();
        expect(store.unsettled()).toEqual({ spans: waiting.length, reason: 'attempt to write a readonly database' });

        const fix = openDatabase(path, { migrate: false });
        fix.exec('DROP TRIGGER refuse');
        fix.close();
        // Within the retry pause, reads do not try again.
        expect(store.stats().spans).toBe(stored.length);
        vi.setSystemTime(Date.now() + 60_000);
        expect(store.stats().spans).toBe(stored.length + waiting.length);
        expect(store.unsettled()).toBeUndefined();
      } finally {
        store.close();
      }
      expect(rawCount(path, 'inbox')).toBe(0);
    },
  );

  it('loses no appended span when settling fails: the rows stay in the inbox until a settle commits', () => {
    const path = tempDbPath();
    const writer = new SpanWriter(openDatabase(path, { migrate: true }));
    const spans = requests(5, 2);
    writer.appendEncoded(encodeSpans(spans));
    // A trigger stands in for a failure halfway through the move (a full disk, say).
    writer.database.exec(
      "CREATE TEMP TRIGGER fail_summary BEFORE INSERT ON traces BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
    );
    expect(() => writer.settleInbox()).toThrow(/disk I\/O error/);
    expect(rawCount(path, 'inbox')).toBe(spans.length);
    expect(rawCount(path, 'spans')).toBe(0);
    writer.database.exec('DROP TRIGGER fail_summary');
    expect(writer.settleInbox()).toMatchObject({ inserted: spans.length });
    writer.database.close();
    expect(rawCount(path, 'spans')).toBe(spans.length);
  });
});
