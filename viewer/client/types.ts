/**
 * Shapes of the API answers the client reads.
 */
import type { SequenceModel, Span, SpanClass, TraceAnalysis, TraceSummary } from '@lifeline/core';

/** `GET /api/traces/:id`. */
export interface TraceResponse {
  readonly traceId: string;
  readonly spans: Span[];
  readonly summary: TraceSummary;
  readonly analysis: TraceAnalysis;
  /** Classification of every span, by span id. */
  readonly classes: Record<string, SpanClass>;
  readonly sequence: { readonly mermaid: string; readonly folded: boolean; readonly model: SequenceModel };
}
