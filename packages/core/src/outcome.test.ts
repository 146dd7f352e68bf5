import { expectValidMermaid, httpClient, httpServer, ns, span, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { renderMermaid } from './mermaid.js';
import { endedWithoutResponse, noResponseReason, spanFailed } from './outcome.js';
import { toSequence } from './sequence.js';
import { summarizeTrace } from './summary.js';
import type { Attributes, Span, SpanEvent, SpanStatus, Trace } from './trace.js';

/** Draws a trace without timings, checks Mermaid parses it with one signal per arrow, and returns the text. */
async function draw(t: Trace): Promise<string> {
  const model = toSequence(t, { timings: false });
  const text = renderMermaid(model);
  const parsed = await expectValidMermaid(text);
  expect(parsed.signals).toHaveLength(model.messageCount);
  return text;
}

const root = (end: number, status = 200): Span =>
  httpServer({ id: 'root', start: 0, end, route: '/profile/:id', path: '/profile/42', status });

const exception = (type: string, message: string, escaped?: boolean): SpanEvent => ({
  name: 'exception',
  timeNs: ns(5),
  attributes: {
    'exception.type': type,
    'exception.message': message,
    ...(escaped !== undefined ? { 'exception.escaped': escaped } : {}),
  },
});

/** A span with only what a rule reads. */
const bare = (
  kind: Span['kind'],
  attributes: Attributes,
  status: SpanStatus = { code: 'unset' },
  events: SpanEvent[] = [],
) => span({ id: 'x', kind, start: 0, end: 10, attributes, status, events });

describe('call outcome: failure follows the span status', () => {
  it('draws a handled exception as a note beside a normal reply, and flags nothing', async () => {
    // The case of a cache read that timed out and fell back to the database (OTLP attributes as recorded).
    const t = trace(
      root(40),
      span({
        id: 'cache',
        parent: 'root',
        kind: 'client',
        name: 'GET',
        start: 2,
        end: 12,
        attributes: { 'db.system.name': 'redis', 'db.query.text': 'GET profile:42' },
        events: [exception('TimeoutError', 'cache read timed out, using database', false)],
      }),
      sql({ id: 'db', parent: 'root', start: 13, end: 30, query: 'SELECT * FROM profiles WHERE id = $1' }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as redis (cache)
      participant p4 as postgresql blog (db)
      p1->>p2: GET /profile/:id
      p2->>p3: GET profile:*
      p3-->>p2: ok
      Note over p2,p3: handled TimeoutError: cache read timed out, using database
      p2->>p4: SELECT profiles
      p4-->>p2: ok
      p2-->>p1: 200
      "
    `);
    const model = toSequence(t, { timings: false });
    expect(model.items).toContainEqual(
      expect.objectContaining({ type: 'note', reason: 'exception', spanId: 'cache', level: 1 }),
    );
    expect(summarizeTrace(t).error).toBe(false);
    expect(analyzeTrace(t).errors).toEqual([]);
  });

  it('lets the status decide over everything else the span carries', async () => {
    const t = trace(
      root(40),
      // Status error and nothing else: failed.
      sql({ id: 'a', parent: 'root', start: 2, end: 4, query: 'SELECT * FROM a', error: 'deadlock detected' }),
      // Status ok with an escaped exception, error.type and an HTTP 503: the application said ok.
      span({
        id: 'b',
        parent: 'root',
        kind: 'client',
        name: 'POST',
        start: 5,
        end: 9,
        status: { code: 'ok' },
        attributes: {
          'http.request.method': 'POST',
          'url.full': 'http://pay/charge',
          'server.address': 'pay',
          'http.response.status_code': 503,
          'error.type': '503',
        },
        events: [exception('Error', 'retry later', true)],
      }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      participant p4 as pay
      p1->>p2: GET /profile/:id
      p2->>p3: SELECT a
      p3--xp2: deadlock detected
      p2->>p4: POST /charge
      p4-->>p2: 503
      Note over p2,p4: exception Error: retry later
      p2-->>p1: 200
      "
    `);
    expect(analyzeTrace(t).errors.map((e) => e.spanId)).toEqual(['a']);
  });

  it('follows the HTTP conventions with the status unset: a server fails from 500, a client from 400', async () => {
    const t = trace(
      root(40, 503),
      httpClient({ id: 'miss', parent: 'root', start: 2, end: 8, url: 'http://users/users/7', status: 404 }),
      httpClient({ id: 'ok', parent: 'root', start: 9, end: 12, url: 'http://auth/login', status: 302 }),
      httpServer({ id: 'srv', parent: 'ok', service: 'auth', start: 10, end: 11, route: '/login', status: 302 }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as users
      participant p4 as auth
      p1->>p2: GET /profile/:id
      p2->>p3: GET /users/:id
      p3--xp2: 404
      p2->>p4: GET /login
      p4-->>p2: 302
      p2--xp1: 503
      "
    `);
    // A server answering 404 did not fail: the client asked for something that is not there.
    expect(spanFailed({ span: bare('server', { 'http.response.status_code': 404 }) })).toBe(false);
    expect(spanFailed({ span: bare('server', { 'http.status_code': '500' }) })).toBe(true);
    expect(spanFailed({ span: bare('client', { 'http.status_code': 404, 'http.method': 'GET' }) })).toBe(true);
    expect(summarizeTrace(t).error).toBe(true);
  });

  it('follows the gRPC conventions with the status unset', () => {
    const grpc = (kind: Span['kind'], code: number | string, key = 'rpc.grpc.status_code') =>
      spanFailed({
        span: bare(kind, { 'rpc.system': 'grpc', 'rpc.service': 'Users', 'rpc.method': 'Get', [key]: code }),
      });
    expect(grpc('client', 0)).toBe(false);
    // NOT_FOUND is the caller's problem: an error for the client, not for the server.
    expect(grpc('client', 5)).toBe(true);
    expect(grpc('server', 5)).toBe(false);
    for (const code of [2, 4, 12, 13, 14, 15]) expect(grpc('server', code)).toBe(true);
    expect(grpc('server', 'DEADLINE_EXCEEDED', 'rpc.status_code')).toBe(true);
    expect(grpc('server', 'INVALID_ARGUMENT', 'rpc.status_code')).toBe(false);
    expect(grpc('client', 'OK', 'rpc.response.status_code')).toBe(false);
    expect(grpc('client', 'UNAVAILABLE', 'rpc.response.status_code')).toBe(true);
  });

  it('fails a span that sets error.type or a true Zipkin/Jaeger error tag, and nothing for an exception alone', () => {
    expect(spanFailed({ span: bare('client', { 'db.system.name': 'postgresql', 'error.type': '08006' }) })).toBe(true);
    expect(spanFailed({ span: bare('internal', { 'error.type': '_OTHER' }) })).toBe(true);
    expect(spanFailed({ span: bare('client', { error: true }) })).toBe(true);
    expect(spanFailed({ span: bare('client', { error: 'connection lost' }) })).toBe(true);
    expect(spanFailed({ span: bare('client', { error: false }) })).toBe(false);
    expect(spanFailed({ span: bare('client', { error: 'false' }) })).toBe(false);
    expect(spanFailed({ span: bare('client', { error: '' }) })).toBe(false);
    for (const escaped of [true, false, undefined]) {
      const events = [exception('TypeError', 'x is undefined', escaped)];
      expect(spanFailed({ span: bare('internal', {}, { code: 'unset' }, events) })).toBe(false);
      expect(spanFailed({ span: bare('internal', {}, { code: 'error' }, events) })).toBe(true);
    }
  });
});

/** An HTTP client span of a request to the upstream, as the instrumentations record it. */
const upstream = (
  id: string,
  start: number,
  extra: { attributes?: Attributes; status?: SpanStatus; events?: SpanEvent[] } = {},
): Span =>
  span({
    id,
    parent: 'root',
    kind: 'client',
    name: 'GET',
    start,
    end: start + 5,
    attributes: {
      'http.request.method': 'GET',
      // One path per call: the same request again would fold into a loop.
      'url.full': `http://127.0.0.1:40403/slow/${id}`,
      'url.path': `/slow/${id}`,
      'server.address': '127.0.0.1',
      'server.port': 40403,
      ...extra.attributes,
    },
    ...(extra.status ? { status: extra.status } : {}),
    ...(extra.events ? { events: extra.events } : {}),
  });

/** `recordException(error)` of the OpenTelemetry SDK: the type is the error's `code` when it has one, else its name. */
const recorded = (type: string, message: string): SpanEvent[] => [
  { name: 'exception', timeNs: ns(6), attributes: { 'exception.type': type, 'exception.message': message } },
];

describe('calls that got no response', () => {
  it('answers a failed fetch (instrumentation-undici) with a cross and a reason, and one without any status with a plain reply that says so', async () => {
    const t = trace(
      root(100, 504),
      // onError with an AbortError only ends the span: status unset, no status code, no error.type, no event.
      // By the conventions that is not a failure: the reply says no status was recorded, never ok.
      upstream('abort', 10),
      // AbortSignal.timeout(): a DOMException TimeoutError whose numeric code 23 becomes error.type.
      upstream('timeout', 20, {
        attributes: { 'error.type': 23 },
        status: { code: 'error', message: 'The operation was aborted due to timeout' },
        events: recorded('23', 'The operation was aborted due to timeout'),
      }),
      upstream('refused', 30, {
        attributes: { 'error.type': 'ECONNREFUSED' },
        status: { code: 'error', message: 'connect ECONNREFUSED 127.0.0.1:40403' },
        events: recorded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:40403'),
      }),
      upstream('closed', 40, {
        attributes: { 'error.type': 'UND_ERR_SOCKET' },
        status: { code: 'error', message: 'other side closed' },
        events: recorded('UND_ERR_SOCKET', 'other side closed'),
      }),
      upstream('headers', 50, {
        attributes: { 'error.type': 'UND_ERR_HEADERS_TIMEOUT' },
        status: { code: 'error', message: 'Headers Timeout Error' },
        events: recorded('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'),
      }),
      upstream('tls', 60, {
        attributes: { 'error.type': 'ERR_TLS_CERT_ALTNAME_INVALID' },
        status: { code: 'error', message: "Hostname/IP does not match certificate's altnames" },
        events: recorded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
      }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as 127.0.0.1#58;40403
      p1->>p2: GET /profile/:id
      p2->>p3: GET /slow/abort
      p3-->>p2: no status code
      Note over p2,p3: no response status recorded
      p2->>p3: GET /slow/timeout
      p3--xp2: timeout
      p2->>p3: GET /slow/refused
      p3--xp2: connection refused
      p2->>p3: GET /slow/closed
      p3--xp2: connection reset
      p2->>p3: GET /slow/headers
      p3--xp2: timeout
      p2->>p3: GET /slow/tls
      p3--xp2: ERR_TLS_CERT_ALTNAME_INVALID
      p2--xp1: 504
      "
    `);
    // The list and the analysis say the same: the request failed, and why; the call without a status is no error.
    expect(summarizeTrace(t).error).toBe(true);
    expect(analyzeTrace(t).errors.find((e) => e.spanId === 'abort')).toBeUndefined();
    expect(analyzeTrace(t).errors.find((e) => e.spanId === 'timeout')).toEqual({
      spanId: 'timeout',
      name: 'GET',
      message: 'The operation was aborted due to timeout',
    });
  });

  it('covers what instrumentation-http records for node:http requests that got no response', async () => {
    // setSpanWithError: error.type is the error's name, the status message its message, the event type its code.
    const failed = (id: string, start: number, name: string, code: string | undefined, message: string) =>
      upstream(id, start, {
        attributes: { 'error.type': name },
        status: { code: 'error', message },
        events: recorded(code ?? name, message),
      });
    const t = trace(
      root(100, 502),
      failed('abort', 10, 'AbortError', 'ABORT_ERR', 'The operation was aborted'),
      failed('hangup', 20, 'Error', 'ECONNRESET', 'socket hang up'),
      failed('refused', 30, 'Error', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:40403'),
      failed('connect', 40, 'Error', 'ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:80'),
      // req.on('timeout', () => req.destroy(new Error('Request timed out'))): a plain Error without a code.
      failed('destroyed', 50, 'Error', undefined, 'Request timed out'),
      failed('dns', 60, 'Error', 'ENOTFOUND', 'getaddrinfo ENOTFOUND upstream.invalid'),
      // The request closed before any response without an error: the span ends as it was, status unset.
      upstream('closed', 70),
      // The response started (status 200) but was aborted before it completed: status error, no message.
      upstream('cut', 80, { attributes: { 'http.response.status_code': 200 }, status: { code: 'error' } }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as 127.0.0.1#58;40403
      p1->>p2: GET /profile/:id
      p2->>p3: GET /slow/abort
      p3--xp2: aborted
      p2->>p3: GET /slow/hangup
      p3--xp2: connection reset
      p2->>p3: GET /slow/refused
      p3--xp2: connection refused
      p2->>p3: GET /slow/connect
      p3--xp2: timeout
      p2->>p3: GET /slow/destroyed
      p3--xp2: timeout
      p2->>p3: GET /slow/dns
      p3--xp2: host not found
      p2->>p3: GET /slow/closed
      p3-->>p2: no status code
      Note over p2,p3: no response status recorded
      p2->>p3: GET /slow/cut
      p3--xp2: 200 · response cut short
      p2--xp1: 502
      "
    `);
    expect(noResponseReason(upstream('x', 0, { attributes: { 'error.type': 'Error' } }))).toBe('no response');
  });

  it('keeps the status reply of a fetch whose body was never read and notes it', async () => {
    const t = trace(
      root(100),
      upstream('big', 10, {
        attributes: { 'http.response.status_code': 200, 'lifeline.http.response.body_unread': true },
      }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as 127.0.0.1#58;40403
      p1->>p2: GET /profile/:id
      p2->>p3: GET /slow/big
      p3-->>p2: 200
      Note over p2,p3: response body never read
      p2-->>p1: 200
      "
    `);
    expect(toSequence(t).items).toContainEqual(
      expect.objectContaining({ type: 'note', reason: 'body-unread', spanId: 'big', text: 'response body never read' }),
    );
    expect(summarizeTrace(t).error).toBe(false);
  });

  it('says ok only where no status is expected, and leaves spans that never ended or follow other conventions alone', async () => {
    // Zipkin's Brave tags http.status_code only when it is not 2xx, so its absence means nothing there.
    const brave = span({
      id: 'brave',
      parent: 'root',
      kind: 'client',
      name: 'get',
      start: 30,
      end: 35,
      attributes: { 'http.method': 'GET', 'http.path': '/visits', 'server.address': 'visits' },
    });
    const okWithoutCode = upstream('declared', 40, { status: { code: 'ok' } });
    const t = trace(
      root(100),
      sql({ id: 'q', parent: 'root', start: 10, end: 20, query: 'UPDATE profiles SET seen = now()' }),
      span({
        id: 'r',
        parent: 'root',
        kind: 'client',
        name: 'set',
        start: 21,
        end: 25,
        attributes: { 'db.system': 'redis', 'db.statement': 'SET profile:42 ?' },
      }),
      brave,
      okWithoutCode,
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as postgresql blog (db)
      participant p4 as redis (cache)
      participant p5 as visits
      participant p6 as 127.0.0.1#58;40403
      p1->>p2: GET /profile/:id
      p2->>p3: UPDATE profiles
      p3-->>p2: ok
      p2->>p4: SET profile:*
      p4-->>p2: ok
      p2->>p5: get
      p5-->>p2: no status code
      p2->>p6: GET /slow/declared
      p6-->>p2: no status code
      p2-->>p1: 200
      "
    `);
    expect(summarizeTrace(t).error).toBe(false);
    const open = upstream('open', 0);
    expect(endedWithoutResponse({ span: { ...open, endTimeNs: undefined } as Span, missingEnd: true })).toBe(false);
    expect(endedWithoutResponse({ span: open })).toBe(true);
  });
});

describe('known instrumentation failure markers', () => {
  it('draws a failed BullMQ attempt as a failure and its completed retry as a normal run', async () => {
    const queue = { 'bullmq.queue.name': 'invoices' };
    const attempt = (id: string, start: number, made: number, event: SpanEvent): Span =>
      span({
        id,
        parent: 'add',
        kind: 'consumer',
        name: 'process invoices',
        service: 'worker',
        start,
        end: start + 10,
        // Exactly what Worker.processJob, handleFailed and handleCompleted set (bullmq 6, bullmq-otel 2).
        attributes: {
          ...queue,
          'bullmq.queue.operation': 'process',
          'bullmq.worker.id': 'c4a1f0e2-2b1d-4c59-9d0e-1a2b3c4d5e6f',
          'bullmq.job.id': '17',
          'bullmq.job.name': 'charge',
          'bullmq.job.attempts.made': made,
          'bullmq.job.attempt_finished_timestamp': 1_700_000_000_000 + start + 10,
          'bullmq.job.processed.timestamp': 1_700_000_000_000 + start,
        },
        events: [event],
      });
    const t = trace(
      httpServer({ id: 'root', start: 0, end: 20, method: 'POST', route: '/invoices/:id', status: 202 }),
      span({
        id: 'add',
        parent: 'root',
        kind: 'producer',
        name: 'add invoices.charge',
        start: 2,
        end: 4,
        attributes: { ...queue, 'bullmq.queue.operation': 'add', 'bullmq.job.name': 'charge', 'bullmq.job.id': '17' },
      }),
      attempt('try1', 30, 1, {
        name: 'job failed',
        timeNs: ns(40),
        attributes: { 'bullmq.job.failed.reason': 'card declined' },
      }),
      attempt('try2', 60, 2, { name: 'job completed', timeNs: ns(70), attributes: { 'bullmq.job.result': 'null' } }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as invoices (queue)
      participant p4 as worker
      p1->>p2: POST /invoices/:id
      p2-)p3: publish invoices
      p2-->>p1: 202
      p3-)p4: process invoices
      p4--xp3: card declined
      p3-)p4: process invoices
      "
    `);
    expect(analyzeTrace(t).errors).toEqual([{ spanId: 'try1', name: 'process invoices', message: 'card declined' }]);
    // The retry went through: the request's outcome follows the last attempt.
    expect(summarizeTrace(t).error).toBe(false);
  });
});

describe('a gRPC server that answered with a status other than OK without failing', () => {
  it('keeps the status name in its reply, as an HTTP server keeps its 404', async () => {
    const server = span({
      id: 'root',
      kind: 'server',
      service: 'users',
      start: 0,
      end: 5,
      name: 'users.Users/Get',
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': 'users.Users',
        'rpc.method': 'Get',
        'rpc.grpc.status_code': 5,
      },
    });
    const text = renderMermaid(toSequence(trace(server), { timings: false }));
    await expectValidMermaid(text);
    expect(text).toContain('-->>p1: NOT_FOUND');
    expect(text).not.toContain('--x');
  });
});

describe('failure by the semantic conventions, for every kind of call', () => {
  const unset: SpanStatus = { code: 'unset' };
  const error: SpanStatus = { code: 'error', message: 'boom' };
  const httpClientAttrs = {
    'http.request.method': 'GET',
    'url.full': 'http://inventory/items',
    'server.address': 'inventory',
  };
  const httpServerAttrs = { 'http.request.method': 'GET', 'http.route': '/items' };
  const db = { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' };
  const messaging = { 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'orders' };

  it.each<[string, Span['kind'], Attributes, SpanStatus, boolean]>([
    ['an HTTP client call without a status code, status unset', 'client', httpClientAttrs, unset, false],
    [
      'an HTTP client call answered 404, status unset',
      'client',
      { ...httpClientAttrs, 'http.response.status_code': 404 },
      unset,
      true,
    ],
    [
      'an HTTP client call answered 200, status unset',
      'client',
      { ...httpClientAttrs, 'http.response.status_code': 200 },
      unset,
      false,
    ],
    ['an HTTP client call with status error', 'client', httpClientAttrs, error, true],
    ['an HTTP server span without a status code, status unset', 'server', httpServerAttrs, unset, false],
    [
      'an HTTP server span that answered 404, status unset',
      'server',
      { ...httpServerAttrs, 'http.response.status_code': 404 },
      unset,
      false,
    ],
    [
      'an HTTP server span that answered 503, status unset',
      'server',
      { ...httpServerAttrs, 'http.response.status_code': 503 },
      unset,
      true,
    ],
    ['a database call, status unset', 'client', db, unset, false],
    ['a database call with status error', 'client', db, error, true],
    ['a publish, status unset', 'producer', messaging, unset, false],
    ['a publish with status error', 'producer', messaging, error, true],
    ['a consumer, status unset', 'consumer', messaging, unset, false],
    ['a consumer with status error', 'consumer', messaging, error, true],
  ])('%s: failed %s', (_what, kind, attributes, status, failed) => {
    expect(spanFailed({ span: bare(kind, attributes, status) })).toBe(failed);
  });

  it('does not note a missing status when the server span that answered the call recorded one', async () => {
    const t = trace(
      root(100),
      span({ id: 'inv', parent: 'root', kind: 'client', name: 'GET', start: 10, end: 30, attributes: httpClientAttrs }),
      httpServer({ id: 'srv', parent: 'inv', service: 'inventory', start: 12, end: 28, route: '/items', status: 200 }),
    );
    const text = await draw(t);
    expect(text).toContain('-->>p2: 200');
    expect(text).not.toContain('no response status recorded');
  });

  it('draws a client call with no status at all as a reply without a status, notes it, and flags nothing', async () => {
    const t = trace(
      root(100),
      span({ id: 'inv', parent: 'root', kind: 'client', name: 'GET', start: 10, end: 20, attributes: httpClientAttrs }),
    );
    expect(await draw(t)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as api
      participant p3 as inventory
      p1->>p2: GET /profile/:id
      p2->>p3: GET /items
      p3-->>p2: no status code
      Note over p2,p3: no response status recorded
      p2-->>p1: 200
      "
    `);
    expect(summarizeTrace(t).error).toBe(false);
    expect(analyzeTrace(t).errors).toEqual([]);
    expect(toSequence(t).items).toContainEqual(
      expect.objectContaining({ type: 'note', reason: 'no-response-status', spanId: 'inv' }),
    );
  });
});
