/**
 * The JSON API: the request list, one trace with everything the trace page
 * draws, the Mermaid text, and a health probe.
 */
import { analyzeTrace, classifySpan, joinLinkedTraces, summarizeTrace, traceToMermaid } from '@lifeline/core';
import { type SpanStore, StoreError } from '@lifeline/store';
import type { Request, Response } from 'express';
import { Router } from 'express';
import { HttpError } from './http-error.js';
import { parseDiagramQuery, parseListQuery, parseTraceId, rejectUnknown } from './params.js';

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
    response.json({
      status: 'ok',
      version: options.version,
      traces: stats.traces,
      spans: stats.spans,
      droppedSpans: stats.droppedSpans,
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
    response.json({ items: page.items, ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) });
  });

  /**
   * The trace named in the path, drawn with the diagram options of the query
   * string; undefined once the response has been sent (a bad parameter, or no
   * such trace).
   */
  const drawRequested = (request: Request<{ id: string }>, response: Response) => {
    let traceId: string;
    let diagram: ReturnType<typeof parseDiagramQuery>;
    try {
      traceId = parseTraceId(request.params.id);
      diagram = parseDiagramQuery(request.query);
    } catch (error) {
      sendBadParameter(response, error);
      return undefined;
    }
    const read = store.getTrace(traceId, { linked: true });
    // Of the linked traces, the spans this trace's picture draws (its own, and
    // the processing of the messages it published), and no others.
    const trace = read === undefined ? undefined : joinLinkedTraces(read);
    if (trace === undefined || trace.spans.length === 0) {
      response.status(404).json({ error: `no trace with id ${traceId}` });
      return undefined;
    }
    const sequence = traceToMermaid(trace, {
      timings: diagram.timings,
      internal: diagram.internal,
      foldLoops: diagram.foldLoops,
      participantShapes: diagram.participantShapes,
    });
    return { traceId, trace, sequence };
  };

  router.get('/traces/:id', (request, response) => {
    const drawn = drawRequested(request, response);
    if (drawn === undefined) return;
    const { traceId, trace, sequence } = drawn;
    response.json({
      traceId,
      spans: trace.spans,
      summary: summarizeTrace(trace),
      analysis: analyzeTrace(trace),
      // The client colours and labels spans like the diagram does without bundling the classifier.
      // A query text can be kilobytes: the span's attribute carries it, the class only names that attribute.
      classes: Object.fromEntries(
        trace.spans.map((span) => {
          const { queryText: _sentWithTheSpan, ...cls } = classifySpan(span);
          return [span.spanId, cls];
        }),
      ),
      sequence: { mermaid: sequence.text, folded: sequence.folded, model: sequence.model },
    });
  });

  router.get('/traces/:id/mermaid', (request, response) => {
    const drawn = drawRequested(request, response);
    if (drawn !== undefined) response.type('text/plain; charset=utf-8').send(drawn.sequence.text);
  });

  router.use((_request, response) => {
    response.status(404).json({ error: 'no such API endpoint' });
  });

  return router;
}
