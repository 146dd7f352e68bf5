import { httpServer, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { diffRuns, endpointName } from './diff-runs.js';

const root = (route: string | undefined, path: string, end: number) =>
  httpServer({ id: 'root', start: 0, end, ...(route !== undefined ? { route } : {}), path, status: 200 });
const q = (id: string, start: number, query: string, error?: string) =>
  sql({ id, parent: 'root', start, end: start + 2, query, ...(error !== undefined ? { error } : {}) });

const article = () =>
  trace(root('/articles/:id', '/articles/1', 10), q('a', 1, 'SELECT id FROM articles WHERE id = $1'));
const authorsLoop = () => {
  const spans = [root('/authors', '/authors', 30)];
  for (let i = 0; i < 4; i++) spans.push(q(`au${i}`, 1 + i * 3, 'SELECT name FROM authors WHERE id = $1'));
  return trace(...spans);
};
const failing = () =>
  trace(root('/broken', '/broken', 10), q('x', 1, 'SELECT * FROM missing', 'relation "missing" does not exist'));

describe('diffRuns', () => {
  it('counts an N+1 loop or a failed call of an endpoint only in the new run as a regression', () => {
    const runs = diffRuns([article()], [article(), authorsLoop(), failing()]);
    expect(runs.regressions).toEqual(['n-plus-one', 'new-error']);
    expect(runs.newEndpoints.map((e) => [endpointName(e.endpoint), e.regressions])).toEqual([
      ['GET /authors on api', ['n-plus-one']],
      ['GET /broken on api', ['new-error']],
    ]);
    expect(runs.newEndpoints[0]?.findings[0]).toMatch(/^N\+1: SELECT authors 4× in a row on /);
    expect(runs.newEndpoints[1]?.findings[0]).toContain('relation "missing" does not exist');
    expect(runs.requests).toEqual({ before: 1, after: 3 });
  });

  it('says a base run without a request compared nothing', () => {
    const runs = diffRuns([], [article()]);
    expect(runs.requests).toEqual({ before: 0, after: 1 });
    expect(runs.endpoints).toEqual([]);
  });

  it('names an endpoint without a route template as lifeline list does, the method once', () => {
    const runs = diffRuns([article()], [article(), trace(root(undefined, '/added', 5))]);
    expect(runs.onlyAfter).toEqual([{ service: 'api', method: 'GET', route: '/added' }]);
    expect(endpointName(runs.onlyAfter[0] as never)).toBe('GET /added on api');
  });
});

describe('an endpoint whose requests take several shapes', () => {
  const withComments = () =>
    trace(
      root('/articles/:id', '/articles/1', 10),
      q('a', 1, 'SELECT id FROM articles WHERE id = $1'),
      q('c', 4, 'SELECT id FROM comments WHERE article_id = $1'),
    );
  // Every other request reads the comments too: 3 of 5 in one run, 10 of 20 in the other.
  const run = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? withComments() : article()));

  it('compares the same shapes as no change, and states their shares', () => {
    const runs = diffRuns(run(5), run(20));
    const diff = runs.endpoints[0]?.diff;
    expect(diff?.changes).toEqual([]);
    expect(diff?.counts.database).toEqual({ before: 2, after: 2 });
    expect(diff?.shapes).toEqual([
      { calls: 'SELECT articles, SELECT comments', before: 0.6, after: 0.5 },
      { calls: 'SELECT articles', before: 0.4, after: 0.5 },
    ]);
    expect(runs.regressions).toEqual([]);
  });

  it('still reports a shape that only one run has', () => {
    const diff = diffRuns(
      run(5),
      Array.from({ length: 4 }, () => article()),
    ).endpoints[0]?.diff;
    expect(diff?.changes.map((c) => c.text)).toEqual(['removed SELECT comments (api → postgresql blog)']);
  });
});
