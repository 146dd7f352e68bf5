import { createHash } from 'node:crypto';
import { describe, fail } from './json-reader.js';

/** Span attribute keeping a trace id from the file that was not a valid id and was replaced. */
export const ORIGINAL_TRACE_ID_ATTRIBUTE = 'lifeline.import.original_trace_id';
/** Span attribute keeping a span id from the file that was not a valid id and was replaced. */
export const ORIGINAL_SPAN_ID_ATTRIBUTE = 'lifeline.import.original_span_id';

/**
 * Span attribute naming the span id a server half shared with its client
 * (Zipkin/B3 style), after the server half got an id of its own.
 */
export const SHARED_SPAN_ID_ATTRIBUTE = 'zipkin.shared_span_id';

/**
 * The span id given to the server half of a shared span id. Zipkin (B3) lets
 * a client and the server it called report the same span id; Lifeline keeps
 * one id per span, so the server half gets this id, derived from the shared
 * one (the same on every import), and the client half becomes its parent.
 */
export function sharedServerSpanId(id: string): string {
  return (BigInt(`0x${id}`) ^ 0x5a17_e11e_5a17_e11en).toString(16).padStart(16, '0');
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/_-]+=*$/;

/**
 * Reads an id as lowercase hex of `bytes` bytes, or `undefined` when it is not
 * one: hex of any case, shorter ids left-padded with zeros (64-bit Zipkin and
 * Jaeger trace ids, odd-length hex), or the base64 that protobuf's JSON
 * mapping uses for bytes.
 */
export function parseId(text: string, bytes: 8 | 16): string | undefined {
  if (text === '') return undefined;
  if (HEX.test(text) && text.length <= bytes * 2) return text.toLowerCase().padStart(bytes * 2, '0');
  if (BASE64.test(text)) {
    const decoded = Buffer.from(text, 'base64');
    if (decoded.length === bytes) return decoded.toString('hex');
  }
  return undefined;
}

/** The id that stands for an id that is not hex: the first `bytes` bytes of the SHA-256 of its text. */
export function hashedId(text: string, bytes: 8 | 16): string {
  return createHash('sha256')
    .update(text, 'utf8')
    .digest('hex')
    .slice(0, bytes * 2);
}

const TRACE_ID_KEYS = new Set(['traceId', 'traceID', 'trace_id']);

/**
 * Reads the trace and span ids of one file, so every importer treats them the
 * same way.
 *
 * - Strict (the OTLP receiver): an id that is not hex or base64 of the right
 *   width is an error.
 * - Lenient (files): such an id (`"trace-1"`, `"span-a"`, hex too long) is
 *   replaced by {@link hashedId} of its text, so the same text always gives
 *   the same id and parent references follow; the span keeps the original
 *   in {@link ORIGINAL_SPAN_ID_ATTRIBUTE} / {@link ORIGINAL_TRACE_ID_ATTRIBUTE}.
 *
 * Trace ids of mixed width: when one trace's spans carry the 128-bit id and
 * others only its lower 64 bits (instrumentation being moved to 128-bit ids),
 * the 64-bit form is read as the 128-bit id, as Zipkin does with
 * `strictTraceId=false` (its `Trace.merge` and the UI group by the lower 64
 * bits). {@link IdReader.learnTraceIds} must see the whole file first.
 */
export class IdReader {
  /** Original text → id given, for trace ids that were not valid ids. */
  readonly mappedTraceIds = new Map<string, string>();
  /** Original text → id given, for span ids that were not valid ids. */
  readonly mappedSpanIds = new Map<string, string>();
  /** Lower 64 bits (16 hex digits) → the 128-bit trace id seen with them. */
  private readonly wideTraceIds = new Map<string, string>();
  /** Lower 64 bits whose 128-bit form is ambiguous (several high halves). */
  private readonly ambiguous = new Set<string>();
  /** 64-bit trace ids read as a 128-bit one. */
  readonly widenedTraceIds = new Map<string, string>();
  private readonly lenient: boolean;
  /** Hex ids shorter than their width (other than 64-bit trace ids), padded with zeros. */
  private readonly paddedTraceIds = new Set<string>();
  private readonly paddedSpanIds = new Set<string>();

  constructor(options: { lenient: boolean }) {
    this.lenient = options.lenient;
  }

  /**
   * Walks a parsed document (any format) for trace ids under the keys
   * `traceId`, `traceID` and `trace_id`, and remembers each 128-bit one by its
   * lower 64 bits.
   */
  learnTraceIds(document: unknown): void {
    const stack: unknown[] = [document];
    while (stack.length > 0) {
      const value = stack.pop();
      if (typeof value !== 'object' || value === null) continue;
      // Children go on the stack last first, so ids are met in file order ("the first" in a warning).
      const children: unknown[] = [];
      if (Array.isArray(value)) {
        for (const item of value) if (typeof item === 'object' && item !== null) children.push(item);
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (typeof item === 'object' && item !== null) children.push(item);
          else if (typeof item === 'string' && TRACE_ID_KEYS.has(key)) this.learn(item);
        }
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    }
  }

  private learn(text: string): void {
    const id = parseId(text, 16);
    if (id === undefined || id.startsWith('0000000000000000')) return;
    const low = id.slice(16);
    const known = this.wideTraceIds.get(low);
    if (known === undefined) this.wideTraceIds.set(low, id);
    else if (known !== id) this.ambiguous.add(low);
  }

