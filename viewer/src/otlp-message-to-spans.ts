/**
 * The receiver's message-to-spans path: Lifeline spans straight from a decoded protobuf
 * ExportTraceServiceRequest, without the OTLP/JSON objects in between (64-bit
 * times as decimal strings, ids as base64 then hex), which cost the receiver
 * most of its time and garbage. It gives exactly what the OTLP/JSON path
 * (`exportTraceMessageToJson` then `otlpToSpans`) gives, and gives up —
 * returns undefined — on anything that path would reject or treat specially
 * (a wrong-sized id, nested arrays, the pre-1.0
 * `instrumentationLibrarySpans`), so that path names the problem.
 */
import type { Attributes, AttributeValue, Span, SpanEvent, SpanKind, SpanLink, StatusCode } from '@lifeline/core';
import { NON_FINITE_ATTRIBUTE, UNKNOWN_KIND_ATTRIBUTE } from '@lifeline/core';
import type { ExportTraceMessage } from './otlp-protobuf.js';

/** A 64-bit integer as protobufjs decodes it: a `long` object, or a number where it fits. */
type Int64 = number | { low: number; high: number; toNumber(): number; toString(): string } | null | undefined;

interface AnyValueMessage {
  /** The name of the field set (protobufjs' oneof getter), undefined for an empty value. */
  readonly value?: string | undefined;
  readonly stringValue?: string | null;
  readonly boolValue?: boolean | null;
  readonly intValue?: Int64;
  readonly doubleValue?: number | null;
  readonly bytesValue?: Uint8Array | null;
  readonly arrayValue?: { readonly values?: readonly AnyValueMessage[] | null } | null;
  readonly kvlistValue?: { readonly values?: readonly KeyValueMessage[] | null } | null;
}

interface KeyValueMessage {
  readonly key?: string | null;
  readonly value?: AnyValueMessage | null;
}

interface SpanMessage {
  readonly traceId?: Uint8Array | null;
  readonly spanId?: Uint8Array | null;
  readonly parentSpanId?: Uint8Array | null;
  readonly name?: string | null;
  readonly kind?: number | null;
  readonly startTimeUnixNano?: Int64;
  readonly endTimeUnixNano?: Int64;
  readonly attributes?: readonly KeyValueMessage[] | null;
  readonly events?:
    | readonly {
        readonly timeUnixNano?: Int64;
        readonly name?: string | null;
        readonly attributes?: readonly KeyValueMessage[] | null;
      }[]
    | null;
  readonly links?:
    | readonly {
        readonly traceId?: Uint8Array | null;
        readonly spanId?: Uint8Array | null;
        readonly attributes?: readonly KeyValueMessage[] | null;
      }[]
    | null;
  readonly status?: { readonly code?: number | null; readonly message?: string | null } | null;
}

interface RequestMessage {
  readonly resourceSpans?:
    | readonly {
        readonly resource?: { readonly attributes?: readonly KeyValueMessage[] | null } | null;
        readonly scopeSpans?:
          | readonly {
              readonly scope?: { readonly name?: string | null; readonly version?: string | null } | null;
              readonly spans?: readonly SpanMessage[] | null;
            }[]
          | null;
        readonly instrumentationLibrarySpans?: readonly unknown[] | null;
      }[]
    | null;
}

/** Thrown inside this module when the OTLP/JSON path must take over. */
class GiveUp extends Error {}

const kinds: readonly SpanKind[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const statuses: readonly StatusCode[] = ['unset', 'ok', 'error'];

function int64(value: Int64): number {
  if (typeof value === 'number') return value;
  if (value === null || value === undefined) return 0;
  return value.toNumber();
}

const TWO_TO_32 = 32n;

/**
 * A `fixed64` time (unsigned nanoseconds since the epoch) exactly: its two
 * 32-bit halves joined as a bigint (`toNumber()` would round to 256 ns).
 * 0 when absent (proto3 leaves a zero out).
 */
function time(value: Int64): bigint {
  if (value === null || value === undefined) return 0n;
  // Out of Lifeline's range (negative, or 2^63 and beyond): the OTLP/JSON path names the field.
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new GiveUp();
    return BigInt(value);
  }
  if (value.high >>> 0 >= 0x8000_0000) throw new GiveUp();
  return (BigInt(value.high >>> 0) << TWO_TO_32) | BigInt(value.low >>> 0);
}

