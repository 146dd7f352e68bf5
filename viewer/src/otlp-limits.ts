/**
 * Limits on what one OTLP request may expand to once decoded. A protobuf body
 * within the byte limit can still hold millions of empty events or attributes
 * (two bytes each on the wire), and a decoder materialises one object for
 * each: gigabytes and seconds on the event loop for one request. So the
 * protobuf body is first walked as raw wire format, counting without
 * building anything, and refused before decoding when it is over a limit.
 *
 * The limits are per span (attributes, events, links, and attributes of each
 * event and link), as OpenTelemetry's span limits and the Collector's and
 * Tempo's ingestion limits are, plus a total of spans and of decoded values
 * per request. The defaults are far above what an OpenTelemetry SDK sends
 * with its own defaults (128 attributes, events and links per span).
 */

/** Limits on one OTLP request, each a count. */
export interface OtlpRequestLimits {
  /** Spans in one request (default 100,000). */
  readonly maxSpans: number;
  /** Attributes of one span, of one event, of one link, or of a resource (default 1,000). */
  readonly maxAttributes: number;
  /** Events of one span (default 1,000). */
  readonly maxEvents: number;
  /** Links of one span (default 1,000). */
  readonly maxLinks: number;
  /**
   * Values of every kind in the whole request, nested arrays and key-value
   * lists included: what the decoder would build (default 2,000,000).
   */
  readonly maxValues: number;
}

/** The default {@link OtlpRequestLimits}. */
export const DEFAULT_OTLP_LIMITS: OtlpRequestLimits = {
  maxSpans: 100_000,
  maxAttributes: 1_000,
  maxEvents: 1_000,
  maxLinks: 1_000,
  maxValues: 2_000_000,
};

/** Thrown when a request is over a limit, or is not well-formed wire format. */
export class OtlpLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpLimitError';
  }
}

/** Protobuf wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** A field as the walker sees it: number, wire type, and for LEN fields where its bytes are. */
interface Field {
  readonly number: number;
  readonly wireType: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Walks the fields of the message in `bytes[start, end)`, calling `visit` for
 * each. Only the framing is read: no strings, numbers or objects are made.
 *
 * @throws {OtlpLimitError} for truncated or malformed wire format.
 */
function eachField(bytes: Uint8Array, start: number, end: number, visit: (field: Field) => void): void {
  let at = start;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= end) throw new OtlpLimitError('invalid protobuf: truncated varint');
      const byte = bytes[at++] as number;
      // Past 2^53 the exact value does not matter here: lengths that large are rejected below.
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return value;
    }
    throw new OtlpLimitError('invalid protobuf: varint longer than 10 bytes');
  };
  while (at < end) {
    const tag = varint();
    const number = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (number === 0) throw new OtlpLimitError('invalid protobuf: field number 0');
    let fieldStart = at;
    if (wireType === VARINT) varint();
    else if (wireType === I64) at += 8;
    else if (wireType === I32) at += 4;
    else if (wireType === LEN) {
      const length = varint();
      fieldStart = at;
      at += length;
    } else throw new OtlpLimitError(`invalid protobuf: unsupported wire type ${wireType}`);
    if (at > end) throw new OtlpLimitError('invalid protobuf: field runs past the end of its message');
    visit({ number, wireType, start: fieldStart, end: at });
  }
}

/**
 * Checks a binary ExportTraceServiceRequest against the limits without
 * decoding it: a linear pass over its bytes, no allocation per field.
 *
 * Field numbers follow opentelemetry-proto (trace/v1/trace.proto,
 * common/v1/common.proto); `instrumentation_library_spans` (1000), which
 * older senders still write, counts as scope spans.
 *
 * @throws {OtlpLimitError} naming the place and the limit, for a request over
 *   a limit or with malformed framing.
 */
