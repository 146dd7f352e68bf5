import { traceToMermaid } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { type RunningApp, runId, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('redis');

const isRedis = (s: { attributes: Record<string, unknown> }) =>
  (s.attributes['db.system.name'] ?? s.attributes['db.system']) === 'redis';

/** The diagram's arrows to and from redis (p3: the service is p2, redis the next participant). */
function redisArrows(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^p\d+(-->>|->>|--x)p\d+: /.test(line) && !line.includes('p1'));
}

describe.skipIf(missing.length > 0)('Redis batches and work after the response, recorded for real', () => {
  const db = tempDb();
  const id = runId();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'shop', env: { RUN_ID: id } });
    // Connect both clients first: a first request also carries the connection's own commands
    // (CONNECT, HELLO, INFO, CLIENT SETINFO), and ioredis sends a batch queued while
    // connecting a second time.
    for (const kind of ['io-pipeline', 'nr-pipeline']) await (await fetch(`${app.url}/batch/${kind}`)).text();
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  for (const [kind, label, spans] of [
    ['io-pipeline', 'PIPELINE SET, INCR, GET', 3],
    ['io-multi', 'MULTI SET, INCR, GET', 5],
    ['nr-multi', 'MULTI SET, INCR, GET', 3],
    ['nr-pipeline', 'PIPELINE SET, INCR, GET', 3],
  ] as const) {
    it(`draws ${kind} as one call naming its commands, with one reply`, async () => {
      const response = await fetch(`${app.url}/batch/${kind}`);
      expect(await response.json()).toEqual({ replies: 3 });
      const trace = await waitForTrace(
        db.path,
        traceIdOf(response),
        (all) => all.filter(isRedis).length >= spans && all.some((s) => s.kind === 'server'),
      );
      const text = await validDiagram(trace);
      expect(text).not.toContain('par ');
      expect(redisArrows(text)).toEqual([`p2->>p3: ${label}`, 'p3-->>p2: ok']);
      const { model } = traceToMermaid(trace, { timings: false });
      const batch = model.arrows.find((arrow) => arrow.spanIds !== undefined);
      expect(batch?.spanIds).toHaveLength(spans);
    });
  }

  for (const [kind, first, second] of [
    ['io-pipeline', 'PIPELINE SET, GET', 'PIPELINE INCR, DEL'],
    ['io-multi', 'MULTI SET, GET', 'MULTI INCR, DEL'],
    ['nr-multi', 'MULTI SET, GET', 'MULTI INCR, DEL'],
    ['nr-pipeline', 'PIPELINE SET, GET', 'PIPELINE INCR, DEL'],
  ] as const) {
    it(`draws two ${kind} batches sent at once on one connection as two calls, each with its own commands`, async () => {
      const response = await fetch(`${app.url}/batch-pair/${kind}`);
      expect(await response.json()).toEqual({ replies: [2, 2] });
      const commands = kind === 'io-multi' ? 8 : 4;
      const trace = await waitForTrace(
        db.path,
        traceIdOf(response),
        (all) => all.filter(isRedis).filter((s) => s.endTimeNs !== undefined).length >= commands,
      );
      const text = await validDiagram(trace);
      const requests = redisArrows(text).filter((line) => line.startsWith('p2->>p3'));
      expect(requests, text).toEqual([`p2->>p3: ${first}`, `p2->>p3: ${second}`]);
      // Both were in flight together: one `par` of the two calls.
      expect(text).toContain('par 2 concurrent calls');
      const { model } = traceToMermaid(trace, { timings: false });
      const batches = model.arrows.filter((arrow) => arrow.spanIds !== undefined && arrow.kind === 'request');
      expect(batches.map((arrow) => arrow.spanIds?.length)).toEqual(kind === 'io-multi' ? [4, 4] : [2, 2]);
    });
  }

  it('draws the single commands of an auto-pipelining ioredis client as the calls the app made', async () => {
    await (await fetch(`${app.url}/auto-pipelined`)).text();
    const response = await fetch(`${app.url}/auto-pipelined`);
    expect(await response.json()).toEqual({ value: 'a' });
    const trace = await waitForTrace(db.path, traceIdOf(response), (all) => all.filter(isRedis).length >= 3);
    const redis = trace.spans.filter(isRedis);
    expect(redis.map((s) => s.attributes['db.operation.name'])).toEqual(expect.arrayContaining(['set', 'incr', 'get']));
    const text = await validDiagram(trace);
    expect(text).not.toContain('PIPELINE');
    const lines = text.split('\n').map((line) => line.trim());
    // SET and INCR were given together: concurrent calls; the GET came after.
    const par = lines.indexOf('par 2 concurrent calls');
    expect(par, text).toBeGreaterThan(0);
    const requests = redisArrows(text).filter((line) => line.startsWith('p2->>p3'));
    expect(requests, text).toEqual([
      expect.stringMatching(/^p2->>p3: SET /),
      expect.stringMatching(/^p2->>p3: INCR /),
      expect.stringMatching(/^p2->>p3: GET /),
    ]);
    expect(lines.indexOf(requests[2] as string)).toBeGreaterThan(lines.indexOf('end'));
  });

  it('ends the request when it answered, not after the work its handler did next', async () => {
    const response = await fetch(`${app.url}/respond-then-compute`);
    expect(await response.json()).toEqual({ ok: true });
    const trace = await waitForTrace(db.path, traceIdOf(response), (all) =>
      all.some((s) => isRedis(s) && s.name.toUpperCase().includes('SET')),
    );
    const server = trace.spans.find((s) => s.kind === 'server');
    const set = trace.spans.find((s) => isRedis(s) && s.name.toUpperCase().includes('SET'));
    // 200 ms of work held the thread between the answer and the SET: the request ended before it.
    expect(Number((set?.startTimeNs ?? 0n) - (server?.endTimeNs ?? 0n)) / 1e6).toBeGreaterThanOrEqual(150);
    const lines = (await validDiagram(trace)).split('\n').map((line) => line.trim());
    const answer = lines.indexOf('p2-->>p1: 200');
    expect(answer).toBeGreaterThan(0);
    expect(lines.slice(answer).some((line) => /^p2->>p3: SET /.test(line))).toBe(true);
  });

  it('draws the calls that outlived the response after it', async () => {
    const response = await fetch(`${app.url}/respond-then-work`);
    expect(await response.json()).toEqual({ ok: true });
    const trace = await waitForTrace(db.path, traceIdOf(response), (all) => all.filter(isRedis).length >= 3);
    const text = await validDiagram(trace);
    const lines = text.split('\n').map((line) => line.trim());
    const answer = lines.indexOf('p2-->>p1: 200');
    expect(lines.slice(answer + 1, answer + 2)).toEqual([
      'Note over p2: after the response: 2 calls outlived the request',
    ]);
    // The GET was waited for; the BLPOP was sent before the response and answered after it; the SET came after.
    expect(lines.slice(0, answer).filter((line) => line.startsWith('p2->>p3'))).toEqual([
      expect.stringMatching(/^p2->>p3: GET /),
      expect.stringMatching(/^p2->>p3: BLPOP /),
    ]);
    expect(lines.slice(answer).filter((line) => line.startsWith('p2->>p3'))).toEqual([
      expect.stringMatching(/^p2->>p3: SET /),
    ]);
  });
});
