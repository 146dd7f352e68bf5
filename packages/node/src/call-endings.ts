/**
 * What the instrumentations leave unsaid about how a call ended, filled in
 * while its span is still open: the time a database call waited for a pooled
 * connection, why an HTTP client call got no response, and the end of a fetch
 * whose response body was never read. The instrumentations hand Lifeline
 * their spans through the context (see {@link withStartedSpan}) or their
 * hooks; the {@link CallEndingSpanProcessor} applies what was learnt.
 */
import { type Context, context, createContextKey, type HrTime, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { addHrTimes, isTimeInputHrTime, millisToHrTime } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/**
 * Attribute: seconds a database call waited for a connection from its
 * client's pool (the pool had no idle connection). Named after the
 * OpenTelemetry semantic conventions' `db.client.connection.wait_time`
 * metric ("the time it took to obtain an open connection from the pool",
 * unit `s`); set only on the first call made with that connection.
 */
export const CONNECTION_WAIT_TIME = 'db.client.connection.wait_time';

/**
 * Attribute: `true` on an HTTP client span whose response headers arrived but
 * whose body was not read to its end before the calling span ended. The span
 * then ends when the headers arrived.
 */
export const BODY_UNREAD = 'lifeline.http.response.body_unread';

const startedSpanKey = createContextKey('lifeline.started-span');
const connectionWaitKey = createContextKey('lifeline.connection-wait');

interface StartedSpanBox {
  span?: Span;
}

interface ConnectionWait {
  readonly seconds: number;
  taken: boolean;
}

/**
 * Runs `fn` and returns what it returned together with the first span an
 * instrumentation started while it ran (synchronously): the way Lifeline gets
 * hold of a span an instrumentation starts but never ends.
 *
 * @example
 * ```ts
 * const { result, span } = withStartedSpan(() => original.apply(client, args));
 * ```
 */
export function withStartedSpan<T>(fn: () => T): { result: T; span: Span | undefined } {
  const box: StartedSpanBox = {};
  const result = context.with(context.active().setValue(startedSpanKey, box), fn);
  // Callbacks bound inside fn keep the box: later spans must not fill it.
  const span = box.span;
  box.span = undefined;
  return { result, span };
}

/**
 * The caller's context, telling the first database call started in it that it
 * waited `seconds` for its pooled connection.
 */
export function withConnectionWait(caller: Context, seconds: number): Context {
  const wait: ConnectionWait = { seconds, taken: false };
  return caller.setValue(connectionWaitKey, wait);
}

/** The SDK span's clock (see precise-start.ts): its start, and the `performance.now()` reading it ends from. */
interface SpanClock {
  startTime: HrTime;
  _performanceStartTime: number;
}

/**
 * Moves the start of an open span to now, for a call that waited in its
 * client's queue before it was sent, and adds that wait (seconds) to its
 * {@link CONNECTION_WAIT_TIME}. The span's end is measured from the new start
 * as before. Leaves spans of another SDK as they are.
 */
export function startLater(span: Span): void {
  const clock = span as unknown as Partial<SpanClock>;
  if (typeof clock._performanceStartTime !== 'number' || !isTimeInputHrTime(clock.startTime)) return;
  if (!span.isRecording()) return;
  const now = performance.now();
  const waitedMs = now - clock._performanceStartTime;
  if (waitedMs <= 0) return;
  clock.startTime = addHrTimes(clock.startTime, millisToHrTime(waitedMs));
  clock._performanceStartTime = now;
  const earlier = span.attributes[CONNECTION_WAIT_TIME];
  span.setAttribute(CONNECTION_WAIT_TIME, (typeof earlier === 'number' ? earlier : 0) + waitedMs / 1000);
}

/** What the HTTP client instrumentations reported about a call before its span ended. */
export interface HttpCallOutcome {
  /** The error the client library reported, if the call failed. */
  error?: unknown;
  /** The request's socket timeout (ms), when its `timeout` event fired. */
  timedOutAfterMs?: number;
  /**
   * The node:http response, once its headers came: whether its body came to
   * its end (`complete`) and the error it was destroyed with (`errored`: the
   * connection closed mid-body).
   */
  response?: { readonly complete?: boolean; readonly errored?: unknown };
}

/** Per client span, what the HTTP hooks learnt; read when the span ends. */
export const httpOutcomes = new WeakMap<Span, HttpCallOutcome>();

/** An HTTP client call whose response headers arrived and whose span is still open. */
export interface OpenResponse {
  readonly span: Span;
  /** `performance.now()` when the headers arrived. */
  readonly headersAt: number;
}

const openResponsesByParent = new Map<string, Map<Span, OpenResponse>>();
/** Ids of the spans started and not ended yet in this process. */
const openSpans = new Map<string, Span>();
const parentOfOpen = new WeakMap<Span, string>();

/**
 * Registers a response whose body is still being read: should its caller's
 * span end first, the call's span ends at `headersAt` with {@link BODY_UNREAD}.
 * Its instrumentation may still try to end it once the body is read or
 * dropped; that second `end()` is then ignored.
 */
export function trackOpenResponse(open: OpenResponse): void {
  const parentId = open.span.parentSpanContext?.spanId;
  // A caller that ended before the headers came (or lives in another
  // process) will not end again: the instrumentation ends the call when the
  // body is read, as it would have.
  if (parentId === undefined || !openSpans.has(parentId) || parentOfOpen.has(open.span)) return;
  let open_ = openResponsesByParent.get(parentId);
  if (open_ === undefined) {
    open_ = new Map();
    openResponsesByParent.set(parentId, open_);
  }
  open_.set(open.span, open);
  parentOfOpen.set(open.span, parentId);
}

function untrackOpenResponse(span: Span): void {
  const parentId = parentOfOpen.get(span);
  if (parentId === undefined) return;
  parentOfOpen.delete(span);
  const siblings = openResponsesByParent.get(parentId);
  siblings?.delete(span);
  if (siblings?.size === 0) openResponsesByParent.delete(parentId);
}

function closeUnread(open: OpenResponse): void {
  untrackOpenResponse(open.span);
  const { span } = open;
  span.setAttribute(BODY_UNREAD, true);
  span.end(open.headersAt);
  // The SDK would log an error for the instrumentation's own end() once the
  // body is read or dropped after all; the call is already complete.
  span.end = () => {};
}

function isDatabaseCall(span: Span): boolean {
  const attributes = span.attributes;
  return span.kind === SpanKind.CLIENT && (attributes['db.system.name'] ?? attributes['db.system']) !== undefined;
}

/** The class of an error for `error.type`: its code (`ECONNRESET`, `UND_ERR_SOCKET`) or its name (`AbortError`, `TimeoutError`). */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && code !== '') return code;
    if (typeof name === 'string' && name !== '') return name;
  }
  return 'Error';
}

