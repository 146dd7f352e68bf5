import { expectValidMermaid, httpServer, redis, type SpanSpec, span, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { CACHE_HIT_ATTRIBUTE, DEPENDS_ON_ATTRIBUTE } from './dependencies.js';
import { traceToMarkdown } from './markdown.js';
import { traceToMermaid } from './mermaid.js';
import { summarizeTrace } from './summary.js';
import type { Attributes, Span } from './trace.js';

const root = (end: number) => httpServer({ id: 'root', start: 0, end, route: '/articles/:id', path: '/articles/7' });

function withAttributes(s: Span, attributes: Attributes): Span {
  return { ...s, attributes: { ...s.attributes, ...attributes } };
}

const q = (id: string, start: number, end: number, table: string, dependsOn?: readonly string[]) => {
  const s = sql({ id, parent: 'root', start, end, query: `SELECT * FROM ${table} WHERE id = $1` });
  return dependsOn ? withAttributes(s, { [DEPENDS_ON_ATTRIBUTE]: dependsOn }) : s;
};

const cache = (id: string, start: number, end: number, statement: string, hit?: boolean) => {
  const s = redis({ id, parent: 'root', start, end, statement });
  return hit === undefined ? s : withAttributes(s, { [CACHE_HIT_ATTRIBUTE]: hit });
};

describe('dependencies between serial calls', () => {
  it('offers no saving for a query that used the answer of the one before', async () => {
    const t = trace(root(40), q('article', 5, 15, 'articles'), q('author', 15, 30, 'authors', ['article']));
    const [run] = analyzeTrace(t).serialRuns;
    expect(run).toMatchObject({ sumMs: 25, maxMs: 15, chainMs: 25, savingMs: 0 });
    expect(run?.dependent).toEqual([{ spanId: 'author', on: ['article'], reason: 'value' }]);
    expect(summarizeTrace(t).overlapSavingMs).toBe(0);
    const text = traceToMermaid(t, { timings: false }).text;
    expect(text).toContain('SELECT authors ← 2');
    await expectValidMermaid(text);
  });

  it('counts the saving only over the calls that did not use each other’s answers', () => {
    const t = trace(
      root(60),
      q('article', 5, 15, 'articles'),
      q('author', 15, 25, 'authors', ['article']),
      q('tags', 25, 45, 'tags'),
    );
    const [run] = analyzeTrace(t).serialRuns;
    // article → author is a 20 ms chain; tags (20 ms) could have run beside it.
    expect(run).toMatchObject({ sumMs: 40, chainMs: 20, savingMs: 20 });
    expect(summarizeTrace(t).overlapSavingMs).toBe(20);
  });

  it('ignores an edge to a call that had not answered when the call started', () => {
    const t = trace(
      root(60),
      q('a', 5, 20, 'articles'),
      q('b', 10, 25, 'authors', ['a']),
      q('c', 30, 40, 'tags'),
      q('d', 40, 50, 'users'),
    );
    const runs = analyzeTrace(t).serialRuns;
    expect(runs).toHaveLength(1);
    expect(runs[0]?.dependent).toEqual([]);
    expect(traceToMermaid(t, { timings: false }).text).not.toContain('←');
  });

  it('reads a cache miss, the read it stands in for and the write of its key as one chain', async () => {
    const t = trace(
      root(50),
      cache('get', 2, 4, 'get article:7', false),
      q('select', 5, 25, 'articles'),
      cache('set', 26, 28, 'set article:7 [1 other arguments]'),
      q('tags', 30, 45, 'tags'),
    );
    const [run] = analyzeTrace(t).serialRuns;
    expect(run?.dependent).toEqual([
      { spanId: 'select', on: ['get'], reason: 'cache-aside' },
      { spanId: 'set', on: ['select'], reason: 'cache-aside' },
    ]);
    // The chain is 24 ms; only tags (15 ms) could have overlapped it.
    expect(run).toMatchObject({ sumMs: 39, chainMs: 24, savingMs: 15 });
    const text = traceToMermaid(t, { timings: false }).text;
    expect(text).toContain('SELECT articles ← 2');
    expect(text).toContain('SET article:* ← 4');
    await expectValidMermaid(text);
  });

  it('leaves a cache hit, and a miss whose key is written under another name, independent', () => {
    const hit = trace(
      root(50),
      cache('get', 2, 4, 'get article:7', true),
      q('select', 5, 25, 'articles'),
      cache('set', 26, 28, 'set article:7 [1 other arguments]'),
    );
    expect(analyzeTrace(hit).serialRuns[0]?.dependent).toEqual([]);
    const other = trace(
      root(50),
      cache('get', 2, 4, 'get article:7', false),
      q('select', 5, 25, 'articles'),
      cache('set', 26, 28, 'set article:8 [1 other arguments]'),
    );
    expect(analyzeTrace(other).serialRuns[0]?.dependent).toEqual([]);
  });

  it('says in the Markdown line which calls must stay serial', () => {
    const t = trace(root(40), q('article', 5, 15, 'articles'), q('author', 15, 30, 'authors', ['article']));
    const line = traceToMarkdown(t)
      .split('\n')
      .find((l) => l.includes('in series'));
    expect(line).toContain("2 calls in series that used each other's answers (they must stay serial)");
  });

  it('keeps the marker whole when a long label is shortened', async () => {
    const long = `SELECT * FROM ${'a'.repeat(120)} WHERE id = $1`;
    const spec: SpanSpec = { id: 'x', parent: 'root', start: 15, end: 30, kind: 'client' };
    const s = span({
      ...spec,
      name: 'SELECT',
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': long, [DEPENDS_ON_ATTRIBUTE]: ['article'] },
    });
    const t = trace(root(40), q('article', 5, 15, 'articles'), s);
    const text = traceToMermaid(t, { timings: false }).text;
    expect(text).toMatch(/… ← 2\n/);
    await expectValidMermaid(text);
  });
});