export function checkProtobufRequest(bytes: Uint8Array, limits: OtlpRequestLimits = DEFAULT_OTLP_LIMITS): void {
  let spans = 0;
  let values = 0;
  const countValue = (): void => {
    if (++values > limits.maxValues) {
      throw new OtlpLimitError(`the request holds more than ${limits.maxValues} values; send smaller batches`);
    }
  };
  // AnyValue: string 1, bool 2, int 3, double 4, array 5 (ArrayValue: values 1), kvlist 6 (KeyValueList: values 1), bytes 7.
  const anyValue = (field: Field, depth: number): void => {
    countValue();
    if (field.wireType !== LEN) return;
    eachField(bytes, field.start, field.end, (inner) => {
      if (inner.wireType !== LEN || (inner.number !== 5 && inner.number !== 6)) return;
      if (depth > 32) throw new OtlpLimitError('invalid OTLP: attribute values nested more than 32 deep');
      eachField(bytes, inner.start, inner.end, (item) => {
        if (item.number !== 1 || item.wireType !== LEN) return;
        if (inner.number === 5) anyValue(item, depth + 1);
        else keyValue(item, depth + 1);
      });
    });
  };
  // KeyValue: key 1, value 2.
  const keyValue = (field: Field, depth: number): void => {
    countValue();
    if (field.wireType !== LEN) return;
    eachField(bytes, field.start, field.end, (inner) => {
      if (inner.number === 2) anyValue(inner, depth);
    });
  };
  const attributes = (field: Field, attributeField: number, place: string): void => {
    let count = 0;
    eachField(bytes, field.start, field.end, (inner) => {
      if (inner.number !== attributeField) return;
      if (++count > limits.maxAttributes) {
        throw new OtlpLimitError(`${place} has more than ${limits.maxAttributes} attributes`);
      }
      keyValue(inner, 0);
    });
  };
  const span = (field: Field, place: string): void => {
    let attributeCount = 0;
    let events = 0;
    let links = 0;
    eachField(bytes, field.start, field.end, (inner) => {
      if (inner.wireType !== LEN) return;
      if (inner.number === 9) {
        if (++attributeCount > limits.maxAttributes) {
          throw new OtlpLimitError(`${place} has more than ${limits.maxAttributes} attributes`);
        }
        keyValue(inner, 0);
      } else if (inner.number === 11) {
        if (++events > limits.maxEvents) throw new OtlpLimitError(`${place} has more than ${limits.maxEvents} events`);
        countValue();
        attributes(inner, 3, `${place}.events[${events - 1}]`);
      } else if (inner.number === 13) {
        if (++links > limits.maxLinks) throw new OtlpLimitError(`${place} has more than ${limits.maxLinks} links`);
        countValue();
        attributes(inner, 4, `${place}.links[${links - 1}]`);
      }
    });
  };
  let r = 0;
  eachField(bytes, 0, bytes.length, (resourceSpans) => {
    if (resourceSpans.number !== 1 || resourceSpans.wireType !== LEN) return;
    const rPlace = `resourceSpans[${r++}]`;
    let s = 0;
    eachField(bytes, resourceSpans.start, resourceSpans.end, (inner) => {
      if (inner.wireType !== LEN) return;
      if (inner.number === 1) attributes(inner, 1, `${rPlace}.resource`);
      else if (inner.number === 2 || inner.number === 1000) {
        const sPlace = `${rPlace}.scopeSpans[${s++}]`;
        let k = 0;
        eachField(bytes, inner.start, inner.end, (scopeField) => {
          if (scopeField.number !== 2 || scopeField.wireType !== LEN) return;
          if (++spans > limits.maxSpans) {
            throw new OtlpLimitError(`the request holds more than ${limits.maxSpans} spans; send smaller batches`);
          }
          countValue();
          span(scopeField, `${sPlace}.spans[${k++}]`);
        });
      }
    });
  });
}

/**
 * Checks a parsed OTLP/JSON request against the same limits (the JSON text
 * itself is bounded by the body limit; this stops the conversion from
 * building spans over the per-span limits).
 *
 * @throws {OtlpLimitError} naming the place and the limit.
 */
export function checkJsonRequest(request: unknown, limits: OtlpRequestLimits = DEFAULT_OTLP_LIMITS): void {
  let spans = 0;
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const record = (value: unknown): Record<string, unknown> =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const over = (items: unknown[], limit: number, what: string, place: string): void => {
    if (items.length > limit) throw new OtlpLimitError(`${place} has more than ${limit} ${what}`);
  };
  list(record(request).resourceSpans).forEach((resourceSpans, r) => {
    const rs = record(resourceSpans);
    over(list(record(rs.resource).attributes), limits.maxAttributes, 'attributes', `resourceSpans[${r}].resource`);
    const scopeKey = rs.scopeSpans !== undefined ? 'scopeSpans' : 'instrumentationLibrarySpans';
    list(rs[scopeKey]).forEach((scopeSpans, s) => {
      list(record(scopeSpans).spans).forEach((raw, k) => {
        if (++spans > limits.maxSpans) {
          throw new OtlpLimitError(`the request holds more than ${limits.maxSpans} spans; send smaller batches`);
        }
        const place = `resourceSpans[${r}].${scopeKey}[${s}].spans[${k}]`;
        const span = record(raw);
        over(list(span.attributes), limits.maxAttributes, 'attributes', place);
        const events = list(span.events);
        over(events, limits.maxEvents, 'events', place);
        events.forEach((event, e) => {
          over(list(record(event).attributes), limits.maxAttributes, 'attributes', `${place}.events[${e}]`);
        });
        const links = list(span.links);
        over(links, limits.maxLinks, 'links', place);
        links.forEach((link, l) => {
          over(list(record(link).attributes), limits.maxAttributes, 'attributes', `${place}.links[${l}]`);
        });
      });
    });
  });
}
