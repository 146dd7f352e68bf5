/**
 * Server spans end when the response was sent, not when Node next looked.
 *
 * `@opentelemetry/instrumentation-http` ends a server span from the
 * response's `finish`/`close` events. Those run only when the event loop is
 * free: a handler that answers (`res.end()`, which express's `res.send()` and
 * `res.json()` call) and then keeps the thread busy — synchronous work, a
 * long loop before its next `await` — holds the events back, and the span's
 * end moves past work the caller never waited for. The list then shows that
 * work as the request's duration, and the diagram draws calls made after the
 * answer before it.
 *
 * Here the moment `end()` returns is kept when, by then, the response had
 * been handed to the socket whole (Node writes it to the kernel's buffer at
 * once when the socket can take it: the caller has it whatever the handler
 * does next), and the instrumentation's end is moved back to it. A response
 * still queued in the process when `end()` returns (a large body to a slow
 * reader) keeps the instrumentation's end: the caller was still receiving it.
 */
import type { ServerResponse } from 'node:http';
import type { TimeInput } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';

/**
 * Makes `span` end when `response` was sent (see the module comment): an
 * `end()` without a time, as the instrumentation calls it, uses the moment
 * `response.end()` returned with nothing left queued; an `end(time)` keeps
 * its time. Must be called before the response ends (the instrumentation's
 * response hook runs first).
 */
export function endWhenResponseSent(span: Span, response: ServerResponse): void {
  const endResponse = response.end;
  let sentAt: number | undefined;
  response.end = function endResponseAndNote(this: ServerResponse, ...args: unknown[]) {
    const result = Reflect.apply(endResponse, this, args) as ServerResponse;
    // Ended with nothing queued in the response or its socket: every byte went to the
    // kernel's buffer during the call. `writableFinished` is not the test: from Node 24 on
    // it turns true only once the socket's write callback ran, a turn of the event loop
    // later, which is the very wait this module removes.
    if (sentAt === undefined && this.writableEnded && this.writableLength === 0) sentAt = performance.now();
    return result;
  } as ServerResponse['end'];
  const end = span.end;
  span.end = function endAtSent(this: Span, endTime?: TimeInput) {
    Reflect.apply(end, this, [endTime ?? sentAt]);
  };
}
