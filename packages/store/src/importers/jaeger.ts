import type { Attributes, AttributeValue, Span, SpanEvent, SpanLink } from '@lifeline/core';
import { NON_FINITE_ATTRIBUTE } from '@lifeline/core';
import { SHARED_SPAN_ID_ATTRIBUTE, sharedServerSpanId } from './ids.js';
import { attempt, countRawSpans, countUnknownKind, type ImportContext, strictContext } from './import-context.js';
import {
  asArray,
  asNumber,
  asObject,
  asStartTimeNs,
  asString,
  asTimeNs,
  child,
  endAfter,
  type JsonObject,
  optionalArray,
  optionalString,
} from './json-reader.js';
import { double } from './otlp.js';
import { splitTags } from './tags.js';

const NS_PER_US = 1000n;

function tagValue(tag: JsonObject, place: string): AttributeValue | undefined {
  const value = tag.value;
  switch (typeof value === 'undefined' ? undefined : String(tag.type ?? '').toLowerCase()) {
    case 'bool':
    case 'boolean':
      return value === true || value === 'true';
    case 'float64':
      // A NaN or infinite float64 is kept as its text, as for OTLP doubles.
      return double(value, child(place, 'value'));
    case 'int64': {
      const n = asNumber(value, child(place, 'value'));
      // int64 beyond float64's exact range (sent as a string) keeps its digits.
      return typeof value === 'string' && !Number.isSafeInteger(n) ? value : n;
    }
    case undefined:
      return undefined;
    default:
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
      return JSON.stringify(value);
  }
}

/**
 * Jaeger `tags`/`fields` (`[{key, type, value}]`) as an attribute map; keys of
 * NaN or infinite float64 tags are added to `nonFinite` when given.
 */
