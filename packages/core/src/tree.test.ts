import {
  expectValidMermaid,
  httpClient,
  httpServer,
  ns,
  span,
  sql,
  TRACE_ID,
  trace,
} from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { layoutTrace } from './layout.js';
import { renderMermaid } from './mermaid.js';
import { toSequence } from './sequence.js';
import { summarizeLayout, summarizeTrace } from './summary.js';
import type { Span, Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

async function drawValid(t: Trace): Promise<string> {
  const model = toSequence(t, { timings: false });
  const text = renderMermaid(model);
  const parsed = await expectValidMermaid(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  return text;
}

describe('buildSpanTree', () => {
  it('attaches orphans under the root and notes it', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      sql({ id: 'orphan', parent: 'gone', start: 10, end: 20, query: 'SELECT * FROM t' }),
    );
    const tree = buildSpanTree(t);
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(['root']);
    expect(tree.byId.get('orphan')?.parent?.span.spanId).toBe('root');
    const note = '1 span refers to a parent missing from the trace (SELECT t): drawn by start time under the root span';
    expect(tree.notes).toEqual([note]);
    expect(tree.broken.map((b) => [b.node.span.spanId, b.reason])).toEqual([['orphan', 'missing-parent']]);
    expect(toSequence(t).notes).toContain(note);
    expect(await drawValid(t)).toContain(
      'Note over p1,p2: incomplete trace: parent of 1 span missing (SELECT t), drawn by start time\np1->>p2: GET /x',
    );
  });

  it('draws several roots one after another in start order', async () => {
    const t = trace(
      httpServer({ id: 'second', start: 50, end: 60, route: '/b', status: 200 }),
      httpServer({ id: 'first', start: 0, end: 10, route: '/a', status: 200 }),
    );
    const tree = buildSpanTree(t);
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(['first', 'second']);
    expect(tree.notes).toContain('trace has 2 root spans: drawn one after another in start order');
    const text = await drawValid(t);
    expect(text.indexOf('GET /a')).toBeLessThan(text.indexOf('GET /b'));
  });

  it('makes orphans separate roots when the trace has no root', () => {
    const t = trace(
      sql({ id: 'a', parent: 'x', start: 5, end: 6, query: 'SELECT 1' }),
      sql({ id: 'b', parent: 'y', start: 1, end: 2, query: 'SELECT 2' }),
    );
    const tree = buildSpanTree(t);
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(['b', 'a']);
    expect(tree.notes[0]).toBe(
      '2 spans refer to a parent missing from the trace (SELECT, SELECT): drawn by start time',
    );
  });

  it('shifts a remote subtree whose clock runs ahead back into the calling span and notes the skew', async () => {
    // The users service clock is 500 ms ahead: its server span appears to start after the client span ended.
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      httpClient({ id: 'c', parent: 'root', start: 10, end: 60, url: 'http://users/u/1', status: 200 }),
      httpServer({ id: 's', parent: 'c', service: 'users', start: 515, end: 555, route: '/u/:id', status: 200 }),
      sql({ id: 'q', parent: 's', service: 'users', start: 520, end: 530, query: 'SELECT * FROM users' }),
    );
    const tree = buildSpanTree(t);
    const server = tree.byId.get('s');
    const query = tree.byId.get('q');
    // Centred in the 50 ms call: starts 5 ms after it, the query keeps its 5 ms offset inside.
    expect(server && Number(tree.baseNs + BigInt(server.start) - ns(0)) / 1e6).toBeCloseTo(15, 3);
    expect(query && Number(tree.baseNs + BigInt(query.start) - ns(0)) / 1e6).toBeCloseTo(20, 3);
    expect(query && (query.end - query.start) / 1e6).toBeCloseTo(10, 3);
    expect(tree.notes).toEqual(['clock skew between api and users: up to 500 ms, shifted for layout']);
    await drawValid(t);
  });

  it('keeps the recorded times of an orphan from another service: no recorded call supports a skew', async () => {
    // The parent of the late insert is missing: hanging it under the root is a drawing choice, not a call.
    const t = trace(
      httpServer({ id: 'root', service: 'svc-a', route: '/o', start: 0, end: 20, status: 200 }),
      sql({ id: 'early', parent: 'root', service: 'svc-a', start: 2, end: 5, query: 'SELECT early' }),
      sql({ id: 'late', parent: 'gone', service: 'svc-b', start: 50, end: 60, query: 'INSERT orphan_late' }),
    );
    const tree = buildSpanTree(t);
    const late = tree.byId.get('late');
    expect(late?.parent?.span.spanId).toBe('root');
    expect(late && tree.baseNs + BigInt(late.start)).toBe(ns(50));
    expect(late && tree.baseNs + BigInt(late.end)).toBe(ns(60));
    expect(tree.notes).toEqual([
      '1 span refers to a parent missing from the trace (INSERT): drawn by start time under the root span',
    ]);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
    expect(await drawValid(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as svc-a
      participant p3 as postgresql blog (db)
      participant p4 as svc-b
      Note over p1,p2: incomplete trace: parent of 1 span missing (INSERT), drawn by start time
      p1->>p2: GET /o
      p2->>p3: SELECT
      p3-->>p2: ok
      p2-->>p1: 200
      Note over p2: after the response: 1 call outlived the request
      p4->>p3: INSERT
      p3-->>p4: ok
      "
    `);
  });

  it('still corrects the skew inside an orphan subtree, against the orphan', async () => {
    // An orphan client span of the worker called users, whose clock runs 500 ms ahead.
    const t = trace(
      httpServer({ id: 'root', service: 'api', route: '/x', start: 0, end: 20, status: 200 }),
      httpClient({ id: 'c', parent: 'gone', service: 'worker', url: 'http://users/u/1', start: 40, end: 90 }),
      httpServer({ id: 's', parent: 'c', service: 'users', route: '/u/:id', start: 545, end: 585, status: 200 }),
    );
    const tree = buildSpanTree(t);
    const client = tree.byId.get('c');
    const server = tree.byId.get('s');
    expect(client && tree.baseNs + BigInt(client.start)).toBe(ns(40));
    // Centred in the 50 ms call: starts 5 ms after it.
    expect(server && tree.baseNs + BigInt(server.start)).toBe(ns(45));
    expect(tree.notes).toEqual([
      '1 span refers to a parent missing from the trace (GET /u/:id): drawn by start time under the root span',
      'clock skew between worker and users: up to 500 ms, shifted for layout',
    ]);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
    expect(await drawValid(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as worker
      participant p4 as users
      Note over p1,p2: incomplete trace: parent of 1 span missing (GET /u/:id), drawn by start time
      p1->>p2: GET /x
      p2-->>p1: 200
      Note over p2: after the response: 1 call outlived the request
      p3->>p4: GET /u/:id
      p4-->>p3: 200
      "
    `);
  });

  it('clamps a same-process child that starts before its parent', () => {
    const t = trace(
      httpServer({ id: 'root', start: 10, end: 100, route: '/x' }),
      sql({ id: 'q', parent: 'root', start: 5, end: 20, query: 'SELECT 1' }),
    );
    const tree = buildSpanTree(t);
    const q = tree.byId.get('q');
    expect(q && tree.baseNs + BigInt(q.start)).toBe(ns(10));
    expect(tree.notes[0]).toMatch(
      /^clock skew: a span of api starts? up to 5 ms before their parent: clamped for layout$/,
    );
  });

  it('shifts a same-process child that ran wholly before its parent into it, keeping its duration, and the diagram says so', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 50, end: 100, route: '/x', status: 200 }),
      sql({ id: 'q', parent: 'root', start: 10, end: 20, query: 'SELECT 1' }),
      sql({ id: 'r', parent: 'q', start: 12, end: 15, query: 'SELECT 2', db: 'other' }),
    );
    const tree = buildSpanTree(t);
    const q = tree.byId.get('q');
    const r = tree.byId.get('r');
    // Moved with its subtree to its parent's start: 10 ms long, as recorded.
    expect(q && tree.baseNs + BigInt(q.start)).toBe(ns(50));
    expect(q && q.end - q.start).toBe(10e6);
    expect(r && tree.baseNs + BigInt(r.start)).toBe(ns(52));
    expect(r && r.end - r.start).toBe(3e6);
    expect(tree.notes).toEqual([
      'clock skew: a span of api ran up to 40 ms before its parent started: shifted into it for layout',
    ]);
    const timed = renderMermaid(toSequence(t));
    expect(timed).toContain('p3-->>p2: ok · 10 ms');
    expect(timed).toContain('Note over p2,p3: clock skew: recorded 40 ms before its parent, drawn at its start');
    expect(await drawValid(t)).toContain('Note over p2,p3: clock skew: recorded before its parent, drawn at its start');
  });

  it('repairs missing end times from the children and notes it', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: null, route: '/x' }),
      sql({ id: 'a', parent: 'root', start: 10, end: 40, query: 'SELECT 1' }),
      sql({ id: 'b', parent: 'root', start: 50, end: null, query: 'SELECT 2' }),
    );
    const tree = buildSpanTree(t);
    expect(tree.baseNs).toBe(ns(0));
    expect(tree.byId.get('root')?.end).toBe(50e6);
    expect(tree.byId.get('b')?.end).toBe(50e6);
    expect(tree.notes).toEqual(['2 spans never ended: drawn as ending with their last child']);
    await drawValid(t);
  });

  it('keeps the first of duplicate span ids', () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x' }),
      sql({ id: 'dup', parent: 'root', start: 10, end: 20, query: 'SELECT first' }),
      sql({ id: 'dup', parent: 'root', start: 30, end: 40, query: 'SELECT second' }),
    );
    const tree = buildSpanTree(t);
    expect(tree.nodes).toHaveLength(2);
    expect(tree.byId.get('dup')?.span.attributes['db.query.text']).toBe('SELECT first');
    expect(tree.notes).toEqual(['1 duplicate span id: kept the first of each']);
  });

  // From 512 spans on, ids are filed and parents looked up in bulk (see span-index.ts): the
  // links must be those a Map of first occurrences gives, whatever the order and form of the ids.
  it('links the parents of a large trace as a Map of first occurrences would, in any input order', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const size of [600, 2500]) {
      for (let round = 0; round < 4; round++) {
        // W3C ids, mostly; some uppercase or short ones (they go to the index's Map).
        const id = (i: number): string =>
          i % 97 === 5
            ? `X${i}`
            : i % 89 === 3
              ? (i * 40503).toString(16).toUpperCase().padStart(16, 'F')
              : (i * 2654435761 + 1).toString(16).padStart(16, '0').slice(-16);
        const spans: Span[] = [httpServer({ id: id(0), start: 0, end: 1e6, route: '/r' })];
        for (let i = 1; i < size; i++) {
          const r = random();
          // Earlier spans as parents, some missing ones, and some duplicate ids.
          const parent = r < 0.05 ? `feed${i}`.padStart(16, '0') : id(Math.floor(random() * i));
          const spanId = r > 0.97 ? id(Math.floor(random() * i)) : id(i);
          spans.push(sql({ id: spanId, parent, start: i, end: i + 0.5, query: `SELECT ${i}` }));
        }
        // Shuffled, so that links point to earlier and to later spans alike.
        const order = round % 2 === 0 ? spans : [...spans].sort(() => random() - 0.5);
        const tree = buildSpanTree(trace(...order));
        const first = new Map<string, Span>();
        for (const s of order) if (!first.has(s.spanId)) first.set(s.spanId, s);
        expect(tree.nodes).toHaveLength(first.size);
        expect(tree.notes.some((note) => note.includes('duplicate span id'))).toBe(first.size < order.length);
        for (const node of tree.nodes) {
          expect(first.get(node.span.spanId)).toBe(node.span);
          const parentId = node.span.parentSpanId;
          const recorded = parentId === undefined ? undefined : first.get(parentId);
          const broken = tree.broken.find((b) => b.node === node);
          if (recorded !== undefined && broken === undefined) expect(node.parent?.span).toBe(recorded);
          if (parentId !== undefined && recorded === undefined) expect(broken?.reason).toBe('missing-parent');
          // Children in start order, and depths one more than the parent's.
          expect(node.depth).toBe(node.parent === undefined ? 0 : node.parent.depth + 1);
          for (let c = 1; c < node.children.length; c++)
            expect((node.children[c - 1] as (typeof node.children)[number]).start).toBeLessThanOrEqual(
              (node.children[c] as (typeof node.children)[number]).start,
            );
        }
      }
    }
  });

  it('breaks loops of parent links and spans naming themselves, and draws them by start time under the root', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      sql({ id: 'a', parent: 'b', start: 10, end: 20, query: 'SELECT a' }),
      sql({ id: 'b', parent: 'a', start: 30, end: 40, query: 'SELECT b' }),
      sql({ id: 'self', parent: 'self', start: 50, end: 60, query: 'SELECT self' }),
    );
    const tree = buildSpanTree(t);
    expect(tree.nodes).toHaveLength(4);
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(['root']);
    expect(tree.byId.get('a')?.parent?.span.spanId).toBe('root');
    // b ran after a ended: the looped link to a does not hold it.
    expect(tree.byId.get('b')?.parent?.span.spanId).toBe('root');
    expect(tree.byId.get('self')?.parent?.span.spanId).toBe('root');
    expect(tree.notes).toEqual([
      '1 span naming itself as parent (SELECT): drawn by start time under the root span',
      'parent links form 1 loop over 2 spans (SELECT, SELECT): broken at the earliest span of each, drawn by start time under the root span',
    ]);
    expect(await drawValid(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      Note over p1,p2: parent link broken: 1 span naming itself as parent (SELECT)
      Note over p1,p2: parent link broken: a loop of parent links over 2 spans (SELECT, SELECT)
      p1->>p2: GET /x
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p3: SELECT
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });

  it('keeps each span of a broken loop where and as long as it ran when its link does not hold it', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      sql({ id: 'a', parent: 'b', start: 10, end: 20, query: 'SELECT a FROM t' }),
      sql({ id: 'b', parent: 'a', start: 30, end: 45, query: 'SELECT b FROM t' }),
    );
    const tree = buildSpanTree(t);
    const b = tree.byId.get('b');
    // b ran after a ended: the looped link does not nest it, it hangs under the root by its own time.
    expect(b?.parent?.span.spanId).toBe('root');
    expect(b && tree.baseNs + BigInt(b.start)).toBe(ns(30));
    expect(b && b.end - b.start).toBe(15e6);
    expect(tree.notes).toEqual([
      'parent links form 1 loop over 2 spans (SELECT t, SELECT t): broken at the earliest span of each, drawn by start time under the root span',
    ]);
    const timed = renderMermaid(toSequence(t));
    expect(timed).toContain('p3-->>p2: ok · 10 ms');
    expect(timed).toContain('p3-->>p2: ok · 15 ms');
    expect(timed).toContain(
      'Note over p1,p2: parent link broken: a loop of parent links over 2 spans (SELECT t, SELECT t)',
    );
    await drawValid(t);
  });

  it('draws spans of broken links inside the request they ran in, before its response', async () => {
    // No parentless span: the request's own parent (its caller) was not recorded either.
    const t = trace(
      httpServer({ id: 'root', parent: 'caller', start: 0, end: 100, route: '/x', status: 200 }),
      sql({ id: 'early', parent: 'root', start: 5, end: 10, query: 'SELECT early' }),
      sql({ id: 'lost', parent: 'gone', start: 20, end: 30, query: 'SELECT lost' }),
      sql({ id: 'self', parent: 'self', start: 40, end: 50, query: 'SELECT self' }),
      httpClient({ id: 'x', parent: 'y', start: 60, end: 80, url: 'http://stock/s', status: 200 }),
      sql({ id: 'y', parent: 'x', start: 65, end: 70, query: 'SELECT looped' }),
    );
    const tree = buildSpanTree(t);
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(['root']);
    const text = await drawValid(t);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      participant p4 as stock
      Note over p1,p2: incomplete trace: parent of 1 span missing (SELECT), drawn by start time
      Note over p1,p2: parent link broken: 1 span naming itself as parent (SELECT)
      Note over p1,p2: parent link broken: a loop of parent links over 2 spans (GET /s, SELECT)
      p1->>p2: GET /x
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p4: GET /s
      p2->>p3: SELECT
      p3-->>p2: ok
      p4-->>p2: 200
      p2-->>p1: 200
      "
    `);
    // Every call is drawn before the response, where it ran.
    const lines = text.trimEnd().split('\n');
    expect(lines[lines.length - 1]).toBe('p2-->>p1: 200');
  });

  it('handles 10,000-deep chains whose links are broken without recursion', async () => {
    const depth = 10_000;
    const chain = (prefix: string, top: string | undefined): Span[] =>
      Array.from({ length: depth }, (_, i) =>
        span({
          id: `${prefix}${i}`,
          parent: i === 0 ? top : `${prefix}${i - 1}`,
          kind: 'internal',
          name: `step ${i}`,
          start: 1 + i * 0.001,
          end: 90 - i * 0.001,
        }),
      );
    // One chain hangs from a missing parent, the other loops back from its deepest span to its first.
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 100, route: '/x', status: 200 }),
      ...chain('o', 'gone'),
      ...chain('l', `l${depth - 1}`),
    );
    const tree = buildSpanTree(t);
    expect(tree.nodes).toHaveLength(2 * depth + 1);
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(['root']);
    expect(tree.byId.get(`l${depth - 1}`)?.depth).toBe(depth);
    expect(tree.broken.map((b) => [b.node.span.spanId, b.reason])).toEqual([
      ['o0', 'missing-parent'],
      ['l0', 'loop'],
    ]);
    expect(tree.notes).toContain(
      `parent links form 1 loop over ${depth} spans (step 0, step 1, step 2 +${depth - 3} more): broken at the earliest span of each, drawn by start time under the root span`,
    );
    await drawValid(t);
  });

  it('survives an empty trace and malformed spans', async () => {
    expect(buildSpanTree({ traceId: TRACE_ID, spans: [] }).notes).toEqual(['trace has no spans']);
    const broken = {
      traceId: TRACE_ID,
      spans: [
        null,
        { spanId: 'x' },
        { spanId: 'ok', startTimeNs: ns(0), name: 42, kind: 'weird', attributes: null, events: 'no' },
      ],
    } as unknown as Trace;
    const tree = buildSpanTree(broken);
    expect(tree.nodes.map((n) => n.span.spanId)).toEqual(['ok']);
    expect(tree.notes).toContain('2 spans without a valid id or start time ignored');
    await drawValid(broken);
    await drawValid({ traceId: TRACE_ID, spans: [] });
  });

  it('handles a 100,000-deep chain of spans without exhausting the stack', async () => {
    const spans: Span[] = [];
    const depth = 100_000;
    for (let i = 0; i < depth; i++) {
      spans.push(
        span({
          id: `s${i}`,
          parent: i === 0 ? undefined : `s${i - 1}`,
          kind: 'client',
          start: i * 0.001,
          end: 1000 - i * 0.001,
          attributes: { 'http.request.method': 'GET', 'url.full': `http://h${i % 7}/x` },
          status: { code: 'error', message: 'upstream gone' },
        }),
      );
    }
    const tree = buildSpanTree(trace(...spans));
    expect(tree.nodes).toHaveLength(depth);
    expect(tree.nodes[depth - 1]?.depth).toBe(depth - 1);
    const model = toSequence(trace(...spans), { timings: false });
    expect(model.notes.some((n) => /nested deeper than 200 levels folded/.test(n))).toBe(true);
    const parsed = await expectValidMermaid(renderMermaid(model));
    expect(parsed.signals).toHaveLength(400);
    // Failed calls stay failed when folded: the fold says so.
    expect(parsed.notes).toEqual([`${depth - 200} calls folded, ${depth - 200} failed`]);
  });
});
