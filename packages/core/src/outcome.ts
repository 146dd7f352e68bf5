/**
 * How a call ended: failed or not, with which status, and what else the reply
 * should say. One rule set for the diagram, the analysis and the list summary,
 * read in the order OpenTelemetry defines it:
 *
 * 1. the span status: `error` failed, `ok` did not, whatever else the span says
 *    (the status is the instrumentation's or the application's final word);
 * 2. with the status unset, the semantic conventions that define failure for the
 *    span's protocol: HTTP status codes, gRPC status codes, `error.type`;
 * 3. the `error` tag of Zipkin and Jaeger (OpenTracing) data;
 * 4. instrumentations' own documented failure markers (`KNOWN_ERROR_MARKERS` in span-failure.ts).
 *
 * An HTTP client call that ended without any response status and with its
 * status unset did not fail by these rules: it may have been cut off, or its
 * status was never captured. It is drawn with a plain reply and a marker
 * saying no response status was recorded, never as `ok` and never as a
 * failure the span does not claim.
 *
 * An `exception` event alone is not a failure: `recordException` is used for
 * handled exceptions too and does not set the status
 * (https://opentelemetry.io/docs/specs/otel/trace/exceptions/, and
 * `exception.escaped` in https://opentelemetry.io/docs/specs/semconv/exceptions/exceptions-spans/).
 * Such an event becomes a marker on a normal reply. Jaeger, Tempo and Zipkin
 * judge a span by its status (or `error` tag) alone, and so does Lifeline.
 */
import { numberAttribute } from './attributes.js';
import { classifyWithoutMemo, type SpanClass } from './classify.js';
import type { DrawnCall } from './layout.js';
import {
  errorTag,
  errorType,
  GRPC_CODES,
  grpcStatus,
  grpcStatusName,
  HTTP_STATUS_KEYS,
  knownMarkerMessage,
  spanRecordsFailure,
} from './span-failure.js';
import type { Span } from './trace.js';
import type { SpanNode } from './tree.js';

/** Something worth saying beside a reply that did not fail. */
export interface OutcomeMarker {
  /**
   * - `exception`: the span recorded an exception event but did not fail (a
   *   caught error, a fallback);
   * - `body-unread`: an HTTP response whose body the application never read
   *   (span attribute {@link BODY_UNREAD_ATTRIBUTE});
   * - `no-response-status`: an HTTP client call that ended with its status
   *   unset and no response status code ({@link endedWithoutResponse}).
   */
  readonly kind: 'exception' | 'body-unread' | 'no-response-status';
  /** Readable text, e.g. `handled TimeoutError: cache read timed out`. */
  readonly text: string;
}

/** Whether a drawn call failed, and how to say so. */
export interface CallOutcome {
  readonly error: boolean;
  /** HTTP status code the caller received (absent when no response came back). */
  readonly statusCode?: number;
  /** For a failed call: the error text, or for {@link noResponse} the short reason. */
  readonly message?: string;
  /**
   * For a failed call: whether {@link message} says nothing beyond the status
   * code (`500`, `HTTP 500`) or nothing at all (`error`), so a reply that
   * prints the status leaves it out (see {@link restatesStatus}).
   */
  readonly messageRestatesStatus?: boolean;
  /** `db.response.returned_rows`. */
  readonly rows?: number;
  /** A gRPC status other than OK that did not fail the call (a server's NOT_FOUND), by name. */
  readonly grpcStatus?: string;
  /** The call is a failed HTTP request that ended without any response status: aborted, timed out, refused, reset. */
  readonly noResponse?: boolean;
  /** The request's caller disconnected before the response was sent ({@link CALLER_DISCONNECTED_EVENT}): not delivered. */
  readonly callerDisconnected?: boolean;
  /** Markers of a call that did not fail (handled exceptions, an unread body), in the order recorded. */
  readonly markers?: readonly OutcomeMarker[];
}

/**
 * Boolean span attribute set by Lifeline's Node.js instrumentation on a
 * `fetch` whose response body was never read: the span ends when the
 * response headers arrive instead of never.
 */
export const BODY_UNREAD_ATTRIBUTE = 'lifeline.http.response.body_unread';

/**
 * Span event recorded by Lifeline's Node.js instrumentation on a server span
 * when its caller disconnected before the response was sent in full. The
 * event's time is the disconnect; the span itself ends when the handler
 * finished (OpenTelemetry's HTTP instrumentation would end it at the
 * disconnect). The diagram draws the response arrow at the event, as not
 * delivered, and the work after it as work after the caller went away.
 */