function errorMessage(error: unknown): string {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

/** The `exception.type` of the span's last exception event, if any. */
function exceptionType(span: Span): string | undefined {
  for (let i = span.events.length - 1; i >= 0; i--) {
    const type = span.events[i]?.attributes?.['exception.type'];
    if (span.events[i]?.name === 'exception' && typeof type === 'string') return type;
  }
  return undefined;
}

/**
 * An HTTP client call that got no response must end as a failure with the
 * reason: `@opentelemetry/instrumentation-undici` ends an aborted fetch with
 * status UNSET and no `error.type`, and a timed-out one with the DOMException's
 * numeric code as `error.type`; `@opentelemetry/instrumentation-http` records
 * `Error` for ECONNRESET and ECONNREFUSED.
 */
function completeHttpOutcome(span: Span): void {
  if (span.kind !== SpanKind.CLIENT || span.attributes['http.request.method'] === undefined) return;
  const outcome = httpOutcomes.get(span);
  const cut = outcome?.response;
  if (outcome !== undefined && outcome.error === undefined && cut?.complete === false && cut.errored) {
    // Headers and part of the body came, then the connection closed: the
    // call got no whole response. (A body the app stopped reading itself
    // ends without an error.)
    const error = cut.errored;
    outcome.error = error;
    span.recordException(error as Error);
    span.setAttribute('error.type', errorType(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: `response cut off mid-body (${errorMessage(error)})` });
  } else if (outcome?.error !== undefined) {
    const error = outcome.error;
    span.setAttribute('error.type', errorType(error));
    if (!span.events.some((event) => event.name === 'exception')) span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
  } else if (span.status.code === SpanStatusCode.ERROR) {
    const recorded = span.attributes['error.type'];
    const specific = exceptionType(span);
    if (
      (recorded === undefined || recorded === 'Error' || typeof recorded === 'number') &&
      specific !== undefined &&
      specific !== 'Error' &&
      !/^\d+$/.test(specific)
    ) {
      span.setAttribute('error.type', specific);
    }
  }
  if (outcome?.timedOutAfterMs !== undefined && span.status.code === SpanStatusCode.ERROR) {
    const cause = span.status.message;
    span.setAttribute('error.type', 'TimeoutError');
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: `timed out after ${outcome.timedOutAfterMs} ms${cause ? ` (${cause})` : ''}`,
    });
  }
}

