import {
  expectValidMermaid,
  httpClient,
  httpServer,
  redis,
  type SpanSpec,
  span,
  sql,
  trace,
} from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { diffRequests, diffTraces } from './diff.js';
import { diffToMermaid } from './diff-mermaid.js';
import { diffRuns } from './diff-runs.js';
import { traceFlow } from './flow.js';

const root = (end: number, route = '/articles/:id', status = 200) =>
  httpServer({ id: 'root', start: 0, end, route, path: '/articles/1', status });
const q = (id: string, start: number, end: number, query: string, error?: string) =>
  sql({ id, parent: 'root', start, end, query, ...(error !== undefined ? { error } : {}) });

const ARTICLE = 'SELECT id, title FROM articles WHERE id = $1';
const COMMENTS = 'SELECT id, body FROM comments WHERE article_id = $1';
const AUTHOR = 'SELECT name FROM authors WHERE id = $1';
const AUTHORS_IN = 'SELECT id, name FROM authors WHERE id = ANY($1)';

/** The article, then its comments, awaited one after the other. */
const serial = (shift = 0) =>
  trace(root(20 + shift), q('a', 1, 8 + shift, ARTICLE), q('c', 9 + shift, 16 + shift, COMMENTS));
/** The same two queries started together. */
const parallel = () => trace(root(12), q('c2', 1, 8, COMMENTS), q('a2', 1.2, 9, ARTICLE));
/** The list, then one author query per article. */
const nPlusOne = (n: number) => {
  const spans = [root(10 + n * 4, '/articles'), q('list', 1, 4, 'SELECT id, author_id FROM articles')];
  for (let i = 0; i < n; i++) spans.push(q(`au${i}`, 5 + i * 4, 8 + i * 4, AUTHOR));
  return trace(...spans);
};
const batched = () =>
  trace(root(12, '/articles'), q('list2', 1, 4, 'SELECT id, author_id FROM articles'), q('in', 5, 9, AUTHORS_IN));

describe('traceFlow', () => {
  it('reads the drawn calls in order, with loops, concurrent groups and counts per kind', () => {
    const flow = traceFlow(nPlusOne(6));
    const request = flow.calls[0];
    expect(request?.label).toBe('GET /articles');
    expect(request?.children.map((c) => [c.label, c.count])).toEqual([
      ['SELECT articles', 1],
      ['SELECT authors', 6],
    ]);
    expect(flow.counts.database).toBe(7);
    expect(flow.byParticipant['postgresql blog']).toBe(7);
    const concurrent = traceFlow(parallel()).calls[0]?.children ?? [];
    expect(concurrent.map((c) => c.label)).toEqual(['SELECT articles', 'SELECT comments']);
    expect(concurrent[0]?.parGroup).toBeDefined();
    expect(concurrent[0]?.parGroup).toBe(concurrent[1]?.parGroup);
  });
});

