/**
 * Draws and analyzes a trace the trace page loaded a page at a time (a
 * trace larger than the server draws at once), off the page's thread: the
 * core's sequence model and analysis of tens of thousands of spans take
 * long enough to freeze scrolling and clicks if run beside them.
 *
 * Built as its own entry (`assets/redraw-worker.js`); the page posts a
 * {@link RedrawRequest} and receives a {@link RedrawReply}.
 */
import {
  analyzeTrace,
  bigintToJson,
  joinLinkedTraces,
  type Span as ModelSpan,
  summarizeTrace,
  traceToMermaid,
} from '@lifeline/core';
import type { RedrawReply, RedrawRequest } from './redraw.js';

/** A time as the API sends it (a decimal string) as the model's exact bigint. */
function exact(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(typeof value === 'number' ? Math.round(value) : String(value));
}

/** A span of an API answer (times as decimal strings) as the core's model span. */
function toModelSpan(wire: unknown): ModelSpan {
  const span = wire as Record<string, unknown> & { events?: Record<string, unknown>[] };
  return {
    ...(span as unknown as ModelSpan),
    startTimeNs: exact(span.startTimeNs),
    ...(span.endTimeNs === undefined ? {} : { endTimeNs: exact(span.endTimeNs) }),
    events: (span.events ?? []).map((event) => ({
      ...(event as unknown as ModelSpan['events'][number]),
      timeNs: exact(event.timeNs),
    })),
  } as ModelSpan;
}

function redraw(request: RedrawRequest): RedrawReply {
  const trace = joinLinkedTraces({ traceId: request.traceId, spans: request.spans.map(toModelSpan) });
  const drawn = traceToMermaid(trace, {
    timings: request.options.timings,
    internal: request.options.internal,
    foldLoops: request.options.loops,
    participantShapes: request.options.shapes,
  });
  // Exact times leave as decimal strings, as the API sends them.
  const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value, bigintToJson)) as T;
  return {
    ok: true,
    analyzedSpans: trace.spans.length,
    summary: wire(summarizeTrace(trace)),
    analysis: wire(analyzeTrace(trace)),
    sequence: wire({ mermaid: drawn.text, folded: drawn.folded, model: drawn.model }),
  };
}

self.addEventListener('message', (event: MessageEvent<RedrawRequest>) => {
  let reply: RedrawReply;
  try {
    reply = redraw(event.data);
  } catch (error) {
    reply = { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  self.postMessage(reply);
});
