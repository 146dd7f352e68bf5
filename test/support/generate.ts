/**
 * Realistic synthetic traces for the store and browser benchmarks: an HTTP
 * service answering routes with PostgreSQL queries, Redis lookups, calls to
 * other traced services (which make their own queries), queue publishes and
 * middleware spans; some calls overlap (Promise.all), some repeat (N+1), a few
 * fail. Seeded, so every run builds the same data.
 */
import type { Attributes, Span, SpanKind } from '@lifeline/core';

/** A seeded pseudo-random generator (mulberry32): same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length)
    out += Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, length);
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** A duration in ms with a long right tail, as real call latencies have. */
function latencyMs(random: () => number, typicalMs: number): number {
  const u = Math.max(random(), 1e-9);
  return typicalMs * (0.5 + -Math.log(u) * 0.6);
}

const routes = [
  { method: 'GET', route: '/articles/:id', path: (r: () => number) => `/articles/${1 + Math.floor(r() * 5000)}` },
  { method: 'GET', route: '/articles', path: () => '/articles?page=2' },
  { method: 'POST', route: '/articles', path: () => '/articles' },
  { method: 'GET', route: '/users/:id/feed', path: (r: () => number) => `/users/${1 + Math.floor(r() * 900)}/feed` },
  { method: 'PUT', route: '/articles/:id', path: (r: () => number) => `/articles/${1 + Math.floor(r() * 5000)}` },
  { method: 'GET', route: '/search', path: () => '/search?q=sqlite' },
  { method: 'DELETE', route: '/comments/:id', path: (r: () => number) => `/comments/${Math.floor(r() * 90000)}` },
  { method: 'GET', route: '/health', path: () => '/health' },
] as const;

const tables = ['articles', 'comments', 'users', 'tags', 'article_tags', 'sessions', 'orders', 'invoices'];
const downstream = ['users-service', 'billing-service', 'search-service'];
const hosts = ['web-1', 'web-2', 'web-3'];

/** Options of {@link generateTrace}. */
export interface GenerateTraceOptions {
  random: () => number;
  /** Start of the root span, ns since the epoch. */
  startTimeNs: number;
  /** Roughly how many spans the trace should have (at least 1). */
  targetSpans: number;
  /** Service of the root span. */
  serviceName?: string;
}

interface Builder {
  random: () => number;
  traceId: string;
  spans: Span[];
  budget: number;
}

function resourceOf(b: Builder, serviceName: string): Attributes {
  return {
    'service.name': serviceName,
    'host.name': pick(b.random, hosts),
    'process.pid': 1000 + Math.floor(b.random() * 5000),
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
  };
}

function addSpan(
  b: Builder,
  fields: {
    parent?: string;
    name: string;
    kind: SpanKind;
    service: string;
    resource: Attributes;
    start: number;
    end: number;
    attributes: Attributes;
    error?: string;
    scope: string;
  },
): string {
  const spanId = hex(b.random, 16);
  b.budget--;
  b.spans.push({
    traceId: b.traceId,
    spanId,
    ...(fields.parent ? { parentSpanId: fields.parent } : {}),
    name: fields.name,
    kind: fields.kind,
    serviceName: fields.service,
    startTimeNs: exactNs(fields.start),
    endTimeNs: exactNs(fields.end),
    status: fields.error ? { code: 'error', message: fields.error } : { code: 'unset' },
    attributes: fields.attributes,
    events: fields.error
      ? [
          {
            name: 'exception',
            timeNs: exactNs(fields.end),
            attributes: { 'exception.type': 'Error', 'exception.message': fields.error },
          },
        ]
      : [],
    links: [],
    resource: fields.resource,
    scope: { name: fields.scope, version: '0.77.0' },
  });
  return spanId;
}

/**
 * Children of one server span, laid out in time from `start`: returns the end
 * of the last child. Overlapping groups model Promise.all, repeated queries
 * model an N+1 loop.
 */
