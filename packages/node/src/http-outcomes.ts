/**
 * The HTTP client instrumentations (fetch through undici, and node:http),
 * configured so that a call's span tells how the call ended when no response
 * came (aborted, timed out, reset, refused) and still ends when the caller
 * never reads the response body. The span processor in call-endings.ts
 * applies what these hooks record.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { type Span as ApiSpan, context, createContextKey } from '@opentelemetry/api';
import { addHrTimes, isTimeInputHrTime, millisToHrTime } from '@opentelemetry/core';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { Span } from '@opentelemetry/sdk-trace';
import { type HttpCallOutcome, httpOutcomes, trackOpenResponse } from './call-endings.js';
import { followCallerDisconnect } from './caller-disconnect.js';
import { noteRequestPath } from './data-dependencies.js';
import { endWhenResponseSent } from './response-sent.js';

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

/** A fetch as the app made it: when, and the signal that may abort it. */
interface FetchCall {
  /** `performance.now()` when the app called fetch. */
  readonly issuedAt: number;
  readonly signal: AbortSignal | undefined;
  /** `performance.now()` when the signal aborted, if it did before the response came. */
  abortedAt?: number;
  /** The client span undici's request got, once it was created. */
  span?: Span;
}

const fetchCallKey = createContextKey('lifeline.fetch-call');
const wrappedFetch = Symbol('lifeline.fetch');

/** The signal a fetch was given, in its init or on its Request (read without loading undici's classes). */
function signalOf(input: unknown, init: unknown): AbortSignal | undefined {
  const fromInit = (init as { signal?: unknown } | undefined)?.signal;
  const candidate =
    fromInit ?? (typeof input === 'object' && input !== null ? (input as { signal?: unknown }).signal : undefined);
  return candidate instanceof AbortSignal ? candidate : undefined;
}

/**
 * Ends the span of a fetch whose signal aborted before its response came,
 * at the moment it aborted and with the signal's reason (a `TimeoutError`
 * for `AbortSignal.timeout`): undici aborts its own request only once that
 * request is under way, possibly after the caller already had its error and
 * answered, and reports a plain `AbortError` then.
 */
function failAborted(call: FetchCall, span: Span): void {
  if (call.abortedAt === undefined || span.ended) return;
  outcomeOf(span).error = call.signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
  span.end(call.abortedAt);
  // undici ends the span again when it gets to abort its request.
  span.end = () => {};
}

/**
 * Wraps `globalThis.fetch` so that its undici span (started in the call's
 * context, see the request hook below) knows when the app called fetch and
 * when its signal aborted. On a fresh process the first fetch loads undici
 * first, which can outlast a short `AbortSignal.timeout`: the span then
 * starts when the app called fetch, not after undici loaded, and a call
 * aborted meanwhile ends when and as it was aborted.
 */
function wrapFetch(): void {
  const original = globalThis.fetch as typeof fetch & { [wrappedFetch]?: true };
  if (typeof original !== 'function' || original[wrappedFetch] === true) return;
  const fetchWithCall = function fetch(this: unknown, input: unknown, init?: unknown) {
    const signal = signalOf(input, init);
    const call: FetchCall = { issuedAt: performance.now(), signal };
    if (signal?.aborted === true) call.abortedAt = call.issuedAt;
    let onAbort: (() => void) | undefined;
    if (signal !== undefined && !signal.aborted) {
      // Before undici's own listener: the span ends before the caller hears of it.
      onAbort = () => {
        call.abortedAt ??= performance.now();
        if (call.span !== undefined) failAborted(call, call.span);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    const result = context.with(context.active().setValue(fetchCallKey, call), () =>
      Reflect.apply(original, this, [input, init]),
    ) as Promise<Response>;
    if (onAbort !== undefined) {
      // Once the response came (or the call failed), an abort is undici's to report.
      const detach = () => signal?.removeEventListener('abort', onAbort);
      result.then(detach, detach);
    }
    return result;
  } as typeof fetch & { [wrappedFetch]?: true };
  fetchWithCall[wrappedFetch] = true;
  globalThis.fetch = fetchWithCall;
}

/** Moves the start of an open span back by `ms` (the SDK's span; others are left as they are). */
function startEarlier(span: Span, ms: number): void {
  const clock = span as unknown as { startTime?: unknown; _performanceStartTime?: unknown };
  if (!(ms > 0) || typeof clock._performanceStartTime !== 'number' || !isTimeInputHrTime(clock.startTime)) return;
  clock.startTime = addHrTimes(clock.startTime, millisToHrTime(-ms));
  clock._performanceStartTime -= ms;
}

/**
 * `@opentelemetry/instrumentation-undici` for fetch, whose spans record the
 * failure of a call that got no response and end when the response headers
 * arrived if the body is never read while the caller's span is open. A fetch
 * starts when the app called it and, when its signal aborted before the
 * response, ends then with the signal's reason (see {@link wrapFetch}).
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createUndiciInstrumentation()] });
 * ```
 */
export function createUndiciInstrumentation(): UndiciInstrumentation {
  hearUndiciErrors();
  wrapFetch();
  return new UndiciInstrumentation({
    requestHook: (span, request) => {
      undiciSpans.set(request, span);
      // The path segments and query values sent: see data-dependencies.ts.
      noteRequestPath(span, request.path);
      const call = context.active().getValue(fetchCallKey) as FetchCall | undefined;
      if (call === undefined || call.span !== undefined || !span.isRecording()) return;
      call.span = span as Span;
      const clock = span as unknown as { _performanceStartTime?: unknown };
      if (typeof clock._performanceStartTime === 'number') {
        startEarlier(span as Span, clock._performanceStartTime - call.issuedAt);
      }
      failAborted(call, span as Span);
    },
    responseHook: (span) => {
      if (span.isRecording()) trackOpenResponse({ span: span as Span, headersAt: performance.now() });
    },
  });
}

/**
 * `@opentelemetry/instrumentation-http` whose client spans say why a call got
 * no response (`error.type` `ECONNRESET`, `ECONNREFUSED`, or `TimeoutError`
 * when the request's socket timeout fired) or only part of its body (the
 * connection closed mid-body: `ECONNRESET`), and end when the response headers
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
      // The path segments and query values sent: see data-dependencies.ts.
      noteRequestPath(span, (request as ClientRequest).path);
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
      // Client spans get the IncomingMessage of the response, server spans
      // their ServerResponse. Both have a `req`; only a ServerResponse can
      // write a head. A server span must never be ended at its headers: it
      // ends when it answered, whatever its caller did (see caller-disconnect.ts).
      if (typeof (response as { writeHead?: unknown }).writeHead === 'function') {
        if (span.isRecording()) {
          endWhenResponseSent(span as Span, response as ServerResponse);
          followCallerDisconnect(span as Span, response as ServerResponse);
        }
        return;
      }
      if ((response as IncomingMessage & { req?: unknown }).req === undefined) return;
      // Read when the span ends: a body cut off by the connection closing is a failure.
      outcomeOf(span).response = response as IncomingMessage & { errored?: unknown };
      if (span.isRecording()) trackOpenResponse({ span: span as Span, headersAt: performance.now() });
    },
  });
}
