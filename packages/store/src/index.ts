/**
 * @lifeline/store — Lifeline's SQLite span store: schema and migrations, the
 * span writer, list and trace queries, retention, the OpenTelemetry
 * `SpanExporter` and the trace file importers (OTLP, Tempo, Jaeger, Zipkin JSON).
 *
 * @packageDocumentation
 */
export {
  defaultDbPath,
  isLifelineStoreDatabase,
  LIFELINE_APPLICATION_ID,
  makeFolder,
  migrate,
  pendingMigrations,
} from './database.js';
export type { EndpointFilter, EndpointRef } from './endpoints.js';
export type { StoreErrorCode } from './errors.js';
export { StoreError } from './errors.js';
export type { SqliteSpanExporterOptions } from './exporter.js';
export { SqliteSpanExporter } from './exporter.js';
export type { ParsedTraceFile, SkippedSignal, TraceFileFormat } from './importers/detect.js';
export { parseTraceDocument, parseTraceFile, parseTraceLines, splitSharedIds } from './importers/detect.js';
export { ORIGINAL_SPAN_ID_ATTRIBUTE, ORIGINAL_TRACE_ID_ATTRIBUTE, SHARED_SPAN_ID_ATTRIBUTE } from './importers/ids.js';
export type { ImportProblem } from './importers/import-context.js';
export { jaegerToSpans } from './importers/jaeger.js';
export { parseJsonExact } from './importers/json-reader.js';
export type {
  OtlpAnyValueJson,
  OtlpExportTraceServiceRequestJson,
  OtlpKeyValueJson,
  OtlpSpanJson,
  OtlpToSpansOptions,
} from './importers/otlp.js';
export { otlpToSpans } from './importers/otlp.js';
export { TraceFileError } from './importers/trace-file-error.js';
export { zipkinToSpans } from './importers/zipkin.js';
export type { Migration } from './migrations.js';
export { latestSchemaVersion, migrations } from './migrations.js';
export { readableSpanToSpan } from './readable-span.js';
export type { WriteResult } from './span-writer.js';
export { CONFLICT_EXAMPLES } from './span-writer.js';
export type {
  GetTraceOptions,
  OpenStoreOptions,
  RetentionPolicy,
  SpanStore,
  StoreStats,
  TraceChanges,
  TraceFilter,
  TraceList,
  TracePage,
  TraceWork,
  UnsettledSpans,
} from './store.js';
export { MAX_LINKED_TRACES, openStore, traceWorkValues } from './store.js';
export { SpanWriterThread, type SpanWriterThreadOptions } from './writer-thread-app-side.js';
