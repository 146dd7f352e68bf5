/**
 * Server spans whose caller disconnected before the response.
 *
 * `@opentelemetry/instrumentation-http` ends a server span when the
 * response's `close` event fires. When the caller disconnects first (a client
 * timeout, a user who navigated away), that is the disconnect, not the end of
 * the handler: the handler's later queries and calls then start after their
 * request ended, and the diagram drew them after a response that was never
 * sent. Here the disconnect is recorded as a {@link CALLER_DISCONNECTED_EVENT}
 * event at the moment it happened, and the span ends when the handler really
 * finished: when it ended the response (`res.end()`, which express's
 * `res.json()` and `res.send()` call). A handler that never ends its
 * response has its span ended at the disconnect after
 * {@link UNFINISHED_HANDLER_MS}, as the instrumentation would have.
 */
import type { ServerResponse } from 'node:http';
import { CALLER_DISCONNECTED_EVENT } from '@lifeline/core';
import type { TimeInput } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';

/**
 * How long (ms) a handler whose caller disconnected has to end its response
 * before its span is ended at the disconnect anyway: a span never ended is
 * never exported, and neither is the rest of its trace's picture.
 */
const UNFINISHED_HANDLER_MS = 30_000;

/**
 * Follows a server span's response: when its caller disconnects before the
 * response was sent in full, records the moment on the span and holds the
 * span's end until the handler ends the response (or, failing that, for
 * `options.unfinishedHandlerMs`, {@link UNFINISHED_HANDLER_MS} by default).
 * Must be called before the instrumentation listens for the response's
 * `close` (its response hook runs first), so that its end is held by then.
 */
export function followCallerDisconnect(
  span: Span,
  response: ServerResponse,
  options: { readonly unfinishedHandlerMs?: number } = {},
): void {
  const unfinishedHandlerMs = options.unfinishedHandlerMs ?? UNFINISHED_HANDLER_MS;
  response.once('close', () => {
    // Sent in full, or at least handed over whole: the handler was done.
    if (response.writableFinished || response.writableEnded || span.ended) return;
    const disconnectedAt = performance.now();
    span.addEvent(CALLER_DISCONNECTED_EVENT, disconnectedAt);
    const end = span.end;
    const endResponse = response.end;
    let endAsked = false;
    const finish = (at?: TimeInput): void => {
      clearTimeout(timer);
      span.end = end;
      response.end = endResponse;
      // The status the handler settled on, which the instrumentation read at the disconnect.
      span.setAttribute('http.response.status_code', response.statusCode);
      if (endAsked) span.end(at);
    };
    span.end = function heldEnd() {
      endAsked = true;
    };
    response.end = function endAfterDisconnect(this: ServerResponse, ...args: unknown[]) {
      const result = Reflect.apply(endResponse, this, args) as ServerResponse;
      finish();
      return result;
    } as ServerResponse['end'];
    const timer = setTimeout(() => finish(disconnectedAt), unfinishedHandlerMs);
    timer.unref();
  });
}
