import { makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { SpanWriter } from './span-writer.js';
import { openStore } from './store.js';

const T0 = 1_767_225_600_000_000_000n;
const MS = 1_000_000n;

describe('SpanWriter', () => {
  it('reads back a bounded number of rows for a trace of many parentless spans arriving in many batches', () => {
    const path = tempDbPath();
    const db = openDatabase(path, { migrate: true });
    const writer = new SpanWriter(db);
    const traceId = nextId(32);
    const batches = 60;
    const perBatch = 200;
    try {
      for (let b = 0; b < batches; b++) {
        const spans = Array.from({ length: perBatch }, (_, i) =>
          makeSpan({ traceId, name: `message ${b}.${i}`, startTimeNs: T0 + BigInt(b * perBatch + i) * MS }),
        );
        writer.write(spans);
      }
      const total = batches * perBatch;
      // Re-reading the whole trace on every batch would cost about batches² / 2 × perBatch = 354,000 rows;
      // reading it back only until it is large enough to be updated incrementally costs under two traces' worth.
      expect(writer.rereadSpans).toBeLessThan(2 * total);
    } finally {
      db.close();
    }
    const store = openStore({ path, readonly: true });
    try {
      const [summary] = store.listTraces().items;
      expect(summary).toMatchObject({ traceId, spanCount: batches * perBatch, rootName: 'message 0.0' });
    } finally {
      store.close();
    }
  });

  it('summarises a trace again in full when a parentless span starts before it: the new primary root', () => {
    const path = tempDbPath();
    const db = openDatabase(path, { migrate: true });
    const writer = new SpanWriter(db);
    const traceId = nextId(32);
    try {
      const early = Array.from({ length: 2100 }, (_, i) =>
        makeSpan({ traceId, name: `child ${i}`, parentSpanId: 'ffffffffffffffff', startTimeNs: T0 + BigInt(i) * MS }),
      );
      writer.write(early);
      writer.write([makeSpan({ traceId, name: 'GET /late-root', kind: 'server', startTimeNs: T0 - MS })]);
    } finally {
      db.close();
    }
    const store = openStore({ path, readonly: true });
    try {
      expect(store.listTraces().items[0]).toMatchObject({ rootName: 'GET /late-root', spanCount: 2101 });
    } finally {
      store.close();
    }
  });
});
