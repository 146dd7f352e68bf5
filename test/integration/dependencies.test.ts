import { analyzeTrace, DEPENDS_ON_ATTRIBUTE, type Span, summarizeTrace } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import {
  byStart,
  dbSpans,
  type RunningApp,
  runId,
  startApp,
  tempDb,
  traceIdOf,
  waitForTrace,
} from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('postgres', 'redis', 'mariadb');

const dependsOn = (span: Span | undefined) => span?.attributes[DEPENDS_ON_ATTRIBUTE];

describe.skipIf(missing.length > 0)('calls that used an earlier call’s answer', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({
      app: 'dependencies.ts',
      db: db.path,
      serviceName: 'deps',
      env: { RUN_ID: runId(), WITH_MYSQL: '1', WITH_REDIS: '1' },
    });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('marks the author query by the article’s author_id as dependent, with no saving (pg)', async () => {
    const response = await fetch(`${app.url}/pg/articles/7001/with-author`);
    expect(await response.json()).toMatchObject({ author: { name: 'Ann' } });
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'postgresql').length === 2);
    const [article, author] = byStart(dbSpans(trace.spans, 'postgresql'));
    expect(dependsOn(article)).toBeUndefined();
    expect(dependsOn(author)).toEqual([article?.spanId]);
    const [run] = analyzeTrace(trace).serialRuns;
    expect(run?.dependent).toEqual([{ spanId: author?.spanId, on: [article?.spanId], reason: 'value' }]);
    expect(run?.savingMs).toBe(0);
    expect(summarizeTrace(trace).overlapSavingMs).toBe(0);
    const text = await validDiagram(trace);
    expect(text).toMatch(/SELECT dep_authors_\w+ ← 2\n/);
  });

  it('counts the saving of two lookups by ids the request had, though one id is also in the first answer', async () => {
    const response = await fetch(`${app.url}/pg/pair?article=7001&author=4711`);
    expect(await response.json()).toMatchObject({ author: { name: 'Ann' } });
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'postgresql').length === 2);
    const queries = byStart(dbSpans(trace.spans, 'postgresql'));
    expect(queries.map(dependsOn)).toEqual([undefined, undefined]);
    const [run] = analyzeTrace(trace).serialRuns;
    expect(run?.dependent).toEqual([]);
    expect(run?.savingMs).toBeGreaterThan(0);
    expect(run?.savingMs).toBe(run && Math.round((run.sumMs - run.maxMs) * 1000) / 1000);
    expect(await validDiagram(trace)).not.toContain('←');
  });

  it('makes no edge of a small value that merely coincides', async () => {
    const response = await fetch(`${app.url}/pg/small`);
    expect(await response.json()).toMatchObject({ flag: { flag: 1 }, author: { name: 'Bob' } });
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'postgresql').length === 2);
    expect(byStart(dbSpans(trace.spans, 'postgresql')).map(dependsOn)).toEqual([undefined, undefined]);
    expect(analyzeTrace(trace).serialRuns[0]?.dependent).toEqual([]);
    expect(await validDiagram(trace)).not.toContain('←');
  });

  it('reads cache-aside on Redis and pg as one dependent chain with no saving offered', async () => {
    const response = await fetch(`${app.url}/cached/articles/7001`);
    expect(await response.json()).toMatchObject({ author_id: 4711 });
    const trace = await waitForTrace(
      db.path,
      traceIdOf(response),
      (s) => dbSpans(s, 'redis').length === 2 && dbSpans(s, 'postgresql').length === 1,
    );
    const [get, set] = byStart(dbSpans(trace.spans, 'redis'));
    expect(get?.attributes['lifeline.cache.hit']).toBe(false);
    const [run] = analyzeTrace(trace).serialRuns;
    expect(run?.spanIds).toHaveLength(3);
    expect(run?.dependent.map((d) => d.spanId)).toHaveLength(2);
    expect(run?.dependent.at(-1)?.spanId).toBe(set?.spanId);
    expect(run?.savingMs).toBe(0);
    expect(summarizeTrace(trace).overlapSavingMs).toBe(0);
    const text = await validDiagram(trace);
    expect(text).toMatch(/SELECT dep_articles_\w+ ← 2\n/);
    expect(text).toMatch(/SET dep:\S+ ← 4\n/);

    // Now a hit: one call, nothing to chain.
    const again = await fetch(`${app.url}/cached/articles/7001`);
    await again.json();
    const hit = await waitForTrace(db.path, traceIdOf(again), (s) => dbSpans(s, 'redis').length === 1);
    expect(dbSpans(hit.spans, 'redis')[0]?.attributes['lifeline.cache.hit']).toBe(true);
  });

  it('reads node-redis commands too: a miss, its chain, and a key built from a cached id', async () => {
    const first = await fetch(`${app.url}/node-redis/articles/7001/author`);
    await first.json();
    const missed = await waitForTrace(
      db.path,
      traceIdOf(first),
      (s) => dbSpans(s, 'redis').length === 3 && dbSpans(s, 'postgresql').length === 1,
    );
    const [get, set] = byStart(dbSpans(missed.spans, 'redis'));
    expect(get?.attributes['lifeline.cache.hit']).toBe(false);
    const [chain] = analyzeTrace(missed).serialRuns;
    expect(chain?.dependent.map((d) => d.spanId)).toContain(set?.spanId);
    await validDiagram(missed);

    // A hit: the author's key holds the author_id the cached article returned.
    const second = await fetch(`${app.url}/node-redis/articles/7001/author`);
    await second.json();
    const hit = await waitForTrace(db.path, traceIdOf(second), (s) => dbSpans(s, 'redis').length === 2);
    const [article, author] = byStart(dbSpans(hit.spans, 'redis'));
    expect(article?.attributes['lifeline.cache.hit']).toBe(true);
    expect(dependsOn(author)).toEqual([article?.spanId]);
    expect(analyzeTrace(hit).serialRuns[0]?.savingMs).toBe(0);
    expect(await validDiagram(hit)).toContain('← 2');
  });

  it('marks the mysql2 author query by the article’s author_id as dependent', async () => {
    const response = await fetch(`${app.url}/mysql/articles/7001/with-author`);
    expect(await response.json()).toMatchObject({ author: { name: 'Ann' } });
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'mysql').length === 2);
    const [article, author] = byStart(dbSpans(trace.spans, 'mysql'));
    expect(dependsOn(author)).toEqual([article?.spanId]);
    expect(analyzeTrace(trace).serialRuns[0]?.savingMs).toBe(0);
    expect(await validDiagram(trace)).toContain('← 2');
  });
});
