import {
  consume,
  expectValidMermaid,
  httpClient,
  httpServer,
  ns,
  publish,
  span,
  sql,
  trace,
} from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { layoutTrace } from './layout.js';
import { renderMermaid, traceToMermaid } from './mermaid.js';
import { CALLER_DISCONNECTED_EVENT } from './outcome.js';
import { toSequence } from './sequence.js';
import { summarizeLayout, summarizeTrace } from './summary.js';
import type { Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** Draws a trace without timings, checks Mermaid parses it and that arrows match the model. */
async function draw(t: Trace): Promise<string> {
  const model = toSequence(t, { timings: false });
  const text = renderMermaid(model);
  const parsed = await expectValidMermaid(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  expect(model.arrows.map((a) => a.number)).toEqual(model.arrows.map((_, i) => i + 1));
  return text;
}

/** The shape of the signup case: answers at 20 ms, a mail still in flight, an audit write started after. */
const signup = (): Trace =>
  trace(
    httpServer({ id: 'root', service: 'signup', method: 'POST', route: '/signup', start: 0, end: 20, status: 201 }),
    sql({ id: 'insert', parent: 'root', service: 'signup', start: 2, end: 8, query: 'INSERT INTO users VALUES ($1)' }),
    httpClient({
      id: 'mail',
      parent: 'root',
      service: 'signup',
      method: 'POST',
      url: 'http://mailer.internal/send',
      start: 10,
      end: 200,
      status: 202,
    }),
    sql({ id: 'audit', parent: 'root', service: 'signup', start: 60, end: 70, query: 'UPDATE audit SET n = n + 1' }),
  );

describe('work after the response', () => {
  it('draws the response where it happened and the calls that outlived it after it, noted', async () => {
    const text = await draw(signup());
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as signup
      participant p3 as postgresql blog (db)
      participant p4 as mailer.internal
      p1->>p2: POST /signup
      p2->>p3: INSERT users
      p3-->>p2: ok
      p2->>p4: POST /send
      p2-->>p1: 201
      Note over p2: after the response: 2 calls outlived the request
      p2->>p3: UPDATE audit
      p3-->>p2: ok
      p4-->>p2: 202
      "
    `);
    const model = toSequence(signup(), { timings: false });
    expect(model.parGroups).toBe(0);
    expect(model.notes).toContain('2 calls ran on after the response to POST /signup');
  });

  it('with timings, counts own work up to the response only and says how long the rest ran on', async () => {
    // The 10 ms gap before the response is exactly the default threshold; a lower one shows it.
    const text = renderMermaid(toSequence(signup(), { gapThresholdMs: 5 }));
    await expectValidMermaid(text);
    const body = text.split('\n').slice(text.split('\n').indexOf('p1->>p2: POST /signup'));
    expect(body).toEqual([
      'p1->>p2: POST /signup',
      'p2->>p3: INSERT users',
      'p3-->>p2: ok · 6 ms',
      'p2->>p4: POST /send',
      'Note over p2: 10 ms own work',
      'p2-->>p1: 201 · 20 ms',
      'Note over p2: after the response: 2 calls outlived the request by 180 ms',
      'p2->>p3: UPDATE audit',
      'p3-->>p2: ok · 10 ms',
      'p4-->>p2: 202 · 190 ms',
      '',
    ]);
  });

  it('sends the in-flight call before the response and takes its reply after it', async () => {
    const model = toSequence(signup(), { timings: false });
    const order = model.arrows.map((a) => `${a.spanId}:${a.kind}`);
    expect(order).toEqual([
      'root:request',
      'insert:request',
      'insert:response',
      'mail:request',
      'root:response',
      'audit:request',
      'audit:response',
      'mail:response',
    ]);
  });

  it('counts only what the client waited for, and reports the rest apart', () => {
    const analysis = analyzeTrace(signup());
    expect(analysis.wallTimeMs).toBe(20);
    expect(analysis.afterResponse).toEqual({ calls: 2, durationMs: 180, spanIds: ['mail', 'audit'] });
    // The mail request was sent, not waited for: it is neither HTTP time nor on the critical path.
    expect(analysis.byCategory).toEqual({ db: 6, http: 0, cache: 0, queue: 0, own: 14 });
    expect(analysis.criticalPath.map((s) => s.spanId)).toEqual(['root', 'insert', 'root']);
    expect(analysis.serialRuns).toEqual([]);
    expect(analysis.notes).toContain('2 calls ran on after the response to POST /signup');
    const summary = summarizeTrace(signup());
    expect(summary).toMatchObject({ parGroups: 0, serialCalls: 0, nPlusOne: 0 });
    expect(summarizeTrace(signup())).toEqual(summarizeLayout(layoutTrace(buildSpanTree(signup()))));
  });

  it('keeps a call ending exactly with the response before it', async () => {
    const t = trace(
      httpServer({ id: 'root', route: '/x', start: 0, end: 20, status: 200 }),
      sql({ id: 'a', parent: 'root', start: 5, end: 20, query: 'SELECT * FROM a' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /x
      p2->>p3: SELECT a
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(analyzeTrace(t).afterResponse).toBeUndefined();
  });

  it('applies inside a downstream service that answers and keeps working', async () => {
    const t = trace(
      httpServer({ id: 'root', service: 'web', route: '/order', method: 'POST', start: 0, end: 100, status: 200 }),
      httpClient({
        id: 'call',
        parent: 'root',
        service: 'web',
        method: 'POST',
        url: 'http://billing/charge',
        start: 10,
        end: 40,
        status: 200,
      }),
      httpServer({
        id: 'billing',
        parent: 'call',
        service: 'billing',
        method: 'POST',
        route: '/charge',
        start: 12,
        end: 38,
        status: 200,
      }),
      sql({
        id: 'charge',
        parent: 'billing',
        service: 'billing',
        start: 15,
        end: 25,
        query: 'INSERT INTO charges VALUES (1)',
      }),
      sql({
        id: 'ledger',
        parent: 'billing',
        service: 'billing',
        start: 30,
        end: 60,
        query: 'UPDATE ledger SET n = 1',
      }),
      sql({ id: 'after', parent: 'root', service: 'web', start: 50, end: 60, query: 'SELECT * FROM orders' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as web
      participant p3 as billing
      participant p4 as postgresql blog (db)
      p1->>p2: POST /order
      p2->>p3: POST /charge
      p3->>p4: INSERT charges
      p4-->>p3: ok
      p3->>p4: UPDATE ledger
      p3-->>p2: 200
      Note over p3: after the response: 1 call outlived the request
      p4-->>p3: ok
      p2->>p4: SELECT orders
      p4-->>p2: ok
      p2-->>p1: 200
      "
    `);
    const analysis = analyzeTrace(t);
    expect(analysis.afterResponse).toEqual({ calls: 1, durationMs: 22, spanIds: ['ledger'] });
    expect(summarizeTrace(t)).toEqual(summarizeLayout(layoutTrace(buildSpanTree(t))));
  });

  it('draws overlapping calls made after the response as a par after it, not counted as the request par', async () => {
    const t = trace(
      httpServer({ id: 'root', route: '/x', start: 0, end: 20, status: 200 }),
      sql({ id: 'a', parent: 'root', start: 30, end: 50, query: 'SELECT * FROM a' }),
      sql({ id: 'b', parent: 'root', start: 35, end: 45, query: 'SELECT * FROM b' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /x
      p2-->>p1: 200
      Note over p2: after the response: 2 calls outlived the request
      par 2 concurrent calls
        p2->>p3: SELECT a
        p3-->>p2: ok
      and
        p2->>p3: SELECT b
        p3-->>p2: ok
      end
      "
    `);
    expect(toSequence(t).parGroups).toBe(0);
    expect(summarizeTrace(t).parGroups).toBe(0);
  });

  it('does not take a downstream clock running ahead for work after the response', async () => {
    // The server's clock runs 50 ms ahead: the tree shifts its whole subtree into the call, children included.
    const t = trace(
      httpServer({ id: 'root', service: 'web', route: '/x', start: 0, end: 40, status: 200 }),
      httpClient({
        id: 'call',
        parent: 'root',
        service: 'web',
        url: 'http://users/u/1',
        start: 5,
        end: 35,
        status: 200,
      }),
      httpServer({ id: 'users', parent: 'call', service: 'users', route: '/u/:id', start: 60, end: 80, status: 200 }),
      sql({ id: 'q', parent: 'users', service: 'users', start: 62, end: 78, query: 'SELECT * FROM users' }),
    );
    const text = await draw(t);
    expect(text).not.toContain('after the response');
    expect(analyzeTrace(t).afterResponse).toBeUndefined();
    expect(toSequence(t).notes.some((note) => note.startsWith('clock skew between web and users'))).toBe(true);
  });

  it('leaves a consumer root whose calls outlive it as it is: a consumer sends no response', async () => {
    const t = trace(
      publish({ id: 'pub', service: 'api', queue: 'jobs', start: 0, end: 2 }),
      consume({ id: 'job', parent: 'pub', service: 'worker', queue: 'jobs', start: 5, end: 10 }),
      sql({ id: 'w', parent: 'job', service: 'worker', start: 6, end: 30, query: 'UPDATE jobs SET done = true' }),
    );
    const text = await draw(t);
    expect(text).not.toContain('after the response');
    expect(analyzeTrace(t).afterResponse).toBeUndefined();
  });
});

describe('a call still running at the response, whose own calls finished before it', () => {
  it('draws those calls with its request, before the response, and the rest after it', async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 20, method: 'GET', route: '/a', status: 200 }),
      // Sent and not awaited: svc-b answers at 60 ms, after svc-a's response at 20 ms.
      httpClient({ id: 'c', parent: 'root', start: 2, end: 60, url: 'http://svc-b/x', status: 200 }),
      span({
        id: 'b',
        parent: 'c',
        service: 'svc-b',
        kind: 'server',
        start: 3,
        end: 59,
        name: 'GET /x',
        attributes: { 'http.request.method': 'GET', 'http.route': '/x', 'http.response.status_code': 200 },
      }),
      { ...sql({ id: 'early', parent: 'b', start: 5, end: 7, query: 'SELECT * FROM b' }), serviceName: 'svc-b' },
      { ...sql({ id: 'late', parent: 'b', start: 40, end: 50, query: 'UPDATE b SET x = 1' }), serviceName: 'svc-b' },
      sql({ id: 'own', parent: 'root', start: 10, end: 14, query: 'SELECT * FROM a' }),
    );
    const { text } = traceToMermaid(t, { timings: false });
    await expectValidMermaid(text);
    const arrows = text.split('\n').filter((line) => line.includes('>>') || line.startsWith('Note'));
    expect(arrows).toEqual([
      'p1->>p2: GET /a',
      'p2->>p3: GET /x',
      'p3->>p4: SELECT b',
      'p4-->>p3: ok',
      'p2->>p4: SELECT a',
      'p4-->>p2: ok',
      'p2-->>p1: 200',
      'Note over p2: after the response: 1 call outlived the request',
      'p3->>p4: UPDATE b',
      'p4-->>p3: ok',
      'p3-->>p2: 200',
    ]);
  });
});

describe('a downstream service whose work after its own response starts after the caller answered', () => {
  it("draws that work after the caller's response too, not before the caller's later calls", async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 20, method: 'GET', route: '/a', status: 200 }),
      httpClient({ id: 'c', parent: 'root', start: 2, end: 10, url: 'http://svc-b/b', status: 200 }),
      span({
        id: 'b',
        parent: 'c',
        service: 'svc-b',
        kind: 'server',
        start: 3,
        end: 9,
        name: 'GET /b',
        attributes: { 'http.request.method': 'GET', 'http.route': '/b', 'http.response.status_code': 200 },
      }),
      {
        ...sql({ id: 'late', parent: 'b', start: 30, end: 40, query: 'INSERT INTO audit VALUES (1)' }),
        serviceName: 'svc-b',
      },
      sql({ id: 'own', parent: 'root', start: 12, end: 15, query: 'SELECT * FROM a' }),
    );
    const { text } = traceToMermaid(t, { timings: false });
    await expectValidMermaid(text);
    const lines = text.split('\n').filter((line) => line.includes('>>') || line.startsWith('Note'));
    expect(lines).toEqual([
      'p1->>p2: GET /a',
      'p2->>p3: GET /b',
      'p3-->>p2: 200',
      'p2->>p4: SELECT a',
      'p4-->>p2: ok',
      'p2-->>p1: 200',
      'Note over p3: after the response: 1 call outlived the request',
      'p3->>p4: INSERT audit',
      'p4-->>p3: ok',
    ]);
  });
});

describe('a nested call still in flight at an enclosing response', () => {
  /** svc-a answers at 20 ms; its call to svc-b runs on, and so do svc-b's own calls, to svc-c and its database. */
  const nested = (): Trace =>
    trace(
      httpServer({ id: 'root', start: 0, end: 20, method: 'GET', route: '/a', status: 200 }),
      httpClient({ id: 'c', parent: 'root', start: 2, end: 90, url: 'http://svc-b/x', status: 200 }),
      span({
        id: 'b',
        parent: 'c',
        service: 'svc-b',
        kind: 'server',
        start: 3,
        end: 89,
        name: 'GET /x',
        attributes: { 'http.request.method': 'GET', 'http.route': '/x', 'http.response.status_code': 200 },
      }),
      // In flight at 20 ms, one level down.
      { ...sql({ id: 'mid', parent: 'b', start: 15, end: 50, query: 'SELECT * FROM b' }), serviceName: 'svc-b' },
      { ...httpClient({ id: 'cc', parent: 'b', start: 16, end: 70, url: 'http://svc-c/y' }), serviceName: 'svc-b' },
      span({
        id: 'sc',
        parent: 'cc',
        service: 'svc-c',
        kind: 'server',
        start: 17,
        end: 69,
        name: 'GET /y',
        attributes: { 'http.request.method': 'GET', 'http.route': '/y', 'http.response.status_code': 200 },
      }),
      // In flight at 20 ms, two levels down.
      { ...sql({ id: 'deep', parent: 'sc', start: 18, end: 60, query: 'SELECT * FROM c' }), serviceName: 'svc-c' },
    );

  it('sends its request before that response and takes its reply after it, at any depth', async () => {
    expect(await draw(nested())).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as svc-b
      participant p4 as postgresql blog (db)
      participant p5 as svc-c
      p1->>p2: GET /a
      p2->>p3: GET /x
      p3->>p4: SELECT b
      p3->>p5: GET /y
      p5->>p4: SELECT c
      p2-->>p1: 200
      Note over p2: after the response: 1 call outlived the request
      p4-->>p3: ok
      p4-->>p5: ok
      p5-->>p3: 200
      p3-->>p2: 200
      "
    `);
    const order = toSequence(nested(), { timings: false }).arrows.map((a) => `${a.spanId}:${a.kind}`);
    expect(order.indexOf('mid:request')).toBeLessThan(order.indexOf('root:response'));
    expect(order.indexOf('deep:request')).toBeLessThan(order.indexOf('root:response'));
    expect(order.indexOf('mid:response')).toBeGreaterThan(order.indexOf('root:response'));
    expect(order.indexOf('deep:response')).toBeGreaterThan(order.indexOf('root:response'));
  });

  it("takes the reply of one that also outlived its own caller's response after that response", async () => {
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 20, method: 'GET', route: '/a', status: 200 }),
      httpClient({ id: 'c', parent: 'root', start: 2, end: 40, url: 'http://svc-b/x', status: 200 }),
      span({
        id: 'b',
        parent: 'c',
        service: 'svc-b',
        kind: 'server',
        start: 3,
        end: 39,
        name: 'GET /x',
        attributes: { 'http.request.method': 'GET', 'http.route': '/x', 'http.response.status_code': 200 },
      }),
      { ...sql({ id: 'long', parent: 'b', start: 15, end: 80, query: 'UPDATE b SET x = 1' }), serviceName: 'svc-b' },
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as svc-b
      participant p4 as postgresql blog (db)
      p1->>p2: GET /a
      p2->>p3: GET /x
      p3->>p4: UPDATE b
      p2-->>p1: 200
      Note over p2: after the response: 1 call outlived the request
      p3-->>p2: 200
      Note over p3: after the response: 1 call outlived the request
      p4-->>p3: ok
      "
    `);
  });
});

describe('messages processed after the response', () => {
  const jobs = (secondStart: number) =>
    trace(
      httpServer({ id: 'root', start: 0, end: 10, method: 'POST', route: '/jobs', status: 202 }),
      publish({ id: 'p1', parent: 'root', start: 1, end: 2, queue: 'jobs' }),
      publish({ id: 'p2', parent: 'root', start: 3, end: 4, queue: 'jobs' }),
      consume({ id: 'c1', parent: 'p1', start: 12, end: 40, queue: 'jobs' }),
      sql({ id: 'q1', parent: 'c1', start: 13, end: 39, query: 'SELECT 1' }),
      consume({ id: 'c2', parent: 'p2', start: secondStart, end: secondStart + 28, queue: 'jobs' }),
      sql({ id: 'q2', parent: 'c2', start: secondStart + 1, end: secondStart + 27, query: 'SELECT 2' }),
    );

  it("draws the ones that ran side by side as one par, not counted as the request's concurrency", async () => {
    const t = jobs(15);
    const text = await draw(t);
    expect(text).toContain(
      [
        'p2-->>p1: 202',
        'par 2 concurrent calls',
        '  p3-)p2: process jobs',
        '  p2->>p4: SELECT',
        '  p4-->>p2: ok',
        'and',
        '  p3-)p2: process jobs',
        '  p2->>p4: SELECT',
        '  p4-->>p2: ok',
        'end',
      ].join('\n'),
    );
    expect(toSequence(t).parGroups).toBe(0);
    expect(summarizeLayout(layoutTrace(buildSpanTree(t)))).toEqual(summarizeTrace(t));
  });

  it('draws the ones that ran one after the other in order, without a par', async () => {
    const text = await draw(jobs(45));
    expect(text).not.toContain('par ');
    expect(text.split('\n').filter((line) => line.includes('process jobs'))).toHaveLength(2);
  });
});

describe('a caller that disconnected before the response', () => {
  const disconnectedAt = (ms: number) => ({
    name: CALLER_DISCONNECTED_EVENT,
    timeNs: ns(ms),
    attributes: {},
  });

  /** A report the caller gave up on at 50 ms; the handler queried at 150 ms and finished at 160 ms. */
  const report = (): Trace =>
    trace(
      {
        ...httpServer({ id: 'root', service: 'reports', route: '/report', start: 0, end: 160, status: 200 }),
        events: [disconnectedAt(50)],
      },
      sql({ id: 'early', parent: 'root', service: 'reports', start: 5, end: 10, query: 'SELECT * FROM sources' }),
      sql({ id: 'late', parent: 'root', service: 'reports', start: 150, end: 155, query: 'SELECT * FROM figures' }),
    );

  it('draws the response as not delivered where the caller went, and the work after it after it', async () => {
    expect(await draw(report())).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as reports
      participant p3 as postgresql blog (db)
      p1->>p2: GET /report
      p2->>p3: SELECT sources
      p3-->>p2: ok
      p2--xp1: caller disconnected
      Note over p2: after the caller disconnected: 1 call ran on
      p2->>p3: SELECT figures
      p3-->>p2: ok
      "
    `);
    const timed = renderMermaid(toSequence(report()));
    await expectValidMermaid(timed);
    expect(timed).toContain('p2--xp1: caller disconnected · 50 ms');
    expect(timed).toContain('after the caller disconnected: 1 call ran on by 105 ms');
    expect(analyzeTrace(report()).notes).toContain('1 call ran on after the caller of GET /report disconnected');
  });

  it('draws the work a traced service did after its caller gave up after that service was left', async () => {
    const t = trace(
      httpServer({ id: 'root', service: 'front', route: '/page', start: 0, end: 60, status: 200 }),
      {
        ...httpClient({
          id: 'call',
          parent: 'root',
          service: 'front',
          url: 'http://reports/report',
          start: 1,
          end: 51,
          status: null,
        }),
        status: { code: 'error', message: 'The operation was aborted due to timeout' },
      },
      {
        ...httpServer({
          id: 'upstream',
          parent: 'call',
          service: 'reports',
          route: '/report',
          start: 2,
          end: 160,
          status: 200,
        }),
        events: [disconnectedAt(51)],
      },
      sql({ id: 'late', parent: 'upstream', service: 'reports', start: 150, end: 155, query: 'SELECT * FROM figures' }),
    );
    const text = await draw(t);
    const lines = text.split('\n');
    const cut = lines.indexOf('p3--xp2: timeout');
    const query = lines.indexOf('p3->>p4: SELECT figures');
    expect(cut, text).toBeGreaterThan(0);
    // The query ran after the caller's call had ended: drawn after it, not as part of the reply.
    expect(query, text).toBeGreaterThan(cut);
    expect(analyzeTrace(t).notes).toContain('1 call ran on after the caller of GET /report disconnected');
  });
});
