/**
 * Response headers that lead from a response to its trace: a browser's
 * network panel, curl -i or a test's assertion shows the trace id and a link
 * to the diagram.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, type SpanContext, trace } from '@opentelemetry/api';
import { getRPCMetadata } from '@opentelemetry/core';
import { defaultViewerUrl } from './config.js';
import { currentConfig } from './start.js';

/** Options of {@link lifelineMiddleware} and {@link withLifelineHeaders}. */
export interface LifelineHeadersOptions {
  /** Base URL of the viewer for the `Link` header; else the running recorder's, else `http://127.0.0.1:4242`. */
  readonly viewerUrl?: string;
}

/** A request handler in the shape of node:http's `request` event listener. */
export type RequestListener<
  Req extends IncomingMessage = IncomingMessage,
  Res extends ServerResponse = ServerResponse,
> = (request: Req, response: Res) => void;

/**
 * The span that stands for this request: the HTTP server span the http
 * instrumentation put in the request's context, even when a framework's own
 * span (an express route handler) is the active one.
 */
function requestSpanContext(): SpanContext | undefined {
  const active = context.active();
  const serverSpan = getRPCMetadata(active)?.span ?? trace.getSpan(active);
  const spanContext = serverSpan?.spanContext();
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * The headers that point at the trace of the current request, or an empty
 * object outside a traced request.
 *
 * - `traceresponse: 00-<trace-id>-<span-id>-<flags>` (W3C Trace Context, Level 2)
 * - `Server-Timing: traceparent;desc="00-…"`, which browsers expose to scripts
 * - `X-Lifeline-Trace: <trace-id>`
 * - `Link: <viewer/traces/<trace-id>>; rel="lifeline"`
 *
 * @example
 * ```ts
 * for (const [name, value] of Object.entries(lifelineHeaders())) response.setHeader(name, value);
 * ```
 */
export function lifelineHeaders(options: LifelineHeadersOptions = {}): Record<string, string> {
  const spanContext = requestSpanContext();
  if (spanContext === undefined) return {};
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const viewerUrl = (options.viewerUrl ?? currentConfig()?.viewerUrl ?? defaultViewerUrl).replace(/\/+$/, '');
  return {
    traceresponse: traceparent,
    'Server-Timing': `traceparent;desc="${traceparent}"`,
    'X-Lifeline-Trace': spanContext.traceId,
    Link: `<${viewerUrl}/traces/${spanContext.traceId}>; rel="lifeline"`,
  };
}

function setHeaders(response: ServerResponse, headers: Record<string, string>): void {
  if (response.headersSent) return;
  for (const [name, value] of Object.entries(headers)) {
    if (name === 'Server-Timing' || name === 'Link') {
      // Both headers are lists: keep what the app or a proxy already put there.
      const existing = response.getHeader(name);
      const values = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
      response.setHeader(name, [...values, value]);
    } else {
      response.setHeader(name, value);
    }
  }
}

/**
 * Express middleware that adds the trace headers ({@link lifelineHeaders}) to
 * every response. Mount it first so that even an early error response has
 * them.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { lifelineMiddleware } from '@lifeline/node';
 * const app = express();
 * app.use(lifelineMiddleware());
 * ```
 */
export function lifelineMiddleware(
  options: LifelineHeadersOptions = {},
): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
  return (_request, response, next) => {
    setHeaders(response, lifelineHeaders(options));
    next();
  };
}

/**
 * Wraps a plain node:http request listener so every response carries the
 * trace headers ({@link lifelineHeaders}).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { withLifelineHeaders } from '@lifeline/node';
 * createServer(withLifelineHeaders((request, response) => response.end('ok'))).listen(3000);
 * ```
 */
export function withLifelineHeaders<Req extends IncomingMessage, Res extends ServerResponse>(
  listener: RequestListener<Req, Res>,
  options: LifelineHeadersOptions = {},
): RequestListener<Req, Res> {
  return (request, response) => {
    setHeaders(response, lifelineHeaders(options));
    listener(request, response);
  };
}