function children(
  b: Builder,
  parent: string,
  service: string,
  resource: Attributes,
  start: number,
  depth: number,
  share: number,
): number {
  const r = b.random;
  let cursor = start + latencyMs(r, 0.3) * 1e6;
  let remaining = share;
  while (remaining > 0 && b.budget > 0) {
    const roll = r();
    // Concurrent group: several calls start together and end apart.
    const groupSize = roll < 0.25 ? 2 + Math.floor(r() * 3) : 1;
    let groupEnd = cursor;
    for (let g = 0; g < groupSize && remaining > 0 && b.budget > 0; g++) {
      const begin = cursor + g * 0.05e6;
      const kindRoll = r();
      if (kindRoll < 0.5 || depth > 1) {
        const table = pick(r, tables);
        const op = pick(r, ['SELECT', 'SELECT', 'SELECT', 'INSERT', 'UPDATE']);
        // N+1: the same query repeated one after another.
        const repeats = op === 'SELECT' && r() < 0.1 ? 3 + Math.floor(r() * 8) : 1;
        let t = begin;
        for (let i = 0; i < repeats && remaining > 0 && b.budget > 0; i++) {
          const end = t + latencyMs(r, 1.5) * 1e6;
          addSpan(b, {
            parent,
            name: `${op} ${table}`,
            kind: 'client',
            service,
            resource,
            start: t,
            end,
            scope: '@opentelemetry/instrumentation-pg',
            attributes: {
              'db.system.name': 'postgresql',
              'db.namespace': 'blog',
              'db.operation.name': op,
              'db.collection.name': table,
              'db.query.text':
                op === 'SELECT'
                  ? `SELECT * FROM ${table} WHERE id = $1 LIMIT 50`
                  : op === 'INSERT'
                    ? `INSERT INTO ${table} (id, body) VALUES ($1, $2)`
                    : `UPDATE ${table} SET body = $2 WHERE id = $1`,
              'server.address': 'db.internal',
              'server.port': 5432,
            },
          });
          remaining--;
          t = end + 0.02e6;
        }
        groupEnd = Math.max(groupEnd, t);
      } else if (kindRoll < 0.7) {
        const end = begin + latencyMs(r, 0.4) * 1e6;
        const key = `article:${Math.floor(r() * 5000)}`;
        addSpan(b, {
          parent,
          name: pick(r, ['GET', 'GET', 'SET']),
          kind: 'client',
          service,
          resource,
          start: begin,
          end,
          scope: '@opentelemetry/instrumentation-ioredis',
          attributes: {
            'db.system.name': 'redis',
            'db.query.text': `GET ${key}`,
            'server.address': 'cache.internal',
            'server.port': 6379,
          },
        });
        remaining--;
        groupEnd = Math.max(groupEnd, end);
      } else if (kindRoll < 0.8) {
        const end = begin + latencyMs(r, 0.2) * 1e6;
        addSpan(b, {
          parent,
          name: 'publish article.viewed',
          kind: 'producer',
          service,
          resource,
          start: begin,
          end,
          scope: '@opentelemetry/instrumentation-amqplib',
          attributes: {
            'messaging.system': 'rabbitmq',
            'messaging.destination.name': 'article.viewed',
            'messaging.operation.type': 'publish',
          },
        });
        remaining--;
        groupEnd = Math.max(groupEnd, end);
      } else {
        // A call to another traced service, which does its own work.
        const target = pick(r, downstream);
        const path = `/internal/${target.split('-')[0]}/${Math.floor(r() * 1000)}`;
        const failed = r() < 0.02;
        const clientId = addSpan(b, {
          parent,
          name: 'GET',
          kind: 'client',
          service,
          resource,
          start: begin,
          end: begin,
          scope: '@opentelemetry/instrumentation-undici',
          attributes: {},
        });
        remaining--;
        const serverResource = resourceOf(b, target);
        const serverStart = begin + 0.3e6;
        const inner = Math.min(remaining, Math.max(1, Math.floor(remaining * (0.2 + r() * 0.4))));
        const serverId = addSpan(b, {
          parent: clientId,
          name: 'GET /internal/:id',
          kind: 'server',
          service: target,
          resource: serverResource,
          start: serverStart,
          end: serverStart,
          scope: '@opentelemetry/instrumentation-http',
          attributes: {},
        });
        remaining--;
        const innerEnd = children(b, serverId, target, serverResource, serverStart, depth + 1, inner - 1);
        remaining -= Math.max(0, inner - 1);
        const serverEnd = innerEnd + latencyMs(r, 0.3) * 1e6;
        const clientEnd = serverEnd + 0.3e6;
        const status = failed ? 503 : 200;
        patchSpan(b, clientId, clientEnd, {
          'http.request.method': 'GET',
          'url.full': `http://${target}:8080${path}`,
          'server.address': target,
          'server.port': 8080,
          'http.response.status_code': status,
        });
        patchSpan(b, serverId, serverEnd, {
          'http.request.method': 'GET',
          'http.route': '/internal/:id',
          'url.path': path,
          'http.response.status_code': status,
        });
        groupEnd = Math.max(groupEnd, clientEnd);
      }
    }
    cursor = groupEnd + latencyMs(r, 0.15) * 1e6;
  }
  return cursor;
}

