import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceSummary } from '@lifeline/core';
import { openStore, type SpanStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import {
  articleTrace,
  createArticleTrace,
  healthTrace,
  housekeepingTrace,
  startUpTrace,
} from '@lifeline/test-support/scenes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningViewer, startViewer } from './server.js';

const openSqlite = createRequire(new URL('../../packages/store/package.json', import.meta.url))('better-sqlite3') as (
  path: string,
) => import('better-sqlite3').Database;

const MS = 1e6;

describe('the JSON API', () => {
  let dir: string;
  let viewer: RunningViewer;
  let seed: SpanStore;
  const t0 = Date.UTC(2025, 4, 1, 12, 0, 0) * MS;
  const article = articleTrace({ startNs: t0, comments: 4 });
  const failing = articleTrace({ startNs: t0 + 1000 * MS, articleId: 7, fail: true });
  const health = healthTrace({ startNs: t0 + 2000 * MS });
  const create = createArticleTrace({ startNs: t0 + 3000 * MS });
  const articleId = article[0]?.traceId ?? '';
  // Background work beside the requests: a query at start-up (a client root),
  // the newest trace a queue library's stalled-jobs check (an internal root).
  const startUp = startUpTrace({ startNs: t0 - 1000 * MS });
  const housekeeping = housekeepingTrace({ startNs: t0 + 4000 * MS });
  const startUpId = startUp[0]?.traceId ?? '';
  const housekeepingId = housekeeping[0]?.traceId ?? '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-api-'));
    const db = join(dir, 'traces.db');
    seed = openStore({ path: db });
    seed.writeSpans([...article, ...failing, ...health, ...create, ...startUp, ...housekeeping]);
    viewer = await startViewer({ port: 0, db });
  });

  afterAll(async () => {
    await viewer?.close();
    seed?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string): Promise<Response> => fetch(`${viewer.url}${path}`);
  const list = async (query: string): Promise<TraceSummary[]> => {
    const response = await get(`/api/traces${query}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: TraceSummary[] }).items;
  };

  it('lists every stored request, newest first', async () => {
    const items = await list('');
    expect(items.map((item) => item.rootName)).toEqual([
      'POST /articles',
      'GET /health',
      'GET /articles/:id',
      'GET /articles/:id',
    ]);
    expect(items[3]?.traceId).toBe(articleId);
  });

  it('filters by service, status, method, error, duration and text', async () => {
    expect((await list('?service=editor-api')).map((item) => item.rootName)).toEqual(['POST /articles']);
    expect((await list('?status=500')).map((item) => item.traceId)).toEqual([failing[0]?.traceId]);
    expect((await list('?method=post')).map((item) => item.rootName)).toEqual(['POST /articles']);
    expect((await list('?error=1')).map((item) => item.traceId)).toEqual([failing[0]?.traceId]);
    expect((await list('?error=0')).length).toBe(3);
    expect((await list('?minMs=200')).map((item) => item.rootName)).toEqual(['POST /articles']);
    expect((await list('?maxMs=5')).map((item) => item.rootName)).toEqual(['GET /health']);
    expect((await list('?route=/health')).length).toBe(1);
    expect((await list('?q=recommendations')).length).toBe(2);
  });

  it('lists background work only when asked, with work=background or work=all', async () => {
    const requests = (await list('')).map((item) => item.traceId);
    expect(requests).not.toContain(housekeepingId);
    expect(requests).not.toContain(startUpId);
    expect((await list('?work=requests')).map((item) => item.traceId)).toEqual(requests);
    const background = await list('?work=background');
    expect(background.map((item) => [item.traceId, item.rootKind])).toEqual([
      [housekeepingId, 'internal'],
      [startUpId, 'client'],
    ]);
    const all = await list('?work=all&order=newest');
    expect(all.map((item) => item.traceId)).toEqual([housekeepingId, ...requests, startUpId]);
    expect((await list('?work=background&q=evalsha')).map((item) => item.traceId)).toEqual([housekeepingId]);
  });

  it('sorts by duration and pages with a cursor', async () => {
    const slowest = await list('?order=slowest');
    expect(slowest[0]?.rootName).toBe('POST /articles');
    expect(slowest.at(-1)?.rootName).toBe('GET /health');

    const first = await get('/api/traces?limit=2');
    const page1 = (await first.json()) as { items: TraceSummary[]; nextCursor?: string };
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).toBeTypeOf('string');
    const page2 = await list(`?limit=2&cursor=${encodeURIComponent(page1.nextCursor ?? '')}`);
    expect(page2).toHaveLength(2);
    const ids = new Set([...page1.items, ...page2].map((item) => item.traceId));
    expect(ids.size).toBe(4);

    const garbage = await get('/api/traces?cursor=not-a-cursor');
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { parameter: string }).parameter).toBe('cursor');
    const otherOrder = await get(`/api/traces?order=slowest&cursor=${encodeURIComponent(page1.nextCursor ?? '')}`);
    expect(otherOrder.status).toBe(400);
  });

  it.each([
    ['minMs=abc', 'minMs'],
    ['minMs=-1', 'minMs'],
    ['maxMs=1e3', 'maxMs'],
    ['minMs=10&maxMs=5', 'maxMs'],
    ['error=maybe', 'error'],
    ['order=fastest', 'order'],
    ['limit=0', 'limit'],
    ['limit=5000', 'limit'],
    ['status=99', 'status'],
    ['status=2OO', 'status'],
    ['method=G%3CT', 'method'],
    ['service=a&service=b', 'service'],
    ['colour=blue', 'colour'],
    ['work=everything', 'work'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const response = await get(`/api/traces?${query}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; parameter: string };
    expect(body.parameter).toBe(parameter);
    expect(body.error).toContain(parameter);
  });

  it('answers 404 for an unknown trace and 400 for a malformed id', async () => {
    const unknown = await get(`/api/traces/${'ab'.repeat(16)}`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toContain('no trace');
    const malformed = await get('/api/traces/not-a-trace-id');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { parameter: string }).parameter).toBe('id');
    const mermaid404 = await get(`/api/traces/${'cd'.repeat(16)}/mermaid`);
    expect(mermaid404.status).toBe(404);
    const badOption = await get(`/api/traces/${articleId}?timings=yes`);
    expect(badOption.status).toBe(400);
    expect(((await badOption.json()) as { parameter: string }).parameter).toBe('timings');
  });

  it('returns a trace with its spans, summary, analysis and arrow-to-span table', async () => {
    const response = await get(`/api/traces/${articleId.toUpperCase()}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      traceId: string;
      spans: { spanId: string }[];
      summary: TraceSummary;
      analysis: { nPlusOne: unknown[]; wallTimeMs: number };
      classes: Record<string, { category: string }>;
      sequence: {
        mermaid: string;
        model: { messageCount: number; arrows: { number: number; spanId: string; kind: string }[] };
      };
    };
    expect(body.traceId).toBe(articleId);
    expect(body.spans).toHaveLength(article.length);
    expect(body.summary.traceId).toBe(articleId);
    expect(body.analysis.nPlusOne.length).toBeGreaterThan(0);
    expect(body.analysis.wallTimeMs).toBeCloseTo(94, 0);
    const spanIds = new Set(article.map((span) => span.spanId));
    expect(Object.keys(body.classes).sort()).toEqual([...spanIds].sort());
    const { model, mermaid } = body.sequence;
    expect(model.arrows.length).toBe(model.messageCount);
    expect(model.arrows.map((arrow) => arrow.number)).toEqual(model.arrows.map((_, index) => index + 1));
    for (const arrow of model.arrows) expect(spanIds.has(arrow.spanId)).toBe(true);
    expect(mermaid).toMatch(/^sequenceDiagram/);
    expect(mermaid).toContain('par');
    await parseMermaid(mermaid);
  });

  it('serves the Mermaid text with the diagram options applied', async () => {
    const timed = await get(`/api/traces/${articleId}/mermaid`);
    expect(timed.status).toBe(200);
    expect(timed.headers.get('content-type')).toMatch(/^text\/plain/);
    const timedText = await timed.text();
    expect(timedText).toContain('autonumber');
    const plain = await (await get(`/api/traces/${articleId}/mermaid?timings=0`)).text();
    expect(plain).not.toBe(timedText);
    expect(plain).not.toMatch(/\d ms/);
    const unfolded = await (await get(`/api/traces/${articleId}/mermaid?loops=0`)).text();
    expect(unfolded).not.toMatch(/^\s*loop /m);
    const folded = await (await get(`/api/traces/${articleId}/mermaid?loops=1`)).text();
    expect(folded).toMatch(/^\s*loop /m);
    await parseMermaid(plain);
  });

  it('draws databases and caches by kind in Mermaid 10.9 syntax, with participant shapes only when asked', async () => {
    const portable = await (await get(`/api/traces/${articleId}/mermaid?timings=0`)).text();
    expect(portable).not.toContain('@{');
    expect(portable).toMatch(/^participant p\d+ as postgresql blog \(db\)$/m);
    expect(portable).toMatch(/^participant p\d+ as redis \(cache\)$/m);
    await parseMermaid(portable);
    const shaped = await (await get(`/api/traces/${articleId}/mermaid?timings=0&shapes=1`)).text();
    expect(shaped).toMatch(/^participant p\d+@\{ "type" : "database" \} as postgresql blog$/m);
    await parseMermaid(shaped, { versions: 'current' });
    const body = (await (await get(`/api/traces/${articleId}?timings=0&shapes=1`)).json()) as {
      sequence: { mermaid: string };
    };
    expect(body.sequence.mermaid).toBe(shaped);
    expect((await get(`/api/traces/${articleId}?shapes=maybe`)).status).toBe(400);
  });

  it('sends a long query text once: the classification names the span attribute that holds it', async () => {
    const columns = Array.from({ length: 150 }, (_, i) => `a.column_${i}`).join(', ');
    const statement = `SELECT ${columns} FROM articles a WHERE a.id = $1`;
    expect(statement.length).toBeGreaterThan(2000);
    const spans = articleTrace({ startNs: t0 + 5000 * MS, articleQuery: statement });
    seed.writeSpans(spans);
    const traceId = spans[0]?.traceId ?? '';
    const querySpan = spans.find((span) => span.attributes['db.query.text'] === statement);
    const response = await get(`/api/traces/${traceId}`);
    expect(response.status).toBe(200);
    const raw = await response.text();
    expect(raw.split(statement).length - 1).toBe(1);
    const body = JSON.parse(raw) as {
      spans: { spanId: string; attributes: Record<string, unknown> }[];
      classes: Record<string, { queryText?: string; queryTextAttribute?: string }>;
    };
    const cls = body.classes[querySpan?.spanId ?? ''];
    expect(cls?.queryText).toBeUndefined();
    expect(cls?.queryTextAttribute).toBe('db.query.text');
    const span = body.spans.find((candidate) => candidate.spanId === querySpan?.spanId);
    expect(span?.attributes[cls?.queryTextAttribute ?? '']).toBe(statement);
  });

  it('reports health with the store size', async () => {
    const response = await get('/api/health');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; traces: number; spans: number; droppedSpans: number };
    // Every stored trace, background work included (and any a test before this one added).
    const stored = seed.stats();
    expect(body).toMatchObject({ status: 'ok', traces: stored.traces, spans: stored.spans, droppedSpans: 0 });
    expect(body.traces).toBeGreaterThanOrEqual(6);
    expect(body.spans).toBeGreaterThanOrEqual(
      article.length + failing.length + health.length + create.length + startUp.length + housekeeping.length,
    );
  });

  it('answers unknown API paths with a JSON 404', async () => {
    const response = await get('/api/nothing-here');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/json/);
  });
});

describe('the API on a file whose recorded spans this viewer cannot store', () => {
  it('answers from what is stored and reports in health how many spans wait and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-viewer-unsettled-'));
    const db = join(dir, 'traces.db');
    const seed = openStore({ path: db });
    const spans = articleTrace({ startNs: Date.UTC(2025, 4, 1, 12) * MS });
    seed.writeSpans(spans);
    seed.close();
    // As an app's exporter leaves them: in the inbox, not yet stored under their keys.
    const sqlite = openSqlite(db);
    const columns =
      'trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns, status_code, status_message, ' +
      'attributes, events, links, resource_id, scope_name, scope_version';
    sqlite.exec(`INSERT INTO inbox (${columns}) SELECT ${columns} FROM spans; DELETE FROM spans; DELETE FROM traces;`);
    // Stands in for a full disk: every attempt to store them fails.
    sqlite.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON spans BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    sqlite.close();
    const viewer = await startViewer({ port: 0, db });
    try {
      const list = await fetch(`${viewer.url}/api/traces`);
      expect(list.status).toBe(200);
      expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
      const health = await fetch(`${viewer.url}/api/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: 'ok',
        traces: 0,
        spans: 0,
        unsettledSpans: spans.length,
        unsettledReason: 'database or disk is full',
      });
    } finally {
      await viewer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
