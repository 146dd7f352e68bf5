import type { Attributes, AttributeValue, Span, SpanEvent, SpanKind, SpanLink, StatusCode } from '@lifeline/core';
import { NON_FINITE_ATTRIBUTE, UNKNOWN_KIND_ATTRIBUTE } from '@lifeline/core';
import { attempt, countRawSpans, countUnknownKind, type ImportContext, strictContext } from './import-context.js';
import {
  asNumber,
  asObject,
  asStartTimeNs,
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

/**
 * An enum value by its protobuf name. The JSON mapping writes `SPAN_KIND_SERVER`;
 * some tools print the short or lower-case form (`SERVER`, `Server`), which
 * is read the same.
 */
function enumName(prefix: string, value: string): string {
  const upper = value.trim().toUpperCase();
  return upper.startsWith(prefix) ? upper : `${prefix}${upper}`;
}

function integer(value: unknown, place: string): number | string {
  const n = asNumber(value, place);
  // A 64-bit integer beyond float64's exact range keeps its digits as text.
  return Number.isSafeInteger(n) || typeof value !== 'string' ? n : value;
}

/** The texts the protobuf JSON mapping writes for a double that is not a finite number. */
const NON_FINITE: ReadonlySet<string> = new Set(['NaN', 'Infinity', '-Infinity']);

/**
 * A double attribute. NaN and ±Infinity are valid OTLP doubles (the JSON
 * mapping writes them as the strings "NaN", "Infinity", "-Infinity"), but JSON
 * cannot hold them as numbers: they are kept as those strings, so the span and
 * the value both survive.
 */
export function double(value: unknown, place: string): number | string {
  if (typeof value === 'string' && NON_FINITE.has(value.trim())) return value.trim();
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return asNumber(value, place);
}

function primitive(value: JsonObject, place: string): Primitive | undefined {
  if ('stringValue' in value) return asString(value.stringValue, child(place, 'stringValue'));
  if ('boolValue' in value) {
    if (typeof value.boolValue !== 'boolean') fail(child(place, 'boolValue'), 'expected true or false');
    return value.boolValue;
  }
  if ('intValue' in value) return integer(value.intValue, child(place, 'intValue'));
  if ('doubleValue' in value) return double(value.doubleValue, child(place, 'doubleValue'));
  if ('bytesValue' in value) return asString(value.bytesValue, child(place, 'bytesValue'));
  return undefined;
}

/**
 * Keys of NaN or infinite doubles met while reading attributes, with the
 * prefix that names where they sit (see `NON_FINITE_ATTRIBUTE`).
 */
interface NonFiniteKeys {
  readonly keys: string[];
  readonly prefix: string;
}

/** Whether an AnyValue is a double that {@link double} kept as text (NaN or ±Infinity). */
function isNonFiniteDouble(value: JsonObject, read: Primitive | undefined): boolean {
  return typeof read === 'string' && 'doubleValue' in value;
}

/**
 * Levels of nesting an attribute value keeps: key-value lists are flattened
 * into dotted keys this deep, and JSON text of nested arrays is written this
 * deep. OTLP sets no limit (an AnyValue may hold an AnyValue without end), and
 * a value nested thousands of levels deep must not exhaust the stack: what
 * lies deeper is replaced by {@link CUT_TEXT}.
 */
const MAX_ATTRIBUTE_DEPTH = 32;

/** What stands in a value for the part nested deeper than {@link MAX_ATTRIBUTE_DEPTH}. */
const CUT_TEXT = `… (nested deeper than ${MAX_ATTRIBUTE_DEPTH} levels: cut)`;

/**
 * JSON text of a parsed JSON value, as `JSON.stringify` writes it, with
 * arrays and objects deeper than `depth` levels replaced by {@link CUT_TEXT}.
 */
function boundedJson(value: unknown, depth: number = MAX_ATTRIBUTE_DEPTH): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (depth <= 0) return JSON.stringify(CUT_TEXT);
  if (Array.isArray(value)) return `[${value.map((item) => boundedJson(item, depth - 1)).join(',')}]`;
  const members: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined) members.push(`${JSON.stringify(key)}:${boundedJson(item, depth - 1)}`);
  }
  return `{${members.join(',')}}`;
}

