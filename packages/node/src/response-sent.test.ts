import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeLoopback, firstFinishedSpan, listenOnLoopback } from '@lifeline/test-support/loopback-server';
import { SpanKind } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type Span,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { endWhenResponseSent } from './response-sent.js';

const exporter = new InMemorySpanExporter();
const tracer = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('sent');

/** Milliseconds between a finished span's start and end. */
function durationMs(span: ReadableSpan): number {
  return span.duration[0] * 1e3 + span.duration[1] / 1e6;
}

/** Busy-waits `ms`: work that holds the event loop, as a CPU-bound handler does. */
function holdThread(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

/**
 * A real server whose requests get a server span ended on the response's
 * `close`, as OpenTelemetry's HTTP instrumentation ends it, with
 * {@link endWhenResponseSent} applied first.
 */
async function serve(handle: (response: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, response) => {
    const span = tracer.startSpan('GET /report', { kind: SpanKind.SERVER }) as unknown as Span;
    endWhenResponseSent(span, response);
    response.on('close', () => span.end());
    handle(response);
  });
  return { server, url: `${await listenOnLoopback(server)}/report` };
}

/** Calls `url`, starts reading the body after `readAfterMs`, resolves with the body's length. */
function call(url: string, readAfterMs = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (response: IncomingMessage) => {
      response.pause();
      let length = 0;
      response.on('data', (chunk: Buffer) => {
        length += chunk.length;
      });
      response.on('end', () => resolve(length));
      setTimeout(() => response.resume(), readAfterMs);
    }).on('error', reject);
  });
}

describe('endWhenResponseSent', () => {
  let server: Server | undefined;
  afterEach(async () => {
    exporter.reset();
    await closeLoopback(server);
  });

  it('ends the span when the answer was sent, not after the work the handler did next', async () => {
    let url: string;
    ({ server, url } = await serve((response) => {
      response.end('early');
      // Work after the response: the caller does not wait for it, and the `close` event waits for it.
      holdThread(300);
    }));
    expect(await call(url)).toBe(5);
    const span = await firstFinishedSpan(exporter);
    expect(durationMs(span)).toBeLessThan(150);
  });

  it('keeps the end at close for a response still queued when end() returned', async () => {
    let url: string;
    ({ server, url } = await serve((response) => {
      // More than the socket's buffers take at once, to a caller that starts reading 300 ms later.
      response.end(Buffer.alloc(32 * 1024 * 1024, 'x'));
    }));
    expect(await call(url, 300)).toBe(32 * 1024 * 1024);
    const span = await firstFinishedSpan(exporter);
    expect(durationMs(span)).toBeGreaterThanOrEqual(250);
  });

  it('keeps a time the caller of end() gave', async () => {
    let url: string;
    const sentEarlier = performance.now();
    ({ server, url } = await serve((response) => {
      const span = tracer.startSpan('inner', { kind: SpanKind.SERVER, startTime: sentEarlier - 50 }) as unknown as Span;
      endWhenResponseSent(span, response);
      response.end('ok');
      span.end(sentEarlier);
    }));
    await call(url);
    await firstFinishedSpan(exporter);
    const inner = exporter.getFinishedSpans().find((s) => s.name === 'inner') as ReadableSpan;
    expect(Math.round(durationMs(inner))).toBe(50);
  });
});
