/**
 * The JSON API: the request list, one trace with everything the trace page
 * draws, the Mermaid text, and a health probe.
 */
import {
  analyzeTrace,
  classifySpan,
  DEFAULT_MAX_TEXT_LENGTH,
  joinLinkedTraces,
  MAX_TRACE_SPANS,
  type SpanClass,
  summarizeTrace,
  traceToMermaid,
  truncationNote,
  withLeadingNote,
} from '@lifeline/core';
import { type SpanStore, StoreError } from '@lifeline/store';
import type { Request, Response } from 'express';
import { Router } from 'express';
import { HttpError } from './http-error.js';
import { integerParam, parseDiagramQuery, parseListQuery, parseTraceId, rejectUnknown } from './params.js';

/**
 * Most spans of one trace that the trace API reads, draws and sends: the
 * earliest started, as `lifeline export` reads them (one constant, in
 * `@lifeline/core`). A trace of 316,000 spans took 11 s and 108 MB of JSON to
 * send whole, holding every other request (the receiver's too) for as long;
 * the rest of a larger trace is read a page at a time from
 * `/api/traces/:id/spans`.
 */
export { MAX_TRACE_SPANS };

/** Room kept in the Mermaid text for the note that says a trace was cut. */
const CAP_NOTE_ROOM = 300;

/** Lets requests that arrived meanwhile (a health probe, an OTLP export) run between two long steps. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Options of the API router. */
export interface ApiRouterOptions {
  readonly store: SpanStore;
  /** Package version reported by the health probe. */
  readonly version: string;
}

/** Sends an {@link HttpError}'s answer (a 400 names the parameter), or rethrows anything else to express. */
export function sendBadParameter(response: Response, error: unknown): void {
  if (error instanceof HttpError) {
    response
      .status(error.status)
      .json({ error: error.message, ...(error.parameter === undefined ? {} : { parameter: error.parameter }) });
    return;
  }
  throw error;
}

