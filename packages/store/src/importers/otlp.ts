import type { Attributes, AttributeValue, Span, SpanEvent, SpanKind, SpanLink, StatusCode } from '@lifeline/core';
import {
  asId,
  asNumber,
  asObject,
  asString,
  asTimeNs,
  child,
  fail,
  type JsonObject,
  optionalArray,
  optionalString,
} from './json-reader.js';

/** OTLP/JSON `AnyValue`: exactly one of its fields is set. */
export interface OtlpAnyValueJson {
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly intValue?: string | number;
  readonly doubleValue?: number | string;
  readonly bytesValue?: string;
  readonly arrayValue?: { readonly values?: readonly OtlpAnyValueJson[] };
  readonly kvlistValue?: { readonly values?: readonly OtlpKeyValueJson[] };
}

/** OTLP/JSON `KeyValue`. */
export interface OtlpKeyValueJson {
  readonly key: string;
  readonly value?: OtlpAnyValueJson;
}

/** OTLP/JSON `Span`. Ids are hex (OTLP/JSON) or base64 (protobuf's JSON mapping); times are ns as strings or numbers. */
export interface OtlpSpanJson {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name?: string;
  readonly kind?: number | string;
  readonly startTimeUnixNano: string | number;
  readonly endTimeUnixNano?: string | number;
  readonly attributes?: readonly OtlpKeyValueJson[];
  readonly events?: readonly {
    readonly timeUnixNano: string | number;
    readonly name?: string;
    readonly attributes?: readonly OtlpKeyValueJson[];
  }[];
  readonly links?: readonly {
    readonly traceId: string;
    readonly spanId: string;
    readonly attributes?: readonly OtlpKeyValueJson[];
  }[];
  readonly status?: { readonly code?: number | string; readonly message?: string };
}

/** The body of an OTLP/HTTP JSON export (`ExportTraceServiceRequest`). */
export interface OtlpExportTraceServiceRequestJson {
  readonly resourceSpans?: readonly {
    readonly resource?: { readonly attributes?: readonly OtlpKeyValueJson[] };
    readonly scopeSpans?: readonly {
      readonly scope?: { readonly name?: string; readonly version?: string };
      readonly spans?: readonly OtlpSpanJson[];
    }[];
  }[];
}