describe('diffTraces', () => {
  it('reports nothing for two recordings of the same code, timing changes within the noise floor', () => {
    const diff = diffTraces(serial(), serial(0.2));
    expect(diff.changes).toEqual([]);
    expect(diff.regressions).toEqual([]);
    expect(diff.timing.wallTime.change).toBeCloseTo(0.2, 6);
    expect(diff.timing.wallTime.noise).toBe(true);
    expect(diff.same).toBe(true);
  });

  it('names serial calls that now overlap, and the wall time they saved', () => {
    const diff = diffTraces(serial(), parallel());
    expect(diff.changes.map((c) => [c.kind, c.after?.label])).toEqual([['overlap-gained', 'SELECT articles']]);
    expect(diff.changes[0]?.text).toBe('SELECT articles (postgresql blog) now overlaps SELECT comments');
    expect(diff.timing.wallTime).toMatchObject({ before: 20, after: 12, change: -8, noise: false });
    expect(diff.regressions).toEqual([]);
    expect(diff.same).toBe(false);
  });

  it('pairs calls whose order changed when they moved into a par block, instead of adding and removing them', () => {
    // Comments first, then the article; together afterwards, where the block sorts its calls.
    const before = trace(root(20), q('c', 1, 8, COMMENTS), q('a', 9, 16, ARTICLE));
    const diff = diffTraces(before, parallel());
    expect(diff.changes.map((c) => [c.kind, c.after?.label])).toEqual([['overlap-gained', 'SELECT articles']]);
  });

  it('flags calls that no longer overlap as a regression', () => {
    const diff = diffTraces(parallel(), serial());
    // Once for the group, not once per member.
    expect(diff.changes.map((c) => c.kind)).toEqual(['overlap-lost']);
    expect(diff.regressions).toEqual(['lost-overlap']);
  });

  it('does not flag calls that stopped overlapping because one now uses the other’s answer', async () => {
    const dependent = trace(root(20), q('a', 1, 8, ARTICLE), {
      ...q('c', 9, 16, COMMENTS),
      attributes: { ...q('c', 9, 16, COMMENTS).attributes, 'lifeline.depends_on': ['a'] },
    });
    const diff = diffTraces(parallel(), dependent);
    expect(diff.changes.map((c) => [c.kind, c.text])).toEqual([
      [
        'now-dependent',
        'SELECT articles (postgresql blog) no longer overlaps SELECT comments: SELECT comments now uses its answer',
      ],
    ]);
    expect(diff.regressions).toEqual([]);
    const text = diffToMermaid(dependent, diff).text;
    expect(text).toContain('uses an earlier answer');
    await expectValidMermaid(text);
  });

  it('reads a loop replaced by one query as a loop count change, and its return as a new N+1', () => {
    const fixed = diffTraces(nPlusOne(6), batched());
    expect(fixed.changes.map((c) => c.text)).toEqual(['loop 6× SELECT authors → 1× SELECT authors (postgresql blog)']);
    expect(fixed.counts.database).toEqual({ before: 7, after: 2 });
    expect(fixed.regressions).toEqual([]);
    const broken = diffTraces(batched(), nPlusOne(6));
    expect(broken.changes.map((c) => c.kind)).toEqual(['loop']);
    expect(broken.regressions).toEqual(['n-plus-one', 'more-queries']);
    // A loop that only grew is not a new N+1.
    expect(diffTraces(nPlusOne(4), nPlusOne(6)).regressions).toEqual(['more-queries']);
  });

  it('reports added and removed calls where they are, with what they carried', () => {
    const before = trace(root(20), q('a', 1, 8, ARTICLE), q('c', 9, 16, COMMENTS));
    const after = trace(
      root(20),
      redis({ id: 'r', parent: 'root', start: 0.5, end: 1, statement: 'GET article:1' }),
      q('a', 1, 8, ARTICLE),
    );
    const diff = diffTraces(before, after);
    expect(diff.changes.map((c) => [c.kind, c.text])).toEqual([
      ['added', 'added GET article:* (api → redis)'],
      ['removed', 'removed SELECT comments (api → postgresql blog)'],
    ]);
    expect(diff.counts.cache).toEqual({ before: 0, after: 1 });
    expect(diff.highlights).toEqual({ r: 'added' });
  });

  it('names new and fixed errors, and a new failing call as a new error', () => {
    const ok = trace(root(20), q('a', 1, 8, ARTICLE));
    const failing = trace(root(20, '/articles/:id', 500), q('a', 1, 8, ARTICLE, 'relation "article" does not exist'));
    const broke = diffTraces(ok, failing);
    // The request answers 500 now: it fails too.
    expect(broke.changes.map((c) => [c.kind, c.after?.label])).toEqual([
      ['new-error', 'GET /articles/:id'],
      ['new-error', 'SELECT articles'],
    ]);
    expect(broke.changes[1]?.text).toContain('now fails: relation "article" does not exist');
    expect(broke.regressions).toEqual(['new-error']);
    expect(diffTraces(failing, ok).changes.map((c) => c.kind)).toEqual(['fixed-error', 'fixed-error']);
    const notFound = trace(root(20, '/articles/:id', 404), q('a', 1, 8, ARTICLE));
    expect(diffTraces(ok, notFound).changes.map((c) => c.text)).toEqual([
      'GET /articles/:id (api) answers 404, was 200',
    ]);
    const added = diffTraces(
      trace(root(20)),
      trace(root(20), httpClient({ id: 'h', parent: 'root', start: 1, end: 5, url: 'http://users/x', status: 503 })),
    );
    expect(added.regressions).toEqual(['new-error']);
  });

  it('pairs the two requests compared head to head even when their routes differ', () => {
    const other = trace(
      httpServer({ id: 'root', start: 0, end: 20, route: '/articles/:id/serial', path: '/articles/1/serial' }),
      q('a', 1, 8, ARTICLE),
    );
    const diff = diffTraces(trace(root(20), q('a', 1, 8, ARTICLE)), other);
    expect(diff.changes.map((c) => c.kind)).toEqual(['endpoint']);
  });
});

