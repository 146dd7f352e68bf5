/**
 * Two recorded runs (the test suite on the base commit and on the change)
 * compared endpoint by endpoint: service + method + route, or the root's
 * name where a request has no route (a consumer's queue and operation).
 */
import { analyzeTrace } from './analysis.js';
import { type DiffOptions, diffRequests, type FlowDiff, REGRESSIONS, type Regression } from './diff.js';
import { isRequestRoot, summarizeTrace } from './summary.js';
import type { Trace } from './trace.js';

/** An endpoint: the requests of one service to one route with one method. */
export interface Endpoint {
  readonly service: string;
  /** HTTP method, absent for a consumer. */
  readonly method?: string;
  /** Route template, else the root span's name. */
  readonly route: string;
}

/** One endpoint present in both runs. */
export interface EndpointDiff {
  readonly endpoint: Endpoint;
  /** Requests of the endpoint in each run. */
  readonly requests: { readonly before: number; readonly after: number };
  readonly diff: FlowDiff;
  /** The representative request of the `after` run, to draw. */
  readonly after: Trace;
}

/**
 * An endpoint requested only in the new run. Nothing to compare it with, so
 * what it brings on its own counts: an N+1 loop or a failed call in any of
 * its requests is a regression of the change.
 */
export interface NewEndpoint {
  readonly endpoint: Endpoint;
  /** Requests of the endpoint in the new run. */
  readonly requests: number;
  /** `n-plus-one` and `new-error`, as found in its requests. */
  readonly regressions: readonly Regression[];
  /** What was found, one line each: `SELECT comments 5× in a row on postgresql test`, `SELECT: relation "x" does not exist`. */
  readonly findings: readonly string[];
  /** The request to draw: the first with a finding, else the first. */
  readonly after: Trace;
}

/** How two runs differ. */
export interface RunDiff {
  /** Endpoints of both runs, changed ones first, then by name. */
  readonly endpoints: readonly EndpointDiff[];
  /** Endpoints requested only in the `before` run, and only in the `after` run. */
  readonly onlyBefore: readonly Endpoint[];
  readonly onlyAfter: readonly Endpoint[];
  /** The endpoints of `onlyAfter`, with what their requests bring (same order). */
  readonly newEndpoints: readonly NewEndpoint[];
  /** Requests compared in each run (background work left out). A base run without one compares nothing. */
  readonly requests: { readonly before: number; readonly after: number };
  /** Regressions of every endpoint (new ones included), each once, in `REGRESSIONS` order. */
  readonly regressions: readonly Regression[];
}

/** `GET /articles/:id on blog-api`. */
export function endpointName(endpoint: Endpoint): string {
  return `${endpoint.method !== undefined ? `${endpoint.method} ` : ''}${endpoint.route} on ${endpoint.service}`;
}

/**
 * Compares two runs endpoint by endpoint. Background work (traces whose
 * root is not a server or consumer span) is left out: it belongs to no endpoint.
 *
 * @example
 * ```ts
 * const runs = diffRuns(baseTraces, headTraces);
 * runs.endpoints.filter((e) => !e.diff.same).map((e) => endpointName(e.endpoint));
 * ```
 */
export function diffRuns(before: readonly Trace[], after: readonly Trace[], options: DiffOptions = {}): RunDiff {
  const a = byEndpoint(before);
  const b = byEndpoint(after);
  const endpoints: EndpointDiff[] = [];
  const onlyBefore: Endpoint[] = [];
  const onlyAfter: Endpoint[] = [];
  for (const [key, group] of a) {
    const other = b.get(key);
    if (other === undefined) {
      onlyBefore.push(group.endpoint);
      continue;
    }
    const diff = diffRequests(group.traces, other.traces, options);
    const shown = other.traces.find((t) => t.traceId === diff.afterTraceId) ?? (other.traces[0] as Trace);
    endpoints.push({
      endpoint: group.endpoint,
      requests: { before: group.traces.length, after: other.traces.length },
      diff,
      after: shown,
    });
  }
  const newEndpoints: NewEndpoint[] = [];
  for (const [key, group] of b) {
    if (a.has(key)) continue;
    onlyAfter.push(group.endpoint);
    newEndpoints.push(newEndpoint(group.endpoint, group.traces));
  }
  endpoints.sort(
    (x, y) =>
      Number(x.diff.same) - Number(y.diff.same) || endpointName(x.endpoint).localeCompare(endpointName(y.endpoint)),
  );
  const byName = (x: Endpoint, y: Endpoint) => endpointName(x).localeCompare(endpointName(y));
  onlyBefore.sort(byName);
  onlyAfter.sort(byName);
  newEndpoints.sort((x, y) => byName(x.endpoint, y.endpoint));
  const found = new Set([
    ...endpoints.flatMap((e) => e.diff.regressions),
    ...newEndpoints.flatMap((e) => e.regressions),
  ]);
  const count = (groups: Map<string, { traces: Trace[] }>) =>
    [...groups.values()].reduce((n, g) => n + g.traces.length, 0);
  return {
    endpoints,
    onlyBefore,
    onlyAfter,
    newEndpoints,
    requests: { before: count(a), after: count(b) },
    regressions: REGRESSIONS.filter((r) => found.has(r)),
  };
}

function newEndpoint(endpoint: Endpoint, traces: readonly Trace[]): NewEndpoint {
  const found = new Set<Regression>();
  const findings = new Set<string>();
  let shown: Trace | undefined;
  for (const trace of traces) {
    const analysis = analyzeTrace(trace);
    for (const group of analysis.nPlusOne) {
      found.add('n-plus-one');
      findings.add(`N+1: ${group.label} ${group.count}× in a row on ${group.target}`);
    }
    for (const error of analysis.errors) {
      found.add('new-error');
      findings.add(`error: ${error.name}${error.message !== '' ? `: ${error.message}` : ''}`);
    }
    if (shown === undefined && (analysis.nPlusOne.length > 0 || analysis.errors.length > 0)) shown = trace;
  }
  return {
    endpoint,
    requests: traces.length,
    regressions: REGRESSIONS.filter((r) => found.has(r)),
    findings: [...findings],
    after: shown ?? (traces[0] as Trace),
  };
}

function byEndpoint(traces: readonly Trace[]): Map<string, { endpoint: Endpoint; traces: Trace[] }> {
  const groups = new Map<string, { endpoint: Endpoint; traces: Trace[] }>();
  for (const trace of traces) {
    const summary = summarizeTrace(trace);
    if (!isRequestRoot(summary)) continue;
    const endpoint: Endpoint = {
      service: summary.rootService,
      ...(summary.method !== undefined ? { method: summary.method } : {}),
      route: summary.route ?? withoutMethod(summary.rootName, summary.method),
    };
    // Fields joined with a character no service, method or route contains.
    const key = [endpoint.service, endpoint.method ?? '', endpoint.route].join('\u0000');
    const group = groups.get(key);
    if (group) group.traces.push(trace);
    else groups.set(key, { endpoint, traces: [trace] });
  }
  return groups;
}

/**
 * A root without a route template is named as `lifeline list` names it
 * (`GET /added`); the method is a field of its own, so it is not repeated
 * in the route.
 */
function withoutMethod(rootName: string, method: string | undefined): string {
  return method !== undefined && rootName.startsWith(`${method} `) ? rootName.slice(method.length + 1) : rootName;
}
