import { basename, join } from 'node:path';
import { bigintToJson, traceToMermaid } from '@lifeline/core';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byStart, dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';

// Needs no external service: node:http, fetch, express and better-sqlite3 only.
describe('an ES module app preloaded with @lifeline/node/register', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({
      app: 'shop.ts',
      db: db.path,
      serviceName: 'shop',
      env: { APP_SQLITE: join(db.dir, 'shop.db') },
    });
  });

  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('names the server span after the express route template', async () => {
    const response = await fetch(`${app.url}/articles-missing/1`);
    expect(response.status).toBe(404);
    const notes = await fetch(`${app.url}/notes`);
    const trace = await waitForTrace(db.path, traceIdOf(notes), (spans) => spans.some((s) => s.kind === 'server'));
    const server = trace.spans.find((s) => s.kind === 'server' && s.parentSpanId === undefined);
    expect(server?.name).toBe('GET /notes');
    expect(server?.attributes['http.route']).toBe('/notes');
    expect(server?.attributes['http.response.status_code']).toBe(200);
    expect(server?.serviceName).toBe('shop');
    // The route reaches the server span without a span per express layer.
    expect(trace.spans.filter((s) => s.scope?.name === '@opentelemetry/instrumentation-express')).toEqual([]);
  });

  it('joins the paths of nested express routers into the route template', async () => {
    // The first router mounted on /admin passes this request on to the second.
    const response = await fetch(`${app.url}/admin/notes/7`);
    expect(await response.json()).toEqual({ id: '7' });
    const trace = await waitForTrace(db.path, traceIdOf(response), (spans) => spans.some((s) => s.kind === 'server'));
    const server = trace.spans.find((s) => s.kind === 'server');
    expect(server?.name).toBe('GET /admin/notes/:id');
    expect(server?.attributes['http.route']).toBe('/admin/notes/:id');
    // No span per route handler; the routers' own spans are internal and not drawn.
    expect(trace.spans.filter((s) => s.name.startsWith('request handler'))).toEqual([]);
  });

  it('sets traceresponse, Server-Timing, X-Lifeline-Trace and Link on every response', async () => {
    const response = await fetch(`${app.url}/health`);
    const traceId = traceIdOf(response);
    const traceresponse = response.headers.get('traceresponse') ?? '';
    expect(traceresponse).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(response.headers.get('server-timing')).toBe(`traceparent;desc="${traceresponse}"`);
    expect(response.headers.get('link')).toBe(`<http://viewer.test:4242/traces/${traceId}>; rel="lifeline"`);
    // The span id in the header is the request's server span, not a route handler's.
    const trace = await waitForTrace(db.path, traceId, (spans) => spans.some((s) => s.kind === 'server'));
    const server = trace.spans.find((s) => s.kind === 'server');
    expect(traceresponse.split('-')[2]).toBe(server?.spanId);
  });

  it('records outgoing calls through node:http and fetch as client spans answered by the server spans they reached', async () => {
    const response = await fetch(`${app.url}/outgoing`);
    expect(await response.json()).toEqual({ viaHttp: 200, viaFetch: 200 });
    const trace = await waitForTrace(
      db.path,
      traceIdOf(response),
      (spans) =>
        spans.filter((s) => s.kind === 'server').length === 3 && spans.filter((s) => s.kind === 'client').length === 2,
    );
    const clients = byStart(trace.spans.filter((s) => s.kind === 'client'));
    expect(clients.map((s) => s.scope?.name)).toEqual([
      '@opentelemetry/instrumentation-http',
      '@opentelemetry/instrumentation-undici',
    ]);
    for (const client of clients) {
      const answered = trace.spans.find((s) => s.kind === 'server' && s.parentSpanId === client.spanId);
      expect(answered?.name).toBe('GET /health');
    }
    const diagram = traceToMermaid(trace, { timings: false });
    await parseMermaid(diagram.text);
    expect(diagram.text).toContain('GET /health');
  });

  it('strips query-string values and never stores credential headers', async () => {
    const response = await fetch(`${app.url}/outgoing?token=s3cr3t-query`, {
      headers: { authorization: 'Bearer s3cr3t-header', cookie: 'sid=s3cr3t-cookie' },
    });
    const trace = await waitForTrace(db.path, traceIdOf(response), (spans) => spans.length >= 5);
    const stored = JSON.stringify(trace, bigintToJson);
    expect(stored).not.toContain('s3cr3t');
    const root = trace.spans.find((s) => s.parentSpanId === undefined);
    expect(root?.attributes['url.query']).toBe('token=?');
  });

  it("records better-sqlite3 statements but never the store's own writes", async () => {
    const response = await fetch(`${app.url}/notes`);
    const trace = await waitForTrace(db.path, traceIdOf(response), (spans) => dbSpans(spans, 'sqlite').length >= 2);
    const sqlite = byStart(dbSpans(trace.spans, 'sqlite'));
    expect(sqlite.map((s) => s.name)).toEqual(['INSERT confirmations', 'SELECT confirmations']);
    expect(sqlite.every((s) => s.attributes['db.namespace'] === 'shop.db')).toBe(true);
    await parseMermaid(traceToMermaid(trace, { timings: false }).text);

    // Nothing anywhere in the database is a span about the database itself.
    const store = openStore({ path: db.path, readonly: true });
    try {
      const { items } = store.listTraces({}, { limit: 500 });
      expect(items.length).toBeGreaterThan(0);
      for (const item of items) {
        const spans = store.getTrace(item.traceId)?.spans ?? [];
        expect(spans.filter((s) => s.attributes['db.namespace'] === basename(db.path))).toEqual([]);
      }
    } finally {
      store.close();
    }
  });
});