export const CALLER_DISCONNECTED_EVENT = 'lifeline.http.caller_disconnected';

/**
 * When the caller of a server span disconnected before its response was
 * sent (epoch ns, the first {@link CALLER_DISCONNECTED_EVENT}), or undefined.
 */
export function callerDisconnectedAt(span: Span): bigint | undefined {
  if (span.kind !== 'server' || span.events.length === 0) return undefined;
  for (const event of span.events) if (event?.name === CALLER_DISCONNECTED_EVENT) return event.timeNs;
  return undefined;
}

const STATUS_KEYS = [...HTTP_STATUS_KEYS, 'rpc.grpc.status_code'];
const ROWS_KEYS = ['db.response.returned_rows'];

/** The node fields the rules read, with the span's class when the caller already has it. */
type OutcomeNode = Pick<SpanNode, 'span'> & { readonly missingEnd?: boolean; readonly cls?: SpanClass };

/**
 * Whether a span failed, by the rules in this module's description
 * ({@link spanRecordsFailure}): from the span's class when the caller has it,
 * where it was read once, else from the span.
 */
export function spanFailed(node: OutcomeNode): boolean {
  return node.cls !== undefined ? node.cls.failed : spanRecordsFailure(node.span);
}

/**
 * Whether a span is an HTTP client request that ended without any response
 * status code: aborted, timed out, refused, reset, or its status never
 * captured. The HTTP conventions
 * record `http.response.status_code` if and only if a response was received
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/#http-client-span),
 * so its absence on an ended span means none was seen. It is not a failure
 * by itself (see {@link spanFailed}): the reply says so instead. Spans that never
 * ended, and spans not recorded by those conventions (Zipkin's Brave, say,
 * tags the status only when it is not 2xx), are left alone: there the absence
 * says nothing.
 */
export function endedWithoutResponse(node: OutcomeNode): boolean {
  const span = node.span;
  if (span.kind !== 'client' || node.missingEnd === true || span.endTimeNs === undefined) return false;
  const a = span.attributes;
  const semconv =
    a['http.request.method'] !== undefined || (a['http.method'] !== undefined && a['http.url'] !== undefined);
  const code = numberAttribute(span, HTTP_STATUS_KEYS);
  if (!semconv || (code !== undefined && code !== 0)) return false;
  return (node.cls ?? classifyWithoutMemo(span)).category === 'http-client';
}

/** Short reasons for a call that got no response, tried in order on the error's type, status message and name. */
const NO_RESPONSE_REASONS: readonly (readonly [RegExp, string])[] = [
  // Before "aborted": AbortSignal.timeout() aborts "due to timeout" with a TimeoutError.
  [
    /TimeoutError|ETIMEDOUT|ESOCKETTIMEDOUT|UND_ERR_(?:CONNECT|HEADERS|BODY)_TIMEOUT|\btim(?:e|ed)[ -]?out\b/i,
    'timeout',
  ],
  [/AbortError|ABORT_ERR|UND_ERR_ABORTED|\babort(?:ed)?\b/i, 'aborted'],
  [/ECONNRESET|socket hang up|UND_ERR_SOCKET|other side closed/i, 'connection reset'],
  [/ECONNREFUSED/i, 'connection refused'],
  [/ENOTFOUND|EAI_AGAIN/i, 'host not found'],
];

/**
 * A short reason for an HTTP call that got no response, from what its span
 * carries (`error.type`, the exception's type, the status message): `timeout`,
 * `aborted`, `connection reset`, `connection refused`, `host not found`, else
 * the error's name, else `no response`.
 *
 * @example
 * ```ts
 * // instrumentation-undici on fetch(url, { signal: AbortSignal.timeout(50) }):
 * // status error "The operation was aborted due to timeout", error.type 23
 * noResponseReason(span); // 'timeout'
 * ```
 */
export function noResponseReason(span: Span): string {
  const exception = span.events.find((event) => event?.name === 'exception')?.attributes;
  const type = errorType(span);
  const exceptionType = typeof exception?.['exception.type'] === 'string' ? exception['exception.type'] : undefined;
  const exceptionMessage =
    typeof exception?.['exception.message'] === 'string' ? exception['exception.message'] : undefined;
  const texts = [type, exceptionType, span.status?.message, exceptionMessage, errorTag(span)].filter(
    (text): text is string => typeof text === 'string' && text !== '',
  );
  for (const [pattern, reason] of NO_RESPONSE_REASONS) if (texts.some((text) => pattern.test(text))) return reason;
  // A name says what went wrong only when it is more than the generic Error or a number.
  const name = [type, exceptionType].find((n) => n !== undefined && !/^(?:error|_other|\d+)$/i.test(n));
  return name ?? 'no response';
}

