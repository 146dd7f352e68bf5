import { bigintToJson } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncArrows, blockLines, validDiagram } from './support/diagram.ts';
import { byStart, dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missingPg = await missingServices('postgres');

describe.skipIf(missingPg.length > 0)('PostgreSQL through pg', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'shop' });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('draws two queries started together as one par block with two branches', async () => {
    const response = await fetch(`${app.url}/dashboard`);
    expect(await response.json()).toEqual({ a: 1, b: 2 });
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'postgresql').length === 2);
    const [first, second] = byStart(dbSpans(trace.spans, 'postgresql'));
    // They really overlapped: the second started before the first ended.
    expect(second?.startTimeNs).toBeLessThan(first?.endTimeNs ?? 0);
    const text = await validDiagram(trace);
    expect(blockLines(text, 'par')).toHaveLength(1);
    expect(blockLines(text, 'and')).toHaveLength(1);
    expect(asyncArrows(text)).toEqual([]);
  });

  it('draws two awaited queries as two serial calls without a par block', async () => {
    const response = await fetch(`${app.url}/articles/7`);
    expect(await response.json()).toEqual({ id: 7 });
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'postgresql').length === 2);
    const [first, second] = byStart(dbSpans(trace.spans, 'postgresql'));
    expect(second?.startTimeNs).toBeGreaterThanOrEqual(first?.endTimeNs ?? Number.POSITIVE_INFINITY);
    expect(first?.attributes['db.namespace']).toBe('test');
    const text = await validDiagram(trace);
    expect(blockLines(text, 'par')).toEqual([]);
    expect(text).toContain('GET /articles/:id');
  });

  it('stores SQL without its literals', async () => {
    const response = await fetch(`${app.url}/search?q=needle`);
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'postgresql').length === 1);
    const [query] = dbSpans(trace.spans, 'postgresql');
    expect(query?.attributes['db.query.text']).toBe('SELECT ? AS s, $1::text AS q');
    expect(JSON.stringify(trace, bigintToJson)).not.toMatch(/top-secret-literal|needle/);
  });
});

const missingMysql = await missingServices('mariadb');

describe.skipIf(missingMysql.length > 0)('MariaDB through mysql2', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'shop' });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('records the query as a client span of the mysql system', async () => {
    const response = await fetch(`${app.url}/mysql`);
    expect(response.status).toBe(200);
    const trace = await waitForTrace(db.path, traceIdOf(response), (s) => dbSpans(s, 'mysql').length >= 1);
    const [query] = dbSpans(trace.spans, 'mysql');
    expect(query?.kind).toBe('client');
    expect(query?.attributes['db.query.text']).toBe('SELECT SLEEP(?) AS slept, ? AS v');
    const text = await validDiagram(trace);
    expect(text).toMatch(/participant|database/);
  });
});
