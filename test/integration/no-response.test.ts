import { randomBytes } from 'node:crypto';
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CALLER_DISCONNECTED_EVENT, type Span } from '@lifeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';

/** The app's outgoing HTTP calls in a trace. */
function httpCalls(spans: readonly Span[]): Span[] {
  return spans.filter((s) => s.kind === 'client' && s.attributes['http.request.method'] !== undefined);
}

/** Calls the app and returns the trace once its server span and one ended outgoing call are stored. */
async function callAndTrace(app: RunningApp, db: string, path: string) {
  const response = await fetch(`${app.url}${path}`);
  expect(response.status, path).toBe(200);
  const body = (await response.json()) as { outcome: string };
  const trace = await waitForTrace(
    db,
    traceIdOf(response),
    (spans) => spans.some((s) => s.kind === 'server') && httpCalls(spans).some((s) => s.endTimeNs !== undefined),
  );
  const calls = httpCalls(trace.spans);
  expect(calls, path).toHaveLength(1);
  return { outcome: body.outcome, trace, call: calls[0] as Span };
}

/** The diagram's arrows between the app (p2) and the upstream (p3). */
function upstreamArrows(text: string): string[] {
  return text.split('\n').filter((line) => /^p[23]-/.test(line) && line.includes('p3'));
}

describe('outgoing HTTP calls that get no response', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    // With OpenTelemetry's own error log on: a span ended twice would say so there.
    app = await startApp({ app: 'calls.ts', db: db.path, serviceName: 'calls', env: { OTEL_LOG_LEVEL: 'error' } });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  // [client, path, what the app saw, error.type recorded, message recorded]
  const failures: [string, string, RegExp, string | RegExp, RegExp][] = [
    ['fetch', '/fetch/timeout', /^TimeoutError$/, 'TimeoutError', /aborted due to timeout/],
    ['fetch', '/fetch/abort', /^AbortError$/, 'AbortError', /aborted/],
    ['fetch', '/fetch/reset', /^UND_ERR_SOCKET$/, 'UND_ERR_SOCKET', /closed/],
    ['fetch', '/fetch/refused', /^ECONNREFUSED$/, 'ECONNREFUSED', /ECONNREFUSED/],
    ['node:http', '/http/timeout', /^ECONNRESET$/, 'TimeoutError', /^timed out after 50 ms \(socket hang up\)$/],
    ['node:http', '/http/abort', /^ECONNRESET$/, 'ECONNRESET', /socket hang up/],
    ['node:http', '/http/signal', /^ABORT_ERR$/, 'AbortError', /aborted/],
    ['node:http', '/http/reset', /^ECONNRESET$/, 'ECONNRESET', /socket hang up/],
    ['node:http', '/http/refused', /^ECONNREFUSED$/, 'ECONNREFUSED', /ECONNREFUSED/],
  ];

  it.each(failures)('%s %s: the call fails with why', async (_client, path, seen, type, message) => {
    const { outcome, trace, call } = await callAndTrace(app, db.path, path);
    expect(outcome).toMatch(seen);
    expect(call.status.code, path).toBe('error');
    if (typeof type === 'string') expect(call.attributes['error.type'], path).toBe(type);
    else expect(call.attributes['error.type'], path).toMatch(type);
    expect(call.status.message, path).toMatch(message);
    expect(call.attributes['http.response.status_code'], path).toBeUndefined();
    expect(
      call.events.some((e) => e.name === 'exception'),
      path,
    ).toBe(true);
    // No reply the upstream never sent: the call's arrow back is a failure.
    const arrows = upstreamArrows(await validDiagram(trace));
    expect(arrows[0], path).toMatch(/^p2->>p3: GET \//);
    expect(arrows[1], path).toMatch(/^p3--xp2: /);
    expect(arrows, path).toHaveLength(2);
  });

  // The upstream sends its headers and 1 000 bytes of a 2 MiB body, then closes the connection.
  it.each([
    ['fetch', '/fetch/cut', 'UND_ERR_SOCKET', /closed/],
    ['node:http', '/http/cut', 'ECONNRESET', /cut off mid-body \(aborted\)/],
  ])('%s %s: a response cut off mid-body is a failed call, not ok', async (_client, path, type, message) => {
    const { outcome, trace, call } = await callAndTrace(app, db.path, path);
    expect(outcome).toBe(type);
    expect(call.status.code, path).toBe('error');
    expect(call.attributes['error.type'], path).toBe(type);
    expect(call.status.message, path).toMatch(message);
    // The headers did come: the status stays, the arrow back is a failure.
    expect(call.attributes['http.response.status_code'], path).toBe(200);
    const arrows = upstreamArrows(await validDiagram(trace));
    expect(arrows, path).toEqual(['p2->>p3: GET /cut', expect.stringMatching(/^p3--xp2: 200 · /)]);
  });

  // [client, path]
  const unread: [string, string][] = [
    ['fetch', '/fetch/status-only'],
    ['fetch', '/fetch/read-late'],
    ['node:http', '/http/status-only'],
  ];

  it.each(unread)(
    '%s %s: a response whose body is not read still ends, at its headers, marked unread',
    async (_client, path) => {
      const { outcome, trace, call } = await callAndTrace(app, db.path, path);
      expect(outcome).toBe('200');
      expect(call.status.code).not.toBe('error');
      expect(call.attributes['http.response.status_code']).toBe(200);
      expect(call.attributes['lifeline.http.response.body_unread']).toBe(true);
      const server = trace.spans.find((s) => s.kind === 'server');
      expect(call.endTimeNs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(server?.endTimeNs ?? 0);
      expect(upstreamArrows(await validDiagram(trace))).toEqual(['p2->>p3: GET /big', 'p3-->>p2: 200']);
    },
  );

  it('reads a body after the caller answered without ending the call twice or failing the app', async () => {
    // The body of /fetch/read-late is read 20 ms after the answer; the app keeps serving.
    const { trace } = await callAndTrace(app, db.path, '/fetch/read-late');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await fetch(`${app.url}/http/fast`);
    expect(await after.json()).toEqual({ outcome: '200' });
    expect(app.output()).not.toMatch(/end\(\) on a span once|Error/);
    expect(app.child.exitCode).toBeNull();
    expect(httpCalls(trace.spans)).toHaveLength(1);
  });
});

describe('a recorded upstream whose caller gave up', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'calls.ts', db: db.path, serviceName: 'calls' });
    // The first fetch of a process loads undici, which on a busy machine
    // takes longer than the 50 ms the caller waits: the call must reach the
    // upstream before it gives up.
    await (await fetch(`${app.url}/fetch/status-only`)).arrayBuffer();
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it.each([['fetch'], ['node:http']])(
    '%s: keeps its server span open until its handler answered, with the moment its caller gave up',
    async (client) => {
      const response = await fetch(`${app.url}/self/${client === 'fetch' ? 'fetch' : 'http'}`);
      expect(response.status).toBe(200);
      // The upstream's server span is the one under the app's outgoing call.
      const isUpstream = (s: Span) => s.kind === 'server' && s.parentSpanId !== undefined;
      const trace = await waitForTrace(db.path, traceIdOf(response), (spans) =>
        spans.some((s) => isUpstream(s) && s.endTimeNs !== undefined),
      );
      const upstream = trace.spans.find(isUpstream) as Span;
      const call = trace.spans.find((s) => s.spanId === upstream.parentSpanId) as Span;
      // It ends when its handler answered (at 200 ms), after the caller gave
      // up (at 50 ms), never at its own headers or start, nor at the
      // disconnect as OpenTelemetry's http instrumentation ends a server span;
      // the disconnect is recorded where it happened.
      expect(upstream.endTimeNs ?? 0n).toBeGreaterThan(call.endTimeNs ?? Number.POSITIVE_INFINITY);
      const disconnect = upstream.events.find((e) => e.name === CALLER_DISCONNECTED_EVENT);
      expect(disconnect?.timeNs ?? 0n).toBeGreaterThan(upstream.startTimeNs);
      expect(disconnect?.timeNs ?? 0n).toBeLessThan(upstream.endTimeNs ?? 0n);
      expect(upstream.attributes['lifeline.http.response.body_unread']).toBeUndefined();
      await validDiagram(trace);
    },
  );
});