  /**
   * A trace id (16 bytes). A span's own id (not a `reference`: a link or a
   * Jaeger reference) must not be all zeros, which OTLP and W3C Trace Context
   * call invalid.
   *
   * @throws TraceFileError when it is missing or all zeros, or in strict mode
   *   when it is not exactly 32 hex digits (or 16 bytes of base64).
   */
  traceId(value: unknown, place: string, reference = false): string {
    const id = this.read(value, place, 16, this.mappedTraceIds);
    if (!reference) notAllZeros(id, place, 'trace');
    if (!id.startsWith('0000000000000000')) return id;
    const low = id.slice(16);
    const wide = this.wideTraceIds.get(low);
    if (wide === undefined) return id;
    this.widenedTraceIds.set(id, wide);
    return wide;
  }

  /**
   * A span id (8 bytes); a span's own (not a `reference`) must not be all zeros.
   *
   * @throws TraceFileError when it is missing or all zeros, or in strict mode
   *   when it is not exactly 16 hex digits (or 8 bytes of base64).
   */
  spanId(value: unknown, place: string, reference = false): string {
    const id = this.read(value, place, 8, this.mappedSpanIds);
    if (!reference) notAllZeros(id, place, 'span');
    return id;
  }

  /**
   * A parent span id, or `undefined` for a root: absent, empty, or all zeros
   * (what some exporters write for "no parent", the invalid id of W3C Trace
   * Context). @throws TraceFileError when it is invalid in strict mode.
   */
  parentSpanId(value: unknown, place: string): string | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const id = this.read(value, place, 8, this.mappedSpanIds);
    return id === '0000000000000000' ? undefined : id;
  }

  /** The attributes that keep the original ids of a span whose ids were replaced. */
  originals(traceId: unknown, spanId: unknown): Record<string, string> {
    const out: Record<string, string> = {};
    const trace = idText(traceId);
    const span = idText(spanId);
    if (trace !== undefined && this.mappedTraceIds.has(trace)) out[ORIGINAL_TRACE_ID_ATTRIBUTE] = trace;
    if (span !== undefined && this.mappedSpanIds.has(span)) out[ORIGINAL_SPAN_ID_ATTRIBUTE] = span;
    return out;
  }

  /** One warning per kind of id rewriting that happened, for the import report. */
  notes(): string[] {
    const notes: string[] = [];
    const mapped = (map: Map<string, string>, what: string, attribute: string) => {
      if (map.size === 0) return;
      const [first] = map.keys();
      const subject = map.size === 1 ? `1 ${what} id was not a valid id` : `${map.size} ${what} ids were not valid ids`;
      notes.push(
        `${subject} (e.g. ${JSON.stringify(first)}): replaced by ids hashed from their text; ` +
          `the originals are kept in ${attribute}`,
      );
    };
    mapped(this.mappedTraceIds, 'trace', ORIGINAL_TRACE_ID_ATTRIBUTE);
    mapped(this.mappedSpanIds, 'span', ORIGINAL_SPAN_ID_ATTRIBUTE);
    const padded = (set: Set<string>, what: string, digits: number) => {
      if (set.size === 0) return;
      const [first] = set;
      const subject = set.size === 1 ? `1 ${what} id was` : `${set.size} ${what} ids were`;
      notes.push(
        `${subject} shorter than ${digits} hex digits (e.g. ${JSON.stringify(first)}): left-padded with zeros`,
      );
    };
    padded(this.paddedTraceIds, 'trace', 32);
    padded(this.paddedSpanIds, 'span', 16);
    for (const [short, wide] of this.widenedTraceIds) {
      const low = short.slice(16);
      const note = this.ambiguous.has(low) ? ' (several 128-bit ids share these lower 64 bits; used the first)' : '';
      notes.push(`trace id ${low} (64-bit) read as ${wide}, the 128-bit id other spans of the trace carry${note}`);
    }
    return notes;
  }

  private read(value: unknown, place: string, bytes: 8 | 16, mapped: Map<string, string>): string {
    const text = idText(value);
    if (text === undefined || text === '') {
      return fail(place, `expected a ${bytes * 2}-digit hex id, found ${describe(value)}`);
    }
    const id = parseId(text, bytes);
    if (id !== undefined && !this.lenient && !fullWidth(text, bytes)) {
      // OTLP: a trace id is exactly 16 bytes and a span id 8; a shorter one makes the span invalid.
      return fail(place, `expected a ${bytes * 2}-digit hex id, found ${text.length} digits ${describe(text)}`);
    }
    if (id !== undefined) {
      // 64-bit trace ids (Zipkin, Jaeger) are a width of their own; any other short id is noted.
      if (HEX.test(text) && text.length < bytes * 2 && !(bytes === 16 && text.length === 16)) {
        (bytes === 16 ? this.paddedTraceIds : this.paddedSpanIds).add(text);
      }
      return id;
    }
    if (!this.lenient) return fail(place, `expected a ${bytes * 2}-digit hex id, found ${describe(text)}`);
    const known = mapped.get(text);
    if (known !== undefined) return known;
    const hashed = hashedId(text, bytes);
    mapped.set(text, hashed);
    return hashed;
  }
}

/** Whether an id's text has the full width: `bytes * 2` hex digits, or base64 of `bytes` bytes. */
function fullWidth(text: string, bytes: 8 | 16): boolean {
  return HEX.test(text) ? text.length === bytes * 2 : Buffer.from(text, 'base64').length === bytes;
}

function notAllZeros(id: string, place: string, what: 'trace' | 'span'): void {
  if (/^0+$/.test(id)) fail(place, `an all-zero ${what} id is invalid (W3C Trace Context, OTLP)`);
}

/** Ids are text; hand-written files sometimes give small integers. */
function idText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return undefined;
}