/**
 * Adds one OTLP attribute to `out`. Arrays of primitives stay arrays; a
 * key-value list is flattened into dotted keys (`header.accept`), the way
 * OpenTelemetry names nested attributes; anything deeper is kept as JSON text.
 * Lists nested more than {@link MAX_ATTRIBUTE_DEPTH} levels deep are kept as
 * JSON text from there on, cut at that depth.
 */
function addAttribute(
  out: Record<string, AttributeValue>,
  key: string,
  raw: unknown,
  place: string,
  nonFinite: NonFiniteKeys | undefined,
  depth = 0,
): void {
  if (raw === undefined || raw === null) return;
  const value = asObject(raw, place);
  const simple = primitive(value, place);
  if (simple !== undefined) {
    if (isNonFiniteDouble(value, simple)) nonFinite?.keys.push(`${nonFinite.prefix}${key}`);
    if (simple !== null) out[key] = simple;
    return;
  }
  if ('arrayValue' in value) {
    const arrayPlace = child(place, 'arrayValue');
    const items = optionalArray(asObject(value.arrayValue, arrayPlace).values, child(arrayPlace, 'values'));
    const primitives: Primitive[] = [];
    let nested = false;
    let odd = false;
    items.forEach((item, i) => {
      const itemPlace = child(child(arrayPlace, 'values'), i);
      const itemValue = asObject(item, itemPlace);
      const p = primitive(itemValue, itemPlace);
      if (p === undefined && Object.keys(itemValue).length > 0) nested = true;
      if (isNonFiniteDouble(itemValue, p)) odd = true;
      primitives.push(p ?? null);
    });
    if (odd) nonFinite?.keys.push(`${nonFinite.prefix}${key}`);
    out[key] = nested ? boundedJson(items) : primitives;
    return;
  }
  if ('kvlistValue' in value) {
    if (depth >= MAX_ATTRIBUTE_DEPTH) {
      out[key] = boundedJson(value);
      return;
    }
    const listPlace = child(place, 'kvlistValue');
    const entries = optionalArray(asObject(value.kvlistValue, listPlace).values, child(listPlace, 'values'));
    entries.forEach((entry, i) => {
      const entryPlace = child(child(listPlace, 'values'), i);
      const kv = asObject(entry, entryPlace);
      addAttribute(
        out,
        `${key}.${asString(kv.key, child(entryPlace, 'key'))}`,
        kv.value,
        child(entryPlace, 'value'),
        nonFinite,
        depth + 1,
      );
    });
  }
}

/**
 * Decodes an OTLP attribute list into Lifeline attributes. Keys of NaN or
 * infinite doubles are added to `nonFinite` when given.
 */
export function otlpAttributes(
  list: unknown,
  place: string,
  nonFinite?: NonFiniteKeys,
): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  optionalArray(list, place).forEach((entry, i) => {
    const entryPlace = child(place, i);
    const kv = asObject(entry, entryPlace);
    addAttribute(out, asString(kv.key, child(entryPlace, 'key')), kv.value, child(entryPlace, 'value'), nonFinite);
  });
  return out;
}

/**
 * A span kind, and the raw value when OTLP defines no such kind (a newer
 * OTLP, or a typo): OTLP asks receivers to accept unknown enum values, so the
 * span is kept as SPAN_KIND_UNSPECIFIED (drawn as internal), the value in
 * `UNKNOWN_KIND_ATTRIBUTE`. The caller counts it once the span is read.
 */
function kindOf(value: unknown, place: string): { kind: SpanKind; unknown?: string } {
  if (value === undefined || value === null) return { kind: 'internal' };
  const kind =
    typeof value === 'string' && !/^\d+$/.test(value)
      ? kindsByName[enumName('SPAN_KIND_', value)]
      : kindsByNumber[Number(value)];
  if (kind !== undefined) return { kind };
  if (typeof value === 'string' || typeof value === 'number') return { kind: 'internal', unknown: String(value) };
  return fail(place, `expected a span kind (a number or a name), found ${JSON.stringify(value)}`);
}

function statusOf(value: unknown, place: string): Span['status'] {
  if (value === undefined || value === null) return { code: 'unset' };
  const status = asObject(value, place);
  const raw = status.code;
  let code: StatusCode | undefined = 'unset';
  if (raw !== undefined && raw !== null) {
    code =
      typeof raw === 'string' && !/^\d+$/.test(raw)
        ? statusByName[enumName('STATUS_CODE_', raw)]
        : statusByNumber[Number(raw)];
  }
  if (code === undefined) fail(child(place, 'code'), `unknown status code ${JSON.stringify(raw)}`);
  const message = optionalString(status.message, child(place, 'message'));
  return message === undefined || message === '' ? { code } : { code, message };
}

