import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CALLER_DISCONNECTED_EVENT } from '@lifeline/core';
import { closeLoopback, firstFinishedSpan, listenOnLoopback } from '@lifeline/test-support/loopback-server';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type Span, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { followCallerDisconnect } from './caller-disconnect.js';

const exporter = new InMemorySpanExporter();
const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('disconnect');

/** Exact epoch nanoseconds of an HrTime. */
function exactNs(time: readonly [number, number]): bigint {
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
}

/**
 * A real server whose requests get a server span ended on the response's
 * `close`, as OpenTelemetry's HTTP instrumentation ends it, followed by
 * {@link followCallerDisconnect} first; `handle` answers (or not).
 */
async function serve(
  handle: (request: IncomingMessage, response: ServerResponse) => void,
  unfinishedHandlerMs?: number,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const span = tracer.startSpan('GET /report', { kind: SpanKind.SERVER }) as unknown as Span;
    followCallerDisconnect(span, response, unfinishedHandlerMs === undefined ? {} : { unfinishedHandlerMs });
    response.on('close', () => {
      span.setAttribute('http.response.status_code', response.statusCode);
      span.end();
    });
    handle(request, response);
  });
  return { server, url: `${await listenOnLoopback(server)}/report` };
}

/** Calls `url` and gives up once the handler has it: after `ms` from the connection. */
function callAndGiveUp(url: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const request = get(url);
    request.on('socket', (socket) => socket.once('connect', () => setTimeout(() => request.destroy(), ms)));
    request.on('error', () => resolve());
    request.on('close', () => resolve());
  });
}

describe('followCallerDisconnect', () => {
  let server: Server | undefined;
  afterEach(async () => {
    exporter.reset();
    await closeLoopback(server);
  });

  it('records the disconnect and ends the span when the handler finished its response', async () => {
    let disconnected = false;
    let url: string;
    ({ server, url } = await serve((_request, response) => {
      response.once('close', () => {
        disconnected = true;
        // Works on after the caller left, then answers nobody.
        setTimeout(() => response.writeHead(503).end('late'), 30);
      });
    }));
    await callAndGiveUp(url, 20);
    const span = await firstFinishedSpan(exporter);
    expect(disconnected).toBe(true);
    const event = span.events.find((e) => e.name === CALLER_DISCONNECTED_EVENT);
    expect(event).toBeDefined();
    // Ended after the disconnect, when the handler ended its response, with the status it settled on.
    expect(exactNs(span.endTime)).toBeGreaterThan(exactNs(event?.time ?? [0, 0]));
    expect(span.attributes['http.response.status_code']).toBe(503);
  });

  it('ends the span at the disconnect when the handler never finishes its response', async () => {
    let url: string;
    ({ server, url } = await serve(() => {}, 20));
    await callAndGiveUp(url, 20);
    const span = await firstFinishedSpan(exporter);
    const event = span.events.find((e) => e.name === CALLER_DISCONNECTED_EVENT);
    expect(event).toBeDefined();
    expect(span.endTime).toEqual(event?.time);
  });

  it('records nothing for a response sent in full', async () => {
    let url: string;
    ({ server, url } = await serve((_request, response) => response.end('ok')));
    await new Promise<void>((resolve) => get(url, (response) => response.resume().on('end', resolve)));
    const span = await firstFinishedSpan(exporter);
    expect(span.events).toEqual([]);
    expect(span.attributes['http.response.status_code']).toBe(200);
  });
});