function jaegerTags(list: unknown, place: string, nonFinite?: string[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  optionalArray(list, place).forEach((raw, i) => {
    const tagPlace = child(place, i);
    const tag = asObject(raw, tagPlace);
    const value = tagValue(tag, tagPlace);
    const key = asString(tag.key, child(tagPlace, 'key'));
    if (typeof value === 'string' && String(tag.type ?? '').toLowerCase() === 'float64') nonFinite?.push(key);
    if (value !== undefined) out[key] = value;
  });
  return out;
}

interface Process {
  readonly serviceName: string;
  readonly resource: Attributes;
}

function readProcess(raw: unknown, place: string): Process {
  const p = asObject(raw, place);
  const serviceName = optionalString(p.serviceName, child(place, 'serviceName')) || 'unknown_service';
  return { serviceName, resource: { ...jaegerTags(p.tags, child(place, 'tags')), 'service.name': serviceName } };
}

/**
 * Converts one Jaeger trace object (`{traceID, spans, processes}`) to spans.
 * The parent is the first CHILD_OF reference within the trace (else the first
 * FOLLOWS_FROM); references into other traces become span links.
 */
function jaegerTrace(raw: unknown, place: string, context: ImportContext, spans: Span[]): void {
  const trace = asObject(raw, place);
  const processesPlace = child(place, 'processes');
  const processes = new Map<string, Process>();
  if (trace.processes !== undefined && trace.processes !== null) {
    for (const [id, p] of Object.entries(asObject(trace.processes, processesPlace))) {
      // A malformed process loses no span by itself: its spans get unknown_service and a warning.
      const process = attempt(context, 0, () => readProcess(p, child(processesPlace, id)));
      if (process !== undefined) processes.set(id, process);
    }
  }
  const seen = new Map<string, Span>();
  const shared = new Map<string, Span>();
  const traceSpans: Span[] = [];
  const spansPlace = child(place, 'spans');
  asArray(trace.spans, spansPlace).forEach((rawSpan, i) => {
    const spanPlace = child(spansPlace, i);
    let span = attempt(context, 1, () => jaegerSpan(rawSpan, spanPlace, processes, context));
    if (span === undefined) return;
    const key = `${span.traceId}/${span.spanId}`;
    const first = seen.get(key);
    if (first !== undefined) {
      // Zipkin-instrumented services (B3) give the server half of a call the
      // client's span id; Jaeger's own span-id deduper gives it a new id
      // parented on the client. Do the same when the query did not.
      if (first.kind === 'client' && span.kind === 'server' && !shared.has(key)) {
        span = serverHalf(span);
        shared.set(key, span);
      } else if (first.kind === 'server' && span.kind === 'client' && !shared.has(key)) {
        const server = serverHalf(first);
        traceSpans[traceSpans.indexOf(first)] = server;
        shared.set(key, server);
      } else {
        // A copy or a different span under a taken id: the store keeps the
        // first, counting copies apart from conflicts, and the import says so.
        traceSpans.push(span);
        return;
      }
    }
    seen.set(key, span);
    traceSpans.push(span);
  });
  for (const span of traceSpans) {
    const server = span.parentSpanId === undefined ? undefined : shared.get(`${span.traceId}/${span.parentSpanId}`);
    // The children the server recorded hang under the server half; the client's own stay with it.
    if (server !== undefined && span !== server && span.serviceName === server.serviceName) {
      spans.push({ ...span, parentSpanId: server.spanId });
    } else {
      spans.push(span);
    }
  }
}

function serverHalf(span: Span): Span {
  return {
    ...span,
    spanId: sharedServerSpanId(span.spanId),
    parentSpanId: span.spanId,
    attributes: { ...span.attributes, [SHARED_SPAN_ID_ATTRIBUTE]: span.spanId },
  };
}

function jaegerSpan(
  rawSpan: unknown,
  spanPlace: string,
  processes: Map<string, Process>,
  context: ImportContext,
): Span {
  const { ids, warnings } = context;
  const s = asObject(rawSpan, spanPlace);
  const traceId = ids.traceId(s.traceID, child(spanPlace, 'traceID'));
  const spanId = ids.spanId(s.spanID, child(spanPlace, 'spanID'));
  let process: Process | undefined;
  if (s.process !== undefined && s.process !== null) {
    process = readProcess(s.process, child(spanPlace, 'process'));
  } else {
    const processId = optionalString(s.processID, child(spanPlace, 'processID'));
    process = processId === undefined ? undefined : processes.get(processId);
    if (process === undefined) {
      warnings.push(`${spanPlace}: unknown processID ${JSON.stringify(processId)}; service set to unknown_service`);
    }
  }
  let parentSpanId: string | undefined;
  let followsFrom: string | undefined;
  const links: SpanLink[] = [];
  optionalArray(s.references, child(spanPlace, 'references')).forEach((r, j) => {
    const refPlace = child(child(spanPlace, 'references'), j);
    const ref = asObject(r, refPlace);
    const refTrace = ids.traceId(ref.traceID ?? s.traceID, child(refPlace, 'traceID'), true);
    const refSpan = ids.spanId(ref.spanID, child(refPlace, 'spanID'), true);
    // The all-zero id is W3C Trace Context's "none": such a reference (written for a root) points nowhere.
    if (refSpan === '0000000000000000') return;
    const type = optionalString(ref.refType, child(refPlace, 'refType'))?.toUpperCase() ?? 'CHILD_OF';
    if (refTrace === traceId && type === 'CHILD_OF' && parentSpanId === undefined) {
      parentSpanId = refSpan;
    } else if (refTrace === traceId && type === 'FOLLOWS_FROM' && followsFrom === undefined) {
      followsFrom = refSpan;
    } else {
      links.push({ traceId: refTrace, spanId: refSpan, attributes: { 'jaeger.ref_type': type } });
    }
  });
  parentSpanId ??= followsFrom;
  const startTimeNs = asStartTimeNs(s.startTime, child(spanPlace, 'startTime'), NS_PER_US);
  const duration =
    s.duration === undefined || s.duration === null
      ? undefined
      : asTimeNs(s.duration, child(spanPlace, 'duration'), NS_PER_US);
  const events: SpanEvent[] = optionalArray(s.logs, child(spanPlace, 'logs')).map((l, j) => {
    const logPlace = child(child(spanPlace, 'logs'), j);
    const log = asObject(l, logPlace);
    const fields = jaegerTags(log.fields, child(logPlace, 'fields'));
    const { event, ...attributes } = fields;
    return {
      name: typeof event === 'string' ? event : 'log',
      timeNs: asTimeNs(log.timestamp, child(logPlace, 'timestamp'), NS_PER_US),
      attributes,
    };
  });
  const nonFinite: string[] = [];
  const tags = splitTags(jaegerTags(s.tags, child(spanPlace, 'tags'), nonFinite));
  const span: { -readonly [K in keyof Span]: Span[K] } = {
    traceId,
    spanId,
    name: optionalString(s.operationName, child(spanPlace, 'operationName')) ?? '',
    kind: tags.kind ?? 'internal',
    serviceName: process?.serviceName ?? 'unknown_service',
    startTimeNs,
    status: tags.status,
    attributes: {
      ...tags.attributes,
      ...ids.originals(s.traceID, s.spanID),
      // Read by the trace page and the diagram's notes (see @lifeline/core's import-marks).
      ...(nonFinite.length > 0 ? { [NON_FINITE_ATTRIBUTE]: nonFinite } : {}),
    },
    events,
    links,
    resource: process?.resource ?? {},
  };
  if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
  if (duration !== undefined) span.endTimeNs = endAfter(startTimeNs, duration, child(spanPlace, 'duration'));
  if (tags.scope !== undefined) span.scope = tags.scope;
  // Counted once the span is read: a span skipped for another problem gets that one message only.
  if (tags.unknownKind !== undefined) countUnknownKind(context, tags.unknownKind);
  return span;
}

/**
 * Converts Jaeger JSON as the Jaeger UI and its HTTP API return it: either
 * `{data: [trace, …]}` or a single trace object. By default ids must be
 * valid and the first malformed value throws a `TraceFileError`; a lenient
 * context (as `parseTraceFile` passes) maps ids and skips what is malformed.
 */
export function jaegerToSpans(document: unknown, context: ImportContext = strictContext()): Span[] {
  const body = asObject(document, '');
  const spans: Span[] = [];
  if ('data' in body) {
    asArray(body.data, 'data').forEach((trace, i) => {
      attempt(context, countRawSpans(trace), () => jaegerTrace(trace, child('data', i), context, spans));
    });
  } else {
    jaegerTrace(body, '', context, spans);
  }
  return spans;
}

/** Whether a parsed JSON value looks like Jaeger JSON. */
export function isJaegerDocument(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const body = value as JsonObject;
  if (Array.isArray(body.data)) {
    const first = body.data[0] as JsonObject | undefined;
    return first === undefined || (typeof first === 'object' && first !== null && 'spans' in first);
  }
  return Array.isArray(body.spans) && ('traceID' in body || 'processes' in body);
}
