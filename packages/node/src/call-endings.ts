/**
 * What the instrumentations leave unsaid about how a call ended, filled in
 * while its span is still open: the time a database call waited for a pooled
 * connection, why an HTTP client call got no response, and the end of a fetch
 * whose response body was never read. The instrumentations hand Lifeline
 * their spans through the context (see {@link withStartedSpan}) or their
 * hooks; the {@link CallEndingSpanProcessor} applies what was learnt.
 */
import { type Context, context, createContextKey, SpanKind, SpanStatusCode } from '@opentelemetry/api';
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

/** What the HTTP client instrumentations reported about a call before its span ended. */
export interface HttpCallOutcome {
  /** The error the client library reported, if the call failed. */
  error?: unknown;
  /** The request's socket timeout (ms), when its `timeout` event fired. */
  timedOutAfterMs?: number;
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
const openSpanIds = new Set<string>();
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
  if (parentId === undefined || !openSpanIds.has(parentId) || parentOfOpen.has(open.span)) return;
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
  if (outcome?.error !== undefined) {
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
    openSpanIds.add(span.spanContext().spanId);
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
    openSpanIds.delete(span.spanContext().spanId);
    untrackOpenResponse(span as Span);
    const open = openResponsesByParent.get(span.spanContext().spanId);
    if (open === undefined) return;
    for (const response of [...open.values()]) closeUnread(response);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  /** Closes the fetches still open whose headers arrived, so that they are written before the process stops. */
  shutdown(): Promise<void> {
    for (const open of [...openResponsesByParent.values()])
      for (const response of [...open.values()]) closeUnread(response);
    return Promise.resolve();
  }
}
