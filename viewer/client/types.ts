/**
 * Shapes of the API answers the client reads.
 */
import type {
  SequenceModel,
  SpanClass,
  SpanEvent,
  Span as SpanModel,
  TraceAnalysis,
  TraceSummary as TraceSummaryModel,
} from '@lifeline/core';

/**
 * A span as the client uses it. The API sends the model's exact (bigint)
 * times as decimal strings; {@link toClientSpan} turns them into numbers of
 * nanoseconds since the epoch, within 256 ns of the exact time, which is far
 * below anything the page shows.
 */
export type Span = Omit<SpanModel, 'startTimeNs' | 'endTimeNs' | 'events'> & {
  readonly startTimeNs: number;
  readonly endTimeNs?: number;
  readonly events: readonly (Omit<SpanEvent, 'timeNs'> & { readonly timeNs: number })[];
};

/** A trace summary as the client uses it: `startTimeNs` as a number (see {@link Span}). */
export type TraceSummary = Omit<TraceSummaryModel, 'startTimeNs'> & { readonly startTimeNs: number };

/** A time as the API sends it (a decimal string) as a number of nanoseconds. */
function nanos(value: unknown): number {
  return typeof value === 'string' ? Number(value) : (value as number);
}

/** A span of an API answer, with its times as numbers. */
export function toClientSpan(wire: unknown): Span {
  const span = wire as Record<string, unknown> & { events?: Record<string, unknown>[] };
  return {
    ...(span as unknown as Span),
    startTimeNs: nanos(span.startTimeNs),
    ...(span.endTimeNs === undefined ? {} : { endTimeNs: nanos(span.endTimeNs) }),
    events: (span.events ?? []).map((event) => ({
      ...(event as unknown as Span['events'][number]),
      timeNs: nanos(event.timeNs),
    })),
  };
}

/** A trace summary of an API answer, with its start as a number. */
export function toClientSummary(wire: unknown): TraceSummary {
  const summary = wire as TraceSummary;
  return { ...summary, startTimeNs: nanos(summary.startTimeNs) };
}

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
  /** Every span of the trace; `spans` holds only the earliest when `truncated`. */
  readonly spanCount?: number;
  /** The trace is larger than the server reads at once: the rest is paged by `GET /api/traces/:id/spans`. */
  readonly truncated?: boolean;
  /** How many spans `summary` and `analysis` were computed from: all of `spans`. */
  readonly analyzedSpans?: number;
}