/**
 * The outcome of a call as its caller saw it: failed when the caller's span
 * (or the server span that answered it) failed by {@link spanFailed}. The
 * error text is the first one that says more than the status code: HTTP
 * instrumentations often record only `error.type: "500"` on the server span
 * while the exception sits on a handler span inside it, which the diagram
 * hoists away. A call without a response gets a short reason instead
 * ({@link noResponseReason}). A call that did not fail keeps its handled
 * exceptions, an unread body and a missing response status as markers.
 */
export function callOutcome(call: DrawnCall): CallOutcome {
  // The caller's span, then the server span that answered it when the call
  // reached a traced service. Read one by one rather than from a list of
  // the two: the layout asks this of every call of a trace.
  const remote = call.remote !== undefined && call.remote !== call.node ? call.remote : undefined;
  const statusCode = receivedStatus(call.node.span) ?? (remote !== undefined ? receivedStatus(remote.span) : undefined);
  const error = spanFailed(call.node) || (remote !== undefined && spanFailed(remote));
  const rows = numberAttribute(call.node.span, ROWS_KEYS);
  // Whatever the handler answered in the end, its caller was gone by then.
  if (call.role === 'entry' && callerDisconnectedAt(call.node.span) !== undefined) {
    return { error: true, callerDisconnected: true, message: 'caller disconnected', rows };
  }
  // What the server span recorded never reached a caller that got no response.
  if (call.role === 'call' && failedWithoutResponse(call.node)) {
    return failed({ error: true, noResponse: true, message: noResponseReason(call.node.span), rows });
  }
  if (!error) {
    let markers = spanMarkers(call.node.span, undefined);
    if (remote !== undefined) markers = spanMarkers(remote.span, markers);
    // The server span that answered the call may carry the status its caller's span lacks.
    if (
      call.role === 'call' &&
      statusCode === undefined &&
      call.node.span.status?.code !== 'ok' &&
      endedWithoutResponse(call.node)
    ) {
      markers ??= [];
      markers.push({ kind: 'no-response-status', text: 'no response status recorded' });
    }
    const grpc = grpcStatusName(call.node.span) ?? (remote !== undefined ? grpcStatusName(remote.span) : undefined);
    const outcome: { -readonly [K in keyof CallOutcome]: CallOutcome[K] } = { error, statusCode, rows };
    if (grpc !== undefined) outcome.grpcStatus = grpc;
    if (markers !== undefined) outcome.markers = markers;
    return outcome;
  }
  const spans = remote !== undefined ? [call.node, remote] : [call.node];
  let fallback: string | undefined;
  for (const node of spans) {
    if (!spanFailed(node)) continue;
    const text = errorMessage(node);
    if (!restatesStatus(text, statusCode)) return failed({ error, statusCode, message: text, rows });
    fallback ??= text;
  }
  const hoisted = hoistedErrorMessage(spans[spans.length - 1] as SpanNode, statusCode);
  // A client that failed on a reply it took for a success (instrumentation-http
  // sets ERROR with no message when the response was aborted before its end).
  if (hoisted === undefined && call.cls.category === 'http-client' && statusCode !== undefined && statusCode < 400) {
    return failed({ error, statusCode, message: 'response cut short', rows });
  }
  return failed({ error, statusCode, message: hoisted ?? fallback, rows });
}

/**
 * The status code a span says its caller received: HTTP status 0 is what
 * some clients record when no response came (a browser's fetch, XHR), and a
 * gRPC code below 100 is no HTTP status: neither is a status code at all.
 */
function receivedStatus(span: Span): number | undefined {
  const code = numberAttribute(span, STATUS_KEYS);
  return code !== undefined && code !== 0 && !('rpc.grpc.status_code' in span.attributes && code < 100)
    ? code
    : undefined;
}

