import { TraceFileError } from './trace-file-error.js';

/** A JSON value read from an untrusted file, with the path that leads to it for error messages. */
export type JsonObject = Readonly<Record<string, unknown>>;

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

export function fail(place: string, problem: string): never {
  throw new TraceFileError(problem, { place });
}

export function child(place: string, key: string | number): string {
  if (typeof key === 'number') return `${place}[${key}]`;
  return place === '' ? key : `${place}.${key}`;
}

export function asObject(value: unknown, place: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(place, `expected an object, found ${describe(value)}`);
  }
  return value as JsonObject;
}

export function asArray(value: unknown, place: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(place, `expected an array, found ${describe(value)}`);
  return value;
}

/** An optional array: absent or null reads as empty. */
export function optionalArray(value: unknown, place: string): readonly unknown[] {
  return value === undefined || value === null ? [] : asArray(value, place);
}

export function asString(value: unknown, place: string): string {
  if (typeof value !== 'string') fail(place, `expected a string, found ${describe(value)}`);
  return value;
}

export function optionalString(value: unknown, place: string): string | undefined {
  return value === undefined || value === null ? undefined : asString(value, place);
}

/** A number given as a JSON number or a decimal string (as 64-bit integers are in OTLP/JSON). */
export function asNumber(value: unknown, place: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) fail(place, `expected a number, found ${describe(value)}`);
  return n;
}

const DIGITS = /^\s*-?\d+\s*$/;
/** A decimal number as text, with a fraction or exponent; not hex (`Number('0x10')` is 16), not `Infinity`. */
const DECIMAL = /^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * The first time Lifeline cannot hold: 2^63 ns after the epoch (April 2262).
 * Times are stored as SQLite's signed 64-bit integers; OTLP's `fixed64` goes
 * on to 2^64 − 1, but no clock reads that.
 */
export const TIME_LIMIT_NS = 2n ** 63n;

/**
 * A time as exact nanoseconds, given as a whole number of `unitNs`
 * nanoseconds (1 for OTLP's `*UnixNano`, 1000 for Jaeger's and Zipkin's
 * microseconds), either as a decimal string (how OTLP/JSON writes 64-bit
 * integers) or as a JSON number. A fraction of a unit is rounded to whole
 * nanoseconds.
 *
 * @throws {TraceFileError} when the value is not a number or decimal string
 *   (hex text included), or lies outside 0 ≤ t < 2^63 ns ({@link TIME_LIMIT_NS}):
 *   before 1970 or beyond 2262, where ordering, dates and paging would break.
 */
export function asTimeNs(value: unknown, place: string, unitNs = 1n): bigint {
  const ns = timeNs(value, place, unitNs);
  if (ns < 0n || ns >= TIME_LIMIT_NS) {
    const unit = unitNs === 1n ? 'nanoseconds' : unitNs === 1000n ? 'microseconds' : `units of ${unitNs} ns`;
    fail(place, `time ${describe(value)} is out of range: expected ${unit} since 1970, before the year 2262`);
  }
  return ns;
}

/**
 * A span's start time (see {@link asTimeNs}). A start is required: absent, or
 * 0 (the value OTLP's protobuf sends for a field never set), the span cannot
 * be placed in time, and is skipped like a span whose time is out of range,
 * not stored at 1970.
 *
 * @throws {TraceFileError} at `place` when the start is absent or 0, or as {@link asTimeNs} throws.
 */
export function asStartTimeNs(value: unknown, place: string, unitNs = 1n): bigint {
  if (value === undefined || value === null) fail(place, 'the span has no start time');
  const ns = asTimeNs(value, place, unitNs);
  if (ns === 0n) fail(place, 'a start time of 0 means none was recorded: the span cannot be placed in time');
  return ns;
}

/**
 * The end of a span given by its start and duration (Jaeger, Zipkin).
 *
 * @throws {TraceFileError} at `place` (the duration's) when the end lies at or beyond 2^63 ns.
 */
export function endAfter(startNs: bigint, durationNs: bigint, place: string): bigint {
  const end = startNs + durationNs;
  if (end >= TIME_LIMIT_NS) fail(place, `the span would end beyond 2^63 ns (year 2262): duration out of range`);
  return end;
}

function timeNs(value: unknown, place: string, unitNs: bigint): bigint {
  if (typeof value === 'string' && DIGITS.test(value)) return BigInt(value.trim()) * unitNs;
  if (typeof value === 'string' && !DECIMAL.test(value)) fail(place, `expected a number, found ${describe(value)}`);
  const n = asNumber(value, place);
  if (Number.isSafeInteger(n)) return BigInt(n) * unitNs;
  const whole = Math.trunc(n);
  return BigInt(whole) * unitNs + BigInt(Math.round((n - whole) * Number(unitNs)));
}

// A JSON number of 16 digits or more outside a string: possibly beyond float64's exact integers.
const LONG_NUMBER = /[[:,]\s*-?\d{16}/;

/**
 * `JSON.parse`, except that integers beyond float64's exact range (above
 * 2^53, such as nanosecond times written as JSON numbers) are returned as
 * their decimal digits, which {@link asTimeNs} reads exactly. Text without
 * such numbers takes plain `JSON.parse`; the others use the reviver's access
 * to the source text (ECMAScript's JSON.parse source text access, Node 22).
 *
 * @throws {SyntaxError} as `JSON.parse` does.
 */
export function parseJsonExact(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return JSON.parse(text, function (this: unknown, _key: string, value: unknown, context?: { source?: string }) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined) {
      if (DIGITS.test(context.source)) return context.source;
    }
    return value;
  } as (key: string, value: unknown) => unknown);
}
