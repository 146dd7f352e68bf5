/**
 * The rest of a trace larger than the server draws at once: its spans read
 * a page at a time from `GET /api/traces/:id/spans`, then drawn and
 * analyzed again in a worker (`redraw-worker.ts`), so the page keeps
 * answering while tens of thousands of spans are laid out.
 */
import type { SequenceModel, TraceAnalysis } from '@lifeline/core';
import type { DiagramOptions } from './api.js';
import { getJson } from './api.js';
import { withSource } from './source.js';
import type { SentSpanClass } from './types.js';

/** Spans one API page holds at most (the server's MAX_TRACE_SPANS). */
export const SPANS_PAGE = 10_000;
/**
 * Most spans the page loads in all: past this a browser tab holds hundreds
 * of megabytes, and `lifeline export <id> --format json` is the better tool.
 */
export const MAX_LOADED_SPANS = 50_000;

/** What the page asks the worker. */
export interface RedrawRequest {
  readonly traceId: string;
  /** Spans as the API sent them (exact times as decimal strings). */
  readonly spans: readonly unknown[];
  readonly options: DiagramOptions;
}

/** What the worker answers: the parts of a trace answer drawn from the spans it was given. */
export type RedrawReply =
  | {
      readonly ok: true;
      readonly analyzedSpans: number;
      /** A trace summary as the API sends it (exact times as decimal strings). */
      readonly summary: unknown;
      readonly analysis: TraceAnalysis;
      readonly sequence: { readonly mermaid: string; readonly folded: boolean; readonly model: SequenceModel };
    }
  | { readonly ok: false; readonly message: string };

/** One page of `GET /api/traces/:id/spans`. */
export interface SpanPage {
  readonly spans: unknown[];
  readonly classes: Record<string, SentSpanClass>;
  readonly spanCount: number;
  readonly nextOffset?: number;
}

/** Reads the page of spans starting at `offset`. */
export function getSpanPage(traceId: string, offset: number, limit = SPANS_PAGE): Promise<SpanPage> {
  const query = new URLSearchParams({ offset: String(offset), limit: String(limit) });
  return getJson<SpanPage>(withSource(`/api/traces/${encodeURIComponent(traceId)}/spans?${query.toString()}`));
}

/**
 * Draws and analyzes `spans` in a worker started for this one job.
 *
 * @throws Error with the worker's message when drawing failed, or when the worker could not start.
 */
export function redrawInWorker(request: RedrawRequest): Promise<Extract<RedrawReply, { ok: true }>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker('/assets/redraw-worker.js', { type: 'module', name: 'lifeline-redraw' });
    worker.addEventListener('message', (event: MessageEvent<RedrawReply>) => {
      worker.terminate();
      if (event.data.ok) resolve(event.data);
      else reject(new Error(event.data.message));
    });
    worker.addEventListener('error', (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the drawing worker failed'));
    });
    worker.postMessage(request);
  });
}