describe('a request whose caller disconnected before the response', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'calls.ts', db: db.path, serviceName: 'calls' });
  });
  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('records the disconnect where it happened, ends the span when the handler finished, and draws the work after it after it', async () => {
    // The caller names the trace (it gets no response to read the id from).
    const traceId = randomBytes(16).toString('hex');
    const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
    // Gives up 100 ms after it connected: the request has reached the handler by then.
    await new Promise<void>((resolve) => {
      const request = httpGet(`${app.url}/slow-work`, { headers: { traceparent } });
      request.on('socket', (socket) => socket.once('connect', () => setTimeout(() => request.destroy(), 100)));
      request.on('error', () => resolve());
      request.on('close', () => resolve());
    });
    const trace = await waitForTrace(db.path, traceId, (spans) =>
      spans.some((s) => s.kind === 'server' && s.endTimeNs !== undefined),
    );
    const server = trace.spans.find((s) => s.kind === 'server') as Span;
    const query = dbSpans(trace.spans, 'postgresql').find((s) => s.parentSpanId === server.spanId) as Span;
    expect(query, app.output()).toBeDefined();
    const disconnect = server.events.find((e) => e.name === CALLER_DISCONNECTED_EVENT);
    expect(disconnect, server.events.map((e) => e.name).join()).toBeDefined();
    // The caller went away at 100 ms, before the handler's query began...
    const disconnectedMs = Number((disconnect?.timeNs ?? 0n) - server.startTimeNs) / 1e6;
    expect(disconnectedMs).toBeGreaterThanOrEqual(50);
    expect(disconnect?.timeNs ?? 0n).toBeLessThan(query.startTimeNs);
    // ...and the span ends when the handler finished, after its query.
    expect(server.endTimeNs ?? 0n).toBeGreaterThanOrEqual(query.endTimeNs ?? Number.POSITIVE_INFINITY);
    const text = await validDiagram(trace);
    const body = text.split('\n').filter((line) => /^(p\d|Note)/.test(line));
    expect(body, text).toEqual([
      'p1->>p2: GET /slow-work',
      'p2--xp1: caller disconnected',
      'Note over p2: after the caller disconnected: 1 call ran on',
      'p2->>p3: SELECT',
      'p3-->>p2: ok',
    ]);
  });
});

