import { expectValidMermaid, httpClient, httpServer, redis, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { renderMermaid } from './mermaid.js';
import { toSequence } from './sequence.js';
import { normalizeSql } from './statement.js';
import { summarizeTrace } from './summary.js';
import type { Span, Trace } from './trace.js';

async function draw(t: Trace): Promise<string> {
  const model = toSequence(t, { timings: false });
  const text = renderMermaid(model);
  const parsed = await expectValidMermaid(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  return text;
}

const root = (): Span =>
  httpServer({ id: 'root', start: 0, end: 200, route: '/authors/:id', path: '/authors/7', status: 200 });

/** Serial queries, 10 ms apart, in the order given. */
const queries = (...texts: string[]): Span[] =>
  texts.map((query, i) => sql({ id: `q${i}`, parent: 'root', start: 10 + i * 10, end: 18 + i * 10, query }));

/** The N+1 flags of the diagram, the analysis and the list summary. */
const flags = (t: Trace) => ({
  diagram: toSequence(t).repeats.map((r) => r.count),
  analysis: analyzeTrace(t).nPlusOne.map((g) => g.count),
  summary: summarizeTrace(t).nPlusOne,
});

describe('the same call again means the same statement', () => {
  it('keeps three different queries on one table as three calls, without an N+1 flag', async () => {
    const t = trace(
      root(),
      ...queries(
        'SELECT * FROM authors WHERE id = $1',
        'SELECT count(*) FROM authors',
        'SELECT name FROM authors WHERE country = $1 ORDER BY name',
      ),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /authors/:id
      p2->>p3: SELECT authors
      p3-->>p2: ok
      p2->>p3: SELECT authors
      p3-->>p2: ok
      p2->>p3: SELECT authors
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(flags(t)).toEqual({ diagram: [], analysis: [], summary: 0 });
  });

  it('folds six identical statements into one loop flagged as N+1', async () => {
    const t = trace(root(), ...queries(...Array.from({ length: 6 }, () => 'SELECT * FROM authors WHERE id = $1')));
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /authors/:id
      loop 6× SELECT authors
        p2->>p3: SELECT authors
        p3-->>p2: ok
      end
      p2-->>p1: 200
      "
    `);
    expect(flags(t)).toEqual({ diagram: [6], analysis: [6], summary: 1 });
  });

  it('counts statements that differ only by literals, comments or spacing as the same', async () => {
    const t = trace(
      root(),
      ...queries(
        'SELECT * FROM authors WHERE id = 1',
        "SELECT * FROM authors WHERE id = 2 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/",
        'SELECT *\n  FROM authors\n WHERE id=3',
        "SELECT * FROM authors WHERE id = '4'",
        // A different statement ends the run.
        "SELECT * FROM authors WHERE name = 'Ann'",
      ),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      p1->>p2: GET /authors/:id
      loop 4× SELECT authors
        p2->>p3: SELECT authors
        p3-->>p2: ok
      end
      p2->>p3: SELECT authors
      p3-->>p2: ok
      p2-->>p1: 200
      "
    `);
    expect(flags(t)).toEqual({ diagram: [4], analysis: [4], summary: 1 });
  });

  it('folds cache commands by key pattern and HTTP calls by route, not by their values', async () => {
    const t = trace(
      root(),
      ...[1, 2, 3].map((n) =>
        redis({ id: `r${n}`, parent: 'root', start: n * 10, end: n * 10 + 5, statement: `GET author:${n}` }),
      ),
      ...[4, 5, 6].map((n) =>
        httpClient({ id: `h${n}`, parent: 'root', start: n * 10, end: n * 10 + 5, url: `http://books/books/${n}` }),
      ),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      participant p4 as books
      p1->>p2: GET /authors/:id
      loop 3× GET author:*
        p2->>p3: GET author:*
        p3-->>p2: ok
      end
      loop 3× GET /books/:id
        p2->>p4: GET /books/:id
        p4-->>p2: 200
      end
      p2-->>p1: 200
      "
    `);
    expect(flags(t)).toEqual({ diagram: [3, 3], analysis: [3, 3], summary: 2 });
  });
});

describe('normalizeSql', () => {
  it('replaces literals and bind parameters, folds lists, comments and spacing, and keeps identifiers', () => {
    expect(normalizeSql("SELECT *  FROM authors WHERE id = 42 AND name = 'O''Brien'")).toBe(
      'SELECT * FROM authors WHERE id=? AND name=?',
    );
    expect(normalizeSql('SELECT * FROM t WHERE id IN ($1, $2, $3)')).toBe(
      normalizeSql('SELECT * FROM t WHERE id IN (7)'),
    );
    expect(normalizeSql('SELECT * FROM t WHERE a = :a AND b = @b AND c = ?')).toBe(
      'SELECT * FROM t WHERE a=? AND b=? AND c=?',
    );
    expect(normalizeSql('SELECT "col1", `t2`.x FROM t3 WHERE y = -1.5e3 -- trailing')).toBe(
      'SELECT "col1",`t2`.x FROM t3 WHERE y=?',
    );
    // A cast is not a named parameter; dollar-quoted bodies are literals.
    expect(normalizeSql('SELECT id::int FROM t')).toBe('SELECT id::int FROM t');
    expect(normalizeSql('DO $$ BEGIN PERFORM 1; END $$')).toBe('DO ?');
    // Different statements stay different.
    expect(normalizeSql('SELECT * FROM authors WHERE id = 1')).not.toBe(
      normalizeSql('SELECT * FROM authors WHERE name = 1'),
    );
    // MongoDB statements as JSON: values go, the shape stays.
    expect(normalizeSql('{"find":"authors","filter":{"_id":7}}')).toBe(
      normalizeSql('{"find":"authors","filter":{"_id":8}}'),
    );
  });
});
