import { type Span, traceToMermaid } from '@lifeline/core';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { dbSpans, type RunningApp, runId, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missingPg = await missingServices('postgres');
const missingMysql = await missingServices('mariadb');
const missingRedis = await missingServices('redis');

/** Requests started together; each answer's trace id, in request order. */
async function together(urls: readonly string[]): Promise<{ traceId: string; body: unknown }[]> {
  return Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      expect(response.status, url).toBe(200);
      return { traceId: traceIdOf(response), body: await response.json() };
    }),
  );
}

/** The query spans of a trace (the pool's own spans are not recorded). */
function queries(spans: readonly Span[], system: string): Span[] {
  return dbSpans(spans, system).filter((span) => span.kind === 'client');
}

/** Waits until a trace holds its server span and `count` ended queries of `system`. */
function waitForQueries(db: string, traceId: string, system: string, count: number) {
  return waitForTrace(
    db,
    traceId,
    (spans) =>
      spans.some((s) => s.kind === 'server') &&
      queries(spans, system).filter((s) => s.endTimeNs !== undefined).length >= count,
  );
}

const waitTime = 'db.client.connection.wait_time';

describe.skipIf(missingPg.length + missingMysql.length > 0)('pools of one connection and streamed queries', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'calls.ts', db: db.path, serviceName: 'calls', env: { RUN_ID: runId() } });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  // Every request waits for the pool's only connection but the first; the
  // pool hands the connection over from the releasing request's callback.
  const pooled: [string, string, string][] = [
    ['pg pool.query', 'postgresql', '/pg/report'],
    ['pg pool.connect(callback)', 'postgresql', '/pg/checkout'],
    ['mysql2 pool.query(callback)', 'mysql', '/mysql/report'],
    ['mysql2/promise pool.execute', 'mysql', '/mysql/execute'],
    ['mysql2/promise pool.getConnection', 'mysql', '/mysql/checkout'],
  ];
  it.each(pooled)(
    '%s: four requests at once on one connection give four traces, each with its own query',
    async (_name, system, path) => {
      const ids = [1, 2, 3, 4];
      const answers = await together(ids.map((id) => `${app.url}${path}/${id}`));
      expect(answers.map((a) => a.body)).toEqual(ids.map((id) => ({ id })));
      const waits: number[] = [];
      for (const answer of answers) {
        const trace = await waitForQueries(db.path, answer.traceId, system, 1);
        const own = queries(trace.spans, system);
        expect(own, `${path}: ${own.map((s) => s.name).join(', ')}`).toHaveLength(1);
        const [query] = own;
        const server = trace.spans.find((s) => s.kind === 'server');
        expect(query?.parentSpanId).toBeDefined();
        expect(server?.name).toMatch(new RegExp(`^GET ${path}/:id$`));
        const wait = query?.attributes[waitTime];
        if (wait !== undefined) {
          expect(typeof wait).toBe('number');
          waits.push(wait as number);
        }
        const text = await validDiagram(trace);
        const database = system === 'postgresql' ? 'postgresql test' : 'mysql test';
        expect(
          text.split('\n').filter((line) => /^p\d+->>/.test(line)),
          text,
        ).toEqual([`p1->>p2: GET ${path}/:id`, 'p2->>p3: SELECT']);
        expect(text).toContain(database);
      }
      // Three of them waited for the connection (50 ms queries), and say so.
      expect(waits.filter((seconds) => seconds > 0.02).length).toBeGreaterThanOrEqual(3);
    },
  );

  // One request issues three queries together; the pool (or the client) runs
  // them one at a time. The diagram must say they were issued together and
  // waited, not draw them as a serial loop the app never wrote.
  it.each([
    ['pg pool of one', 'postgresql', '/pg/together'],
    ['pg client queue', 'postgresql', '/pg/client-together'],
    ['mysql2 pool of one', 'mysql', '/mysql/together'],
    ['mysql2 connection queue', 'mysql', '/mysql/connection-together'],
  ])('%s: queries issued together are drawn concurrent, with the time they waited', async (_name, system, path) => {
    const response = await fetch(`${app.url}${path}`);
    expect(await response.json()).toEqual({ count: 3 });
    const trace = await waitForQueries(db.path, traceIdOf(response), system, 3);
    const own = [...queries(trace.spans, system)].sort((a, b) => Number(a.startTimeNs - b.startTimeNs));
    expect(own).toHaveLength(3);
    // Run one after the other: each was sent once the previous one had
    // answered. The client sends the next query as soon as the server is
    // ready, before the previous one's callback (where its span ends) ran:
    // on a busy machine that is a few milliseconds.
    for (let i = 1; i < own.length; i++) {
      expect(own[i]?.startTimeNs).toBeGreaterThanOrEqual((own[i - 1]?.endTimeNs ?? 0n) - 5_000_000n);
    }
    // The second and third waited about one and two queries (30 ms each).
    const waits = own.map((s) => s.attributes[waitTime]);
    expect(waits[1]).toBeGreaterThan(0.02);
    expect(waits[2]).toBeGreaterThan(0.04);
    const text = await validDiagram(trace);
    expect(text).not.toContain('loop');
    expect(text).toContain('par 3 concurrent calls');
    const { text: timed } = traceToMermaid(trace);
    await parseMermaid(timed);
    // (The first one also waits when the pool opens its connection for it.)
    expect((timed.match(/waited [^\n]* for a connection/g) ?? []).length).toBeGreaterThanOrEqual(2);
  });

  // The sockets are read in the context of whoever opened the connection: a
  // query issued from a callback or an `end` listener ran there.
  it.each([
    ['mysql2 pool.query(callback) on a pool of one', 'mysql', 'mysql-pool'],
    ['mysql2 connection.execute(callback) on a connection opened at start-up', 'mysql', 'mysql-connection'],
    ['mysql2 pool.query() read through events', 'mysql', 'mysql-events'],
    ["pg Query's 'end' listener on a client connected at start-up", 'postgresql', 'pg-events'],
  ])("%s: a query issued from the first one is in its request's trace", async (_name, system, client) => {
    // One after the other: no request waits for another.
    const answers = [];
    for (const id of [1, 2, 3]) {
      const response = await fetch(`${app.url}/nested/${client}/${id}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ id });
      answers.push(traceIdOf(response));
    }
    for (const traceId of answers) {
      const trace = await waitForQueries(db.path, traceId, system, 2);
      const own = queries(trace.spans, system);
      const text = (span: Span) => String(span.attributes['db.query.text'] ?? span.attributes['db.statement']);
      expect(own.map(text)).toEqual([expect.stringMatching(/ AS a$/), expect.stringMatching(/ AS b$/)]);
      const inTrace = new Set(trace.spans.map((s) => s.spanId));
      for (const query of own) expect(inTrace.has(query.parentSpanId ?? '')).toBe(true);
      const diagram = await validDiagram(trace);
      expect(
        diagram.split('\n').filter((line) => /^p\d+->>/.test(line)),
        diagram,
      ).toEqual(['p1->>p2: GET /nested/:client/:id', 'p2->>p3: SELECT', 'p2->>p3: SELECT']);
    }
  });

  it.skipIf(missingRedis.length > 0)(
    'ioredis: commands that waited in the offline queue are recorded once, in their own trace, without the handshake',
    async () => {
      const batch = runId();
      const ids = [1, 2, 3, 4];
      const answers = await together(ids.map((id) => `${app.url}/ioredis/${batch}/${id}`));
      expect(answers.map((a) => a.body)).toEqual(ids.map((id) => ({ id, value: null })));
      for (const answer of answers) {
        const trace = await waitForQueries(db.path, answer.traceId, 'redis', 1);
        const commands = queries(trace.spans, 'redis').map((s) => s.name);
        // The request that opened the client also has its connect span.
        expect(commands.filter((name) => name !== 'connect')).toEqual(['get']);
      }
    },
  );

  it('draws a pg-query-stream read to its end as one query with its row count', async () => {
    const response = await fetch(`${app.url}/pg/stream`);
    expect(await response.json()).toEqual({ count: 25 });
    const trace = await waitForQueries(db.path, traceIdOf(response), 'postgresql', 1);
    const [query] = queries(trace.spans, 'postgresql');
    expect(query?.attributes['db.response.returned_rows']).toBe(25);
    expect(query?.status.code).not.toBe('error');
    expect(await validDiagram(trace)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as calls
      participant p3 as postgresql test (db)
      p1->>p2: GET /pg/stream
      p2->>p3: SELECT generate_series
      p3-->>p2: 25 rows
      p2-->>p1: 200
      "
    `);
  });

  it('ends a pg-cursor query when its last rows are read, and one closed early when it is closed', async () => {
    for (const [path, rows] of [
      ['/pg/cursor', 12],
      ['/pg/cursor-closed', 3],
    ] as const) {
      const response = await fetch(`${app.url}${path}`);
      expect(await response.json()).toEqual({ count: rows });
      const trace = await waitForQueries(db.path, traceIdOf(response), 'postgresql', 1);
      const [query] = queries(trace.spans, 'postgresql');
      expect(query?.attributes['db.response.returned_rows'], path).toBe(rows);
      const server = trace.spans.find((s) => s.kind === 'server');
      // The query ended while the request was still being served.
      expect(query?.endTimeNs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(server?.endTimeNs ?? 0);
      expect(await validDiagram(trace)).toContain(`p3-->>p2: ${rows} rows`);
    }
  });

  it('records a streamed pg query that fails as a failed call', async () => {
    const response = await fetch(`${app.url}/pg/stream-error`);
    expect(await response.json()).toEqual({
      failed: true,
      message: 'relation "lifeline_missing_<run>" does not exist',
    });
    const trace = await waitForQueries(db.path, traceIdOf(response), 'postgresql', 1);
    const [query] = queries(trace.spans, 'postgresql');
    expect(query?.status.code).toBe('error');
    const text = await validDiagram(trace);
    expect(text).toMatch(/p3--xp2: .*does not exist/);
  });

  it('ends mysql2 queries read as a stream or through events when their last row came', async () => {
    for (const [path, rows] of [
      ['/mysql/stream', 4],
      ['/mysql/events', 3],
    ] as const) {
      const response = await fetch(`${app.url}${path}`);
      expect(await response.json()).toEqual({ count: rows });
      const trace = await waitForQueries(db.path, traceIdOf(response), 'mysql', 1);
      const own = queries(trace.spans, 'mysql');
      expect(own, path).toHaveLength(1);
      expect(own[0]?.attributes['db.response.returned_rows'], path).toBe(rows);
      const text = await validDiagram(trace);
      expect(text, path).toContain(`p3-->>p2: ${rows} rows`);
    }
  });
});
