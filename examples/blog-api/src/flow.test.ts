/**
 * The blog API's flows, pinned in its own tests: which queries each endpoint
 * makes, which of them overlap, and no N+1. The recorder starts first, before
 * express and the database driver are imported; every request is recorded
 * in memory.
 */
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoNPlusOne, recordFlow, startFlowRecorder } from '@lifeline/node';
import '@lifeline/node/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

await startFlowRecorder({ serviceName: 'blog-api' });
// Only now the app and what it uses, so that the instrumentations see them load.
const { createServer } = await import('node:http');
const { createBlogApi } = await import('./app.ts');
const { openDataStore } = await import('./data-store.ts');
const { listen } = await import('./lifecycle.ts');
const { openJobQueue } = await import('./queue.ts');
const { blogSchema } = await import('./schema.ts');

describe('the blog API flows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blog-api-flow-'));
  const servers: Server[] = [];
  const closers: (() => Promise<void>)[] = [];
  let shipped: string;
  let reviewed: string;

  beforeAll(async () => {
    const db = await openDataStore({ sqlitePath: join(dir, 'blog.db'), schema: 'blog_example' });
    await db.setup(blogSchema(db.dialect));
    const queue = await openJobQueue({ sqlitePath: join(dir, 'jobs.db') });
    closers.push(
      () => queue.close(),
      () => db.close(),
    );
    const start = async (isReviewed: boolean) => {
      const server = createServer(
        createBlogApi({ db, queue, recommendationsUrl: 'http://127.0.0.1:9', reviewed: isReviewed }),
      );
      servers.push(server);
      return listen(server, 0);
    };
    shipped = await start(false);
    reviewed = await start(true);
    // One untimed request first: the first of a process pays for loading code.
    await (await fetch(`${shipped}/articles/1/serial`)).arrayBuffer();
  });

  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    for (const close of closers) await close();
  });

  const get = (base: string, path: string) => recordFlow(async () => (await fetch(`${base}${path}`)).json());

  it('reads the article, then its comments', async () => {
    const flow = await get(shipped, '/articles/1/serial');
    expect(flow.mermaid).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as blog-api
      participant p3 as sqlite blog (db)
      p1->>p2: GET /articles/:id/serial
      p2->>p3: SELECT articles
      p3-->>p2: ok
      p2->>p3: SELECT comments
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(flow).toMakeCalls({ database: 2, http: 0, cache: 0, queue: 0 });
    expect(flow).not.toRunConcurrently('SELECT articles', 'SELECT comments');
  });

  it('reads the article and its comments together', async () => {
    const flow = await get(shipped, '/articles/1/parallel');
    expect(flow).toMatchFlowSnapshot();
    expect(flow).toRunConcurrently('SELECT articles', 'SELECT comments');
    expect(flow).toMakeCalls({ database: 2 });
  });

  it('lists the articles with their authors in two queries', async () => {
    const flow = await get(reviewed, '/articles');
    expect(flow).toHaveNoNPlusOne();
    expect(flow).toMakeCalls({ database: 2 });
  });

  it('fails with the flow in the message when an N+1 comes back', async () => {
    // The app as shipped still queries one author per article.
    const flow = await get(shipped, '/articles');
    expect(() => expect(flow).toHaveNoNPlusOne()).toThrowErrorMatchingInlineSnapshot(`
      [Error: expected no N+1, but GET /articles runs SELECT authors 6× in a row on sqlite blog: fetch them in one call (a join, IN (…), a batch)

      The recorded flow:

      sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as blog-api
      participant p3 as sqlite blog (db)
      p1->>p2: GET /articles
      p2->>p3: SELECT articles
      p3-->>p2: ok
      loop 6× SELECT authors
        p2->>p3: SELECT authors
        p3-->>p2: ok
      end
      p2-->>p1: 200]
    `);
    // The same check for node:test or any runner: an AssertionError with the same message.
    expect(() => assertNoNPlusOne(flow)).toThrow(
      expect.objectContaining({ name: 'AssertionError', message: expect.stringContaining('SELECT authors 6×') }),
    );
    expect(() => expect(flow).toMakeCalls({ database: 2 })).toThrow(/calls differ: database: expected 2, made 7/);
  });

  it('keeps the test client out of the flow and records each request it sends', async () => {
    const flow = await recordFlow(async () => {
      await (await fetch(`${reviewed}/articles/2/serial`)).arrayBuffer();
      await (await fetch(`${reviewed}/articles/2/parallel`)).arrayBuffer();
    });
    expect(flow.traces).toHaveLength(2);
    expect(flow.flows.map((f) => f.calls[0]?.label)).toEqual([
      'GET /articles/:id/serial',
      'GET /articles/:id/parallel',
    ]);
    // The reviewed serial route starts both queries together too.
    expect(flow).toMakeCalls({ database: 4, http: 0 });
  });
});