const kindsByNumber: readonly SpanKind[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const kindsByName: Readonly<Record<string, SpanKind>> = {
  SPAN_KIND_UNSPECIFIED: 'internal',
  SPAN_KIND_INTERNAL: 'internal',
  SPAN_KIND_SERVER: 'server',
  SPAN_KIND_CLIENT: 'client',
  SPAN_KIND_PRODUCER: 'producer',
  SPAN_KIND_CONSUMER: 'consumer',
};
const statusByNumber: readonly StatusCode[] = ['unset', 'ok', 'error'];
const statusByName: Readonly<Record<string, StatusCode>> = {
  STATUS_CODE_UNSET: 'unset',
  STATUS_CODE_OK: 'ok',
  STATUS_CODE_ERROR: 'error',
};

type Primitive = string | number | boolean | null;

function integer(value: unknown, place: string): number | string {
  const n = asNumber(value, place);
  // A 64-bit integer beyond float64's exact range keeps its digits as text.
  return Number.isSafeInteger(n) || typeof value !== 'string' ? n : value;
}

function primitive(value: JsonObject, place: string): Primitive | undefined {
  if ('stringValue' in value) return asString(value.stringValue, child(place, 'stringValue'));
  if ('boolValue' in value) {
    if (typeof value.boolValue !== 'boolean') fail(child(place, 'boolValue'), 'expected true or false');
    return value.boolValue;
  }
  if ('intValue' in value) return integer(value.intValue, child(place, 'intValue'));
  if ('doubleValue' in value) return asNumber(value.doubleValue, child(place, 'doubleValue'));
  if ('bytesValue' in value) return asString(value.bytesValue, child(place, 'bytesValue'));
  return undefined;
}

/**
 * Adds one OTLP attribute to `out`. Arrays of primitives stay arrays; a
 * key-value list is flattened into dotted keys (`header.accept`), the way
 * OpenTelemetry names nested attributes; anything deeper is kept as JSON text.
 */
function addAttribute(out: Record<string, AttributeValue>, key: string, raw: unknown, place: string): void {
  if (raw === undefined || raw === null) return;
  const value = asObject(raw, place);
  const simple = primitive(value, place);
  if (simple !== undefined) {
    if (simple !== null) out[key] = simple;
    return;
  }
  if ('arrayValue' in value) {
    const arrayPlace = child(place, 'arrayValue');
    const items = optionalArray(asObject(value.arrayValue, arrayPlace).values, child(arrayPlace, 'values'));
    const primitives: Primitive[] = [];
    let nested = false;
    items.forEach((item, i) => {
      const itemPlace = child(child(arrayPlace, 'values'), i);
      const p = primitive(asObject(item, itemPlace), itemPlace);
      if (p === undefined && Object.keys(asObject(item, itemPlace)).length > 0) nested = true;
      primitives.push(p ?? null);
    });
    out[key] = nested ? JSON.stringify(items) : primitives;
    return;
  }
  if ('kvlistValue' in value) {
    const listPlace = child(place, 'kvlistValue');
    const entries = optionalArray(asObject(value.kvlistValue, listPlace).values, child(listPlace, 'values'));
    entries.forEach((entry, i) => {
      const entryPlace = child(child(listPlace, 'values'), i);
      const kv = asObject(entry, entryPlace);
      addAttribute(out, `${key}.${asString(kv.key, child(entryPlace, 'key'))}`, kv.value, child(entryPlace, 'value'));
    });
  }
}

/** Decodes an OTLP attribute list into Lifeline attributes. */
export function otlpAttributes(list: unknown, place: string): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  optionalArray(list, place).forEach((entry, i) => {
    const entryPlace = child(place, i);
    const kv = asObject(entry, entryPlace);
    addAttribute(out, asString(kv.key, child(entryPlace, 'key')), kv.value, child(entryPlace, 'value'));
  });
  return out;
}

function kindOf(value: unknown, place: string): SpanKind {
  if (value === undefined || value === null) return 'internal';
  const kind = typeof value === 'string' && !/^\d+$/.test(value) ? kindsByName[value] : kindsByNumber[Number(value)];
  return kind ?? fail(place, `unknown span kind ${JSON.stringify(value)}`);
}

function statusOf(value: unknown, place: string): Span['status'] {
  if (value === undefined || value === null) return { code: 'unset' };
  const status = asObject(value, place);
  const raw = status.code;
  let code: StatusCode | undefined = 'unset';
  if (raw !== undefined && raw !== null) {
    code = typeof raw === 'string' && !/^\d+$/.test(raw) ? statusByName[raw] : statusByNumber[Number(raw)];
  }
  if (code === undefined) fail(child(place, 'code'), `unknown status code ${JSON.stringify(raw)}`);
  const message = optionalString(status.message, child(place, 'message'));
  return message === undefined || message === '' ? { code } : { code, message };
}

