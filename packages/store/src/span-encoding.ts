/**
 * The compact form in which spans travel to the writer and into SQLite: one
 * flat array of primitives, {@link SPAN_FIELDS} values per span, in the
 * column order of the `spans` table, with attributes, events and links
 * already JSON text. Posting this to a worker is several times cheaper than
 * posting span objects (the structured clone has no object graph to walk and
 * rebuild), and the writer binds the values as they are, stringifying nothing.
 */
import {
  type Attributes,
  bigintToJson,
  type Span,
  type SpanEvent,
  type SpanKind,
  type SpanLink,
  type StatusCode,
} from '@lifeline/core';

/** Values per span in {@link EncodedSpans.values}. */
export const SPAN_FIELDS = 16;

/** Offset of the trace id (hex text) among a span's values. */
export const F_TRACE_ID = 0;
/** Offset of the span id (hex text). */
export const F_SPAN_ID = 1;
/** Offset of the parent span id, `null` for a root. */
export const F_PARENT_SPAN_ID = 2;
/** Offset of the span name. */
export const F_NAME = 3;
/** Offset of the kind (`server`, `client`, ...). */
export const F_KIND = 4;
/** Offset of the service name. */
export const F_SERVICE = 5;
/** Offset of the start, exact ns since the epoch (a bigint). */
export const F_START_NS = 6;
/** Offset of the end, exact ns since the epoch (a bigint), `null` for a span that never ended. */
export const F_END_NS = 7;
/** Offset of the status code (`unset`, `ok`, `error`). */
export const F_STATUS_CODE = 8;
/** Offset of the status message, `null` when there is none. */
export const F_STATUS_MESSAGE = 9;
/** Offset of the attributes as JSON. */
export const F_ATTRIBUTES = 10;
/** Offset of the events as JSON, `null` when there are none. */
export const F_EVENTS = 11;
/** Offset of the links as JSON, `null` when there are none. */
export const F_LINKS = 12;
/** Offset of the index into {@link EncodedSpans.resources}; the writer binds the resource row id in its place. */
export const F_RESOURCE = 13;
/** Offset of the instrumentation scope name, `null` when unknown. */
export const F_SCOPE_NAME = 14;
/** Offset of the instrumentation scope version, `null` when unknown. */
export const F_SCOPE_VERSION = 15;

/** A batch of spans in compact form. */
export interface EncodedSpans {
  /** Resource attribute sets of the batch as JSON, each once. */
  readonly resources: string[];
  /** {@link SPAN_FIELDS} values per span; absent optional fields are `null`. */
  readonly values: unknown[];
}

/** The number of spans in a batch. */
export function encodedCount(batch: EncodedSpans): number {
  return batch.values.length / SPAN_FIELDS;
}

/** Encodes spans of Lifeline's model (imported files, {@link SpanStore.writeSpans}). */
export function encodeSpans(spans: readonly Span[]): EncodedSpans {
  const values: unknown[] = [];
  const resources: string[] = [];
  const resourceIndex = new Map<Attributes, number>();
  for (const span of spans) {
    let resource = resourceIndex.get(span.resource);
    if (resource === undefined) {
      resource = resources.push(JSON.stringify(span.resource)) - 1;
      resourceIndex.set(span.resource, resource);
    }
    values.push(
      span.traceId,
      span.spanId,
      // An empty parent id is what some exporters send for "no parent".
      span.parentSpanId || null,
      span.name,
      span.kind,
      span.serviceName,
      span.startTimeNs,
      span.endTimeNs ?? null,
      span.status.code,
      span.status.message ?? null,
      JSON.stringify(span.attributes),
      span.events.length === 0 ? null : eventsToJson(span.events),
      span.links.length === 0 ? null : JSON.stringify(span.links),
      resource,
      span.scope?.name ?? null,
      span.scope?.version ?? null,
    );
  }
  return { resources, values };
}