/**
 * A time that must be present and not 0 (a span's start, an event's): proto3
 * leaves a zero out, so absent and 0 are one case, which the receiver refuses
 * on the OTLP/JSON path, naming the field.
 */
function requiredTime(value: Int64): bigint {
  if (value === null || value === undefined) throw new GiveUp();
  const t = time(value);
  if (t === 0n) throw new GiveUp();
  return t;
}

/** An attribute key: the OTLP/JSON path rejects an empty one, which proto3 leaves out. */
function keyOf(key: string | null | undefined): string {
  if (key === null || key === undefined) throw new GiveUp();
  return key;
}

/** An id of exactly `size` bytes; a span's own (not a `reference`, a link's) must not be all zeros. */
function id(bytes: Uint8Array | null | undefined, size: 8 | 16, reference = false): string {
  if (bytes === null || bytes === undefined || bytes.length !== size) throw new GiveUp();
  if (!reference && bytes.every((byte) => byte === 0)) throw new GiveUp();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

type Primitive = string | number | boolean | null;

/**
 * How many members of the AnyValue oneof are set. The generated decoder
 * keeps only the last one on the wire, as protobuf prescribes for a oneof; a
 * message built by hand could still carry more than one, and then the
 * OTLP/JSON path (declaration order) and the oneof getter (last set) could
 * disagree.
 */
function membersSet(value: AnyValueMessage): number {
  let n = 0;
  if (value.stringValue !== null && value.stringValue !== undefined) n++;
  if (value.boolValue !== null && value.boolValue !== undefined) n++;
  if (value.intValue !== null && value.intValue !== undefined) n++;
  if (value.doubleValue !== null && value.doubleValue !== undefined) n++;
  if (value.bytesValue !== null && value.bytesValue !== undefined) n++;
  if (value.arrayValue !== null && value.arrayValue !== undefined) n++;
  if (value.kvlistValue !== null && value.kvlistValue !== undefined) n++;
  return n;
}

/** One AnyValue as a primitive; undefined for an empty value or a nested one. */
function primitive(value: AnyValueMessage): Primitive | undefined {
  if (membersSet(value) > 1) throw new GiveUp();
  switch (value.value) {
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue === true;
    case 'intValue': {
      const raw = value.intValue;
      if (typeof raw === 'number') return raw;
      const n = int64(raw);
      // Beyond float64's exact range the digits are kept as text, as in OTLP/JSON.
      return Number.isSafeInteger(n) ? n : String(raw);
    }
    case 'doubleValue':
      if (typeof value.doubleValue !== 'number') throw new GiveUp();
      // NaN and ±Infinity as the strings OTLP/JSON writes for them: JSON holds no such numbers.
      return Number.isFinite(value.doubleValue) ? value.doubleValue : String(value.doubleValue);
    case 'bytesValue': {
      const bytes = value.bytesValue ?? new Uint8Array(0);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
    }
    default:
      return undefined;
  }
}

/** Keys of NaN or infinite doubles met while reading attributes, with the prefix naming where they sit. */
interface NonFiniteKeys {
  readonly keys: string[];
  readonly prefix: string;
}

/** Whether a value read by {@link primitive} is a NaN or infinite double kept as text. */
function isNonFiniteDouble(value: AnyValueMessage, read: Primitive | undefined): boolean {
  return value.value === 'doubleValue' && typeof read === 'string';
}

function addAttribute(
  out: Record<string, AttributeValue>,
  key: string,
  value: AnyValueMessage | null | undefined,
  nonFinite: NonFiniteKeys,
): void {
  if (value === null || value === undefined) return;
  const simple = primitive(value);
  if (simple !== undefined) {
    if (isNonFiniteDouble(value, simple)) nonFinite.keys.push(`${nonFinite.prefix}${key}`);
    if (simple !== null) out[key] = simple;
    return;
  }
  if (value.value === 'arrayValue') {
    const items: Primitive[] = [];
    let odd = false;
    for (const item of value.arrayValue?.values ?? []) {
      const p = primitive(item);
      // Nested arrays and lists are stored as JSON text of their OTLP/JSON form.
      if (p === undefined && item.value !== undefined) throw new GiveUp();
      if (isNonFiniteDouble(item, p)) odd = true;
      items.push(p ?? null);
    }
    if (odd) nonFinite.keys.push(`${nonFinite.prefix}${key}`);
    out[key] = items;
    return;
  }
  if (value.value === 'kvlistValue') {
    for (const entry of value.kvlistValue?.values ?? []) {
      addAttribute(out, `${key}.${keyOf(entry.key)}`, entry.value, nonFinite);
    }
  }
}

function attributes(
  list: readonly KeyValueMessage[] | null | undefined,
  nonFinite: NonFiniteKeys,
): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  if (list === null || list === undefined) return out;
  for (const entry of list) addAttribute(out, keyOf(entry.key), entry.value, nonFinite);
  return out;
}

