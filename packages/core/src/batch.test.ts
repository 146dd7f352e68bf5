import { expectValidMermaid, httpClient, httpServer, span, sql, trace } from '@lifeline/test-support/spans';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { BATCH_ID_ATTRIBUTE } from './batch.js';
import { classifySpan } from './classify.js';
import { layoutTrace, workAfterResponse } from './layout.js';
import { renderMermaid } from './mermaid.js';
import { toSequence } from './sequence.js';
import { summarizeLayout, summarizeTrace } from './summary.js';
import type { Span, Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** Draws a trace without timings, checks Mermaid parses it and that arrows match the model. */
async function draw(t: Trace): Promise<string> {
  const model = toSequence(t, { timings: false });
  const text = renderMermaid(model);
  const parsed = await expectValidMermaid(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  return text;
}

type Times = { id: string; parent?: string; start: number; end: number };

/**
 * A command as @opentelemetry/instrumentation-ioredis records it: the span is
 * named after the command, `db.operation.name` is prefixed `MULTI ` or
 * `PIPELINE ` inside a batch (but not for the `multi`/`exec` brackets), and the
 * query text keeps the first argument as redis-common serialises it.
 */
function ioredis(t: Times & { command: string; args?: string; batch?: 'MULTI' | 'PIPELINE' }): Span {
  const text = t.args === undefined ? t.command : `${t.command} ${t.args}`;
  return span({
    id: t.id,
    parent: t.parent ?? 'root',
    start: t.start,
    end: t.end,
    kind: 'client',
    name: t.command,
    attributes: {
      'db.system.name': 'redis',
      'db.operation.name': t.batch ? `${t.batch} ${t.command}` : t.command,
      'db.query.text': text,
      'server.address': 'localhost',
      'server.port': 6379,
    },
  });
}

/**
 * A command of a node-redis v5 `multi()` as @opentelemetry/instrumentation-redis
 * records it: `redis-SET`, `db.operation.name` set to `MULTI`/`PIPELINE` when the
 * batch ends (`MULTI SET` when every command is the same), the query text `SET key [n other arguments]`.
 */
function nodeRedis(t: Times & { command: string; text: string; operation: string }): Span {
  return span({
    id: t.id,
    parent: t.parent ?? 'root',
    start: t.start,
    end: t.end,
    kind: 'client',
    name: `redis-${t.command}`,
    attributes: {
      'db.system.name': 'redis',
      'db.operation.name': t.operation,
      'db.query.text': t.text,
      'server.address': 'localhost',
      'server.port': 6379,
    },
  });
}

/**
 * A command as older @opentelemetry/instrumentation-ioredis releases record it:
 * the span named after the command, only `db.system` and `db.statement` (no
 * operation name, so nothing marks a command as part of a transaction; the
 * `multi` and `exec` bracket spans around it are the only sign).
 */
function oldIoredis(t: Times & { command: string; args?: string; failed?: string }): Span {
  return span({
    id: t.id,
    parent: t.parent ?? 'root',
    start: t.start,
    end: t.end,
    kind: 'client',
    name: t.command,
    attributes: {
      'db.system': 'redis',
      'db.statement': t.args === undefined ? t.command : `${t.command} ${t.args}`,
    },
    ...(t.failed !== undefined ? { status: { code: 'error' as const, message: t.failed } } : {}),
  });
}

const root = (route: string, end = 20): Span => httpServer({ id: 'root', route, start: 0, end, status: 200 });

describe('batches', () => {
  it('draws an ioredis pipeline as one call naming its commands', async () => {
    const t = trace(
      root('/io-pipeline'),
      ioredis({ id: 's', start: 1, end: 3, command: 'set', args: 'hunt:1 [1 other arguments]', batch: 'PIPELINE' }),
      ioredis({ id: 'i', start: 1.1, end: 3.1, command: 'incr', args: 'hunt:n', batch: 'PIPELINE' }),
      ioredis({ id: 'g', start: 1.2, end: 3.2, command: 'get', args: 'hunt:1', batch: 'PIPELINE' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      p1->>p2: GET /io-pipeline
      p2->>p3: PIPELINE SET, INCR, GET
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    const model = toSequence(t, { timings: false });
    expect(model.parGroups).toBe(0);
    expect(model.arrows.map((a) => [a.spanId, a.kind, a.spanIds])).toEqual([
      ['root', 'request', undefined],
      ['s', 'request', ['s', 'i', 'g']],
      ['s', 'response', ['s', 'i', 'g']],
      ['root', 'response', undefined],
    ]);
    expect(summarizeTrace(t)).toMatchObject({ parGroups: 0, serialCalls: 0 });
    expect(analyzeTrace(t).byCategory.cache).toBe(2.2);
  });

  it('keeps two batches sent at once on one connection apart when their commands name their batch', async () => {
    const inBatch = (command: Span, batch: string): Span => ({
      ...command,
      attributes: { ...command.attributes, [BATCH_ID_ATTRIBUTE]: batch },
    });
    const t = trace(
      root('/two-pipelines'),
      inBatch(ioredis({ id: 'a1', start: 1, end: 3, command: 'set', args: 'k', batch: 'PIPELINE' }), '7'),
      inBatch(ioredis({ id: 'a2', start: 1.01, end: 3.01, command: 'get', args: 'k', batch: 'PIPELINE' }), '7'),
      inBatch(ioredis({ id: 'b1', start: 1.02, end: 3.2, command: 'incr', args: 'n', batch: 'PIPELINE' }), '8'),
      inBatch(ioredis({ id: 'b2', start: 1.03, end: 3.3, command: 'del', args: 'm', batch: 'PIPELINE' }), '8'),
    );
    const text = await draw(t);
    expect(text).toContain('par 2 concurrent calls');
    expect(text.split('\n').filter((line) => line.includes('->>p3'))).toEqual([
      '  p2->>p3: PIPELINE SET, GET',
      '  p2->>p3: PIPELINE INCR, DEL',
    ]);
    expect(summarizeLayout(layoutTrace(buildSpanTree(t)))).toEqual(summarizeTrace(t));
  });

  it('draws an ioredis MULTI as one call: the multi and exec brackets are not calls beside the commands', async () => {
    const t = trace(
      root('/io-multi'),
      ioredis({ id: 'm', start: 1, end: 2, command: 'multi' }),
      ioredis({ id: 's', start: 1.1, end: 3, command: 'set', args: 'hunt:1 [1 other arguments]', batch: 'MULTI' }),
      ioredis({ id: 'i', start: 1.2, end: 3, command: 'incr', args: 'hunt:n', batch: 'MULTI' }),
      ioredis({ id: 'g', start: 1.3, end: 3, command: 'get', args: 'hunt:1', batch: 'MULTI' }),
      ioredis({ id: 'x', start: 1.4, end: 3, command: 'exec' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      p1->>p2: GET /io-multi
      p2->>p3: MULTI SET, INCR, GET
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(toSequence(t).arrows[1]?.spanIds).toEqual(['m', 's', 'i', 'g', 'x']);
  });

  it('draws a node-redis MULTI and execAsPipeline as one call each, naming the commands', async () => {
    const multi = (op: string, base: number, parent: string) => [
      nodeRedis({
        id: `${op}s`,
        parent,
        start: base,
        end: base + 3,
        command: 'SET',
        text: 'SET hunt:c [1 other arguments]',
        operation: op,
      }),
      nodeRedis({
        id: `${op}i`,
        parent,
        start: base + 0.1,
        end: base + 3,
        command: 'INCR',
        text: 'INCR hunt:n',
        operation: op,
      }),
      nodeRedis({
        id: `${op}g`,
        parent,
        start: base + 0.2,
        end: base + 3,
        command: 'GET',
        text: 'GET hunt:c',
        operation: op,
      }),
    ];
    const t = trace(
      root('/nr', 40),
      span({ id: 'h1', parent: 'root', start: 1, end: 10, name: 'multi' }),
      ...multi('MULTI', 2, 'h1'),
      span({ id: 'h2', parent: 'root', start: 11, end: 20, name: 'pipeline' }),
      ...multi('PIPELINE', 12, 'h2'),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      p1->>p2: GET /nr
      p2->>p3: MULTI SET, INCR, GET
      p3-->>p2: ok
      p2->>p3: PIPELINE SET, INCR, GET
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });

  it('labels a node-redis batch command by its own command and key', () => {
    const cls = classifySpan(
      nodeRedis({
        id: 'a',
        start: 0,
        end: 1,
        command: 'SET',
        text: 'SET hunt:42 [1 other arguments]',
        operation: 'MULTI',
      }),
    );
    expect(cls.label).toBe('SET hunt:*');
    const same = classifySpan(
      nodeRedis({ id: 'b', start: 0, end: 1, command: 'GET', text: 'GET hunt:42', operation: 'PIPELINE GET' }),
    );
    expect(same.label).toBe('GET hunt:*');
  });

  it('draws a MULTI recorded without operation names as one call: multi and exec delimit it', async () => {
    const t = trace(
      root('/old-multi', 40),
      oldIoredis({ id: 'm', start: 1, end: 3, command: 'multi' }),
      oldIoredis({ id: 's', start: 1.1, end: 3, command: 'set', args: 'cart:1 ?' }),
      oldIoredis({ id: 'i', start: 1.2, end: 3, command: 'incr', args: 'cart:count' }),
      oldIoredis({ id: 'e', start: 1.3, end: 3, command: 'expire', args: 'cart:1 ?' }),
      oldIoredis({ id: 'x', start: 1.4, end: 3, command: 'exec' }),
      // Commands outside any bracket stay calls of their own, and so does a multi never sent.
      oldIoredis({ id: 'g1', start: 5, end: 7, command: 'get', args: 'x' }),
      oldIoredis({ id: 'g2', start: 5.1, end: 7, command: 'get', args: 'y' }),
      oldIoredis({ id: 'm2', start: 10, end: 11, command: 'multi' }),
      oldIoredis({ id: 'd', start: 12, end: 13, command: 'del', args: 'cart:1' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      p1->>p2: GET /old-multi
      p2->>p3: MULTI SET, INCR, EXPIRE
      p3-->>p2: ok
      par 2 concurrent calls
        p2->>p3: GET x
        p3-->>p2: ok
      and
        p2->>p3: GET y
        p3-->>p2: ok
      end
      p2->>p3: MULTI
      p3-->>p2: ok
      p2->>p3: DEL cart:*
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(toSequence(t).arrows[1]?.spanIds).toEqual(['m', 's', 'i', 'e', 'x']);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });

  it('labels a cache command whose arguments are only counted by its command alone', () => {
    const label = (command: string, args: string) =>
      classifySpan(ioredis({ id: 'w', start: 0, end: 1, command, args })).label;
    expect(label('watch', '[1 other arguments]')).toBe('WATCH');
    expect(label('watch', 'hunt:42 [1 other arguments]')).toBe('WATCH hunt:*');
    expect(label('del', '[3 other arguments]')).toBe('DEL');
    expect(
      classifySpan(oldIoredis({ id: 'o', start: 0, end: 1, command: 'watch', args: '[1 other arguments]' })).label,
    ).toBe('WATCH');
  });

  it('draws a MULTI whose exec or one of its commands failed as a failed call', async () => {
    const t = trace(
      root('/multi-fails', 40),
      oldIoredis({ id: 'm', start: 1, end: 3, command: 'multi' }),
      oldIoredis({ id: 's', start: 1.1, end: 3, command: 'set', args: 'cart:1 ?' }),
      oldIoredis({ id: 'x', start: 1.2, end: 3, command: 'exec', failed: 'EXECABORT Transaction discarded' }),
      ioredis({ id: 'm2', start: 5, end: 6, command: 'multi' }),
      {
        ...ioredis({ id: 'i2', start: 5.1, end: 7, command: 'incr', args: 'hunt:n', batch: 'MULTI' }),
        status: { code: 'error', message: 'WRONGTYPE Operation against a key' },
      },
      ioredis({ id: 'x2', start: 5.2, end: 7, command: 'exec' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      p1->>p2: GET /multi-fails
      p2->>p3: MULTI SET
      p3--xp2: EXECABORT Transaction discarded
      p2->>p3: MULTI INCR
      p3--xp2: WRONGTYPE Operation against a key
      p2-->>p1: 200
      "
    `);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });

  it('keeps two independent batches that overlap as a par of two batches', async () => {
    const t = trace(
      root('/two'),
      ioredis({ id: 'm1', start: 1, end: 2, command: 'multi' }),
      ioredis({ id: 's1', start: 1.1, end: 4, command: 'set', args: 'a:1 [1 other arguments]', batch: 'MULTI' }),
      ioredis({ id: 'x1', start: 1.2, end: 4, command: 'exec' }),
      ioredis({ id: 'm2', start: 1.3, end: 2, command: 'multi' }),
      ioredis({ id: 'g2', start: 1.4, end: 5, command: 'get', args: 'b:1', batch: 'MULTI' }),
      ioredis({ id: 'x2', start: 1.5, end: 5, command: 'exec' }),
      // A pipeline sent after the first batch's replies began is another round trip.
      ioredis({ id: 'p1', start: 6, end: 8, command: 'get', args: 'c:1', batch: 'PIPELINE' }),
      ioredis({ id: 'p2', start: 6.1, end: 8.1, command: 'get', args: 'c:2', batch: 'PIPELINE' }),
      ioredis({ id: 'q1', start: 8.05, end: 9, command: 'get', args: 'c:3', batch: 'PIPELINE' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      p1->>p2: GET /two
      par 2 concurrent calls
        p2->>p3: MULTI SET
        p3-->>p2: ok
      and
        p2->>p3: MULTI GET
        p3-->>p2: ok
      end
      par 2 concurrent calls
        p2->>p3: PIPELINE GET ×2
        p3-->>p2: ok
      and
        p2->>p3: PIPELINE GET
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
    expect(toSequence(t).parGroups).toBe(2);
    expect(summarizeTrace(t).parGroups).toBe(2);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });

  it('names a big batch by its count and its first commands', async () => {
    const spans = [root('/bulk')];
    for (let i = 0; i < 40; i++) {
      spans.push(
        ioredis({
          id: `s${i}`,
          start: 1 + i / 100,
          end: 5,
          command: 'set',
          args: `k:${i} [1 other arguments]`,
          batch: 'PIPELINE',
        }),
      );
    }
    spans.push(ioredis({ id: 'g', start: 1.5, end: 5, command: 'get', args: 'k:1', batch: 'PIPELINE' }));
    spans.push(ioredis({ id: 'd', start: 1.6, end: 5, command: 'del', args: 'k:1', batch: 'PIPELINE' }));
    const model = toSequence(trace(...spans), { timings: false });
    expect(model.arrows).toHaveLength(4);
    const text = renderMermaid(model);
    expect(text).toContain('p2->>p3: PIPELINE ×42 SET ×40, GET, DEL\n');
  });

  it('counts three identical batches in a row as an N+1, the same in the summary', () => {
    const spans = [root('/loop', 40)];
    for (let n = 0; n < 3; n++) {
      const at = 1 + n * 10;
      spans.push(
        ioredis({
          id: `s${n}`,
          start: at,
          end: at + 2,
          command: 'set',
          args: 'a:1 [1 other arguments]',
          batch: 'MULTI',
        }),
      );
      spans.push(ioredis({ id: `g${n}`, start: at + 0.1, end: at + 2, command: 'get', args: 'a:1', batch: 'MULTI' }));
    }
    spans.push(sql({ id: 'q', parent: 'root', start: 35, end: 36, query: 'SELECT 1' }));
    const t = trace(...spans);
    expect(analyzeTrace(t).nPlusOne.map((g) => [g.label, g.count])).toEqual([['MULTI SET, GET', 3]]);
    expect(summarizeTrace(t).nPlusOne).toBe(1);
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });
});

describe('a batch recorded as one span that says its size', () => {
  /** One span for a whole batch, no member spans: the operation names the batch, `db.operation.batch.size` its size. */
  const whole = (id: string, start: number, operation: string, size: number, system = 'redis', text?: string): Span =>
    span({
      id,
      parent: 'root',
      start,
      end: start + 1,
      kind: 'client',
      name: operation,
      attributes: {
        'db.system.name': system,
        'db.operation.name': operation,
        'db.operation.batch.size': size,
        ...(text !== undefined ? { 'db.query.text': text } : {}),
      },
    });

  it('is labelled with its size like a batch built from member spans', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 20, route: '/b', status: 200 }),
      whole('p', 1, 'PIPELINE', 3),
      whole('m', 3, 'MULTI', 4, 'valkey'),
      whole('q', 5, 'PIPELINE', 5, 'redis', 'SET k:1 v'),
    );
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      participant p4 as valkey (cache)
      p1->>p2: GET /b
      p2->>p3: PIPELINE ×3
      p3-->>p2: ok
      p2->>p4: MULTI ×4
      p4-->>p2: ok
      p2->>p3: PIPELINE ×5 SET
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });
});

describe('batches and work after the response on random traces', () => {
  const spec = fc.record({
    kind: fc.constantFrom(
      'pipeline',
      'multi',
      'bracket-open',
      'bracket-close',
      'node-redis',
      'old-ioredis',
      'old-open',
      'old-close',
      'sql',
      'remote',
    ),
    parent: fc.nat(12),
    gap: fc.integer({ min: -3, max: 4 }),
    duration: fc.integer({ min: 0, max: 12 }),
    command: fc.constantFrom('get', 'set', 'incr'),
  });

  /** Random siblings and nestings of batch members, brackets, queries and servers that end before their children. */
  function build(specs: readonly (typeof spec extends fc.Arbitrary<infer T> ? T : never)[]): Trace {
    let cursor = 1;
    const spans: Span[] = [root('/r', 20)];
    specs.forEach((s, i) => {
      cursor = Math.max(0, cursor + s.gap);
      const id = `x${i}`;
      const parent = s.parent % (i + 1) === 0 ? 'root' : `x${(s.parent % (i + 1)) - 1}`;
      const times = { id, parent, start: cursor, end: cursor + s.duration };
      if (s.kind === 'pipeline' || s.kind === 'multi') {
        spans.push(
          ioredis({ ...times, command: s.command, args: 'k:1', batch: s.kind === 'multi' ? 'MULTI' : 'PIPELINE' }),
        );
      } else if (s.kind === 'bracket-open' || s.kind === 'bracket-close') {
        spans.push(ioredis({ ...times, command: s.kind === 'bracket-open' ? 'multi' : 'exec' }));
      } else if (s.kind === 'old-ioredis' || s.kind === 'old-open' || s.kind === 'old-close') {
        const command = s.kind === 'old-open' ? 'multi' : s.kind === 'old-close' ? 'exec' : s.command;
        spans.push(oldIoredis({ ...times, command, ...(s.kind === 'old-ioredis' ? { args: 'k:1' } : {}) }));
      } else if (s.kind === 'node-redis') {
        const command = s.command.toUpperCase();
        spans.push(nodeRedis({ ...times, command, text: `${command} k:1`, operation: 'MULTI' }));
      } else if (s.kind === 'sql') {
        spans.push(sql({ ...times, query: `SELECT * FROM ${s.command}` }));
      } else {
        // A call to a traced service: the server span (which later specs may nest under) answers inside it.
        spans.push(
          httpClient({ ...times, id: `${id}c`, end: times.end + 2, url: `http://users/${s.command}`, status: 200 }),
        );
        spans.push(httpServer({ ...times, parent: `${id}c`, service: 'users', route: `/${s.command}`, status: 200 }));
      }
    });
    return trace(...spans);
  }

  it('gives the same summary from the lean layout as from the drawn one, and the counts the diagram and analysis show', () => {
    let after = 0;
    let nestedAfter = 0;
    let batches = 0;
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 14 }), (specs) => {
        const t = build(specs);
        const layout = layoutTrace(buildSpanTree(t));
        const outlived = workAfterResponse(layout);
        if (outlived.length > 0) after++;
        if (outlived.some((entry) => entry.call.role === 'call')) nestedAfter++;
        if (layout.calls.some((call) => call.batch !== undefined)) batches++;
        const summary = summarizeTrace(t);
        expect(summary).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
        const analysis = analyzeTrace(t);
        expect({ parGroups: summary.parGroups, serialCalls: summary.serialCalls, nPlusOne: summary.nPlusOne }).toEqual({
          parGroups: toSequence(t, { timings: false, foldLoops: false }).parGroups,
          serialCalls: analysis.serialRuns.reduce((n, run) => n + run.spanIds.length, 0),
          nPlusOne: analysis.nPlusOne.length,
        });
      }),
      { numRuns: 300 },
    );
    // The generator must reach the shapes under test. The runs are random, so the
    // floors sit far below the usual counts (about 40, 15 and 40 of 300 runs).
    expect(after).toBeGreaterThan(10);
    expect(nestedAfter).toBeGreaterThan(3);
    expect(batches).toBeGreaterThan(10);
  });

  it('always draws text Mermaid parses, with every member span behind one arrow at most once', async () => {
    const samples = fc.sample(fc.array(spec, { maxLength: 14 }), { numRuns: 40, seed: 7 });
    for (const specs of samples) {
      const t = build(specs);
      const model = toSequence(t, { timings: true });
      const parsed = await expectValidMermaid(renderMermaid(model));
      expect(parsed.signals).toHaveLength(model.messageCount);
      const requested = model.arrows
        .filter((a) => a.kind === 'request' || a.kind === 'async' || a.kind === 'self')
        .flatMap((a) => a.spanIds ?? [a.spanId]);
      expect(new Set(requested).size).toBe(requested.length);
    }
  });
});
