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
});