function otlpSpan(
  raw: unknown,
  place: string,
  resource: Attributes,
  serviceName: string,
  scope: Span['scope'],
  context: ImportContext,
  resourceNonFinite: readonly string[],
): Span {
  const { ids } = context;
  const nonFinite: string[] = [...resourceNonFinite];
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
      attributes: otlpAttributes(event.attributes, child(eventPlace, 'attributes'), {
        keys: nonFinite,
        prefix: `event ${String(event.name ?? '')}: `,
      }),
    };
  });
  const links: SpanLink[] = optionalArray(s.links, child(place, 'links')).map((l, i) => {
    const linkPlace = child(child(place, 'links'), i);
    const link = asObject(l, linkPlace);
    return {
      traceId: ids.traceId(link.traceId, child(linkPlace, 'traceId'), true),
      spanId: ids.spanId(link.spanId, child(linkPlace, 'spanId'), true),
      attributes: otlpAttributes(link.attributes, child(linkPlace, 'attributes')),
    };
  });
  const traceId = ids.traceId(s.traceId, child(place, 'traceId'));
  const spanId = ids.spanId(s.spanId, child(place, 'spanId'));
  const { kind, unknown: unknownKind } = kindOf(s.kind, child(place, 'kind'));
  // After the ids are read: the originals are known only then.
  const attributes = {
    ...otlpAttributes(s.attributes, child(place, 'attributes'), { keys: nonFinite, prefix: '' }),
    ...ids.originals(s.traceId, s.spanId),
  };
  // Marks read by the trace page and the diagram's notes (see @lifeline/core's import-marks).
  if (unknownKind !== undefined) attributes[UNKNOWN_KIND_ATTRIBUTE] = unknownKind;
  if (nonFinite.length > 0) attributes[NON_FINITE_ATTRIBUTE] = nonFinite;
  const span: { -readonly [K in keyof Span]: Span[K] } = {
    traceId,
    spanId,
    name: optionalString(s.name, child(place, 'name')) ?? '',
    kind,
    serviceName,
    startTimeNs: asStartTimeNs(s.startTimeUnixNano, child(place, 'startTimeUnixNano')),
    status: statusOf(s.status, child(place, 'status')),
    attributes,
    events,
    links,
    resource,
  };
  const parentSpanId = ids.parentSpanId(parent, child(place, 'parentSpanId'));
  if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
  if (endTimeNs !== undefined) span.endTimeNs = endTimeNs;
  if (scope !== undefined) span.scope = scope;
  // Counted once the span is read: a span skipped for another problem gets that one message only.
  if (unknownKind !== undefined) countUnknownKind(context, unknownKind);
  return span;
}

/** Options of {@link otlpToSpans}. */
export interface OtlpToSpansOptions {
  /** JSON path of the request inside its file (e.g. `result` in Jaeger's API v3 envelope), for error places. */
  readonly place?: string;
  /**
   * How ids are read and problems handled. By default ids must be valid and
   * the first malformed value throws; a file import passes a lenient context
   * that maps ids and collects problems.
   */
  readonly context?: ImportContext;
}

/**
 * Converts an OTLP `ExportTraceServiceRequest` in its JSON form (as an
 * OTLP/HTTP JSON body, a Collector file export line, or protobuf decoded to
 * plain objects) to Lifeline spans. Also reads Grafana Tempo's trace JSON,
 * which holds the same `ResourceSpans` under `batches`, and the names used
 * before OTLP 0.15 (`instrumentationLibrarySpans`, `instrumentationLibrary`).
 * Malformed input throws a `TraceFileError` naming the JSON path, e.g.
 * `resourceSpans[0].scopeSpans[0].spans[2].traceId` (or, with a context that
 * collects problems, skips that span or resource and records it).
 * `request` is `unknown` because every field is checked here: pass a parsed
 * body as it is, no cast needed ({@link OtlpExportTraceServiceRequestJson}
 * describes what is read).
 *
 * @throws {TraceFileError} on the first malformed value, unless `options.context` collects problems.
 *
 * @example
 * ```ts
 * const spans = otlpToSpans(JSON.parse(body));
 * store.writeSpans(spans);
 * ```
 */
