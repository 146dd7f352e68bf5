/**
 * The endpoint API: the endpoint list (requests grouped by service and what
 * was asked for, with their figures) and one endpoint's typical flow.
 */
import {
  type EndpointOrder,
  type EndpointStats,
  endpointFlow,
  endpointOrders,
  joinLinkedTraces,
  sortEndpoints,
  type Trace,
} from '@lifeline/core';
import type { EndpointFilter, SpanStore } from '@lifeline/store';
import { Router } from 'express';
import { sendBadParameter } from './api.js';
import { badParameter, rejectUnknown } from './params.js';

/** Requests read to find an endpoint's shapes: the newest ones. */
const FLOW_REQUESTS = 200;

type Query = Record<string, unknown>;

function text(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badParameter(name, `${name} must be given once, as text`);
  return value;
}

function nanoseconds(query: Query, name: string): number | undefined {
  const value = text(query, name);
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,20}$/.test(value)) throw badParameter(name, `${name} must be a time in ns since the epoch`);
  return Number(value);
}

function windowFilter(query: Query): EndpointFilter {
  const since = nanoseconds(query, 'since');
  const until = nanoseconds(query, 'until');
  const service = text(query, 'service');
  return {
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(service !== undefined && service !== '' ? { service } : {}),
  };
}

/** Builds the router mounted at `/api/endpoints`. */
export function endpointsRouter(options: { readonly store: SpanStore }): Router {
  const { store } = options;
  const router = Router();

  router.get('/endpoints', (request, response) => {
    let filter: EndpointFilter;
    let sort: EndpointOrder;
    try {
      rejectUnknown(request.query, ['since', 'until', 'service', 'sort']);
      filter = windowFilter(request.query);
      const wanted = text(request.query, 'sort') ?? 'p95';
      if (!endpointOrders.includes(wanted as EndpointOrder)) {
        throw badParameter('sort', `sort must be one of ${endpointOrders.join(', ')}`);
      }
      sort = wanted as EndpointOrder;
    } catch (error) {
      sendBadParameter(response, error);
      return;
    }
    response.json({ items: sortEndpoints(store.listEndpoints(filter), sort) });
  });

  router.get('/endpoints/flow', (request, response) => {
    let filter: EndpointFilter;
    let wanted: { service: string; kind: string; name: string };
    let timings: boolean;
    try {
      rejectUnknown(request.query, ['since', 'until', 'service', 'kind', 'name', 'timings']);
      filter = windowFilter(request.query);
      const service = text(request.query, 'service');
      const name = text(request.query, 'name');
      const kind = text(request.query, 'kind') ?? 'server';
      if (service === undefined || name === undefined) {
        throw badParameter(service === undefined ? 'service' : 'name', 'service and name name the endpoint');
      }
      if (kind !== 'server' && kind !== 'consumer') throw badParameter('kind', 'kind is server or consumer');
      const t = text(request.query, 'timings') ?? '0';
      if (t !== '0' && t !== '1') throw badParameter('timings', 'timings is 0 or 1');
      timings = t === '1';
      wanted = { service, kind, name };
    } catch (error) {
      sendBadParameter(response, error);
      return;
    }
    const endpoint = store
      .listEndpoints(filter)
      .find((e: EndpointStats) => e.service === wanted.service && e.kind === wanted.kind && e.name === wanted.name);
    if (endpoint === undefined) {
      response.status(404).json({ error: `no requests of ${wanted.name} on ${wanted.service}` });
      return;
    }
    const traces: Trace[] = [];
    for (const id of store.endpointTraceIds(endpoint, { ...filter, limit: FLOW_REQUESTS })) {
      const read = store.getTrace(id, { linked: true });
      const trace = read === undefined ? undefined : joinLinkedTraces(read);
      if (trace !== undefined && trace.spans.length > 0) traces.push(trace);
    }
    if (traces.length === 0) {
      response.status(404).json({ error: `the requests of ${wanted.name} on ${wanted.service} could not be read` });
      return;
    }
    response.json({ endpoint, flow: endpointFlow(traces, { timings }) });
  });

  return router;
}
