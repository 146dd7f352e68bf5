/**
 * @lifeline/core — the pure heart of Lifeline: the trace model, span
 * classification, the sequence model, Mermaid rendering and trace analysis.
 * It has no I/O and no dependency on the OpenTelemetry SDK.
 *
 * @example
 * ```ts
 * import { analyzeTrace, traceToMermaid } from '@lifeline/core';
 *
 * const { text, model } = traceToMermaid(trace, { timings: false });
 * const analysis = analyzeTrace(trace);
 * ```
 *
 * @packageDocumentation
 */
export type {
  AfterResponseWork,
  AnalysisOmissions,
  BoundedTraceAnalysis,
  CategoryTimes,
  CriticalStep,
  DependentCall,
  NPlusOneGroup,
  SerialRun,
  TraceAnalysis,
  TraceError,
} from './analysis.js';
export { analyzeTrace, boundAnalysis, MAX_ANALYSIS_ITEMS, traceExtent } from './analysis.js';
export { BATCH_ID_ATTRIBUTE } from './batch.js';
export type { ParticipantKind, ParticipantRef, SpanCategory, SpanClass } from './classify.js';
export { classifySpan } from './classify.js';
export type { Interval } from './concurrency.js';
export { concurrentGroups, packLanes } from './concurrency.js';
export type { DependencyReason } from './dependencies.js';
export { CACHE_HIT_ATTRIBUTE, DEPENDS_ON_ATTRIBUTE } from './dependencies.js';
export type {
  DiffOptions,
  FlowChange,
  FlowChangeKind,
  FlowDiff,
  MetricChange,
  Regression,
  ShapeShare,
} from './diff.js';
export { diffRequests, diffTraces, REGRESSIONS } from './diff.js';
export type { DiffDiagram, DiffMermaidOptions } from './diff-mermaid.js';
export { DIFF_COLORS, diffToMermaid } from './diff-mermaid.js';
export type { Endpoint, EndpointDiff, NewEndpoint, RunDiff } from './diff-runs.js';
export { diffRuns, endpointName } from './diff-runs.js';
export type { CallsPerRequest, EndpointOrder, EndpointStats } from './endpoints.js';
export { endpointOrders, nearestRank, sortEndpoints, summarizeEndpoints } from './endpoints.js';
export type { Flow, FlowCall, FlowCallKind } from './flow.js';
export { traceFlow, walkFlow } from './flow.js';
export type { EndpointFlow, EndpointFlowOptions, FlowShape } from './flow-merge.js';
export { endpointFlow } from './flow-merge.js';
export { displayName, formatDuration, nsToMs, plural } from './format.js';
export { importMarkNotes, NON_FINITE_ATTRIBUTE, UNKNOWN_KIND_ATTRIBUTE } from './import-marks.js';
export type { LinkedTraceView } from './linked-traces.js';
export { batchNote, joinLinkedTraces, linkedTraceView } from './linked-traces.js';
export type { MarkdownExportInput, MarkdownOptions } from './markdown.js';
export { markdownExport, traceToMarkdown } from './markdown.js';
export type { EscapeOptions, RenderOptions, TraceDiagram, TraceToMermaidOptions } from './mermaid.js';
export { DEFAULT_MAX_TEXT_LENGTH, escapeMermaidText, renderMermaid, traceToMermaid } from './mermaid.js';
export { normalizeCacheKey, normalizePath } from './normalize.js';
export { BODY_UNREAD_ATTRIBUTE, CALLER_DISCONNECTED_EVENT, messageAttemptKey, requestFailed } from './outcome.js';
export type {
  ArrowKind,
  ArrowRef,
  LoopBlock,
  Message,
  Note,
  ParBlock,
  Participant,
  RepeatGroup,
  SequenceItem,
  SequenceModel,
  SequenceOptions,
} from './sequence.js';
export { CONNECTION_WAIT_ATTRIBUTE, connectionWaitMs, toSequence } from './sequence.js';
export type { QueryParts } from './sql-summary.js';
export { parseQuery, summarizeQuery } from './sql-summary.js';
export type { SpanCounts, TraceSummary } from './summary.js';
export { isRequestRoot, REQUEST_ROOT_KINDS, summarizeTrace } from './summary.js';
export type {
  Attributes,
  AttributeValue,
  Span,
  SpanEvent,
  SpanKind,
  SpanLink,
  SpanStatus,
  StatusCode,
  Trace,
} from './trace.js';
export { bigintToJson } from './trace.js';
export { MAX_TRACE_SPANS, truncationNote, withLeadingNote } from './trace-cap.js';
export type { SpanNode, SpanTree, SpanTreeOptions } from './tree.js';
export { buildSpanTree } from './tree.js';
