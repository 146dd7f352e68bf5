/**
 * `GET /api/compare?before=ID&after=ID`: two requests compared on their
 * flows (core's diffTraces), with the `after` request drawn with its changes
 * highlighted. `after=latest` compares with the newest other request of the
 * same endpoint (service, method and route).
 */
import {
  diffToMermaid,
  diffTraces,
  joinLinkedTraces,
  summarizeTrace,
  type Trace,
  type TraceSummary,
} from '@lifeline/core';
import type { SpanStore } from '@lifeline/store';
import { Router } from 'express';
import { sendBadParameter } from './api.js';
import { badParameter, parseTraceId, rejectUnknown, textParam } from './params.js';

/** Options of {@link compareRouter}. */
export interface CompareRouterOptions {
  readonly store: SpanStore;
}

function read(store: SpanStore, traceId: string): Trace | undefined {
  const trace = store.getTrace(traceId, { linked: true });
  if (trace === undefined) return undefined;
  const joined = joinLinkedTraces(trace);
  return joined.spans.length > 0 ? joined : undefined;
}

/** The newest request of the same endpoint as `summary`, other than it. */
function latestOfEndpoint(store: SpanStore, summary: TraceSummary): string | undefined {
  const page = store.listTraces(
    {
      service: summary.rootService,
      ...(summary.method !== undefined ? { method: summary.method } : {}),
      route: summary.route ?? summary.rootName,
      work: 'requests',
    },
    { limit: 20 },
  );
  return page.items.find(
    (item) =>
      item.traceId !== summary.traceId &&
      item.rootService === summary.rootService &&
      item.method === summary.method &&
      (item.route ?? item.rootName) === (summary.route ?? summary.rootName),
  )?.traceId;
}

/** Builds the router serving `/compare` under `/api`. */
export function compareRouter(options: CompareRouterOptions): Router {
  const { store } = options;
  const router = Router();
  router.get('/compare', (request, response) => {
    let beforeId: string;
    let afterParam: string;
    try {
      rejectUnknown(request.query, ['before', 'after']);
      const before = textParam(request.query, 'before');
      const after = textParam(request.query, 'after') ?? 'latest';
      if (before === undefined) throw badParameter('before', 'before (a trace id) is required');
      beforeId = parseTraceIdParam('before', before);
      afterParam = after === 'latest' ? after : parseTraceIdParam('after', after);
    } catch (error) {
      sendBadParameter(response, error);
      return;
    }
    const before = read(store, beforeId);
    if (before === undefined) {
      response.status(404).json({ error: `no trace with id ${beforeId}` });
      return;
    }
    const beforeSummary = summarizeTrace(before);
    const afterId = afterParam === 'latest' ? latestOfEndpoint(store, beforeSummary) : afterParam;
    if (afterId === undefined) {
      response.status(404).json({ error: 'no other request of the same endpoint to compare with' });
      return;
    }
    const after = read(store, afterId);
    if (after === undefined) {
      response.status(404).json({ error: `no trace with id ${afterId}` });
      return;
    }
    const diff = diffTraces(before, after);
    response.json({
      before: beforeSummary,
      after: summarizeTrace(after),
      diff,
      mermaid: diffToMermaid(after, diff).text,
    });
  });
  return router;
}

function parseTraceIdParam(name: string, value: string): string {
  try {
    return parseTraceId(value);
  } catch {
    throw badParameter(name, `${name} must be a trace id of 32 hexadecimal characters`);
  }
}
