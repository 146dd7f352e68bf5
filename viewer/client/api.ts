/**
 * Calls to the viewer's JSON API. The page is served by the same server, so
 * relative URLs and same-origin credentials (the token cookie, when a token
 * is required) are all it takes.
 */
import { withSource } from './source.js';
import { type TraceResponse, type TraceSummary, toClientSpan, toClientSummary } from './types.js';

/** An API answer other than 2xx, with the server's explanation. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function request(url: string): Promise<Response> {
  return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
}

/** Requests started before the page's code had loaded (see {@link prefetchTracePage}), by URL; each is used once. */
const early = new Map<string, Promise<Response>>();

/** GETs a JSON answer of the API; anything but 2xx becomes an {@link ApiError} with the server's message. */
export async function getJson<T>(url: string): Promise<T> {
  const pending = early.get(url);
  early.delete(url);
  const response = await (pending ?? request(url));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: string };
      if (typeof body.error === 'string') message = body.error;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  return (await response.json()) as T;
}

/** One page of the request list. */
export async function listTraces(
  params: URLSearchParams,
): Promise<{ items: TraceSummary[]; nextCursor?: string; stoppedAfterTraces?: number }> {
  const page = await getJson<{ items: unknown[]; nextCursor?: string; stoppedAfterTraces?: number }>(
    withSource(`/api/traces?${params.toString()}`),
  );
  return { ...page, items: page.items.map(toClientSummary) };
}

/** Diagram options of the trace page. */
export interface DiagramOptions {
  timings: boolean;
  internal: boolean;
  loops: boolean;
  /** Mermaid participant shapes in the diagram and its exports (needs Mermaid 11.13+ wherever it is pasted). */
  shapes: boolean;
}

/** Query string for diagram options, in the API's 0/1 form. */
export function diagramQuery(options: DiagramOptions): URLSearchParams {
  return new URLSearchParams({
    timings: options.timings ? '1' : '0',
    internal: options.internal ? '1' : '0',
    loops: options.loops ? '1' : '0',
    shapes: options.shapes ? '1' : '0',
  });
}

/** Diagram options as a trace page's query gives them, with the defaults for what it leaves out. */
export function diagramOptionsFrom(search: string): DiagramOptions {
  const params = new URLSearchParams(search);
  const flag = (name: string, fallback: boolean): boolean => {
    const value = params.get(name);
    return value === null ? fallback : value === '1' || value === 'true';
  };
  return {
    timings: flag('timings', true),
    internal: flag('internal', false),
    loops: flag('loops', true),
    shapes: flag('shapes', false),
  };
}

function traceUrl(traceId: string, options: DiagramOptions): string {
  return withSource(`/api/traces/${encodeURIComponent(traceId)}?${diagramQuery(options).toString()}`);
}

/** The trace id of a trace page's path (`/traces/:id`), or undefined for another page. */
export function tracePageId(pathname: string): string | undefined {
  const match = /^\/traces\/([^/]+)\/?$/.exec(pathname);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

/**
 * On a trace page, starts the request for its trace at once: the small
 * preload script calls this while the main bundle, Mermaid included, is
 * still loading, so the answer is there (or on its way) when the page asks
 * for it instead of being fetched only after the bundle ran.
 */
export function prefetchTracePage(): void {
  const traceId = tracePageId(location.pathname);
  if (traceId === undefined) return;
  const url = traceUrl(traceId, diagramOptionsFrom(location.search));
  early.set(url, request(url));
}

/**
 * One trace with its model, analysis and Mermaid text; `wireSpans` keeps the
 * spans as sent (exact times as decimal strings) for drawing them again with
 * the rest of a truncated trace.
 */
export async function getTrace(
  traceId: string,
  options: DiagramOptions,
): Promise<TraceResponse & { readonly wireSpans: readonly unknown[] }> {
  const data = await getJson<TraceResponse>(traceUrl(traceId, options));
  return {
    ...data,
    wireSpans: data.spans,
    spans: data.spans.map(toClientSpan),
    summary: toClientSummary(data.summary),
  };
}
