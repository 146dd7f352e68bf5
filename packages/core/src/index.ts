/**
 * @lifeline/core — the pure heart of Lifeline: the trace model, span
 * classification, the sequence model, Mermaid rendering and trace analysis.
 * It has no I/O and no dependency on the OpenTelemetry SDK.
 *
 * @packageDocumentation
 */
export type {
  AttributeValue,
  Attributes,
  Span,
  SpanEvent,
  SpanKind,
  SpanLink,
  SpanStatus,
  StatusCode,
  Trace,
} from './trace.js';
