/**
 * The HTTP client instrumentations (fetch through undici, and node:http),
 * configured so that a call's span tells how the call ended when no response
 * came (aborted, timed out, reset, refused) and still ends when the caller
 * never reads the response body. The span processor in call-endings.ts
 * applies what these hooks record.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Span as ApiSpan } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { Span } from '@opentelemetry/sdk-trace';
import { type HttpCallOutcome, httpOutcomes, trackOpenResponse } from './call-endings.js';

function outcomeOf(span: ApiSpan): HttpCallOutcome {
  const key = span as Span;
  let outcome = httpOutcomes.get(key);
  if (outcome === undefined) {
    outcome = {};
    httpOutcomes.set(key, outcome);
  }
  return outcome;
}

/** undici's request objects, as its diagnostics channels publish them, to the client span of each. */
const undiciSpans = new WeakMap<object, ApiSpan>();
let undiciErrorsHeard = false;

/**
 * The error of a failed undici request, heard before the instrumentation ends
 * the span: diagnostics channel subscribers run in the order they subscribed,
 * so this must subscribe before the instrumentation is constructed (which
 * enables it). The instrumentation ends an aborted request without recording
 * the error at all.
 */
function hearUndiciErrors(): void {
  if (undiciErrorsHeard) return;
  undiciErrorsHeard = true;
  subscribe('undici:request:error', (message) => {
    const { request, error } = message as { request: object; error: unknown };
    const span = undiciSpans.get(request);
    if (span !== undefined) outcomeOf(span).error = error;
  });
}

/**
 * `@opentelemetry/instrumentation-undici` for fetch, whose spans record the
 * failure of a call that got no response and end when the response headers
 * arrived if the body is never read while the caller's span is open.
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createUndiciInstrumentation()] });
 * ```
 */
export function createUndiciInstrumentation(): UndiciInstrumentation {
  hearUndiciErrors();
  return new UndiciInstrumentation({
    requestHook: (span, request) => {
      undiciSpans.set(request, span);
    },
    responseHook: (span) => {
      if (span.isRecording()) trackOpenResponse({ span: span as Span, headersAt: performance.now() });
    },
  });
}

/**
 * `@opentelemetry/instrumentation-http` whose client spans say why a call got
 * no response (`error.type` `ECONNRESET`, `ECONNREFUSED`, or `TimeoutError`
 * when the request's socket timeout fired) and end when the response headers
 * arrived if the caller never reads the body while its span is open.
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createHttpInstrumentation()] });
 * ```
 */
export function createHttpInstrumentation(): HttpInstrumentation {
  return new HttpInstrumentation({
    requestHook: (span, request) => {
      // Server spans get the IncomingMessage. (node:http is not imported
      // here for instanceof: it must load only once the instrumentation's
      // hooks are in place.)
      if (typeof (request as Partial<ClientRequest>).getHeader !== 'function') return;
      // A listener does not change what a timeout does: the app decides
      // (usually by destroying the request, which fails it as a reset).
      const sent = performance.now();
      request.once('timeout', () => {
        // `timeout` is set when the request was made with that option;
        // `setTimeout()` on the request sets only its socket's.
        const client = request as ClientRequest & { timeout?: number };
        const configured = client.timeout ?? client.socket?.timeout;
        outcomeOf(span).timedOutAfterMs = configured ?? Math.round(performance.now() - sent);
      });
    },
    responseHook: (span, response) => {
      // Client spans get the IncomingMessage of the response (it knows its
      // request), server spans their ServerResponse.
      if ((response as IncomingMessage & { req?: unknown }).req === undefined) return;
      if (span.isRecording()) trackOpenResponse({ span: span as Span, headersAt: performance.now() });
    },
  });
}