/** A generated time (float ns) as the model's exact whole nanoseconds. */
function exactNs(ns: number): bigint {
  return BigInt(Math.round(ns));
}

function patchSpan(b: Builder, spanId: string, end: number, attributes: Attributes): void {
  const index = b.spans.findLastIndex((s) => s.spanId === spanId);
  const span = b.spans[index];
  if (!span) throw new Error(`no span ${spanId}`);
  b.spans[index] = { ...span, endTimeNs: exactNs(end), attributes };
}

/**
 * One trace of about `targetSpans` spans, rooted at an HTTP server span.
 *
 * @example
 * const spans = generateTrace({ random: seededRandom(1), startTimeNs: Date.now() * 1e6, targetSpans: 20 });
 */
export function generateTrace(options: GenerateTraceOptions): Span[] {
  const r = options.random;
  const b: Builder = { random: r, traceId: hex(r, 32), spans: [], budget: Math.max(1, options.targetSpans) };
  const service = options.serviceName ?? 'web-api';
  const resource = resourceOf(b, service);
  const route = pick(r, routes);
  const start = options.startTimeNs;
  const rootId = addSpan(b, {
    name: `${route.method} ${route.route}`,
    kind: 'server',
    service,
    resource,
    start,
    end: start,
    scope: '@opentelemetry/instrumentation-http',
    attributes: {},
  });
  const middlewareEnd = start + latencyMs(r, 0.1) * 1e6;
  if (b.budget > 1) {
    addSpan(b, {
      parent: rootId,
      name: 'middleware - jsonParser',
      kind: 'internal',
      service,
      resource,
      start: start + 0.02e6,
      end: middlewareEnd,
      scope: '@opentelemetry/instrumentation-express',
      attributes: { 'express.type': 'middleware', 'express.name': 'jsonParser' },
    });
  }
  const end = children(b, rootId, service, resource, middlewareEnd, 0, b.budget) + latencyMs(r, 0.2) * 1e6;
  const failed = r() < 0.03;
  const status = failed ? 500 : route.method === 'POST' ? 201 : 200;
  const index = b.spans.findIndex((s) => s.spanId === rootId);
  const root = b.spans[index] as Span;
  b.spans[index] = {
    ...root,
    endTimeNs: exactNs(end),
    status: failed ? { code: 'error', message: 'Internal Server Error' } : { code: 'unset' },
    attributes: {
      'http.request.method': route.method,
      'http.route': route.route,
      'url.path': route.path(r),
      'url.scheme': 'http',
      'server.address': 'api.example.test',
      'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)',
      'http.response.status_code': status,
    },
  };
  return b.spans;
}

/** Options of {@link generateTraces}. */
export interface GenerateTracesOptions {
  seed: number;
  /** Stop once this many spans have been produced. */
  totalSpans: number;
  /** Traces are spread evenly over this window ending at `endTimeNs`. */
  endTimeNs: number;
  windowDays: number;
  /** Every this many traces, one has `largeTraceSpans` spans. */
  largeEvery?: number;
  largeTraceSpans?: number;
}

/**
 * Trace sizes as a busy service produces them: most requests make a handful of
 * calls, some dozens, a rare one a thousand. Yields one trace at a time so a
 * million spans never sit in memory at once.
 */
export function* generateTraces(options: GenerateTracesOptions): Generator<Span[]> {
  const r = seededRandom(options.seed);
  const meanSpans = 20;
  const approxTraces = Math.ceil(options.totalSpans / meanSpans);
  const stepNs = (options.windowDays * 86_400e9) / approxTraces;
  let produced = 0;
  let index = 0;
  while (produced < options.totalSpans) {
    const large = options.largeEvery !== undefined && index % options.largeEvery === options.largeEvery - 1;
    const roll = r();
    const size = large
      ? (options.largeTraceSpans ?? 1000)
      : roll < 0.65
        ? 3 + Math.floor(r() * 12)
        : roll < 0.93
          ? 15 + Math.floor(r() * 30)
          : 45 + Math.floor(r() * 60);
    const startTimeNs = options.endTimeNs - options.windowDays * 86_400e9 + index * stepNs;
    const spans = generateTrace({ random: r, startTimeNs, targetSpans: Math.min(size, options.totalSpans - produced) });
    produced += spans.length;
    index++;
    yield spans;
  }
}
