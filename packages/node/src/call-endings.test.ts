import { context, DiagLogLevel, diag, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, type Span, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BODY_UNREAD,
  CallEndingSpanProcessor,
  CONNECTION_WAIT_TIME,
  errorType,
  httpOutcomes,
  trackOpenResponse,
  withConnectionWait,
  withStartedSpan,
} from './call-endings.js';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  spanProcessors: [new CallEndingSpanProcessor(), new SimpleSpanProcessor({ exporter: exporter })],
});
const tracer = provider.getTracer('call-endings-test');
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  await provider.shutdown();
  context.disable();
});
afterEach(() => {
  exporter.reset();
  vi.restoreAllMocks();
});

/** Starts a span as a child of `parent`. */
function childOf(parent: Span, name: string, attributes: Record<string, string> = {}): Span {
  return tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, trace.setSpan(context.active(), parent)) as Span;
}

describe('responses whose body is not read', () => {
  it('end when the response headers came, marked unread, once their caller ends first', () => {
    const server = tracer.startSpan('GET /status-only', { kind: SpanKind.SERVER }) as Span;
    const call = childOf(server, 'GET', { 'http.request.method': 'GET' });
    const headersAt = performance.now();
    trackOpenResponse({ span: call, headersAt });
    // The caller ends a little later than the headers came.
    while (performance.now() < headersAt + 2) {
      // wait
    }
    server.end();
    const [ended, serverSpan] = exporter.getFinishedSpans();
    expect(ended?.name).toBe('GET');
    expect(serverSpan?.name).toBe('GET /status-only');
    expect(ended?.attributes[BODY_UNREAD]).toBe(true);
    expect(hrTimeToMilliseconds(ended?.endTime ?? [0, 0])).toBeLessThan(
      hrTimeToMilliseconds(serverSpan?.endTime ?? [0, 0]),
    );
    // The instrumentation ends it again once the body is read after all: ignored, not an error.
    const errors = vi.fn();
    const quiet = () => {};
    diag.setLogger({ error: errors, warn: quiet, info: quiet, debug: quiet, verbose: quiet }, DiagLogLevel.ERROR);
    call.end();
    diag.disable();
    expect(errors).not.toHaveBeenCalled();
    expect(exporter.getFinishedSpans()).toHaveLength(2);
  });

  it('are left alone when the body was read before the caller ended', () => {
    const server = tracer.startSpan('GET /read', { kind: SpanKind.SERVER }) as Span;
    const call = childOf(server, 'GET', { 'http.request.method': 'GET' });
    trackOpenResponse({ span: call, headersAt: performance.now() });
    call.end();
    server.end();
    const [ended] = exporter.getFinishedSpans();
    expect(ended?.attributes).not.toHaveProperty(BODY_UNREAD);
    expect(exporter.getFinishedSpans()).toHaveLength(2);
  });

  it('are not tracked when their caller ended before the headers came', () => {
    const server = tracer.startSpan('GET /fire-and-forget', { kind: SpanKind.SERVER }) as Span;
    const call = childOf(server, 'GET', { 'http.request.method': 'GET' });
    server.end();
    trackOpenResponse({ span: call, headersAt: performance.now() });
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['GET /fire-and-forget']);
    call.end();
    expect(exporter.getFinishedSpans()[1]?.attributes).not.toHaveProperty(BODY_UNREAD);
  });
});

describe('HTTP client calls that got no response', () => {
  it('end as errors with the error heard, even when the instrumentation left the status unset', () => {
    const call = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET' } });
    const abort = new DOMException('This operation was aborted', 'AbortError');
    httpOutcomes.set(call as Span, { error: abort });
    call.end();
    const [ended] = exporter.getFinishedSpans();
    expect(ended?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'This operation was aborted' });
    expect(ended?.attributes['error.type']).toBe('AbortError');
    expect(ended?.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('take the exception code for error.type where the instrumentation recorded only "Error"', () => {
    const call = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET' } });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    call.setAttribute('error.type', reset.name);
    call.recordException(reset);
    call.setStatus({ code: SpanStatusCode.ERROR, message: reset.message });
    call.end();
    expect(exporter.getFinishedSpans()[0]?.attributes['error.type']).toBe('ECONNRESET');
  });

  it('say they timed out when the socket timeout fired first', () => {
    const call = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET' } });
    httpOutcomes.set(call as Span, { timedOutAfterMs: 50 });
    call.setStatus({ code: SpanStatusCode.ERROR, message: 'socket hang up' });
    call.end();
    const [ended] = exporter.getFinishedSpans();
    expect(ended?.attributes['error.type']).toBe('TimeoutError');
    expect(ended?.status.message).toBe('timed out after 50 ms (socket hang up)');
  });

  it('names errors by their code, else their name', () => {
    expect(errorType(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBe('UND_ERR_SOCKET');
    expect(errorType(new DOMException('t', 'TimeoutError'))).toBe('TimeoutError');
    expect(errorType('plain')).toBe('Error');
  });
});

describe('spans started inside Lifeline wrappers', () => {
  it('hands back the first span started while a function ran, and no later one', () => {
    const { result, span } = withStartedSpan(() => {
      const first = tracer.startSpan('first');
      tracer.startSpan('second').end();
      first.end();
      return 7;
    });
    expect(result).toBe(7);
    expect(span?.name).toBe('first');
    expect(withStartedSpan(() => 1).span).toBeUndefined();
  });

  it('gives the connection wait to the first database call only', () => {
    context.with(withConnectionWait(context.active(), 0.25), () => {
      tracer.startSpan('internal').end();
      tracer.startSpan('SELECT', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }).end();
      tracer.startSpan('SELECT', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }).end();
    });
    expect(exporter.getFinishedSpans().map((s) => s.attributes[CONNECTION_WAIT_TIME])).toEqual([
      undefined,
      0.25,
      undefined,
    ]);
  });
});
