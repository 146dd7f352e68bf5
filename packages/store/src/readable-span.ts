import type { Attributes, Span, SpanEvent, SpanKind, SpanLink, StatusCode } from '@lifeline/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

// Indexed by the numeric values of @opentelemetry/api's SpanKind and SpanStatusCode enums.
const kinds: readonly SpanKind[] = ['internal', 'server', 'client', 'producer', 'consumer'];
const statusCodes: readonly StatusCode[] = ['unset', 'ok', 'error'];

type HrTime = readonly [number, number];

function hrTimeToNs(time: HrTime): number {
  return time[0] * 1e9 + time[1];
}

interface ConvertedResource {
  readonly attributes: Attributes;
  readonly serviceName: string;
}

// One Resource object is shared by every span of a process: converting it once
// keeps the per-span cost low, and shared objects are cloned once per batch
// when the batch is posted to the writer thread.
const resourceCache = new WeakMap<object, ConvertedResource>();

function convertResource(resource: ReadableSpan['resource'] | undefined): ConvertedResource {
  if (resource === undefined || resource === null) return { attributes: {}, serviceName: 'unknown_service' };
  const cached = resourceCache.get(resource);
  if (cached !== undefined) return cached;
  const attributes = { ...(resource.attributes as Attributes) };
  const name = attributes['service.name'];
  const converted = {
    attributes,
    serviceName: typeof name === 'string' && name !== '' ? name : 'unknown_service',
  };
  resourceCache.set(resource, converted);
  return converted;
}

/**
 * Converts an OpenTelemetry SDK span to Lifeline's span model: HrTime to
 * nanoseconds, enum kinds and status codes to names, `service.name` of the
 * resource to `serviceName` (`unknown_service` when absent). The input is
 * never modified; attribute objects are shared, not copied, because the SDK
 * no longer changes a span once it has ended.
 *
 * @example
 * ```ts
 * const spans = exporter.getFinishedSpans().map(readableSpanToSpan);
 * ```
 */
export function readableSpanToSpan(span: ReadableSpan): Span {
  const context = span.spanContext();
  // SDK 2.x exposes the parent as a SpanContext; 1.x had parentSpanId.
  const parentSpanId =
    span.parentSpanContext?.spanId ?? (span as unknown as { parentSpanId?: string }).parentSpanId ?? undefined;
  const resource = convertResource(span.resource);
  const events: SpanEvent[] = span.events.map((event) => ({
    name: event.name,
    timeNs: hrTimeToNs(event.time as HrTime),
    attributes: (event.attributes ?? {}) as Attributes,
  }));
  const links: SpanLink[] = span.links.map((link) => ({
    traceId: link.context.traceId,
    spanId: link.context.spanId,
    attributes: (link.attributes ?? {}) as Attributes,
  }));
  const status = span.status.message
    ? { code: statusCodes[span.status.code] ?? 'unset', message: span.status.message }
    : { code: statusCodes[span.status.code] ?? 'unset' };
  const scope = span.instrumentationScope;
  const converted: { -readonly [K in keyof Span]: Span[K] } = {
    traceId: context.traceId,
    spanId: context.spanId,
    name: span.name,
    kind: kinds[span.kind] ?? 'internal',
    serviceName: resource.serviceName,
    startTimeNs: hrTimeToNs(span.startTime as HrTime),
    status,
    attributes: span.attributes as Attributes,
    events,
    links,
    resource: resource.attributes,
  };
  if (parentSpanId) converted.parentSpanId = parentSpanId;
  if (span.ended !== false) converted.endTimeNs = hrTimeToNs(span.endTime as HrTime);
  if (scope !== undefined) {
    converted.scope = scope.version === undefined ? { name: scope.name } : { name: scope.name, version: scope.version };
  }
  return converted;
}