describe('diffRequests', () => {
  const spec = (id: string, start: number, end: number, query: string): SpanSpec => ({
    id,
    parent: 'root',
    start,
    end,
    kind: 'client',
    attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'blog', 'db.query.text': query },
  });
  const run = (wall: number) => trace(root(wall), span(spec('a', 1, wall - 2, ARTICLE)));

  it('marks a timing change smaller than the runs own spread as noise, and a larger one as real', () => {
    const noisy = diffRequests([run(10), run(16), run(12)], [run(13), run(15), run(14)]);
    expect(noisy.timing.wallTime).toMatchObject({ before: 12, after: 14, change: 2, noiseBelow: 6, noise: true });
    expect(noisy.same).toBe(true);
    const slower = diffRequests([run(10), run(11), run(12)], [run(30), run(31), run(29)]);
    expect(slower.timing.wallTime).toMatchObject({ change: 19, noise: false });
    expect(slower.timing.databaseTime.noise).toBe(false);
  });

  it('compares the most common shape of each run', () => {
    const diff = diffRequests([nPlusOne(6), nPlusOne(6), batched()], [batched(), batched()]);
    expect(diff.changes.map((c) => c.kind)).toEqual(['loop']);
  });

  it('refuses an empty side', () => {
    expect(() => diffRequests([], [serial()])).toThrow(RangeError);
  });
});

describe('diffToMermaid', () => {
  it('highlights changed calls in rect blocks with a legend and lists removed calls, parsing on Mermaid 10.9 and current', async () => {
    const after = trace(
      root(20, '/articles'),
      q('list2', 1, 4, 'SELECT id, author_id FROM articles'),
      q('in', 5, 9, AUTHORS_IN),
      redis({ id: 'r', parent: 'root', start: 10, end: 11, statement: 'SET articles:list x' }),
    );
    const before = trace(...nPlusOne(6).spans, q('gone', 40, 41, 'DELETE FROM drafts WHERE id = $1'));
    const diff = diffTraces(before, after);
    const { text } = diffToMermaid(after, diff);
    expect(text).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      participant p4 as redis (cache)
      rect rgb(214, 245, 214)
      Note over p1,p4: green blocks: added by this change
      end
      rect rgb(255, 236, 179)
      Note over p1,p4: yellow blocks: changed by this change
      end
      p1->>p2: GET /articles
      p2->>p3: SELECT articles
      p3-->>p2: ok
      rect rgb(255, 236, 179)
      p2->>p3: SELECT authors
      p3-->>p2: ok
      Note over p2,p3: was 6×, now 1×
      end
      rect rgb(214, 245, 214)
      p2->>p4: SET articles:list
      p4-->>p2: ok
      end
      p2-->>p1: 200
      Note over p1,p4: removed by this change: DELETE drafts (postgresql blog)
      "
    `);
    const parsed = await expectValidMermaid(text);
    expect(parsed.signals).toHaveLength(8);
  });

  it('wraps a whole par block whose calls all began to overlap', async () => {
    const diff = diffTraces(serial(), parallel());
    const { text } = diffToMermaid(parallel(), diff);
    expect(text).toMatch(/rect rgb\(255, 236, 179\)\npar /);
    expect(text).toContain('now concurrent (was serial)');
    await expectValidMermaid(text);
  });
});

describe('calls made in another order', () => {
  const ab = () => trace(root(20), q('a', 1, 8, ARTICLE), q('c', 9, 16, COMMENTS));
  const ba = () => trace(root(20), q('c', 1, 8, COMMENTS), q('a', 9, 16, ARTICLE));

  it('reports a serial call moved before another, once, and draws it as changed', async () => {
    const diff = diffTraces(ab(), ba());
    expect(diff.changes.map((c) => [c.kind, c.text])).toEqual([
      ['moved', 'SELECT articles (postgresql blog) moved after SELECT comments'],
    ]);
    expect(diff.same).toBe(false);
    const text = diffToMermaid(ba(), diff).text;
    expect(text).toContain('moved after SELECT comments');
    await expectValidMermaid(text);
  });

  it('does the same for two runs of an endpoint', () => {
    const runs = diffRuns([ab(), ab()], [ba(), ba()]);
    expect(runs.endpoints[0]?.diff.changes.map((c) => c.kind)).toEqual(['moved']);
  });

  it('keeps concurrent calls, which have no order of their own, the same', () => {
    expect(diffTraces(parallel(), trace(root(12), q('a2', 1, 8, ARTICLE), q('c2', 1.2, 9, COMMENTS))).changes).toEqual(
      [],
    );
  });
});
