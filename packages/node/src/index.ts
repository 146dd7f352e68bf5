/**
 * @lifeline/node — one-line instrumentation of a Node.js app that records
 * what it does while serving a request into Lifeline's SQLite store.
 *
 * @example
 * ```ts
 * import { startLifeline } from '@lifeline/node';
 * const lifeline = await startLifeline({ serviceName: 'orders' });
 * ```
 *
 * @packageDocumentation
 */
export type { BetterSqlite3InstrumentationConfig } from './better-sqlite3.js';
export { BetterSqlite3Instrumentation } from './better-sqlite3.js';
export {
  BullMQFailedAttemptSpanProcessor,
  BullMQSandboxInstrumentation,
  sandboxTraceContextKey,
} from './bullmq.js';
export type { ResolvedConfig } from './config.js';
export { defaultViewerUrl, resolveConfig } from './config.js';
export type {
  ExpectedCalls,
  FlowCheck,
  FlowRecorder,
  FlowRecorderOptions,
  RecordedFlow,
  RecordFlowOptions,
} from './flow.js';
export {
  assertCalls,
  assertNoNPlusOne,
  assertRunConcurrently,
  checkCalls,
  checkNoNPlusOne,
  checkRunConcurrently,
  recordFlow,
  startFlowRecorder,
} from './flow.js';
export type { InstrumentationName } from './instrumentations.js';
export type { LifelineHeadersOptions, RequestListener } from './middleware.js';
export { lifelineHeaders, lifelineMiddleware, withLifelineHeaders } from './middleware.js';
export { PreciseStartSpanProcessor } from './precise-start.js';
export type { RedactFunction, RedactionOptions, SpanAttributeValue } from './redaction.js';
export {
  RedactingSpanExporter,
  redactSpan,
  STATUS_MESSAGE_KEY,
  stripQueryValues,
  stripScriptArguments,
} from './redaction.js';
export type { SanitizeSqlOptions } from './sql.js';
export { sanitizeSql } from './sql.js';
export type { LifelineHandle, LifelineOptions } from './start.js';
export { startLifeline } from './start.js';