/**
 * Attribute: `true` on a span Lifeline ended because the process stopped
 * while it was still open (a query stream still being read, a call still
 * waiting for its answer). Its end is the moment the process stopped.
 */
export const UNFINISHED = 'lifeline.unfinished';

/** The `error.type` of a span ended unfinished. */
export const UNFINISHED_ERROR_TYPE = 'Unfinished';

/**
 * Ends every span of this process still open, when the process stops: a span
 * never ended is never exported, and the call would vanish from the diagram.
 * A fetch whose body was being read ends at its headers, marked unread, as it
 * does when its caller ends first. Any other span fails, marked
 * {@link UNFINISHED}, with `error.type` {@link UNFINISHED_ERROR_TYPE}: it was
 * cut off, whatever it would have returned. Innermost spans end first.
 * Returns how many spans were ended.
 */
export function endUnfinishedSpans(): number {
  for (const open of [...openResponsesByParent.values()])
    for (const response of [...open.values()]) closeUnread(response);
  const open = [...openSpans.values()].reverse();
  let ended = 0;
  for (const span of open) {
    if (span.ended) continue;
    span.setAttribute(UNFINISHED, true);
    if (span.status.code !== SpanStatusCode.ERROR) {
      span.setAttribute('error.type', UNFINISHED_ERROR_TYPE);
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'unfinished: the process stopped while it was open' });
    }
    // A wrapper that put the span's end off (until a stream's last row)
    // steps aside: the end is now.
    if (Object.hasOwn(span, 'end')) delete (span as { end?: unknown }).end;
    span.end();
    ended++;
  }
  return ended;
}

/**
 * Span processor that completes spans with what Lifeline's hooks learnt
 * (see the module comment). Register it before the exporting processor.
 *
 * @example
 * ```ts
 * new TracerProvider({ spanProcessors: [new CallEndingSpanProcessor(), new BatchSpanProcessor({ exporter: exporter })] });
 * ```
 */
export class CallEndingSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    openSpans.set(span.spanContext().spanId, span);
    const box = parentContext.getValue(startedSpanKey) as StartedSpanBox | undefined;
    if (box !== undefined && box.span === undefined) box.span = span;
    const wait = parentContext.getValue(connectionWaitKey) as ConnectionWait | undefined;
    if (wait !== undefined && !wait.taken && isDatabaseCall(span)) {
      wait.taken = true;
      span.setAttribute(CONNECTION_WAIT_TIME, wait.seconds);
    }
  }

  onEnding(span: Span): void {
    completeHttpOutcome(span);
  }

  onEnd(span: ReadableSpan): void {
    openSpans.delete(span.spanContext().spanId);
    untrackOpenResponse(span as Span);
    const open = openResponsesByParent.get(span.spanContext().spanId);
    if (open === undefined) return;
    for (const response of [...open.values()]) closeUnread(response);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Ends the calls still open (see {@link endUnfinishedSpans}), so that they are written before the process stops. */
  shutdown(): Promise<void> {
    endUnfinishedSpans();
    return Promise.resolve();
  }
}
