/**
 * OTLP/HTTP protobuf request bodies for the receiver benchmark, encoded the
 * way an OpenTelemetry SDK in any app encodes them: real SDK spans from a
 * tracer provider, serialized by the OTLP exporter's own ProtobufTraceSerializer.
 */

import type { Span } from '@lifeline/core';
import { generateTrace, seededRandom } from '@lifeline/test-support/generate';
import { context, type Span as OtelSpan, SpanKind, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

const kinds = {
  internal: SpanKind.INTERNAL,
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
} as const;

const hrTime = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];

/** A protobuf ExportTraceServiceRequest and where its trace ids sit in it. */
export interface OtlpBody {
  body: Uint8Array;
  spans: number;
  /**
   * Byte offsets of every 16-byte trace id in `body`. Overwriting the first 8
   * bytes at each offset with a per-request value gives every request its own
   * traces while keeping the protobuf valid (the length does not change), so
   * the receiver stores new spans instead of ignoring known ids.
   */
  traceIdOffsets: number[];
}

/**
 * Encodes about `spanCount` spans of generated traces (whole traces, the last
 * one cut to fit) as the OTLP exporter would send them.
 *
 * @example
 * const { body, traceIdOffsets } = await buildOtlpBody({ spanCount: 512, seed: 1 });
 */
export async function buildOtlpBody(options: { spanCount: number; seed: number }): Promise<OtlpBody> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'web-api', 'telemetry.sdk.language': 'nodejs' }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: exporter })],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.301.0');
  const random = seededRandom(options.seed);
  let made = 0;
  let start = Date.UTC(2026, 0, 1) * 1e6;
  while (made < options.spanCount) {
    const spans = generateTrace({ random, startTimeNs: start, targetSpans: Math.min(40, options.spanCount - made) });
    replay(tracer, spans);
    made += spans.length;
    start += 50e6;
  }
  await provider.forceFlush();
  const finished = exporter.getFinishedSpans();
  const body = ProtobufTraceSerializer.serializeRequest(
    finished as unknown as Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0],
  );
  if (!body) throw new Error('the OTLP serializer produced no body');
  const buffer = Buffer.from(body);
  const traceIdOffsets: number[] = [];
  for (const traceId of new Set(finished.map((s) => s.spanContext().traceId))) {
    const needle = Buffer.from(traceId, 'hex');
    for (let at = buffer.indexOf(needle); at !== -1; at = buffer.indexOf(needle, at + 1)) traceIdOffsets.push(at);
  }
  if (traceIdOffsets.length !== finished.length) {
    throw new Error(`found ${traceIdOffsets.length} trace ids for ${finished.length} spans in the OTLP body`);
  }
  await provider.shutdown();
  return { body, spans: finished.length, traceIdOffsets: traceIdOffsets.sort((a, b) => a - b) };
}

/** Re-creates generated spans through a real tracer, parents before children. */
function replay(tracer: ReturnType<TracerProvider['getTracer']>, spans: readonly Span[]): void {
  const live = new Map<string, OtelSpan>();
  const ordered = [...spans].sort((a, b) => Number(a.startTimeNs - b.startTimeNs));
  for (const span of ordered) {
    const parent = span.parentSpanId ? live.get(span.parentSpanId) : undefined;
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    const attributes = Object.fromEntries(
      Object.entries(span.attributes).filter((entry): entry is [string, string | number | boolean] =>
        ['string', 'number', 'boolean'].includes(typeof entry[1]),
      ),
    );
    const otel = tracer.startSpan(
      span.name,
      { kind: kinds[span.kind], attributes, startTime: hrTime(span.startTimeNs), root: !parent },
      ctx,
    );
    if (span.status.code === 'error') otel.setStatus({ code: 2, message: span.status.message ?? '' });
    for (const event of span.events) otel.addEvent(event.name, {}, hrTime(event.timeNs));
    live.set(span.spanId, otel);
  }
  for (const span of ordered) live.get(span.spanId)?.end(hrTime(span.endTimeNs ?? span.startTimeNs));
}
