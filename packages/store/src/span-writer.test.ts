import { summarizeTrace } from '@lifeline/core';
import { makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { SpanWriter } from './span-writer.js';
import { openStore } from './store.js';

const T0 = 1_767_225_600_000_000_000n;
const MS = 1_000_000n;

describe('SpanWriter', () => {
  it('stores every field of a new trace whose spans with and without a status message, events and links alternate', () => {
    const path = tempDbPath();
    const db = openDatabase(path, { migrate: true });
    const writer = new SpanWriter(db);
    const traceId = nextId(32);
    // 16 rows go in per statement: the first 32 spans have none of the three
    // fields, then one in three has one of them, so that row groups of both kinds,
    // mixed ones and a remainder are written.
    const spans = Array.from({ length: 75 }, (_, i) => {
      const startTimeNs = T0 + BigInt(i) * MS;
      const rich = i >= 32 && i % 3 === 0;
      return makeSpan({
        traceId,
        name: `call ${i}`,
        startTimeNs,
        attributes: { 'call.index': i },
        ...(rich && i % 9 === 0 ? { status: { code: 'error' as const, message: `failed ${i}` } } : {}),
        ...(rich && i % 9 === 3 ? { events: [{ name: 'retry', timeNs: startTimeNs + 1n, attributes: { n: i } }] } : {}),
        ...(rich && i % 9 === 6 ? { links: [{ traceId: nextId(32), spanId: nextId(16), attributes: {} }] } : {}),
      });
    });
    try {
      expect(writer.write(spans)).toMatchObject({ inserted: spans.length, duplicates: 0, conflicts: 0 });
    } finally {
      db.close();
    }
    const store = openStore({ path, readonly: true });
    try {
      const stored = new Map(store.getTrace(traceId)?.spans.map((span) => [span.spanId, span]));
      expect(stored.size).toBe(spans.length);
      for (const span of spans) {
        const back = stored.get(span.spanId);
        expect(back, span.name).toMatchObject({
          name: span.name,
          startTimeNs: span.startTimeNs,
          endTimeNs: span.endTimeNs,
          status: span.status,
          attributes: span.attributes,
          events: span.events,
          links: span.links,
        });
      }
    } finally {
      store.close();
    }
  });

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

  describe('the error flag of a trace large enough to be updated incrementally', () => {
    /** A request trace of `children` queries, its server span first, with a producer span for a job. */
    function largeRequest(traceId: string, children: number) {
      const root = makeSpan({
        traceId,
        name: 'POST /orders',
        kind: 'server',
        startTimeNs: T0,
        endTimeNs: T0 + 10_000n * MS,
      });
      const producer = makeSpan({
        traceId,
        name: 'orders publish',
        kind: 'producer',
        parentSpanId: root.spanId,
        startTimeNs: T0 + MS,
        attributes: { 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'orders' },
      });
      const queries = Array.from({ length: children }, (_, i) =>
        makeSpan({
          traceId,
          name: 'SELECT orders',
          kind: 'client',
          parentSpanId: root.spanId,
          startTimeNs: T0 + 2n * MS + BigInt(i) * 1000n,
          endTimeNs: T0 + 2n * MS + BigInt(i) * 1000n + 500n,
          attributes: { 'db.system': 'postgresql' },
        }),
      );
      return { spans: [root, producer, ...queries], producer };
    }

    function attempt(traceId: string, producerId: string, at: bigint, failed: boolean) {
      return makeSpan({
        traceId,
        name: 'orders process',
        kind: 'consumer',
        parentSpanId: producerId,
        startTimeNs: at,
        endTimeNs: at + MS,
        status: failed ? { code: 'error', message: 'timeout' } : { code: 'unset' },
        attributes: { 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'orders' },
      });
    }

    function listed(path: string, traceId: string) {
      const store = openStore({ path, readonly: true });
      try {
        const row = store.listTraces({ work: 'all' }).items.find((item) => item.traceId === traceId);
        const failedIds = store.listTraces({ work: 'all', error: true }).items.map((item) => item.traceId);
        const trace = store.getTrace(traceId);
        return { row, failedIds, trace };
      } finally {
        store.close();
      }
    }

    it('clears the error of a retried message attempt once a later attempt got through', () => {
      const path = tempDbPath();
      const db = openDatabase(path, { migrate: true });
      const writer = new SpanWriter(db);
      const traceId = nextId(32);
      const { spans, producer } = largeRequest(traceId, 2100);
      try {
        writer.write(spans);
        writer.write([attempt(traceId, producer.spanId, T0 + 20n * MS, true)]);
        expect(listed(path, traceId).row?.error).toBe(true);
        writer.write([attempt(traceId, producer.spanId, T0 + 40n * MS, false)]);
      } finally {
        db.close();
      }
      const { row, failedIds, trace } = listed(path, traceId);
      // The same rule as a full summary of the stored trace, which the diagram is drawn from.
      expect(trace && summarizeTrace(trace).error).toBe(false);
      expect(row?.error).toBe(false);
      expect(failedIds).not.toContain(traceId);
    });

    it('counts a failure by the outcome rules, not only by an error status', () => {
      const path = tempDbPath();
      const db = openDatabase(path, { migrate: true });
      const writer = new SpanWriter(db);
      const traceId = nextId(32);
      const { spans, producer } = largeRequest(traceId, 2100);
      try {
        writer.write(spans);
        // A downstream call answered 503; its status was left unset, as the HTTP conventions allow.
        const consumer = attempt(traceId, producer.spanId, T0 + 20n * MS, false);
        const call = makeSpan({
          traceId,
          name: 'GET',
          kind: 'client',
          parentSpanId: consumer.spanId,
          startTimeNs: T0 + 20n * MS + 1000n,
          attributes: { 'http.request.method': 'GET', 'server.address': 'stock', 'http.response.status_code': 503 },
        });
        writer.write([call, consumer]);
      } finally {
        db.close();
      }
      const { row, failedIds, trace } = listed(path, traceId);
      expect(trace && summarizeTrace(trace).error).toBe(true);
      expect(row?.error).toBe(true);
      expect(failedIds).toContain(traceId);
    });
  });
});
