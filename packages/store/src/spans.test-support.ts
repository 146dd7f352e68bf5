import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Span } from '@lifeline/core';

/** A fresh database path in a new temporary directory. */
export function tempDbPath(name = 'traces.db'): string {
  return join(mkdtempSync(join(tmpdir(), 'lifeline-store-')), name);
}

let counter = 0;

/** A hex id of `digits` digits, unique within the test run. */
export function nextId(digits: 16 | 32): string {
  counter++;
  return counter.toString(16).padStart(digits, '0');
}

/** A span with sensible defaults; any field can be overridden. */
export function makeSpan(fields: Partial<Span> & { traceId: string }): Span {
  const startTimeNs = fields.startTimeNs ?? 1_767_225_600_000_000_000n;
  return {
    spanId: nextId(16),
    name: 'work',
    kind: 'internal',
    serviceName: 'blog-api',
    endTimeNs: startTimeNs + 1_000_000n,
    status: { code: 'unset' },
    attributes: {},
    events: [],
    links: [],
    resource: { 'service.name': fields.serviceName ?? 'blog-api' },
    ...fields,
    startTimeNs,
  };
}

/** What a request trace looks like in the list view. */
export interface RequestShape {
  readonly traceId?: string;
  /** Start of the request, ns since the epoch (a number is taken as it is, an integer). */
  readonly startNs: number | bigint;
  readonly durationMs: number;
  readonly service?: string;
  readonly method?: string;
  readonly route?: string;
  readonly status?: number;
  readonly error?: boolean;
  /** Names of serial database calls under the server span. */
  readonly queries?: readonly string[];
}

/** A small HTTP request trace: a server span and serial database client spans. */
export function makeRequest(shape: RequestShape): Span[] {
  const traceId = shape.traceId ?? nextId(32);
  const rootId = nextId(16);
  const service = shape.service ?? 'blog-api';
  const method = shape.method ?? 'GET';
  const route = shape.route ?? '/articles/:id';
  const start = BigInt(shape.startNs);
  const end = start + BigInt(Math.round(shape.durationMs * 1e6));
  const root = makeSpan({
    traceId,
    spanId: rootId,
    name: `${method} ${route}`,
    kind: 'server',
    serviceName: service,
    startTimeNs: start,
    endTimeNs: end,
    status: shape.error === true ? { code: 'error', message: 'failed' } : { code: 'unset' },
    attributes: {
      'http.request.method': method,
      'http.route': route,
      'http.response.status_code': shape.status ?? 200,
    },
  });
  const queries = shape.queries ?? [];
  const slot = (end - start) / BigInt(queries.length + 1);
  const children = queries.map((name, i) =>
    makeSpan({
      traceId,
      parentSpanId: rootId,
      name,
      kind: 'client',
      serviceName: service,
      startTimeNs: start + slot * BigInt(i) + 1000n,
      endTimeNs: start + slot * BigInt(i + 1),
      attributes: { 'db.system.name': 'postgresql', 'db.namespace': 'blog', 'db.query.text': name },
    }),
  );
  return [root, ...children];
}
