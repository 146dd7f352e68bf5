import {
  consume,
  expectValidMermaid,
  httpClient,
  httpServer,
  internal,
  publish,
  redis,
  span,
  sql,
  TRACE_ID,
  trace,
} from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { renderMermaid } from './mermaid.js';
import { type SequenceOptions, toSequence } from './sequence.js';
import type { Span, Trace } from './trace.js';

/** Draws a trace, checks Mermaid parses it and that arrows match the model, and returns the text. */
async function draw(t: Trace, options: SequenceOptions = { timings: false }): Promise<string> {
  const model = toSequence(t, options);
  const text = renderMermaid(model);
  const parsed = await expectValidMermaid(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  expect(model.arrows.map((a) => a.number)).toEqual(model.arrows.map((_, i) => i + 1));
  return text;
}

const root = (end: number, extra: Partial<Parameters<typeof httpServer>[0]> = {}): Span =>
  httpServer({ id: 'root', start: 0, end, route: '/articles/:id', path: '/articles/42', status: 200, ...extra });

const q = (id: string, start: number, end: number, table = id, parent = 'root'): Span =>
  sql({ id, parent, start, end, query: `SELECT * FROM ${table} WHERE id = $1` });

describe('toSequence', () => {
  it('draws serial siblings one after another', async () => {
    const text = await draw(trace(root(100), q('articles', 10, 20), q('comments', 20, 30)));
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      p2->>p3: SELECT articles
      p3-->>p2: ok
      p2->>p3: SELECT comments
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });

  it('orders the branches of a par block by what they draw when asked (shapes), by start by default', async () => {
    const articlesFirst = trace(root(100), q('articles', 10, 30), q('comments', 11, 25));
    const commentsFirst = trace(root(100), q('comments', 10, 25), q('articles', 11, 30));
    // The same concurrent calls are the same shape whichever the scheduler started first.
    const shape = { timings: false, branchOrder: 'drawn' } as const;
    expect(await draw(commentsFirst, shape)).toBe(await draw(articlesFirst, shape));
    const asRecorded = await draw(commentsFirst);
    expect(asRecorded.indexOf('SELECT comments')).toBeLessThan(asRecorded.indexOf('SELECT articles'));
  });

  it('draws overlapping siblings as one par block', async () => {
    const text = await draw(trace(root(100), q('articles', 10, 30), q('comments', 15, 25)));
    expect(text).toContain('par 2 concurrent calls\n');
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      par 2 concurrent calls
        p2->>p3: SELECT articles
        p3-->>p2: ok
      and
        p2->>p3: SELECT comments
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
  });

  it('packs three overlapping calls into two lanes when the third starts after the first ended', async () => {
    // a [10,20], b [12,40], c [25,30]: c fits in a's lane.
    const model = toSequence(trace(root(100), q('a', 10, 20), q('b', 12, 40), q('c', 25, 30)), { timings: false });
    const par = model.items.find((i) => i.type === 'par');
    expect(par?.type === 'par' && par.branches.length).toBe(2);
    expect(par?.type === 'par' && par.label).toBe('3 concurrent calls in 2 lanes');
    const text = await draw(trace(root(100), q('a', 10, 20), q('b', 12, 40), q('c', 25, 30)));
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      par 3 concurrent calls in 2 lanes
        p2->>p3: SELECT a
        p3-->>p2: ok
        p2->>p3: SELECT c
        p3-->>p2: ok
      and
        p2->>p3: SELECT b
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
  });

  it('treats a partial overlap chain as one group in two lanes', async () => {
    // a overlaps b, b overlaps c, a does not overlap c.
    const t = trace(root(100), q('a', 10, 20), q('b', 15, 30), q('c', 25, 40));
    const model = toSequence(t, { timings: false });
    const pars = model.items.filter((i) => i.type === 'par');
    expect(pars).toHaveLength(1);
    const par = pars[0];
    expect(par?.type === 'par' && par.branches.map((b) => b.filter((i) => i.type === 'message').length)).toEqual([
      4, 2,
    ]);
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      par 3 concurrent calls in 2 lanes
        p2->>p3: SELECT a
        p3-->>p2: ok
        p2->>p3: SELECT c
        p3-->>p2: ok
      and
        p2->>p3: SELECT b
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
  });

  it('keeps touching intervals serial', async () => {
    const t = trace(root(100), q('a', 10, 20), q('b', 20, 30), q('c', 30, 40, 'c'));
    const model = toSequence(t, { timings: false });
    expect(model.items.some((i) => i.type === 'par')).toBe(false);
    expect(model.parGroups).toBe(0);
    await draw(t);
  });

  it('labels the branches of a par block by whom they call when the branches differ', async () => {
    const call = (id: string, host: string, start: number, end: number) =>
      httpClient({ id, parent: 'root', start, end, url: `http://${host}/x/${id}` });
    const t = trace(
      root(100),
      call('u', 'users', 10, 60),
      q('a', 11, 20),
      redis({ id: 'r', parent: 'root', start: 21, end: 22, statement: 'GET k' }),
      call('m', 'mail', 23, 24),
      call('e', 'end', 12, 30),
    );
    const model = toSequence(t, { timings: false });
    const par = model.items.find((i) => i.type === 'par');
    expect(par?.type === 'par' && par.branchLabels).toEqual(['users', 'postgresql blog, redis +1 more', 'end']);
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as users
      participant p4 as postgresql blog (db)
      participant p5 as redis (cache)
      participant p6 as mail
      participant p7 as end
      p1->>p2: GET /articles/:id
      par 5 concurrent calls in 3 lanes
        p2->>p3: GET /x/u
        p3-->>p2: 200
      and postgresql blog, redis +1 more
        p2->>p4: SELECT a
        p4-->>p2: ok
        p2->>p5: GET k
        p5-->>p2: ok
        p2->>p6: GET /x/m
        p6-->>p2: 200
      and end
        p2->>p7: GET /x/e
        p7-->>p2: 200
      end
      p2-->>p1: 200
      "
    `);
    // Lanes that all call the same participant need no labels.
    const same = toSequence(trace(root(100), q('a', 10, 30), q('b', 15, 25)), { timings: false });
    expect(same.items.find((i) => i.type === 'par')).toMatchObject({ branchLabels: ['', ''] });
  });

  it('nests a par inside a serial call inside a par', async () => {
    const t = trace(
      root(200),
      httpClient({ id: 'toUsers', parent: 'root', start: 10, end: 100, url: 'http://users:4001/users/7' }),
      httpServer({
        id: 'users',
        parent: 'toUsers',
        service: 'users',
        start: 12,
        end: 98,
        route: '/users/:id',
        status: 200,
      }),
      sql({
        id: 'u1',
        parent: 'users',
        service: 'users',
        start: 20,
        end: 60,
        query: 'SELECT * FROM users',
        db: 'users',
      }),
      sql({
        id: 'u2',
        parent: 'users',
        service: 'users',
        start: 30,
        end: 70,
        query: 'SELECT * FROM roles',
        db: 'users',
      }),
      q('side', 20, 50),
    );
    const text = await draw(t);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as users
      participant p4 as postgresql users (db)
      participant p5 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      par 2 concurrent calls
        p2->>p3: GET /users/:id
        par 2 concurrent calls
          p3->>p4: SELECT users
          p4-->>p3: ok
        and
          p3->>p4: SELECT roles
          p4-->>p3: ok
        end
        p3-->>p2: 200
      and postgresql blog
        p2->>p5: SELECT side
        p5-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
  });

  it('folds three or more identical serial calls into a loop and flags them', async () => {
    const t = trace(
      root(100),
      q('a1', 10, 14, 'authors'),
      q('a2', 15, 21, 'authors'),
      q('a3', 22, 30, 'authors'),
      q('a4', 31, 35, 'authors'),
    );
    const model = toSequence(t);
    expect(model.repeats).toEqual([
      expect.objectContaining({
        label: 'SELECT authors',
        target: 'postgresql blog',
        count: 4,
        spanIds: ['a1', 'a2', 'a3', 'a4'],
      }),
    ]);
    const loop = model.items.find((i) => i.type === 'loop');
    expect(loop?.type === 'loop' && loop.label).toBe('4× SELECT authors (total 22 ms, p50 5 ms)');
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      loop 4× SELECT authors
        p2->>p3: SELECT authors
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
  });

  it('does not fold two repeats, or repeats split by a different call', async () => {
    const t = trace(
      root(100),
      q('a1', 10, 14, 'authors'),
      q('a2', 15, 21, 'authors'),
      q('x', 22, 25, 'tags'),
      q('a3', 26, 30, 'authors'),
    );
    const model = toSequence(t, { timings: false });
    expect(model.repeats).toEqual([]);
    expect(model.messageCount).toBe(10);
    await draw(t);
  });

  it('can leave loops unfolded', async () => {
    const t = trace(root(100), q('a1', 10, 14, 'authors'), q('a2', 15, 21, 'authors'), q('a3', 22, 30, 'authors'));
    expect(toSequence(t, { foldLoops: false }).repeats).toEqual([]);
    expect(toSequence(t, { foldLoops: false }).messageCount).toBe(8);
    expect(await draw(t, { foldLoops: false, timings: false })).not.toContain('loop');
  });

  it('draws a distributed trace across two services with the callee’s calls nested', async () => {
    const t = trace(
      root(100),
      httpClient({
        id: 'c',
        parent: 'root',
        start: 10,
        end: 90,
        url: 'http://localhost:4001/users/7?x=1',
        status: 200,
      }),
      httpServer({ id: 's', parent: 'c', service: 'users', start: 12, end: 88, route: '/users/:id', status: 200 }),
      redis({ id: 'r', parent: 's', service: 'users', start: 14, end: 16, statement: 'GET user:7' }),
    );
    const text = await draw(t);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as users
      participant p4 as redis (cache)
      p1->>p2: GET /articles/:id
      p2->>p3: GET /users/:id
      p3->>p4: GET user:*
      p4-->>p3: ok
      p3-->>p2: 200
      p2-->>p1: 200
      "
    `);
  });

  it('names an external host by server.address when no traced service answered', async () => {
    const t = trace(
      root(100),
      httpClient({ id: 'c', parent: 'root', start: 10, end: 90, url: 'https://api.github.com/repos/a/b', status: 200 }),
    );
    const model = toSequence(t, { timings: false });
    expect(model.participants.map((p) => [p.name, p.kind])).toEqual([
      ['Client', 'actor'],
      ['api', 'service'],
      ['api.github.com', 'external'],
    ]);
    await draw(t);
  });

  it('draws a producer and its consumer with the queue wait and the worker’s calls nested', async () => {
    const t = trace(
      root(50, { method: 'POST', route: '/orders', path: '/orders', status: 201 }),
      publish({ id: 'pub', parent: 'root', start: 10, end: 12, queue: 'orders' }),
      consume({ id: 'con', parent: 'pub', service: 'worker', start: 60, end: 90, queue: 'orders' }),
      sql({ id: 'w', parent: 'con', service: 'worker', start: 65, end: 80, query: 'UPDATE orders SET state = $1' }),
    );
    const timed = toSequence(t);
    const wait = timed.items.find((i) => i.type === 'note' && i.reason === 'queue-wait');
    expect(wait?.type === 'note' && wait.text).toBe('waited 48 ms in queue');
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
      p2-->>p1: 201
      p3-)p4: process orders
      p4->>p5: UPDATE orders
      p5-->>p4: ok
      "
    `);
    expect(await draw(t, { timings: true })).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql blog (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      Note over p2: 38 ms own work
      p2-->>p1: 201 · 50 ms
      p3-)p4: process orders
      Note over p3,p4: waited 48 ms in queue
      p4->>p5: UPDATE orders
      p5-->>p4: ok · 15 ms
      "
    `);
  });

  it('places a consumer from a linked trace where its message was published', async () => {
    const linkedTraceId = 'f'.repeat(32);
    const t = trace(
      root(100, { method: 'POST', route: '/orders', path: '/orders', status: 202 }),
      publish({ id: 'pub', parent: 'root', start: 10, end: 12, queue: 'orders' }),
      {
        ...consume({
          id: 'con',
          service: 'worker',
          start: 20,
          end: 50,
          queue: 'orders',
          links: [{ traceId: TRACE_ID, spanId: 'pub', attributes: {} }],
        }),
        traceId: linkedTraceId,
      },
      q('after', 30, 60),
    );
    const model = toSequence(t);
    expect(model.notes).toEqual([]);
    // The worker ran while the API was still querying: one par block, inside the request.
    expect(model.parGroups).toBe(1);
    expect(model.items.find((i) => i.type === 'note' && i.reason === 'queue-wait')).toBeUndefined();
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as orders (queue)
      participant p4 as worker
      participant p5 as postgresql blog (db)
      p1->>p2: POST /orders
      p2-)p3: publish orders
      par 2 concurrent calls
        p3-)p4: process orders
      and postgresql blog
        p2->>p5: SELECT after
        p5-->>p2: ok
      end
      p2-->>p1: 202
      "
    `);
    expect(await draw(t, { timings: true })).toContain('waited 8 ms in queue');
  });

  it('starts a consumer-rooted trace at the queue', async () => {
    const t = trace(
      consume({ id: 'con', service: 'worker', start: 0, end: 30, queue: 'emails' }),
      httpClient({
        id: 'smtp',
        parent: 'con',
        service: 'worker',
        start: 5,
        end: 25,
        url: 'https://mail.example.com/send',
        method: 'POST',
        status: 202,
      }),
    );
    const model = toSequence(t, { timings: false });
    expect(model.participants[0]).toMatchObject({ name: 'emails', kind: 'queue' });
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      participant p1 as emails (queue)
      participant p2 as worker
      participant p3 as mail.example.com
      p1-)p2: process emails
      p2->>p3: POST /send
      p3-->>p2: 202
      "
    `);
  });

  it('answers failed calls with a cross and the error text', async () => {
    const t = trace(
      root(100, { status: 500, error: 'upstream failed' }),
      sql({
        id: 'bad',
        parent: 'root',
        start: 10,
        end: 20,
        query: 'SELECT * FROM nope',
        error: 'relation "nope" does not exist',
      }),
      httpClient({
        id: 'c',
        parent: 'root',
        start: 30,
        end: 40,
        url: 'http://pay:9000/charge',
        method: 'POST',
        status: 503,
      }),
    );
    const text = await draw(t);
    expect(text).toContain('p3--xp2: relation #quot;nope#quot; does not exist');
    expect(text).toContain('p4--xp2: 503');
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      participant p4 as pay#58;9000
      p1->>p2: GET /articles/:id
      p2->>p3: SELECT nope
      p3--xp2: relation #quot;nope#quot; does not exist
      p2->>p4: POST /charge
      p4--xp2: 503
      p2--xp1: 500 · upstream failed
      "
    `);
  });

  it('prints the status of a failed reply once, with the error text a hoisted handler recorded', async () => {
    // As the HTTP and Express instrumentations record a request whose query hits a missing table:
    // the server span carries only error.type "500", the handler span inside it the exception.
    const t = trace(
      span({
        id: 'root',
        kind: 'server',
        name: 'GET /articles/:id/broken',
        start: 0,
        end: 14,
        status: { code: 'error' },
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/articles/:id/broken',
          'url.path': '/articles/4/broken',
          'http.response.status_code': 500,
          'error.type': '500',
        },
      }),
      span({
        id: 'handler',
        parent: 'root',
        name: 'request handler',
        start: 3,
        end: 13,
        status: { code: 'error', message: 'no such table: nope' },
        events: [{ name: 'exception', timeNs: 0n, attributes: { 'exception.message': 'no such table: nope' } }],
      }),
      sql({ id: 'q', parent: 'handler', start: 3, end: 4, query: 'SELECT id FROM nope', error: 'no such table: nope' }),
    );
    expect(await draw(t, { timings: true })).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id/broken
      p2->>p3: SELECT nope
      p3--xp2: no such table: nope · 1 ms
      p2--xp1: 500 · no such table: nope · 14 ms
      "
    `);
    // Without any better text, the reply shows the status alone.
    const bare = trace(root(14, { status: 500, error: 'HTTP 500' }));
    expect(await draw(bare, { timings: true })).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      p1->>p2: GET /articles/:id
      p2--xp1: 500 · 14 ms
      "
    `);
  });

  it('hoists internal spans by default and draws them as self-calls on request', async () => {
    const t = trace(
      root(100),
      internal({ id: 'mw', parent: 'root', name: 'middleware - auth', start: 5, end: 50 }),
      q('a', 10, 20, 'users', 'mw'),
    );
    const hoisted = toSequence(t, { timings: false });
    expect(hoisted.messageCount).toBe(4);
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      p2->>p3: SELECT users
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    const shown = toSequence(t, { timings: false, internal: true });
    expect(shown.messageCount).toBe(5);
    expect(await draw(t, { timings: false, internal: true })).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      p2->>p2: middleware - auth
      p2->>p3: SELECT users
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
  });

  it('notes own work above the threshold in timed mode only', async () => {
    const t = trace(root(300), q('a', 10, 20), q('b', 150, 160));
    const timed = toSequence(t);
    const notes = timed.items.filter((i) => i.type === 'note').map((n) => n.type === 'note' && n.text);
    expect(notes).toEqual(['130 ms own work', '140 ms own work']);
    expect(toSequence(t, { gapThresholdMs: 5 }).items.filter((i) => i.type === 'note')).toHaveLength(3);
    expect(toSequence(t, { timings: false }).items.some((i) => i.type === 'note')).toBe(false);
    expect(await draw(t, { timings: true })).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /articles/:id
      p2->>p3: SELECT a
      p3-->>p2: ok · 10 ms
      Note over p2: 130 ms own work
      p2->>p3: SELECT b
      p3-->>p2: ok · 10 ms
      Note over p2: 140 ms own work
      p2-->>p1: 200 · 300 ms
      "
    `);
  });

  it('maps every arrow number to its span', async () => {
    const t = trace(root(100), q('a', 10, 20), q('b', 15, 25));
    await draw(t, {});
    const model = toSequence(t);
    expect(model.arrows.map((a) => [a.number, a.spanId, a.kind])).toEqual([
      [1, 'root', 'request'],
      [2, 'a', 'request'],
      [3, 'a', 'response'],
      [4, 'b', 'request'],
      [5, 'b', 'response'],
      [6, 'root', 'response'],
    ]);
  });

  it('gives byte-identical output for the same trace without timings', async () => {
    const make = () =>
      trace(
        root(100),
        q('b', 15, 25),
        q('a', 10, 20),
        span({ id: 'x', parent: 'root', kind: 'client', start: 30, end: 31 }),
      );
    expect(renderMermaid(toSequence(make(), { timings: false }))).toBe(
      renderMermaid(toSequence(make(), { timings: false })),
    );
    // Input order of spans does not matter either.
    const reversed = { ...make(), spans: [...make().spans].reverse() };
    await draw(reversed);
    expect(renderMermaid(toSequence(reversed, { timings: false }))).toBe(
      renderMermaid(toSequence(make(), { timings: false })),
    );
  });
});