export function otlpToSpans(request: unknown, options: OtlpToSpansOptions = {}): Span[] {
  const root = options.place ?? '';
  const context = options.context ?? strictContext();
  const body = asObject(request, root);
  const spans: Span[] = [];
  // Tempo's trace JSON names the ResourceSpans list `batches`.
  const listKey = body.resourceSpans === undefined && body.batches !== undefined ? 'batches' : 'resourceSpans';
  const resourceSpansPlace = child(root, listKey);
  optionalArray(body[listKey], resourceSpansPlace).forEach((rs, i) => {
    const rsPlace = child(resourceSpansPlace, i);
    attempt(context, countRawSpans(rs), () => {
      resourceSpansToSpans(rs, rsPlace, context, spans);
    });
  });
  return spans;
}

function resourceSpansToSpans(rs: unknown, rsPlace: string, context: ImportContext, spans: Span[]): void {
  const resourceSpans = asObject(rs, rsPlace);
  const resourcePlace = child(rsPlace, 'resource');
  const resourceNonFinite: string[] = [];
  const resource =
    resourceSpans.resource === undefined || resourceSpans.resource === null
      ? {}
      : otlpAttributes(asObject(resourceSpans.resource, resourcePlace).attributes, child(resourcePlace, 'attributes'), {
          keys: resourceNonFinite,
          prefix: 'resource: ',
        });
  const service = resource['service.name'];
  const serviceName = typeof service === 'string' && service !== '' ? service : 'unknown_service';
  // instrumentationLibrarySpans is the name used before OTLP 0.15 (older Tempo and Collector versions).
  const scopeKey = resourceSpans.scopeSpans != null ? 'scopeSpans' : 'instrumentationLibrarySpans';
  const scopesPlace = child(rsPlace, scopeKey);
  optionalArray(resourceSpans[scopeKey], scopesPlace).forEach((ss, j) => {
    const ssPlace = child(scopesPlace, j);
    attempt(context, countRawSpans(ss), () => {
      const scopeSpans = asObject(ss, ssPlace);
      const rawScopeKey = scopeSpans.scope != null ? 'scope' : 'instrumentationLibrary';
      const rawScope = scopeSpans[rawScopeKey];
      let scope: Span['scope'];
      if (rawScope !== undefined && rawScope !== null) {
        const scopePlace = child(ssPlace, rawScopeKey);
        const s = asObject(rawScope, scopePlace);
        const name = optionalString(s.name, child(scopePlace, 'name'));
        const version = optionalString(s.version, child(scopePlace, 'version'));
        if (name !== undefined && name !== '') {
          scope = version === undefined || version === '' ? { name } : { name, version };
        }
      }
      const spansPlace = child(ssPlace, 'spans');
      for (const [k, raw] of optionalArray(scopeSpans.spans, spansPlace).entries()) {
        const span = attempt(context, 1, () =>
          otlpSpan(raw, child(spansPlace, k), resource, serviceName, scope, context, resourceNonFinite),
        );
        if (span !== undefined) spans.push(span);
      }
    });
  });
}

/** Whether a parsed JSON value looks like an OTLP export request. */
export function isOtlpRequest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'resourceSpans' in value;
}

const PROTO_NAMES = /"(resource_spans|scope_spans|instrumentation_library_spans|resource_metrics|resource_logs)"\s*:/;

function lowerCamelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Every object key of an OTLP JSON value in lowerCamelCase (see {@link withJsonFieldNames}). */
export function renameKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(renameKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    out[key.includes('_') ? lowerCamelCase(key) : key] = renameKeys(item);
  return out;
}

/**
 * OTLP JSON written with protobuf's original field names (`resource_spans`,
 * `trace_id`, `start_time_unix_nano`, `string_value`, …), as protobuf's JSON
 * printers do when asked to keep them (Go `protojson` UseProtoNames, Python
 * `preserving_proto_field_name`). The protobuf JSON mapping requires parsers
 * to accept both names; OTLP/JSON itself uses lowerCamelCase. Returns the
 * parsed `value` with every object key in lowerCamelCase when `text` uses the
 * original names, else `value` unchanged. Only OTLP is renamed: in OTLP JSON
 * every object key is a field name (attribute keys are values).
 */
export function withJsonFieldNames(value: unknown, text: string): unknown {
  return PROTO_NAMES.test(text) ? renameKeys(value) : value;
}