/** A failed outcome with {@link CallOutcome.messageRestatesStatus} decided once, here. */
function failed(outcome: CallOutcome): CallOutcome {
  const message = outcome.message !== undefined ? oneLine(outcome.message) : '';
  return { ...outcome, messageRestatesStatus: restatesStatus(message, outcome.statusCode) };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * The outcome of a call as drawn: {@link callOutcome}, and for a batch the
 * first failed command's (a batch failed when any of its commands did).
 * `layoutTrace` computes it once for every call it lays out (`DrawnCall.outcome`).
 */
export function drawnCallOutcome(call: DrawnCall): CallOutcome {
  if (call.batch === undefined) return callOutcome(call);
  for (const member of call.batch) {
    const outcome = callOutcome(member);
    if (outcome.error) return outcome;
  }
  return { error: false };
}

/** An HTTP client span without a response status that failed: the request failed before any response (refused, reset). */
function failedWithoutResponse(node: SpanNode): boolean {
  return spanFailed(node) && httpClientWithoutStatus(node.span);
}

/** An HTTP client span with no response status code (0, what browsers record for none, counts as none). */
function httpClientWithoutStatus(span: Span): boolean {
  const code = numberAttribute(span, HTTP_STATUS_KEYS);
  return (
    span.kind === 'client' && (code === undefined || code === 0) && classifyWithoutMemo(span).category === 'http-client'
  );
}

/**
 * Adds the handled exceptions and an unread body of one span of a call that
 * did not fail to `markers` (the markers of the call's spans read before,
 * each kept once), and returns them; the list is made only when there is a
 * marker, so that most calls, which have none, make none.
 */
function spanMarkers(span: Span, markers: OutcomeMarker[] | undefined): OutcomeMarker[] | undefined {
  let out = markers;
  if (span.attributes[BODY_UNREAD_ATTRIBUTE] === true && !out?.some((m) => m.kind === 'body-unread')) {
    out ??= [];
    out.push({ kind: 'body-unread', text: 'response body never read' });
  }
  for (const event of span.events) {
    if (event?.name !== 'exception' || typeof event.attributes !== 'object' || event.attributes === null) continue;
    const a = event.attributes;
    const described = describeException(a['exception.type'], a['exception.message']);
    const handled = a['exception.escaped'] === false || a['exception.escaped'] === 'false';
    const text = handled
      ? `handled ${described ?? 'exception'}`
      : described !== undefined
        ? `exception ${described}`
        : 'exception recorded';
    if (!out?.some((m) => m.text === text)) {
      out ??= [];
      out.push({ kind: 'exception', text });
    }
  }
  return out;
}

function describeException(type: unknown, message: unknown): string | undefined {
  const t = typeof type === 'string' && type !== '' ? type : undefined;
  const m = typeof message === 'string' && message !== '' ? message : undefined;
  if (t !== undefined && m !== undefined) return `${t}: ${m}`;
  return t ?? m;
}

/**
 * Whether an error text only repeats the status code (`500`, `HTTP 500`) or
 * says nothing at all (`error`), so printing it beside the status adds nothing.
 */
function restatesStatus(text: string, statusCode: number | undefined): boolean {
  const t = text.trim().toLowerCase();
  if (t === '' || t === 'error') return true;
  if (statusCode === undefined) return false;
  const code = String(statusCode);
  return t === code || t === `http ${code}` || t === `status ${code}` || t === `http error ${code}`;
}

/** Internal spans searched for a better error text; bounds the walk on huge traces. */
const HOISTED_SEARCH_LIMIT = 64;

/**
 * The first informative error text of a failed internal span nested in a
 * call's work (through internal spans only, so another call's error is never
 * borrowed), breadth-first.
 */
function hoistedErrorMessage(work: SpanNode, statusCode: number | undefined): string | undefined {
  const queue: SpanNode[] = [];
  for (const child of work.children) if (child.span.kind === 'internal') queue.push(child);
  for (let i = 0; i < queue.length && i < HOISTED_SEARCH_LIMIT; i++) {
    const node = queue[i] as SpanNode;
    if (spanFailed(node)) {
      const text = errorMessage(node);
      if (!restatesStatus(text, statusCode)) return text;
    }
    for (const child of node.children) if (child.span.kind === 'internal') queue.push(child);
  }
  return undefined;
}

/**
 * The most specific error text a span carries: the status message, a known
 * instrumentation marker's reason, an exception event, `error.type`, the
 * `error` tag, the HTTP or gRPC status, or why no response came.
 */
export function errorMessage(node: OutcomeNode): string {
  const span = node.span;
  if (typeof span.status?.message === 'string' && span.status.message.trim() !== '') return span.status.message;
  const marker = knownMarkerMessage(span);
  if (marker !== undefined && marker !== '') return marker;
  for (const event of span.events) {
    if (event?.name !== 'exception' || typeof event.attributes !== 'object' || event.attributes === null) continue;
    const described = describeException(event.attributes['exception.type'], event.attributes['exception.message']);
    if (described !== undefined) return described;
  }
  const type = errorType(span);
  if (type !== undefined) return type;
  const tag = errorTag(span);
  if (tag !== undefined && tag !== 'true') return tag;
  const code = numberAttribute(span, HTTP_STATUS_KEYS);
  if (code !== undefined) return `HTTP ${code}`;
  const grpc = grpcStatus(span);
  if (grpc !== undefined && grpc !== 0) return Object.keys(GRPC_CODES)[grpc] ?? `gRPC ${grpc}`;
  return httpClientWithoutStatus(span) ? noResponseReason(span) : 'error';
}

/**
 * Ids of the spans of message attempts that were retried: a consumer span
 * followed (in start order) by another attempt at the same message, and
 * every span under it. The same message means the same producer (the parent
 * span, else the first link), the same destination (`messaging.destination.name`,
 * else BullMQ's `bullmq.queue.name`, else the span name) and the same message
 * id (`messaging.message.id`, else `bullmq.job.id`, when either is recorded).
 * A request's outcome follows the last attempt: a failed attempt that a
 * retry then got through is still drawn as a failed call, but it does not
 * fail the request.
 *
 * @example
 * ```ts
 * const retried = retriedAttempts(trace.spans);
 * const failed = trace.spans.some((span) => !retried.has(span.spanId) && spanFailed({ span }));
 * ```
 */
export function retriedAttempts(spans: readonly Span[]): Set<string> {
  const retried = new Set<string>();
  const lastAttempt = new Map<string, Span>();
  const consumers = spans.filter((span) => span.kind === 'consumer');
  if (consumers.length < 2) return retried;
  const ordered = [...consumers].sort((a, b) =>
    a.startTimeNs < b.startTimeNs ? -1 : a.startTimeNs > b.startTimeNs ? 1 : 0,
  );
  for (const span of ordered) {
    const key = messageAttemptKey(span);
    if (key === undefined) continue;
    const earlier = lastAttempt.get(key);
    if (earlier !== undefined) retried.add(earlier.spanId);
    lastAttempt.set(key, span);
  }
  if (retried.size === 0) return retried;
  // Everything under a retried attempt belongs to it.
  const parentOf = new Map<string, string | undefined>();
  for (const span of spans) parentOf.set(span.spanId, span.parentSpanId);
  for (const span of spans) {
    const seen = new Set<string>();
    for (let id = span.parentSpanId; id !== undefined && !seen.has(id); id = parentOf.get(id)) {
      seen.add(id);
      if (retried.has(id)) {
        retried.add(span.spanId);
        break;
      }
    }
  }
  return retried;
}

/**
 * Whether a request (the spans of one trace, or a part of them) failed: some
 * span failed ({@link spanFailed}) outside every message attempt that was
 * retried ({@link retriedAttempts}). The list's error flag follows it.
 *
 * @example
 * ```ts
 * requestFailed(trace.spans); // false when a job's only failed attempt was retried and got through
 * ```
 */
export function requestFailed(spans: readonly Span[]): boolean {
  const failed = spans.filter((span) => spanFailed({ span }));
  if (failed.length === 0) return false;
  const retried = retriedAttempts(spans);
  return failed.some((span) => !retried.has(span.spanId));
}

/**
 * What makes two consumer spans attempts at the same message (see
 * {@link retriedAttempts}): equal keys, one per message; undefined when the
 * span names no producer, so it cannot be told apart from other messages.
 */
export function messageAttemptKey(
  span: Pick<Span, 'parentSpanId' | 'links' | 'attributes' | 'name'>,
): string | undefined {
  const producer = span.parentSpanId ?? span.links?.[0]?.spanId;
  if (producer === undefined || producer === '') return undefined;
  const a = span.attributes;
  const destination = a['messaging.destination.name'] ?? a['bullmq.queue.name'] ?? span.name;
  const id = a['messaging.message.id'] ?? a['bullmq.job.id'] ?? '';
  return `${producer}\u0000${String(destination)}\u0000${String(id)}`;
}