describe('the first fetch of a fresh process, timed out by AbortSignal.timeout', () => {
  let upstream: Server;
  let upstreamUrl: string;

  beforeAll(async () => {
    // Answers after 400 ms: every call times out first.
    upstream = createServer((_request, response) => {
      setTimeout(() => response.end('late'), 400);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  // The race is in the process's start-up (undici loads on the first fetch):
  // each run is a new process.
  it('is a timeout drawn before the response, in every one of six fresh processes', async () => {
    for (let run = 1; run <= 6; run++) {
      const db = tempDb();
      const app = await startApp({
        app: 'first-fetch.ts',
        db: db.path,
        serviceName: 'first',
        env: { UPSTREAM_URL: upstreamUrl, OTEL_LOG_LEVEL: 'error' },
      });
      try {
        const response = await fetch(app.url);
        expect(await response.json()).toEqual({ outcome: 'TimeoutError' });
        const trace = await waitForTrace(
          db.path,
          traceIdOf(response),
          (spans) => spans.some((s) => s.kind === 'server') && httpCalls(spans).some((s) => s.endTimeNs !== undefined),
        );
        const [call] = httpCalls(trace.spans);
        const server = trace.spans.find((s) => s.kind === 'server');
        expect(call?.attributes['error.type'], `run ${run}`).toBe('TimeoutError');
        expect(call?.status.message, `run ${run}`).toMatch(/timeout/);
        // The app heard of the timeout and then answered: the call ended first.
        expect(call?.endTimeNs ?? Number.POSITIVE_INFINITY, `run ${run}`).toBeLessThanOrEqual(server?.endTimeNs ?? 0);
        const lines = (await validDiagram(trace)).split('\n');
        const failed = lines.findIndex((line) => /^p3--xp2: timeout/.test(line));
        expect(failed, `run ${run}`).toBeGreaterThan(0);
        expect(failed, `run ${run}`).toBeLessThan(lines.findIndex((line) => line.startsWith('p2-->>p1: ')));
      } finally {
        await app.stop();
        db.remove();
      }
    }
  }, 120_000);
});
