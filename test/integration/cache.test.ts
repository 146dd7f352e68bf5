import { bigintToJson } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { byStart, type RunningApp, runId, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('redis');

describe.skipIf(missing.length > 0)('Redis through ioredis and node-redis', () => {
  const db = tempDb();
  const id = runId();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'shop', env: { RUN_ID: id } });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('records each command of both clients as a redis client span inside the request', async () => {
    const response = await fetch(`${app.url}/cache`);
    expect(await response.json()).toEqual({ fromIo: 'a', fromNr: 'b' });
    const isRedis = (s: { attributes: Record<string, unknown> }) =>
      (s.attributes['db.system.name'] ?? s.attributes['db.system']) === 'redis';
    const trace = await waitForTrace(db.path, traceIdOf(response), (spans) => {
      const scopes = new Set(spans.filter(isRedis).map((s) => s.scope?.name));
      return scopes.size === 2 && spans.filter(isRedis).length >= 4;
    });
    const redis = byStart(trace.spans.filter(isRedis));
    const scopes = redis.map((s) => s.scope?.name);
    expect(scopes).toContain('@opentelemetry/instrumentation-ioredis');
    expect(scopes).toContain('@opentelemetry/instrumentation-redis');
    expect(redis.every((s) => s.kind === 'client')).toBe(true);
    expect(redis.map((s) => s.name.toLowerCase())).toEqual(expect.arrayContaining(['set', 'get']));
    // The keys carry this run's id: the commands belong to this test.
    expect(JSON.stringify(redis, bigintToJson)).toContain(id);
    await validDiagram(trace);
  });
});