/** Joins batches into one, renumbering their resources. */
export function mergeEncoded(batches: readonly EncodedSpans[]): EncodedSpans {
  if (batches.length === 1) return batches[0] as EncodedSpans;
  const resources: string[] = [];
  // One concat copies the arrays in bulk, several times faster than pushing value by value.
  const values = ([] as unknown[]).concat(...batches.map((batch) => batch.values));
  let start = 0;
  for (const batch of batches) {
    const offset = resources.length;
    for (const json of batch.resources) resources.push(json);
    const end = start + batch.values.length;
    if (offset !== 0) {
      for (let i = start + F_RESOURCE; i < end; i += SPAN_FIELDS) values[i] = (values[i] as number) + offset;
    }
    start = end;
  }
  return { resources, values };
}

/**
 * Span events as the store keeps them: JSON with each `timeNs` as a decimal
 * string, so the time stays exact (a JSON number could not hold it).
 */
export function eventsToJson(events: readonly SpanEvent[]): string {
  return JSON.stringify(events, bigintToJson);
}

/**
 * Parses {@link eventsToJson}'s text back to events with bigint times. Stores
 * written before times were exact hold JSON numbers: those are rounded to
 * whole nanoseconds.
 */
export function eventsFromJson(json: string): SpanEvent[] {
  const events = JSON.parse(json) as { timeNs: unknown }[];
  for (const event of events) {
    const time = event.timeNs;
    event.timeNs =
      typeof time === 'string'
        ? BigInt(time)
        : typeof time === 'number' && Number.isFinite(time)
          ? BigInt(Math.round(time))
          : 0n;
  }
  return events as unknown as SpanEvent[];
}

function parseAttributes(json: string, parsed: Map<string, Attributes> | undefined): Attributes {
  if (parsed === undefined) return JSON.parse(json) as Attributes;
  let attributes = parsed.get(json);
  if (attributes === undefined) {
    attributes = JSON.parse(json) as Attributes;
    parsed.set(json, attributes);
  }
  return attributes;
}

/**
 * Rebuilds span `index` of a batch as Lifeline's span model. `resources` are
 * the batch's resource sets, parsed (each parsed once per batch by the caller).
 * `parsed`, when given, shares one attributes object among the spans whose
 * attributes are the same text (a query repeated in a loop, say), each text
 * parsed once; the caller must not modify the spans' attributes.
 */
export function decodeSpan(
  values: readonly unknown[],
  index: number,
  resources: readonly Attributes[],
  parsed?: Map<string, Attributes>,
): Span {
  const at = index * SPAN_FIELDS;
  const statusMessage = values[at + F_STATUS_MESSAGE] as string | null;
  const events = values[at + F_EVENTS] as string | null;
  const links = values[at + F_LINKS] as string | null;
  const span: { -readonly [K in keyof Span]: Span[K] } = {
    traceId: values[at + F_TRACE_ID] as string,
    spanId: values[at + F_SPAN_ID] as string,
    name: values[at + F_NAME] as string,
    kind: values[at + F_KIND] as SpanKind,
    serviceName: values[at + F_SERVICE] as string,
    startTimeNs: values[at + F_START_NS] as bigint,
    status:
      statusMessage === null
        ? { code: values[at + F_STATUS_CODE] as StatusCode }
        : { code: values[at + F_STATUS_CODE] as StatusCode, message: statusMessage },
    attributes: parseAttributes(values[at + F_ATTRIBUTES] as string, parsed),
    events: events === null ? [] : eventsFromJson(events),
    links: links === null ? [] : (JSON.parse(links) as SpanLink[]),
    resource: resources[values[at + F_RESOURCE] as number] ?? {},
  };
  const parentSpanId = values[at + F_PARENT_SPAN_ID] as string | null;
  if (parentSpanId !== null) span.parentSpanId = parentSpanId;
  const endTimeNs = values[at + F_END_NS] as bigint | null;
  if (endTimeNs !== null) span.endTimeNs = endTimeNs;
  const scopeName = values[at + F_SCOPE_NAME] as string | null;
  if (scopeName !== null) {
    const scopeVersion = values[at + F_SCOPE_VERSION] as string | null;
    span.scope = scopeVersion === null ? { name: scopeName } : { name: scopeName, version: scopeVersion };
  }
  return span;
}