/** Builds the `/api` router (list, trace, Mermaid text, health). */
export function apiRouter(options: ApiRouterOptions): Router {
  const { store } = options;
  const router = Router();

  router.get('/health', (request, response) => {
    try {
      rejectUnknown(request.query, []);
    } catch (error) {
      sendBadParameter(response, error);
      return;
    }
    const stats = store.stats();
    const unsettled = store.unsettled();
    response.json({
      status: 'ok',
      version: options.version,
      traces: stats.traces,
      spans: stats.spans,
      droppedSpans: stats.droppedSpans,
      // Spans an app appended that this viewer could not store (file not writable, disk full): not in any answer yet.
      ...(unsettled === undefined ? {} : { unsettledSpans: unsettled.spans, unsettledReason: unsettled.reason }),
    });
  });

  router.get('/traces', (request, response) => {
    let query: ReturnType<typeof parseListQuery>;
    try {
      query = parseListQuery(request.query);
    } catch (error) {
      sendBadParameter(response, error);
      return;
    }
    let page: ReturnType<SpanStore['listTraces']>;
    try {
      page = store.listTraces(query.filter, query.page);
    } catch (error) {
      // The cursor is opaque to clients; one the store cannot read is their mistake.
      if (error instanceof StoreError && error.code === 'bad-cursor') {
        response.status(400).json({ error: `cursor is not valid here: ${error.message}`, parameter: 'cursor' });
        return;
      }
      throw error;
    }
    response.json({
      items: page.items,
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      // A text or service filter examines a bounded number of traces per call: say where it stopped.
      ...(page.stoppedAfterTraces === undefined ? {} : { stoppedAfterTraces: page.stoppedAfterTraces }),
    });
  });

  /**
   * The trace named in the path, drawn with the diagram options of the query
   * string; undefined once the response has been sent (a bad parameter, or no
   * such trace).
   */
  const drawRequested = async (request: Request<{ id: string }>, response: Response) => {
    let traceId: string;
    let diagram: ReturnType<typeof parseDiagramQuery>;
    try {
      traceId = parseTraceId(request.params.id);
      diagram = parseDiagramQuery(request.query);
    } catch (error) {
      sendBadParameter(response, error);
      return undefined;
    }
    const spanCount = store.traceSpanCount(traceId) ?? 0;
    const capped = spanCount > MAX_TRACE_SPANS;
    const read = store.getTrace(traceId, { linked: true, ...(capped ? { maxSpans: MAX_TRACE_SPANS } : {}) });
    await breathe();
    // Of the linked traces, the spans this trace's picture draws (its own, and
    // the processing of the messages it published), and no others.
    const trace = read === undefined ? undefined : joinLinkedTraces(read);
    if (trace === undefined || trace.spans.length === 0) {
      response.status(404).json({ error: `no trace with id ${traceId}` });
      return undefined;
    }
    const drawn = traceToMermaid(trace, {
      timings: diagram.timings,
      internal: diagram.internal,
      foldLoops: diagram.foldLoops,
      participantShapes: diagram.participantShapes,
      ...(capped ? { maxTextLength: DEFAULT_MAX_TEXT_LENGTH - CAP_NOTE_ROOM } : {}),
    });
    await breathe();
    // The note is the diagram's first, in its text too, so a copied or saved diagram still says it.
    const sequence = capped
      ? withLeadingNote(
          drawn,
          truncationNote(spanCount, trace.spans.length),
          `This trace has ${spanCount.toLocaleString('en-US')} spans: the first ${trace.spans.length.toLocaleString('en-US')} by start time are drawn and listed; the rest are read a page at a time from /api/traces/${traceId}/spans?offset=${MAX_TRACE_SPANS}`,
        )
      : drawn;
    return { traceId, trace, sequence, spanCount: Math.max(spanCount, trace.spans.length), capped };
  };

  router.get('/traces/:id', async (request, response) => {
    const drawn = await drawRequested(request, response);
    if (drawn === undefined) return;
    const { traceId, trace, sequence, spanCount, capped } = drawn;
    const summary = summarizeTrace(trace);
    const analysis = analyzeTrace(trace);
    await breathe();
    response.json({
      traceId,
      spans: trace.spans,
      // Every span of the trace; `spans` holds the first MAX_TRACE_SPANS when `truncated`.
      spanCount,
      ...(capped ? { truncated: true } : {}),
      summary,
      analysis,
      // The spans the summary and analysis were computed from: those sent. Of a truncated
      // trace that is fewer than `spanCount`, so its serial runs, N+1 groups and errors
      // are those of its start; `lifeline export --format json` analyzes every span.
      analyzedSpans: trace.spans.length,
      // The client colours and labels spans like the diagram does without bundling the classifier.
      classes: Object.fromEntries(
        trace.spans.map((span) => {
          return [span.spanId, clientClass(classifySpan(span))];
        }),
      ),
      sequence: { mermaid: sequence.text, folded: sequence.folded, model: sequence.model },
    });
  });

  router.get('/traces/:id/mermaid', async (request, response) => {
    const drawn = await drawRequested(request, response);
    if (drawn !== undefined) response.type('text/plain; charset=utf-8').send(drawn.sequence.text);
  });

  // A page of a trace's spans in start order, for a trace larger than MAX_TRACE_SPANS.
  router.get('/traces/:id/spans', (request, response) => {
    let traceId: string;
    let offset: number;
    let limit: number;
    try {
      rejectUnknown(request.query, ['offset', 'limit']);
      traceId = parseTraceId(request.params.id);
      offset = integerParam(request.query, 'offset', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0;
      limit = integerParam(request.query, 'limit', { min: 1, max: MAX_TRACE_SPANS }) ?? MAX_TRACE_SPANS;
    } catch (error) {
      sendBadParameter(response, error);
      return;
    }
    const total = store.traceSpanCount(traceId);
    if (total === undefined) {
      response.status(404).json({ error: `no trace with id ${traceId}` });
      return;
    }
    const spans = store.getSpans(traceId, { offset, limit });
    const next = offset + spans.length;
    response.json({
      traceId,
      offset,
      spanCount: total,
      spans,
      classes: Object.fromEntries(
        spans.map((span) => {
          return [span.spanId, clientClass(classifySpan(span))];
        }),
      ),
      ...(next < total && spans.length > 0 ? { nextOffset: next } : {}),
    });
  });

  router.use((_request, response) => {
    response.status(404).json({ error: 'no such API endpoint' });
  });

  return router;
}

/**
 * What the trace page's client reads of a span's class: its category, label,
 * target and the conventions' fields it shows. A query text can be
 * kilobytes: the span's attribute carries it, and the class only names that
 * attribute. What else the layout keeps on a class (the span's service and
 * kind, its batch part, failure and connection wait) the span carries or the
 * diagram draws.
 */
function clientClass(cls: SpanClass): Partial<SpanClass> {
  return {
    category: cls.category,
    label: cls.label,
    target: cls.target,
    method: cls.method,
    route: cls.route,
    statusCode: cls.statusCode,
    dbSystem: cls.dbSystem,
    dbNamespace: cls.dbNamespace,
    queryTextAttribute: cls.queryTextAttribute,
    destination: cls.destination,
  };
}
