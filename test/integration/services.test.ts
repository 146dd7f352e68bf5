import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('postgres');

describe.skipIf(missing.length > 0)('two instrumented services calling each other over HTTP', () => {
  const db = tempDb();
  let gateway: RunningApp;
  let articles: RunningApp;

  beforeAll(async () => {
    // Two processes, one database file: both write to it at once.
    articles = await startApp({ app: 'shop.ts', db: db.path, serviceName: 'articles' });
    gateway = await startApp({
      app: 'shop.ts',
      db: db.path,
      serviceName: 'gateway',
      env: { DOWNSTREAM_URL: articles.url },
    });
  });
  afterAll(async () => {
    await Promise.all([gateway?.stop(), articles?.stop()]);
    db.remove();
  });

  it('records one trace with a lifeline per service and the downstream database calls nested under it', async () => {
    const response = await fetch(`${gateway.url}/chain/9`);
    expect(await response.json()).toEqual({ id: 9 });
    const trace = await waitForTrace(
      db.path,
      traceIdOf(response),
      (spans) => dbSpans(spans, 'postgresql').length === 2 && spans.some((s) => s.serviceName === 'gateway'),
    );
    expect(new Set(trace.spans.map((s) => s.serviceName))).toEqual(new Set(['gateway', 'articles']));
    const outgoing = trace.spans.find((s) => s.serviceName === 'gateway' && s.kind === 'client');
    const downstream = trace.spans.find((s) => s.serviceName === 'articles' && s.kind === 'server');
    // W3C trace context: the downstream server span is the child of the gateway's client span.
    expect(downstream?.parentSpanId).toBe(outgoing?.spanId);
    expect(downstream?.name).toBe('GET /articles/:id');
    for (const query of dbSpans(trace.spans, 'postgresql')) expect(query.serviceName).toBe('articles');

    const text = await validDiagram(trace);
    const participants = text.split('\n').filter((line) => /^\s*(participant|actor|database|queue)\b/.test(line));
    expect(participants.some((line) => line.includes('gateway'))).toBe(true);
    expect(participants.some((line) => line.includes('articles'))).toBe(true);
  });
});
