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

/** GETs a JSON answer of the API; anything but 2xx becomes an {@link ApiError} with the server's message. */
export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
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

/** One trace with its model, analysis and Mermaid text. */
export async function getTrace(traceId: string, options: DiagramOptions): Promise<TraceResponse> {
  const data = await getJson<TraceResponse>(
    withSource(`/api/traces/${encodeURIComponent(traceId)}?${diagramQuery(options).toString()}`),
  );
  return { ...data, spans: data.spans.map(toClientSpan), summary: toClientSummary(data.summary) };
}
