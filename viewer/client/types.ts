/**
 * Shapes of the API answers the client reads.
 */
import type { SequenceModel, Span, SpanClass, TraceAnalysis, TraceSummary } from '@lifeline/core';

/** A span's classification as the API sends it: the query text stays in the span's attribute. */
export type SentSpanClass = Omit<SpanClass, 'queryText'>;

/** `GET /api/traces/:id`. */
export interface TraceResponse {
  readonly traceId: string;
  readonly spans: Span[];
  readonly summary: TraceSummary;
  readonly analysis: TraceAnalysis;
  /**
   * Classification of every span, by span id; without `queryText`, which the
   * span's attribute named by `queryTextAttribute` already carries.
   */
  readonly classes: Record<string, SentSpanClass>;
  readonly sequence: { readonly mermaid: string; readonly folded: boolean; readonly model: SequenceModel };
}
