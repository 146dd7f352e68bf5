/**
 * The instrumentations Lifeline turns on by default, each configured for a
 * sequence diagram: what is drawn is a request and the calls made while
 * serving it, not the plumbing underneath.
 */
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { createAmqplibInstrumentation } from './amqplib.js';
import { BetterSqlite3Instrumentation } from './better-sqlite3.js';
import { BullMQSandboxInstrumentation } from './bullmq.js';
import {
  createIORedisInstrumentation,
  createMySQL2Instrumentation,
  createPgInstrumentation,
  createRedisInstrumentation,
} from './client-queues.js';
import { createHttpInstrumentation, createUndiciInstrumentation } from './http-outcomes.js';

/** Names of the instrumentations Lifeline can turn on. */
export type InstrumentationName =
  | 'http'
  | 'express'
  | 'undici'
  | 'pg'
  | 'mysql2'
  | 'ioredis'
  | 'redis'
  | 'amqplib'
  | 'better-sqlite3'
  | 'bullmq';

/** Which built-in instrumentations to turn on (all by default) and which of one's own to add. */
export interface InstrumentationOptions {
  /** `false` turns one off, e.g. `{ express: false }`. */
  readonly enabled?: Partial<Record<InstrumentationName, boolean>>;
  /** Further OpenTelemetry instrumentations to register alongside. */
  readonly extra?: readonly Instrumentation[];
}

/** What the built-in instrumentations need to know about the process. */
export interface InstrumentationContext {
  /** The Lifeline database: its own SQLite statements are never traced. */
  readonly dbPath: string;
}

/**
 * Express layers that get no span of their own (see the factory below).
 * Routers keep theirs: the instrumentation builds the route template from the
 * layers it records, and an ignored router's mount path is never taken off
 * again when the router passes a request on, so `app.use('/api', a)` and
 * `app.use('/api', b)` would name b's routes `/api/api/...`.
 */
export const expressLayersNotRecorded: ExpressLayerType[] = [
  ExpressLayerType.MIDDLEWARE,
  ExpressLayerType.REQUEST_HANDLER,
];

const factories: Record<InstrumentationName, (context: InstrumentationContext) => Instrumentation> = {
  // Client calls that got no response say why (see http-outcomes.ts).
  http: () => createHttpInstrumentation(),
  // What a diagram needs from express is the route template, which the
  // instrumentation puts on the HTTP server span (its name and `http.route`)
  // whether or not it records layers. The layers themselves (middleware and
  // route handlers) would be internal spans, which the diagram does not draw,
  // at a cost on every request: without the route handler span a
  // traced hello-world request takes about a fifth less CPU. Apps that want them
  // turn this one off and pass their own ExpressInstrumentation as `extra`.
  express: () => new ExpressInstrumentation({ ignoreLayersType: expressLayersNotRecorded }),
  undici: () => createUndiciInstrumentation(),
  // Pool and connection set-up spans repeat on every query and say nothing
  // about the request; the queries do, with the time they waited for a
  // pooled connection. Pools' waiting callbacks keep their caller's context
  // and streamed queries end (see client-queues.ts).
  pg: () => createPgInstrumentation(),
  mysql2: () => createMySQL2Instrumentation(),
  // A queue worker polls Redis all the time: without a parent those commands
  // would each become a trace of their own and bury the requests.
  // Commands queued until the connection is ready are traced once, in their
  // own request's trace (see client-queues.ts).
  ioredis: () => createIORedisInstrumentation({ requireParentSpan: true }),
  redis: () => createRedisInstrumentation({ requireParentSpan: true }),
  // A message's span lasts as long as its async handler (see amqplib.ts).
  amqplib: () => createAmqplibInstrumentation(),
  'better-sqlite3': (context) => new BetterSqlite3Instrumentation({ ignorePaths: [context.dbPath] }),
  // Sandboxed processors: see bullmq.ts.
  bullmq: () => new BullMQSandboxInstrumentation(),
};

/**
 * Creates the instrumentations to register: the enabled built-in ones, then
 * the extra ones.
 *
 * @example
 * ```ts
 * createInstrumentations({ enabled: { amqplib: false } }, { dbPath: '/app/.lifeline/traces.db' });
 * ```
 */
export function createInstrumentations(
  options: InstrumentationOptions,
  context: InstrumentationContext,
): Instrumentation[] {
  const chosen: Instrumentation[] = [];
  for (const [name, create] of Object.entries(factories) as [InstrumentationName, typeof factories.http][]) {
    if (options.enabled?.[name] === false) continue;
    chosen.push(create(context));
  }
  return [...chosen, ...(options.extra ?? [])];
}
