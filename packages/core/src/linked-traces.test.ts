import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { consume, httpServer, inTrace, publish, span, sql } from '@lifeline/test-support/spans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { layoutTrace } from './layout.js';
import { batchNote, joinLinkedTraces, linkedTraceView } from './linked-traces.js';
import { renderMermaid } from './mermaid.js';
import { type SequenceOptions, toSequence } from './sequence.js';
import { summarizeLayout, summarizeTrace } from './summary.js';
import type { Span, SpanLink, Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

const A = 'aaaa0000000000000000000000000001';
const B = 'bbbb0000000000000000000000000002';
const C = 'cccc0000000000000000000000000003';
const D = 'dddd0000000000000000000000000004';

/** Draws a trace, checks that Mermaid parses it with as many arrows as the model has, and returns the text. */
async function draw(t: Trace, options: SequenceOptions = { timings: false }): Promise<string> {
  const model = toSequence(t, options);
  const text = renderMermaid(model);
  const parsed = await parseSequenceDiagram(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  return text;
}

/** A trace as a store reads it with its links: the focus trace plus whatever other traces came along. */
function read(focus: string, ...spans: Span[][]): Trace {
  return { traceId: focus, spans: spans.flat() };
}

function link(traceId: string, spanId: string): SpanLink {
  return { traceId, spanId, attributes: {} };
}

/** `POST /orders` that publishes one message, at `at` ms. */
function request(traceId: string, prefix: string, at: number): Span[] {
  return inTrace(
    traceId,
    httpServer({ id: `${prefix}1`, start: at, end: at + 10, method: 'POST', route: '/orders', status: 202 }),
    publish({ id: `${prefix}2`, parent: `${prefix}1`, start: at + 2, end: at + 4, queue: 'orders' }),
  );
}

/** A worker's trace: one `process orders` span with the given links, which inserts the batch. */
function worker(traceId: string, prefix: string, at: number, links: SpanLink[], batch?: number): Span[] {
  const processing = consume({ id: `${prefix}1`, service: 'worker', start: at, end: at + 30, queue: 'orders', links });
  return inTrace(
    traceId,
    batch === undefined
      ? processing
      : { ...processing, attributes: { ...processing.attributes, 'messaging.batch.message_count': batch } },
    sql({
      id: `${prefix}2`,
      parent: `${prefix}1`,
      service: 'worker',
      start: at + 5,
      end: at + 25,
      query: 'INSERT INTO orders SELECT * FROM unnest($1)',
    }),
  );
}

// The batch of the case "batch consumer linked to two producer traces": requests A
// and B each publish one message; the worker's trace C processes both as one batch.
const requestA = request(A, 'a', 0);
const requestB = request(B, 'b', 5);
const batch = worker(C, 'c', 100, [link(A, 'a2'), link(B, 'b2')], 2);

describe('linked traces: a batch consumer (fan-in)', () => {
  it("draws a producer's request with the batch's processing and never the other producer's request", async () => {
    const text = await draw(read(A, requestA, requestB, batch));
    expect(text.match(/POST \/orders/g)).toHaveLength(1);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql blog (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: process orders
      Note over p3,p4: batch of 2 messages from 2 traces
      p4->>p5: INSERT orders
      p5-->>p4: ok
      "
    `);
  });

  it('draws the other producer from its own publish alike', async () => {
    const fromA = await draw(read(A, requestA, requestB, batch));
    expect(await draw(read(B, requestB, requestA, batch))).toBe(fromA);
    // The same shape, but the spans drawn are B's.
    const model = toSequence(read(B, requestA, requestB, batch), { timings: false });
    expect(model.arrows.map((a) => a.spanId)).toEqual(['b1', 'b2', 'b1', 'c1', 'c2', 'c2']);
  });

  it('measures the queue wait of each producer from its own publish', () => {
    const waits = (focus: string) =>
      toSequence(read(focus, requestA, requestB, batch)).items.flatMap((item) =>
        item.type === 'note' && item.reason === 'queue-wait' ? [item.text] : [],
      );
    // A published at 4 ms, B at 9 ms; the batch started at 100 ms.
    expect(waits(A)).toEqual(['waited 96 ms in queue']);
    expect(waits(B)).toEqual(['waited 91 ms in queue']);
  });

  it("draws the consumer's own trace from its consumer span, noting the batch", async () => {
    const t = read(C, batch, requestA, requestB);
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      participant p1 as orders (queue)
      participant p2 as worker
      participant p3 as postgresql blog (db)
      p1-)p2: process orders
      Note over p1,p2: batch of 2 messages from 2 traces
      p2->>p3: INSERT orders
      p3-->>p2: ok
      "
    `);
    expect(toSequence(t).notes).toEqual([]);
  });

  it("summarises the consumer's own trace as itself", () => {
    const summary = summarizeTrace(read(C, requestA, requestB, batch));
    expect(summary).toMatchObject({
      traceId: C,
      rootService: 'worker',
      rootName: 'process orders',
      spanCount: 2,
      counts: { db: 1, http: 0, cache: 0, queue: 1, internal: 0 },
    });
    expect(summary.statusCode).toBeUndefined();
    // Exactly the row of the consumer's trace read alone, as the list shows it.
    expect(summary).toEqual(summarizeTrace({ traceId: C, spans: batch }));
    expect(summarizeTrace(read(A, requestA, requestB, batch))).toMatchObject({
      rootService: 'api',
      rootName: 'POST /orders',
      statusCode: 202,
      spanCount: 4,
    });
  });

  it('keeps the analysis of a producer to its own request and its messages', () => {
    const analysis = analyzeTrace(read(A, requestA, requestB, batch));
    expect(analysis.errors).toEqual([]);
    expect(analysis.notes).toEqual([]);
    expect(analysis.wallTimeMs).toBeCloseTo(10, 3);
  });

  it('names the batch by its message count, else by its links', () => {
    const [processing] = batch as [Span];
    expect(batchNote(processing)).toBe('batch of 2 messages from 2 traces');
    expect(batchNote({ ...processing, attributes: {} })).toBe('batch of 2 messages from 2 traces');
    expect(batchNote({ ...processing, links: [link(A, 'a2'), link(A, 'a3')], attributes: {} })).toBe(
      'batch of 2 messages from 1 trace',
    );
    expect(batchNote({ ...processing, links: [], attributes: { 'messaging.batch.message_count': 5 } })).toBe(
      'batch of 5 messages',
    );
    expect(batchNote({ ...processing, links: [link(A, 'a2')], attributes: {} })).toBeUndefined();
    expect(batchNote({ ...processing, links: [] })).toBe('batch of 2 messages');
  });
});

describe('linked traces: a batch received at once and processed a message at a time', () => {
  // Requests A, B and E each publish one message. The worker's trace C receives
  // the three as one batch (`receive`, linked to the three publishes) and
  // processes each under its own `process` span, linked to its message alone.
  const E = 'eeee0000000000000000000000000005';
  const received = consume({
    id: 'c0',
    service: 'worker',
    start: 100,
    end: 170,
    queue: 'orders',
    links: [link(A, 'a2'), link(B, 'b2'), link(E, 'e2')],
  });
  const perMessage = (id: string, from: string, publishId: string, table: string, at: number): Span[] => [
    consume({
      id,
      parent: 'c0',
      service: 'worker',
      start: at,
      end: at + 20,
      queue: 'orders',
      links: [link(from, publishId)],
    }),
    sql({
      id: `${id}s`,
      parent: id,
      service: 'worker',
      start: at + 5,
      end: at + 15,
      query: `INSERT INTO ${table} VALUES ($1)`,
    }),
  ];
  const receiveBatch = inTrace(
    C,
    {
      ...received,
      name: 'receive orders',
      attributes: { ...received.attributes, 'messaging.operation.type': 'receive', 'messaging.batch.message_count': 3 },
    },
    ...perMessage('c1', A, 'a2', 'order_a', 105),
    ...perMessage('c2', B, 'b2', 'order_b', 125),
    ...perMessage('c3', E, 'e2', 'order_e', 145),
  );
  const requests = [requestA, requestB, request(E, 'e', 8)];

  it("draws a producer's request with the batch and the processing of its own message only", async () => {
    const t = read(B, ...requests, receiveBatch);
    expect(joinLinkedTraces(t).spans.map((s) => s.spanId)).toEqual(['b1', 'b2', 'c0', 'c2', 'c2s']);
    const text = await draw(t);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql blog (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: receive orders
      Note over p3,p4: batch of 3 messages from 3 traces
      p3-)p4: process orders
      p4->>p5: INSERT order_b
      p5-->>p4: ok
      "
    `);
  });

  it('draws each producer with its own message, and the worker with all three', () => {
    for (const [focus, own] of [
      [A, 'c1'],
      [E, 'c3'],
    ] as const) {
      const ids = joinLinkedTraces(read(focus, ...requests, receiveBatch))
        .spans.filter((s) => s.traceId === C)
        .map((s) => s.spanId);
      expect(ids).toEqual(['c0', own, `${own}s`]);
    }
    expect(joinLinkedTraces(read(C, receiveBatch, ...requests)).spans).toEqual(receiveBatch);
  });

  it('summarises from the lean layout exactly as from the drawn one', () => {
    for (const focus of [A, B, C, E]) {
      const t = read(focus, ...requests, receiveBatch);
      expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
    }
  });
});

describe('linked traces: fan-out', () => {
  it("draws each consumer's processing under the one message it consumed", async () => {
    const first = worker(C, 'c', 100, [link(A, 'a2')]);
    const second = inTrace(D, ...worker(D, 'd', 140, [link(A, 'a2')]));
    const text = await draw(read(A, requestA, first, second));
    expect(text.match(/process orders/g)).toHaveLength(2);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql blog (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: process orders
      p4->>p5: INSERT orders
      p5-->>p4: ok
      p3-)p4: process orders
      p4->>p5: INSERT orders
      p5-->>p4: ok
      "
    `);
    // Each consumer's own trace is still drawn from itself.
    expect(summarizeTrace(read(D, requestA, first, second))).toMatchObject({ rootService: 'worker', spanCount: 2 });
  });

  it('follows the messages the processing published in turn, and none of their other producers', async () => {
    const processing = inTrace(
      C,
      consume({ id: 'c1', service: 'worker', start: 100, end: 130, queue: 'orders', links: [link(A, 'a2')] }),
      publish({ id: 'c2', parent: 'c1', service: 'worker', start: 110, end: 112, queue: 'emails' }),
    );
    const mailer = inTrace(
      D,
      consume({
        id: 'd1',
        service: 'mailer',
        start: 200,
        end: 220,
        queue: 'emails',
        links: [link(C, 'c2'), link(B, 'b2')],
      }),
    );
    const t = read(A, requestA, requestB, processing, mailer);
    expect(joinLinkedTraces(t).spans.map((s) => s.spanId)).toEqual(['a1', 'a2', 'c1', 'c2', 'd1']);
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as emails (queue)
      participant p6 as mailer
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: process orders
      p4-)p5: publish emails
      p5-)p6: process emails
      Note over p5,p6: batch of 2 messages from 2 traces
      "
    `);
  });
});

describe('linked traces: robustness', () => {
  it('draws a consumer whose links name traces that are not there', async () => {
    const lost = worker(C, 'c', 100, [link('e'.repeat(32), '1'.repeat(16)), link('f'.repeat(32), '2'.repeat(16))]);
    expect(await draw(read(C, lost))).toContain('Note over p1,p2: batch of 2 messages from 2 traces');
    expect(summarizeTrace(read(C, lost)).rootName).toBe('process orders');
  });

  it('ends on links that form a cycle between two traces', async () => {
    // A's own worker consumes what C published, and C consumed what A published.
    const ownConsumer = inTrace(
      A,
      consume({ id: 'a3', service: 'api', start: 200, end: 210, queue: 'replies', links: [link(C, 'c2')] }),
    );
    const processing = inTrace(
      C,
      consume({ id: 'c1', service: 'worker', start: 100, end: 130, queue: 'orders', links: [link(A, 'a2')] }),
      publish({ id: 'c2', parent: 'c1', service: 'worker', start: 110, end: 112, queue: 'replies' }),
    );
    const fromA = read(A, requestA, ownConsumer, processing);
    expect(joinLinkedTraces(fromA).spans.map((s) => s.spanId)).toEqual(['a1', 'a2', 'a3', 'c1', 'c2']);
    expect(await draw(fromA)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as replies (queue)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      p2-->>p1: 202
      p3-)p4: process orders
      p4-)p5: publish replies
      p5-)p2: process replies
      "
    `);
    const fromC = read(C, requestA, ownConsumer, processing);
    expect(joinLinkedTraces(fromC).spans.map((s) => s.spanId)).toEqual(['a3', 'c1', 'c2']);
  });

  it('bounds a consumer linked to hundreds of producers to its own trace', async () => {
    const producers = Array.from({ length: 300 }, (_, i) => {
      const hex = (i + 1).toString(16).padStart(12, '0');
      return inTrace(
        hex.padStart(32, '0'),
        httpServer({ id: `1000${hex}`, start: i, end: i + 10, method: 'POST', route: '/orders', status: 202 }),
        publish({ id: `2000${hex}`, parent: `1000${hex}`, start: i + 2, end: i + 4, queue: 'orders' }),
      );
    });
    const links = producers.map((spans) => link(spans[1]?.traceId ?? '', spans[1]?.spanId ?? ''));
    const big = worker(C, 'c', 1000, links);
    const all = [big, ...producers];
    const own = await draw(read(C, ...all));
    expect(own).toContain('batch of 300 messages from 300 traces');
    expect(own.match(/POST/g)).toBeNull();
    // Any one producer's picture holds its request and the batch, nothing of the 299 others.
    const one = producers[123]?.[0]?.traceId ?? '';
    const view = joinLinkedTraces(read(one, ...all));
    expect(view.spans).toHaveLength(4);
    expect(view.spans.filter((s) => s.traceId === one)).toHaveLength(2);
  });

  it('draws a batch of several messages from the same trace once, waiting from its first link', async () => {
    const twice = inTrace(
      A,
      httpServer({ id: 'a1', start: 0, end: 10, method: 'POST', route: '/orders', status: 202 }),
      publish({ id: 'a2', parent: 'a1', start: 2, end: 4, queue: 'orders' }),
      publish({ id: 'a3', parent: 'a1', start: 5, end: 6, queue: 'orders' }),
    );
    const both = worker(C, 'c', 100, [link(A, 'a2'), link(A, 'a3'), link(A, 'a3')]);
    const t = read(A, twice, both);
    const text = await draw(t);
    expect(text.match(/process orders/g)).toHaveLength(1);
    expect(text).toContain('batch of 3 messages from 1 trace');
    const notes = toSequence(t).items.flatMap((i) => (i.type === 'note' ? [i.text] : []));
    expect(notes).toContain('waited 96 ms in queue');
  });

  it('draws a joined consumer whose parent stayed in its own trace under the publish, not under the root', async () => {
    const [processing, insert] = worker(C, 'c', 100, [link(A, 'a2')]) as [Span, Span];
    const poll = inTrace(
      C,
      { ...consume({ id: 'c0', service: 'worker', start: 90, end: 140, queue: 'orders' }), name: 'poll' },
      { ...processing, parentSpanId: 'c0' },
      insert,
    );
    const t = read(A, requestA, poll);
    expect(buildSpanTree(t).notes).toEqual([]);
    expect(joinLinkedTraces(t).spans.map((s) => s.spanId)).toEqual(['a1', 'a2', 'c1', 'c2']);
    expect(await draw(t)).toBe(await draw(read(A, requestA, worker(C, 'c', 100, [link(A, 'a2')]))));
  });

  it('measures the wait from the publish a link names, not from a span of another trace with the same id', () => {
    const later = inTrace(
      A,
      httpServer({ id: 'a1', start: 0, end: 60, method: 'POST', route: '/orders', status: 202 }),
      publish({ id: 'a2', parent: 'a1', start: 2, end: 4, queue: 'orders' }),
      publish({ id: 'a3', parent: 'a1', start: 48, end: 50, queue: 'orders' }),
    );
    // B's publish has id a2 too: ids are unique within a trace only.
    const batchOfTwo = worker(C, 'c', 100, [link(B, 'a2'), link(A, 'a3')]);
    const model = toSequence(read(A, later, batchOfTwo));
    expect(model.items.flatMap((i) => (i.type === 'note' && i.reason === 'queue-wait' ? [i.text] : []))).toEqual([
      'waited 50 ms in queue',
    ]);
  });

  it('leaves out a consumer that reuses span ids of the picture, and says so', () => {
    const clash = worker(C, 'a', 100, [link(A, 'a2')]);
    const t = read(A, requestA, clash);
    expect(joinLinkedTraces(t).spans.map((s) => s.spanId)).toEqual(['a1', 'a2']);
    expect(buildSpanTree(t).notes).toEqual(['1 linked consumer reuses span ids of this trace: not drawn']);
  });

  it('keeps a trace without other traces as it is', () => {
    const t = read(A, requestA);
    expect(linkedTraceView(t).trace).toBe(t);
    const foreign: Trace = { traceId: '', spans: requestA };
    expect(linkedTraceView(foreign).trace).toBe(foreign);
  });

  it('summarises linked traces from the lean layout exactly as from the drawn one', () => {
    const cases = [
      read(A, requestA, requestB, batch),
      read(B, requestA, requestB, batch),
      read(C, requestA, requestB, batch),
      read(A, requestA, worker(C, 'c', 100, [link(A, 'a2')]), worker(D, 'd', 140, [link(A, 'a2')])),
    ];
    for (const t of cases) {
      expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
    }
  });

  it('joins only what is downstream of the focus trace, on random webs of links', () => {
    const traceIds = [A, B, C, D];
    const spec = fc.record({
      trace: fc.nat(3),
      parent: fc.option(fc.nat(30)),
      kind: fc.constantFrom('server', 'client', 'producer', 'consumer', 'consumer', 'internal' as const),
      start: fc.nat(200),
      duration: fc.nat(50),
      links: fc.array(fc.record({ trace: fc.nat(4), span: fc.nat(30) }), { maxLength: 3 }),
    });
    let joined = 0;
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 30 }), fc.nat(3), (specs, focusIndex) => {
        const spans = specs.map((s, i) => {
          const traceId = traceIds[s.trace] as string;
          // Parents within the same trace only, and earlier, so no span is its own ancestor.
          const parent = s.parent === null || i === 0 ? undefined : specs[s.parent % i];
          const parentIndex = s.parent === null || i === 0 ? 0 : s.parent % i;
          return {
            ...span({
              id: `s${i}`,
              ...(parent !== undefined && parent.trace === s.trace ? { parent: `s${parentIndex}` } : {}),
              kind: s.kind,
              start: s.start,
              end: s.start + s.duration,
              attributes: s.kind === 'producer' || s.kind === 'consumer' ? { 'messaging.system': 'rabbitmq' } : {},
              // Trace index 4 names a trace that is not there.
              links: s.links.map((l) => link(traceIds[l.trace] ?? 'e'.repeat(32), `s${l.span}`)),
            }),
            traceId,
          };
        });
        const focus = traceIds[focusIndex] as string;
        const t: Trace = { traceId: focus, spans };
        const view = joinLinkedTraces(t);
        if (view.spans.some((s) => s.traceId !== focus)) joined++;
        const kept = new Set(view.spans);
        const key = (traceId: string, spanId: string) => `${traceId}/${spanId}`;
        const byKey = new Map(spans.map((s) => [key(s.traceId, s.spanId), s]));
        if (spans.some((s) => s.traceId === focus)) {
          for (const s of spans) if (s.traceId === focus) expect(kept.has(s)).toBe(true);
          // Every joined span hangs under a joined parent or consumes a message published in the picture.
          for (const s of view.spans) {
            if (s.traceId === focus) continue;
            const parent = s.parentSpanId === undefined ? undefined : byKey.get(key(s.traceId, s.parentSpanId));
            const fromPicture = s.links.some((l) => {
              const producer = byKey.get(key(l.traceId, l.spanId));
              return producer !== undefined && producer.kind === 'producer' && kept.has(producer);
            });
            expect((parent !== undefined && kept.has(parent)) || (s.kind === 'consumer' && fromPicture)).toBe(true);
          }
        }
        expect(joinLinkedTraces(view).spans).toEqual(view.spans);
        const reference = summarizeLayout(layoutTrace(buildSpanTree(t)));
        expect(summarizeTrace(t)).toEqual(reference);
        const drawn = new Set(view.spans.map((s) => s.spanId));
        for (const arrow of toSequence(t).arrows) expect(drawn.has(arrow.spanId)).toBe(true);
      }),
      { numRuns: 300 },
    );
    // The webs are dense enough that many focus traces join consumers of other traces.
    expect(joined).toBeGreaterThan(30);
  });
});

