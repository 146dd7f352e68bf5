import { expectValidMermaid, httpServer, inTrace, redis, sql } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { endpointFlow } from './flow-merge.js';
import type { Trace } from './trace.js';

let traces = 0;
function request(...spans: Parameters<typeof inTrace>[1][]): Trace {
  const traceId = (++traces).toString(16).padStart(32, '0');
  return { traceId, spans: inTrace(traceId, ...spans) };
}

const root = (end: number, status = 200) => httpServer({ id: 'root', start: 0, end, route: '/articles/:id', status });
const read = () => redis({ id: 'get', parent: 'root', start: 1, end: 2, statement: 'GET article:42' });
const select = (start: number) =>
  sql({ id: `q${start}`, parent: 'root', start, end: start + 5, query: 'SELECT * FROM articles WHERE id = $1' });
const write = () => redis({ id: 'set', parent: 'root', start: 9, end: 10, statement: 'SET article:42 x' });
const tags = () => sql({ id: 'tags', parent: 'root', start: 11, end: 14, query: 'SELECT * FROM tags' });

describe('endpointFlow', () => {
  it('draws one shape as the plain diagram, without alt or opt', async () => {
    const flow = endpointFlow([request(root(10), select(1)), request(root(12), select(2))]);
    expect(flow.shapes).toHaveLength(1);
    expect(flow.shapes[0]).toMatchObject({ requests: 2, share: 1, label: 'every request' });
    expect(flow.variantBlocks).toBe(0);
    expect(flow.text).not.toMatch(/^\s*(alt|opt|else)\b/m);
    await expectValidMermaid(flow.text);
  });

  it('gives one shape to requests whose concurrent calls started in either order', async () => {
    const tagsFirst = request(
      root(10),
      sql({ id: 'a', parent: 'root', start: 1, end: 5, query: 'SELECT * FROM tags' }),
      sql({ id: 'b', parent: 'root', start: 2, end: 6, query: 'SELECT * FROM articles WHERE id = $1' }),
    );
    const articlesFirst = request(
      root(10),
      sql({ id: 'a', parent: 'root', start: 1, end: 5, query: 'SELECT * FROM articles WHERE id = $1' }),
      sql({ id: 'b', parent: 'root', start: 2, end: 6, query: 'SELECT * FROM tags' }),
    );
    const flow = endpointFlow([tagsFirst, articlesFirst]);
    expect(flow.shapes).toHaveLength(1);
    expect(flow.text).toContain('par 2 concurrent calls');
    await expectValidMermaid(flow.text);
  });

  it('merges cache hits and misses into one alt, the shared cache read and reply drawn once', async () => {
    const hit = () => request(root(3), read());
    const miss = () => request(root(11), read(), select(3), write());
    const flow = endpointFlow([miss(), hit(), hit(), hit()]);
    expect(flow.text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      participant p4 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      p2->>p3: GET article:*
      p3-->>p2: ok
      alt cache hit · 75 #37;
      else cache miss · 25 #37;
        p2->>p4: SELECT articles
        p4-->>p2: ok
        p2->>p3: SET article:*
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
    await expectValidMermaid(flow.text);
    expect(flow.shapes.map((s) => [s.label, s.requests])).toEqual([
      ['cache hit', 3],
      ['cache miss', 1],
    ]);
  });

  it('draws an optional call as opt with its share', async () => {
    const flow = endpointFlow([request(root(20), select(1), tags()), request(root(8), select(1))]);
    expect(flow.text).toMatch(/^opt calls SELECT tags · 50 #37;$/m);
    expect(flow.variantBlocks).toBe(1);
    await expectValidMermaid(flow.text);
  });

  it('gives the same text whatever the order of the requests, and per-call medians when timed', async () => {
    const requests = [
      request(root(20), select(1), tags()),
      request(root(8), select(1)),
      request(root(9, 404)),
      request(root(30), select(2), tags()),
    ];
    const a = endpointFlow(requests);
    const b = endpointFlow([...requests].reverse());
    expect(b.text).toBe(a.text);
    expect(a.text).toMatch(/^alt calls SELECT tags · 50 #37;$/m);
    expect(a.text).toMatch(/^else replies 404 · 25 #37;$/m);
    const timed = endpointFlow(requests, { timings: true });
    // Both requests that ran SELECT tags took 3 ms for it.
    expect(timed.text).toMatch(/p\d-->>p2: ok · 3 ms/);
    await expectValidMermaid(timed.text);
  });

  it('gives the replies inside par and loop blocks their medians when timed', async () => {
    // Two concurrent queries, then the same query four times in a row (a loop); durations differ per request.
    const concurrent = (a: number, b: number) => [
      sql({ id: 'users', parent: 'root', start: 1, end: 1 + a, query: 'SELECT * FROM users' }),
      sql({ id: 'tags', parent: 'root', start: 1, end: 1 + b, query: 'SELECT * FROM tags' }),
    ];
    const repeated = (ms: number) =>
      [0, 1, 2, 3].map((i) =>
        sql({
          id: `c${i}`,
          parent: 'root',
          start: 60 + i * 10,
          end: 60 + i * 10 + ms,
          query: 'SELECT * FROM comments',
        }),
      );
    const requests = [
      request(root(100), ...concurrent(10, 30), ...repeated(2)),
      request(root(100), ...concurrent(20, 40), ...repeated(4)),
      request(root(100), ...concurrent(30, 50), ...repeated(6)),
    ];
    const plain = endpointFlow(requests);
    expect(plain.shapes).toHaveLength(1);
    expect(plain.text).not.toMatch(/ · \d+ ms/);
    const timed = endpointFlow(requests, { timings: true });
    const lines = timed.text.split('\n');
    const par = lines.findIndex((line) => /^\s*par\b/.test(line));
    const loop = lines.findIndex((line) => /^\s*loop\b/.test(line));
    expect(par).toBeGreaterThan(0);
    expect(loop).toBeGreaterThan(par);
    const inPar = lines.slice(par, loop).join('\n');
    // Medians over the three requests: users 10, 20 and 30 ms; tags 30, 40 and 50 ms.
    expect(inPar).toMatch(/-->>p\d: .* · 20 ms/);
    expect(inPar).toMatch(/-->>p\d: .* · 40 ms/);
    // The loop's reply stands for all twelve repetitions (2, 4 and 6 ms, four times each), not only the first of each request.
    expect(lines.slice(loop).join('\n')).toMatch(/-->>p\d: .* · 4 ms/);
    await expectValidMermaid(timed.text);
  });

  describe('with three or more variants', () => {
    // Calls of the root at a given order: `users`, `tags` and `audit` queries.
    const call = (table: string, slot: number) =>
      sql({
        id: `${table}${slot}`,
        parent: 'root',
        start: 1 + slot * 4,
        end: 4 + slot * 4,
        query: `SELECT * FROM ${table}`,
      });
    const shape =
      (...tables: string[]) =>
      () =>
        request(root(20), ...tables.map((table, slot) => call(table, slot)));

    it('draws a call every shape makes once, even where two shapes order their calls differently', async () => {
      // The two most common shapes share `users` and `tags` in opposite orders;
      // the third has only `users`. Every shape calls `users`: it is drawn once.
      const usersThenTags = shape('users', 'tags');
      const tagsThenUsers = shape('tags', 'users');
      const usersOnly = shape('users');
      const flow = endpointFlow([
        usersThenTags(),
        usersThenTags(),
        usersThenTags(),
        tagsThenUsers(),
        tagsThenUsers(),
        usersOnly(),
      ]);
      expect(flow.text).toMatchInlineSnapshot(`
        "sequenceDiagram
        autonumber
        actor p1 as Client
        participant p2 as api
        participant p3 as postgresql blog (db)
        p1->>p2: GET /articles/:id
        opt calls SELECT tags · 33 #37;
          p2->>p3: SELECT tags
          p3-->>p2: ok
        end
        p2->>p3: SELECT users
        p3-->>p2: ok
        opt calls SELECT tags · 50 #37;
          p2->>p3: SELECT tags
          p3-->>p2: ok
        end
        p2-->>p1: 200
        "
      `);
      expect(flow.text.match(/: SELECT users$/gm)).toHaveLength(1);
      expect(flow.shapes).toHaveLength(3);
      await expectValidMermaid(flow.text);
    });

    it('draws what four shapes share once, with alt and opt only where they differ', async () => {
      const flow = endpointFlow([
        shape('users', 'tags', 'audit')(),
        shape('users', 'tags', 'audit')(),
        shape('users', 'tags', 'audit')(),
        shape('tags', 'users', 'audit')(),
        shape('tags', 'users', 'audit')(),
        shape('users', 'audit')(),
        shape('users', 'comments', 'audit')(),
      ]);
      expect(flow.text).toMatchInlineSnapshot(`
        "sequenceDiagram
        autonumber
        actor p1 as Client
        participant p2 as api
        participant p3 as postgresql blog (db)
        p1->>p2: GET /articles/:id
        opt calls SELECT tags · 29 #37;
          p2->>p3: SELECT tags
          p3-->>p2: ok
        end
        p2->>p3: SELECT users
        p3-->>p2: ok
        alt calls SELECT tags · 43 #37;
          p2->>p3: SELECT tags
          p3-->>p2: ok
        else no further calls · 43 #37;
        else calls SELECT comments · 14 #37;
          p2->>p3: SELECT comments
          p3-->>p2: ok
        end
        p2->>p3: SELECT audit
        p3-->>p2: ok
        p2-->>p1: 200
        "
      `);
      // `users` and `audit` are in every shape, each drawn once, outside any block.
      expect(flow.text.match(/: SELECT users$/gm)).toHaveLength(1);
      expect(flow.text.match(/: SELECT audit$/gm)).toHaveLength(1);
      expect(flow.text).toMatch(/^p2->>p3: SELECT users$/m);
      expect(flow.text).toMatch(/^p2->>p3: SELECT audit$/m);
      expect(flow.shapes).toHaveLength(4);
      await expectValidMermaid(flow.text);
    });

    it('gives the same text whatever the order of the requests', () => {
      const requests = [
        shape('users', 'tags', 'audit')(),
        shape('users', 'audit')(),
        shape('users', 'tags', 'audit')(),
        shape('tags', 'users', 'audit')(),
        shape('users', 'comments', 'audit')(),
      ];
      expect(endpointFlow([...requests].reverse()).text).toBe(endpointFlow(requests).text);
    });
  });

  describe('size guard', () => {
    // A request with `calls` queries, each under its own downstream call, named by `tag`.
    const big = (tag: string, calls: number) => {
      const spans = [httpServer({ id: 'root', start: 0, end: calls * 10 + 10, route: '/reports', status: 200 })];
      for (let i = 0; i < calls; i++) {
        spans.push(
          sql({
            id: `${tag}${i}`,
            parent: 'root',
            start: 1 + i * 10,
            end: 5 + i * 10,
            query: `SELECT * FROM ${tag}_table_${i % 7} WHERE id = ${i}`,
          }),
        );
      }
      return request(...spans);
    };

    it('folds a merged flow longer than the limit, saying so at its top, and parses', async () => {
      const requests = [big('orders', 60), big('orders', 60), big('invoices', 70), big('refunds', 50)];
      const unfitted = endpointFlow(requests);
      expect(unfitted.folded).toBe(false);
      expect(unfitted.text.length).toBeGreaterThan(6000);
      const flow = endpointFlow(requests, { maxTextLength: 6000 });
      expect(flow.folded).toBe(true);
      expect(flow.text.length).toBeLessThanOrEqual(6000);
      // Most of the room is used: the largest budget that fits was taken.
      expect(flow.text.length).toBeGreaterThan(6000 * 0.6);
      expect(flow.text).toMatch(
        /^Note over p1,p\d+: flow folded to stay under 6000 characters: each shape drawn within \d+$/m,
      );
      expect(flow.text).toMatch(/calls folded/);
      // The shapes and their shares are those of the whole flow.
      expect(flow.shapes.map((shape) => shape.requests)).toEqual(unfitted.shapes.map((shape) => shape.requests));
      expect(endpointFlow([...requests].reverse(), { maxTextLength: 6000 }).text).toBe(flow.text);
      await expectValidMermaid(flow.text);
    });

    it('leaves out the least common shapes, and counts them, when even the smallest budget is too long', async () => {
      const requests = Array.from({ length: 12 }, (_, i) => big(`t${i}`, 3 + i));
      const flow = endpointFlow(requests, { maxTextLength: 1500 });
      expect(flow.folded).toBe(true);
      expect(flow.text.length).toBeLessThanOrEqual(1500);
      expect(flow.text).toMatch(/less common shapes? not drawn/);
      expect(flow.shapes).toHaveLength(12);
      expect(flow.shapes.filter((shape) => shape.label === 'not drawn').length).toBeGreaterThan(0);
      await expectValidMermaid(flow.text);
    });
  });
});