function otlpSpan(raw: unknown, place: string, resource: Attributes, serviceName: string, scope: Span['scope']): Span {
  const s = asObject(raw, place);
  const parent = optionalString(s.parentSpanId, child(place, 'parentSpanId'));
  const end = s.endTimeUnixNano;
  const endTimeNs =
    end === undefined || end === null || end === '0' || end === 0
      ? undefined
      : asTimeNs(end, child(place, 'endTimeUnixNano'));
  const events: SpanEvent[] = optionalArray(s.events, child(place, 'events')).map((e, i) => {
    const eventPlace = child(child(place, 'events'), i);
    const event = asObject(e, eventPlace);
    return {
      name: optionalString(event.name, child(eventPlace, 'name')) ?? '',
      timeNs: asTimeNs(event.timeUnixNano, child(eventPlace, 'timeUnixNano')),
      attributes: otlpAttributes(event.attributes, child(eventPlace, 'attributes')),
    };
  });
  const links: SpanLink[] = optionalArray(s.links, child(place, 'links')).map((l, i) => {
    const linkPlace = child(child(place, 'links'), i);
    const link = asObject(l, linkPlace);
    return {
      traceId: asId(link.traceId, child(linkPlace, 'traceId'), 16),
      spanId: asId(link.spanId, child(linkPlace, 'spanId'), 8),
      attributes: otlpAttributes(link.attributes, child(linkPlace, 'attributes')),
    };
  });
  const span: { -readonly [K in keyof Span]: Span[K] } = {
    traceId: asId(s.traceId, child(place, 'traceId'), 16),
    spanId: asId(s.spanId, child(place, 'spanId'), 8),
    name: optionalString(s.name, child(place, 'name')) ?? '',
    kind: kindOf(s.kind, child(place, 'kind')),
    serviceName,
    startTimeNs: asTimeNs(s.startTimeUnixNano, child(place, 'startTimeUnixNano')),
    status: statusOf(s.status, child(place, 'status')),
    attributes: otlpAttributes(s.attributes, child(place, 'attributes')),
    events,
    links,
    resource,
  };
  if (parent !== undefined && parent !== '') span.parentSpanId = asId(parent, child(place, 'parentSpanId'), 8);
  if (endTimeNs !== undefined) span.endTimeNs = endTimeNs;
  if (scope !== undefined) span.scope = scope;
  return span;
}

/**
 * Converts an OTLP `ExportTraceServiceRequest` in its JSON form (as an
 * OTLP/HTTP JSON body, a Collector file export line, or protobuf decoded to
 * plain objects) to Lifeline spans. Malformed input throws a
 * `TraceFileError` naming the JSON path, e.g. `resourceSpans[0].scopeSpans[0].spans[2].traceId`.
 *
 * @example
 * ```ts
 * const spans = otlpToSpans(JSON.parse(body));
 * store.writeSpans(spans);
 * ```
 */
export function otlpToSpans(request: OtlpExportTraceServiceRequestJson, options: { place?: string } = {}): Span[] {
  const root = options.place ?? '';
  const body = asObject(request, root);
  const spans: Span[] = [];
  const resourceSpansPlace = child(root, 'resourceSpans');
  optionalArray(body.resourceSpans, resourceSpansPlace).forEach((rs, i) => {
    const rsPlace = child(resourceSpansPlace, i);
    const resourceSpans = asObject(rs, rsPlace);
    const resourcePlace = child(rsPlace, 'resource');
    const resource =
      resourceSpans.resource === undefined || resourceSpans.resource === null
        ? {}
        : otlpAttributes(
            asObject(resourceSpans.resource, resourcePlace).attributes,
            child(resourcePlace, 'attributes'),
          );
    const service = resource['service.name'];
    const serviceName = typeof service === 'string' && service !== '' ? service : 'unknown_service';
    // instrumentationLibrarySpans is the name used before OTLP 0.15.
    const scopeKey = resourceSpans.scopeSpans !== undefined ? 'scopeSpans' : 'instrumentationLibrarySpans';
    const scopesPlace = child(rsPlace, scopeKey);
    optionalArray(resourceSpans[scopeKey], scopesPlace).forEach((ss, j) => {
      const ssPlace = child(scopesPlace, j);
      const scopeSpans = asObject(ss, ssPlace);
      const rawScope = scopeSpans.scope ?? scopeSpans.instrumentationLibrary;
      let scope: Span['scope'];
      if (rawScope !== undefined && rawScope !== null) {
        const scopePlace = child(ssPlace, 'scope');
        const s = asObject(rawScope, scopePlace);
        const name = optionalString(s.name, child(scopePlace, 'name'));
        const version = optionalString(s.version, child(scopePlace, 'version'));
        if (name !== undefined && name !== '') {
          scope = version === undefined || version === '' ? { name } : { name, version };
        }
      }
      const spansPlace = child(ssPlace, 'spans');
      for (const [k, raw] of optionalArray(scopeSpans.spans, spansPlace).entries()) {
        spans.push(otlpSpan(raw, child(spansPlace, k), resource, serviceName, scope));
      }
    });
  });
  return spans;
}

/** Whether a parsed JSON value looks like an OTLP export request. */
export function isOtlpRequest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'resourceSpans' in value;
}