describe('a consumer whose clock puts it before its publish', () => {
  /** Arrows and notes in text order, without the header. */
  const body = (text: string): string[] =>
    text.split('\n').filter((line) => line.includes('>>') || line.includes('-)') || line.startsWith('Note'));

  it('is drawn after the publish, noted, when its link names the producer', async () => {
    // The worker's clock runs behind: it says it started 18 ms before the message was sent (at 102 ms).
    const t = read(A, request(A, 'a', 100), worker(B, 'w', 84, [link(A, 'a2')]));
    const text = await draw(t, {});
    expect(body(text)).toEqual([
      'p1->>p2: POST /orders',
      'p2-)p3: publish orders',
      'p3-)p4: process orders',
      'Note over p3,p4: clock adjusted: recorded 20 ms before its publish, drawn after it',
      'p2-->>p1: 202 · 10 ms',
      'Note over p2: after the response: 1 call outlived the request by 24 ms',
      'p4->>p5: INSERT orders',
      'p5-->>p4: ok · 20 ms',
    ]);
    expect(toSequence(t).notes).toContain('clock skew between api and worker: up to 20 ms, shifted for layout');
    expect(await draw(t)).toContain('Note over p3,p4: clock adjusted: recorded before its publish, drawn after it');
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });

  it('is drawn after the publish, noted, when it is the producer span’s child', async () => {
    const t: Trace = {
      traceId: A,
      spans: [
        ...request(A, 'a', 100),
        ...inTrace(
          A,
          consume({ id: 'w1', parent: 'a2', service: 'worker', start: 84, end: 114, queue: 'orders' }),
          sql({
            id: 'w2',
            parent: 'w1',
            service: 'worker',
            start: 89,
            end: 109,
            query: 'INSERT INTO orders VALUES (1)',
          }),
        ),
      ],
    };
    const lines = body(await draw(t, {}));
    expect(lines.slice(0, 4)).toEqual([
      'p1->>p2: POST /orders',
      'p2-)p3: publish orders',
      'p3-)p4: process orders',
      'Note over p3,p4: clock adjusted: recorded 20 ms before its publish, drawn after it',
    ]);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });

  it('keeps a consumer that started during its publish where its clock put it, unnoted', async () => {
    const t = read(A, request(A, 'a', 100), worker(B, 'w', 103, [link(A, 'a2')]));
    const text = await draw(t, {});
    expect(text).not.toContain('clock adjusted');
    expect(toSequence(t).notes.some((note) => note.startsWith('clock skew'))).toBe(false);
  });
});
