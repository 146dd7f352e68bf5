import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { registerTracing } from './tracing.js';

describe('registerTracing', () => {
  const exporter = new InMemorySpanExporter();
  const tracing = registerTracing({
    serviceName: 'tracing-test',
    spanProcessors: [new SimpleSpanProcessor({ exporter: exporter })],
    instrumentations: [],
  });
  afterAll(async () => {
    await tracing.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('records spans with the service name, keeps the parent across await and injects W3C headers', async () => {
    const tracer = trace.getTracer('tracing-test');
    const headers: Record<string, string> = {};
    await tracer.startActiveSpan('outer', async (outer) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      tracer.startSpan('inner').end();
      propagation.inject(context.active(), headers);
      outer.end();
    });
    const spans = exporter.getFinishedSpans();
    const outer = spans.find((span) => span.name === 'outer');
    const inner = spans.find((span) => span.name === 'inner');
    expect(outer?.resource.attributes['service.name']).toBe('tracing-test');
    expect(outer?.resource.attributes['process.pid']).toBe(process.pid);
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(headers.traceparent).toBe(`00-${outer?.spanContext().traceId}-${outer?.spanContext().spanId}-01`);
  });

  it('flushes its processors on shutdown', async () => {
    let flushed = false;
    const own = registerTracing({
      serviceName: 'tracing-test',
      spanProcessors: [
        {
          onStart: () => {},
          onEnd: () => {},
          forceFlush: () => Promise.resolve(),
          shutdown: async () => {
            flushed = true;
          },
        },
      ],
      instrumentations: [],
    });
    await own.shutdown();
    expect(flushed).toBe(true);
  });
});
