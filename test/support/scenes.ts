/**
 * Realistic traces for the viewer's tests: what an instrumented blog API and a
 * recommendations service record while serving requests (HTTP in, Postgres,
 * Redis, an outgoing call to a second traced service), with concurrency, an
 * N+1 query loop and errors where a test asks for them.
 */
import { randomBytes } from 'node:crypto';
import type { Attributes, Span } from '@lifeline/core';
import { makeSpan } from './spans.ts';

const MS = 1e6;

/** A random trace id (32 hex). */
export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

/** A random span id (16 hex). */
export function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

interface SpanInput {
  traceId: string;
  parentSpanId?: string;
  name: string;
  kind: Span['kind'];
  service: string;
  /** Milliseconds after the trace start. */
  startMs: number;
  durationMs: number;
  attributes?: Attributes;
  error?: string;
  events?: Span['events'];
}

/** Exact ns `ms` milliseconds after `baseNs` (an integer). */
function at(baseNs: number, ms: number): bigint {
  return BigInt(baseNs) + BigInt(Math.round(ms * MS));
}

/** Builds a span at `input.startMs` after `baseNs`, over {@link makeSpan}. */
export function spanAt(baseNs: number, input: SpanInput): Span {
  return makeSpan({
    traceId: input.traceId,
    spanId: newSpanId(),
    ...(input.parentSpanId === undefined ? {} : { parentSpanId: input.parentSpanId }),
    name: input.name,
    kind: input.kind,
    serviceName: input.service,
    startTimeNs: at(baseNs, input.startMs),
    endTimeNs: at(baseNs, input.startMs + input.durationMs),
    status: input.error === undefined ? { code: 'unset' } : { code: 'error', message: input.error },
    attributes: input.attributes ?? {},
    events: input.events ?? [],
    resource: { 'service.name': input.service, 'telemetry.sdk.language': 'nodejs' },
    scope: { name: input.kind === 'server' ? '@opentelemetry/instrumentation-http' : 'lifeline-test' },
  });
}

/** Options of {@link articleTrace}. */
export interface ArticleTraceOptions {
  /** Start of the request, ns since the epoch (default: now). */
  startNs?: number;
  /** Article id in the path. */
  articleId?: number;
  /** Number of serial comment queries (the N+1 loop); default 4. */
  comments?: number;
  /** Let the recommendations call fail with a 503 and the request answer 500. */
  fail?: boolean;
  /** Replaces the article query's span name and text (hostile-input tests). */
  hostileText?: string;
  /** Replaces only the article query's text (long-statement tests). */
  articleQuery?: string;
}

/**
 * `GET /articles/:id` on blog-api: article row and cache lookup in parallel,
 * then comments one by one (N+1), then a call to the recommendations service,
 * which queries its own database.
 */
export function articleTrace(options: ArticleTraceOptions = {}): Span[] {
  const traceId = newTraceId();
  const base = options.startNs ?? Date.now() * MS;
  const id = options.articleId ?? 42;
  const comments = options.comments ?? 4;
  const fail = options.fail ?? false;
  const spans: Span[] = [];
  const totalMs = 40 + comments * 6 + 30;
  const root = spanAt(base, {
    traceId,
    name: 'GET /articles/:id',
    kind: 'server',
    service: 'blog-api',
    startMs: 0,
    durationMs: totalMs,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/articles/:id',
      'url.path': `/articles/${id}`,
      'http.response.status_code': fail ? 500 : 200,
      'server.address': 'localhost',
    },
    ...(fail ? { error: 'recommendations unavailable' } : {}),
  });
  spans.push(root);
  const db = (startMs: number, durationMs: number, query: string, name?: string): Span =>
    spanAt(base, {
      traceId,
      parentSpanId: root.spanId,
      name: name ?? query.split(' ').slice(0, 4).join(' '),
      kind: 'client',
      service: 'blog-api',
      startMs,
      durationMs,
      attributes: {
        'db.system.name': 'postgresql',
        'db.namespace': 'blog',
        'db.query.text': query,
        'server.address': 'localhost',
        'server.port': 5432,
      },
    });
  // The article row and the cache lookup overlap: the diagram draws them as one par block.
  spans.push(
    db(
      2,
      18,
      options.hostileText ?? options.articleQuery ?? `SELECT id, title, body FROM articles WHERE id = $1`,
      options.hostileText === undefined ? undefined : options.hostileText,
    ),
  );
  spans.push(
    spanAt(base, {
      traceId,
      parentSpanId: root.spanId,
      name: 'GET',
      kind: 'client',
      service: 'blog-api',
      startMs: 3,
      durationMs: 4,
      attributes: { 'db.system.name': 'redis', 'db.query.text': `GET article:${id}:views`, 'db.operation.name': 'GET' },
    }),
  );
  for (let i = 0; i < comments; i++) {
    spans.push(db(22 + i * 6, 5, 'SELECT id, author, text FROM comments WHERE article_id = $1 AND position = $2'));
  }
  const callStart = 22 + comments * 6 + 2;
  const client = spanAt(base, {
    traceId,
    parentSpanId: root.spanId,
    name: 'GET',
    kind: 'client',
    service: 'blog-api',
    startMs: callStart,
    durationMs: 24,
    attributes: {
      'http.request.method': 'GET',
      'url.full': `http://recommendations:4001/recommendations?article=${id}`,
      'server.address': 'recommendations',
      'server.port': 4001,
      'http.response.status_code': fail ? 503 : 200,
    },
    ...(fail ? { error: 'HTTP 503' } : {}),
  });
  spans.push(client);
  const server = spanAt(base, {
    traceId,
    parentSpanId: client.spanId,
    name: 'GET /recommendations',
    kind: 'server',
    service: 'recommendations',
    startMs: callStart + 1,
    durationMs: 21,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/recommendations',
      'url.path': '/recommendations',
      'http.response.status_code': fail ? 503 : 200,
    },
    ...(fail
      ? {
          error: 'connection pool exhausted',
          events: [
            {
              name: 'exception',
              timeNs: at(base, callStart + 20),
              attributes: { 'exception.type': 'PoolError', 'exception.message': 'connection pool exhausted' },
            },
          ],
        }
      : {}),
  });
  spans.push(server);
  spans.push(
    spanAt(base, {
      traceId,
      parentSpanId: server.spanId,
      name: 'SELECT recommendations',
      kind: 'client',
      service: 'recommendations',
      startMs: callStart + 3,
      durationMs: 15,
      attributes: {
        'db.system.name': 'postgresql',
        'db.namespace': 'recs',
        'db.query.text':
          'SELECT article_id, score FROM recommendations WHERE source_id = $1 ORDER BY score DESC LIMIT 5',
      },
      ...(fail ? { error: 'timeout acquiring connection' } : {}),
    }),
  );
  return spans;
}