function span(
  s: SpanMessage,
  resource: Attributes,
  serviceName: string,
  scope: Span['scope'],
  resourceNonFinite: readonly string[],
): Span {
  // A kind OTLP does not define is accepted as UNSPECIFIED, the value kept (as the OTLP/JSON path does).
  const known = kinds[s.kind ?? 0];
  const kind = known ?? 'internal';
  const code = statuses[s.status?.code ?? 0];
  if (code === undefined) throw new GiveUp();
  const nonFinite: string[] = [...resourceNonFinite];
  const startTimeNs = requiredTime(s.startTimeUnixNano);
  const endTimeNs = time(s.endTimeUnixNano);
  const message = s.status?.message;
  const events: SpanEvent[] = (s.events ?? []).map((event) => ({
    name: event.name ?? '',
    timeNs: requiredTime(event.timeUnixNano),
    attributes: attributes(event.attributes, { keys: nonFinite, prefix: `event ${event.name ?? ''}: ` }),
  }));
  const links: SpanLink[] = (s.links ?? []).map((link) => ({
    traceId: id(link.traceId, 16, true),
    spanId: id(link.spanId, 8, true),
    attributes: attributes(link.attributes, { keys: [], prefix: '' }),
  }));
  const own = attributes(s.attributes, { keys: nonFinite, prefix: '' });
  if (known === undefined) own[UNKNOWN_KIND_ATTRIBUTE] = String(s.kind);
  if (nonFinite.length > 0) own[NON_FINITE_ATTRIBUTE] = nonFinite;
  const out: { -readonly [K in keyof Span]: Span[K] } = {
    traceId: id(s.traceId, 16),
    spanId: id(s.spanId, 8),
    name: s.name ?? '',
    kind,
    serviceName,
    startTimeNs,
    status: message === null || message === undefined || message === '' ? { code } : { code, message },
    attributes: own,
    events,
    links,
    resource,
  };
  const parent = s.parentSpanId;
  if (parent !== null && parent !== undefined && parent.length > 0 && parent.some((byte) => byte !== 0)) {
    out.parentSpanId = id(parent, 8);
  }
  if (endTimeNs !== 0n) out.endTimeNs = endTimeNs;
  if (scope !== undefined) out.scope = scope;
  return out;
}

/**
 * Lifeline spans of a decoded request, or undefined when the request needs
 * the OTLP/JSON path (see the module comment).
 *
 * @example
 * ```ts
 * const message = decodeExportTraceMessage(body);
 * const spans = exportTraceMessageToSpans(message) ?? otlpToSpans(exportTraceMessageToJson(message));
 * ```
 */
export function exportTraceMessageToSpans(message: ExportTraceMessage): Span[] | undefined {
  const request = message as unknown as RequestMessage;
  const spans: Span[] = [];
  try {
    for (const resourceSpans of request.resourceSpans ?? []) {
      if ((resourceSpans.instrumentationLibrarySpans?.length ?? 0) > 0) return undefined;
      const resourceNonFinite: string[] = [];
      const resource = attributes(resourceSpans.resource?.attributes, {
        keys: resourceNonFinite,
        prefix: 'resource: ',
      });
      const service = resource['service.name'];
      const serviceName = typeof service === 'string' && service !== '' ? service : 'unknown_service';
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        const name = scopeSpans.scope?.name;
        const version = scopeSpans.scope?.version;
        const scope: Span['scope'] =
          name === null || name === undefined || name === ''
            ? undefined
            : version === null || version === undefined || version === ''
              ? { name }
              : { name, version };
        for (const s of scopeSpans.spans ?? []) spans.push(span(s, resource, serviceName, scope, resourceNonFinite));
      }
    }
  } catch (error) {
    if (error instanceof GiveUp) return undefined;
    throw error;
  }
  return spans;
}
