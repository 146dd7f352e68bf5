import type { Attributes, Span, SpanEvent, SpanKind, SpanLink, StatusCode } from '@lifeline/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { EncodedSpans } from './span-encoding.js';

// Indexed by the numeric values of @opentelemetry/api's SpanKind and SpanStatusCode enums.
const kinds: readonly SpanKind[] = ['internal', 'server', 'client', 'producer', 'consumer'];
const statusCodes: readonly StatusCode[] = ['unset', 'ok', 'error'];

type HrTime = readonly [number, number];

const NS_PER_SECOND = 1_000_000_000n;

/**
 * HrTime (`[seconds, nanoseconds]` since the epoch) to exact nanoseconds.
 * `seconds * 1e9 + nanoseconds` in float64 would round to 256 ns, so the two
 * halves are combined as bigints. A part that is not a whole number (an
 * HrTime made by hand) is rounded; one that is not finite reads as 0.
 */
function hrTimeToNs(time: HrTime): bigint {
  const [seconds, nanos] = time;
  if (Number.isSafeInteger(seconds) && Number.isSafeInteger(nanos)) {
    return BigInt(seconds) * NS_PER_SECOND + BigInt(nanos);
  }
  const total = Math.round(seconds * 1e9 + nanos);
  return Number.isFinite(total) ? BigInt(total) : 0n;
}

interface ConvertedResource {
  readonly attributes: Attributes;
  readonly serviceName: string;
  /** The attributes as JSON, made when first needed. */
  json?: string;
}

// One Resource object is shared by every span of a process: converting it once
// keeps the per-span cost low, and shared objects are cloned once per batch
// when the batch is posted to the writer thread.
const resourceCache = new WeakMap<object, ConvertedResource>();
const noResource: ConvertedResource = { attributes: Object.freeze({}), serviceName: 'unknown_service', json: '{}' };

function convertResource(resource: ReadableSpan['resource'] | undefined): ConvertedResource {
  if (resource === undefined || resource === null) return noResource;
  const cached = resourceCache.get(resource);
  if (cached !== undefined) return cached;
  const attributes = { ...(resource.attributes as Attributes) };
  const name = attributes['service.name'];
  const converted: ConvertedResource = {
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
  const parentSpanId = parentOf(span);
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

function parentOf(span: ReadableSpan): string | undefined {
  // SDK 2.x exposes the parent as a SpanContext; 1.x had parentSpanId.
  return span.parentSpanContext?.spanId ?? (span as unknown as { parentSpanId?: string }).parentSpanId ?? undefined;
}

function eventsJson(span: ReadableSpan): string | null {
  if (span.events.length === 0) return null;
  let json = '[';
  for (const event of span.events) {
    if (json.length > 1) json += ',';
    json += JSON.stringify({
      name: event.name,
      // Exact, as a decimal string: see eventsToJson.
      timeNs: hrTimeToNs(event.time as HrTime).toString(),
      attributes: event.attributes ?? {},
    });
  }
  return `${json}]`;
}

function linksJson(span: ReadableSpan): string | null {
  if (span.links.length === 0) return null;
  let json = '[';
  for (const link of span.links) {
    if (json.length > 1) json += ',';
    json += JSON.stringify({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      attributes: link.attributes ?? {},
    });
  }
  return `${json}]`;
}

/**
 * Encodes `spans[from..to)` the way {@link readableSpanToSpan} converts them,
 * straight into the compact form the writer thread stores: no intermediate
 * span objects, attributes as JSON text, each resource once per batch.
 */
export function encodeReadableSpans(spans: readonly ReadableSpan[], from = 0, to = spans.length): EncodedSpans {
  const values: unknown[] = [];
  const resources: string[] = [];
  let lastResource: ConvertedResource | undefined;
  let lastIndex = -1;
  for (let i = from; i < to; i++) {
    const span = spans[i] as ReadableSpan;
    const context = span.spanContext();
    const resource = convertResource(span.resource);
    if (resource !== lastResource) {
      resource.json ??= JSON.stringify(resource.attributes);
      lastIndex = resources.indexOf(resource.json);
      if (lastIndex < 0) lastIndex = resources.push(resource.json) - 1;
      lastResource = resource;
    }
    const scope = span.instrumentationScope;
    values.push(
      context.traceId,
      context.spanId,
      parentOf(span) || null,
      span.name,
      kinds[span.kind] ?? 'internal',
      resource.serviceName,
      hrTimeToNs(span.startTime as HrTime),
      span.ended !== false ? hrTimeToNs(span.endTime as HrTime) : null,
      statusCodes[span.status.code] ?? 'unset',
      span.status.message || null,
      JSON.stringify(span.attributes),
      eventsJson(span),
      linksJson(span),
      lastIndex,
      scope?.name ?? null,
      scope?.version ?? null,
    );
  }
  return { resources, values };
}