/** A quick `GET /health` on blog-api with a single cache ping. */
export function healthTrace(options: { startNs?: number } = {}): Span[] {
  const traceId = newTraceId();
  const base = options.startNs ?? Date.now() * MS;
  const root = spanAt(base, {
    traceId,
    name: 'GET /health',
    kind: 'server',
    service: 'blog-api',
    startMs: 0,
    durationMs: 3,
    attributes: { 'http.request.method': 'GET', 'http.route': '/health', 'http.response.status_code': 200 },
  });
  const ping = spanAt(base, {
    traceId,
    parentSpanId: root.spanId,
    name: 'PING',
    kind: 'client',
    service: 'blog-api',
    startMs: 1,
    durationMs: 1,
    attributes: { 'db.system.name': 'redis', 'db.operation.name': 'PING' },
  });
  return [root, ping];
}

/** `POST /articles` on a second service name, answering 201. */
export function createArticleTrace(options: { startNs?: number } = {}): Span[] {
  const traceId = newTraceId();
  const base = options.startNs ?? Date.now() * MS;
  const root = spanAt(base, {
    traceId,
    name: 'POST /articles',
    kind: 'server',
    service: 'editor-api',
    startMs: 0,
    durationMs: 250,
    attributes: { 'http.request.method': 'POST', 'http.route': '/articles', 'http.response.status_code': 201 },
  });
  const insert = spanAt(base, {
    traceId,
    parentSpanId: root.spanId,
    name: 'INSERT articles',
    kind: 'client',
    service: 'editor-api',
    startMs: 10,
    durationMs: 200,
    attributes: {
      'db.system.name': 'postgresql',
      'db.namespace': 'blog',
      'db.query.text': 'INSERT INTO articles (title, body) VALUES ($1, $2) RETURNING id',
    },
  });
  return [root, insert];
}

/**
 * Background work of the blog API: a query run at start-up, recorded as a
 * trace of its own whose root is a client span.
 */
export function startUpTrace(options: { startNs?: number } = {}): Span[] {
  const traceId = newTraceId();
  return [
    spanAt(options.startNs ?? Date.now() * MS, {
      traceId,
      name: 'CREATE TABLE articles',
      kind: 'client',
      service: 'blog-api',
      startMs: 0,
      durationMs: 3,
      attributes: {
        'db.system.name': 'postgresql',
        'db.namespace': 'blog',
        'db.query.text': 'CREATE TABLE IF NOT EXISTS articles (id int)',
      },
    }),
  ];
}

/**
 * Background work of a queue library: BullMQ's periodic stalled-jobs check,
 * an internal root span around one Redis script call.
 */
export function housekeepingTrace(options: { startNs?: number; queue?: string } = {}): Span[] {
  const traceId = newTraceId();
  const base = options.startNs ?? Date.now() * MS;
  const queue = options.queue ?? 'mail';
  const root = spanAt(base, {
    traceId,
    name: `moveStalledJobsToWait ${queue}`,
    kind: 'internal',
    service: 'blog-api',
    startMs: 0,
    durationMs: 2,
    attributes: { 'bullmq.queue.name': queue, 'bullmq.queue.operation': 'moveStalledJobsToWait' },
  });
  const script = spanAt(base, {
    traceId,
    parentSpanId: root.spanId,
    name: 'evalsha',
    kind: 'client',
    service: 'blog-api',
    startMs: 0.5,
    durationMs: 1,
    attributes: { 'db.system.name': 'redis', 'db.query.text': 'evalsha' },
  });
  return [root, script];
}
