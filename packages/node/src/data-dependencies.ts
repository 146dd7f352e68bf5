/**
 * Which calls of a request used the answer of an earlier call of the same
 * request. While a trace is open, the values each call returned (scalars of
 * the first rows of a SQL result, the value of a Redis read) are kept as
 * hashes; when a later call sends one of them (a query parameter, a Redis key
 * or argument, a path segment or query value of an outgoing HTTP request),
 * its span gets `lifeline.depends_on` with the ids of the calls that returned
 * it. Only those edges are recorded: never a value, never a hash.
 *
 * Against coincidences, a value counts only when it could identify something:
 * - integers with at least 3 digits (`1`, `true`, `42` and HTTP-status-sized
 *   codes below 100 coincide all the time); never fractions or booleans;
 * - strings of 4 to 128 characters that contain something other than letters
 *   (ids, UUIDs, slugs, emails, keys): a plain word (`published`, `admin`)
 *   is as often a constant of the code as an answer;
 * - never a value the request already had in its own URL (path segments and
 *   query values): the call could have sent it without asking anyone.
 *
 * The state lives only while the trace's first local span is open (see
 * {@link DataDependencySpanProcessor}), bounded per call, per trace and in
 * the number of traces kept at once.
 */
import { type Span as ApiSpan, type Context, trace } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/**
 * Span attribute: span ids of earlier calls whose answers this call sent.
 * Read by `@lifeline/core` (its `DEPENDS_ON_ATTRIBUTE`).
 */
export const DEPENDS_ON = 'lifeline.depends_on';

/**
 * Span attribute on a Redis read: false when it found nothing. Read by
 * `@lifeline/core` (its `CACHE_HIT_ATTRIBUTE`) for the cache-aside pattern.
 */
export const CACHE_HIT = 'lifeline.cache.hit';

/** Traces followed at once; the oldest is forgotten first (a root that never ends must not hold memory). */
const MAX_TRACES = 1024;
/** Distinct values kept per trace. */
const MAX_VALUES_PER_TRACE = 512;
/** Values taken from one call's answer, and inputs checked of one call. */
const MAX_VALUES_PER_CALL = 64;
const MAX_ROWS = 10;
const MAX_COLUMNS = 16;
/** Longer values are not compared: a value passed on unchanged is an id (a UUID, an e-mail address), not a text. */
const MAX_VALUE_LENGTH = 128;
/** Redis values up to this length that look like JSON are read for their scalars. */
const MAX_JSON_LENGTH = 4096;
/** Edges kept per call. */
const MAX_EDGES = 8;

/** What one open trace has seen. */
interface TraceValues {
  /** Open local roots of the trace in this process (a service calling itself has two). */
  roots: number;
  /** Hashes of the values in the incoming request's own URL. */
  readonly requestInputs: Set<number>;
  /** Hash of a returned value → the span ids of the calls that returned it. */
  readonly returned: Map<number, string[]>;
}

const traces = new Map<string, TraceValues>();
/** True while a {@link DataDependencySpanProcessor} is registered: else every hook returns at once. */
let tracking = false;
const roots = new WeakSet<ReadableSpan>();

/** The values of a mysql2 query being started: its span is created synchronously inside the patched call. */
let pendingInputs: readonly unknown[] | undefined;

/** FNV-1a over the UTF-16 units, with the length beside it: a short value's fingerprint. */
function fingerprint(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash * 512 + text.length;
}

/**
 * How a string reads: `integer` (an optional minus and digits only), `word`
 * (letters only; any character beyond ASCII counts as a letter), or `mixed`.
 * A loop over the char codes: this runs for every cell of every result.
 */
function shape(text: string): 'integer' | 'word' | 'mixed' {
  let digits = 0;
  let letters = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c >= 128) letters++;
    else if (!(c === 45 && i === 0)) return 'mixed';
  }
  if (letters === 0 && digits > 0) return 'integer';
  return digits === 0 ? 'word' : 'mixed';
}

/** The text a value is compared by, when it is distinctive enough to count (see the module comment). */
function significant(value: unknown): string | undefined {
  if (typeof value === 'string') {
    if (value.length < 3 || value.length > MAX_VALUE_LENGTH) return undefined;
    switch (shape(value)) {
      case 'integer':
        return value.length - (value.charCodeAt(0) === 45 ? 1 : 0) >= 3 && value.length <= 17 ? value : undefined;
      case 'word':
        return undefined;
      default:
        return value.length >= 4 ? value : undefined;
    }
  }
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && Math.abs(value) >= 100 ? String(value) : undefined;
  }
  if (typeof value === 'bigint') return value >= 100n || value <= -100n ? String(value) : undefined;
  return undefined;
}

/** The state of the span's trace, when it is followed. */
function valuesOf(span: ApiSpan): { traceId: string; spanId: string; values: TraceValues } | undefined {
  if (traces.size === 0) return undefined;
  const { traceId, spanId } = span.spanContext();
  const values = traces.get(traceId);
  return values === undefined ? undefined : { traceId, spanId, values };
}

/** Splits a key or path into the parts an id may sit in: `article:42` → `article:42`, `article`, `42`. */
function addParts(text: string, into: unknown[]): void {
  into.push(text);
  if (text.length > MAX_VALUE_LENGTH) return;
  const parts = text.split(/[:/|#=&?,{}\s]+/);
  if (parts.length > 1) for (const part of parts) if (part !== '') into.push(part);
}

/**
 * Records the values a call sent and marks it with the earlier calls of its
 * trace that returned any of them. Plain values count as they are; strings
 * that look like keys or paths are also split at `:` `/` and the like.
 */
export function noteInputs(span: ApiSpan, inputs: readonly unknown[], split = false): void {
  const found = valuesOf(span);
  if (found === undefined || found.values.returned.size === 0) return;
  const candidates: unknown[] = [];
  for (const input of inputs) {
    if (candidates.length >= MAX_VALUES_PER_CALL) break;
    if (Array.isArray(input)) {
      for (const element of input.slice(0, MAX_VALUES_PER_CALL)) candidates.push(element);
    } else if (split && typeof input === 'string') addParts(input, candidates);
    else candidates.push(input);
  }
  const edges: string[] = [];
  for (const candidate of candidates.slice(0, MAX_VALUES_PER_CALL)) {
    const text = significant(candidate);
    if (text === undefined) continue;
    const hash = fingerprint(text);
    if (found.values.requestInputs.has(hash)) continue;
    for (const id of found.values.returned.get(hash) ?? []) {
      if (id !== found.spanId && !edges.includes(id) && edges.length < MAX_EDGES) edges.push(id);
    }
  }
  if (edges.length > 0) span.setAttribute(DEPENDS_ON, edges);
}

/** Records values a call returned, for later calls of its trace to be checked against. */
export function noteOutputs(span: ApiSpan, outputs: readonly unknown[]): void {
  const found = valuesOf(span);
  if (found === undefined) return;
  const { returned, requestInputs } = found.values;
  for (const output of outputs.slice(0, MAX_VALUES_PER_CALL)) {
    const text = significant(output);
    if (text === undefined) continue;
    const hash = fingerprint(text);
    if (requestInputs.has(hash)) continue;
    const ids = returned.get(hash);
    if (ids === undefined) {
      if (returned.size < MAX_VALUES_PER_TRACE) returned.set(hash, [found.spanId]);
    } else if (ids.length < MAX_EDGES && !ids.includes(found.spanId)) ids.push(found.spanId);
  }
}

/** Scalars of the first rows of a SQL result (objects or arrays), bounded. Loops without copies: it runs for every result. */
export function rowValues(rows: unknown): unknown[] {
  const values: unknown[] = [];
  if (!Array.isArray(rows)) return values;
  const count = Math.min(rows.length, MAX_ROWS);
  for (let r = 0; r < count && values.length < MAX_VALUES_PER_CALL; r++) {
    const row: unknown = rows[r];
    if (row === null || typeof row !== 'object') continue;
    if (Array.isArray(row)) {
      const columns = Math.min(row.length, MAX_COLUMNS);
      for (let c = 0; c < columns; c++) values.push(row[c]);
      continue;
    }
    let columns = 0;
    for (const key in row) {
      if (columns++ >= MAX_COLUMNS) break;
      values.push((row as Record<string, unknown>)[key]);
    }
  }
  return values;
}

/** The scalars of a cached value: the value itself, and the top-level fields of a JSON object or array of objects. */
function cachedValues(value: unknown): unknown[] {
  if (typeof value !== 'string') {
    if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) return rowValues([value]);
    return [];
  }
  const first = value.charCodeAt(0);
  // `{` or `[`: the JSON an app caches.
  if ((first !== 0x7b && first !== 0x5b) || value.length > MAX_JSON_LENGTH) return [value];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? rowValues(parsed) : rowValues([parsed]);
  } catch {
    return [value];
  }
}

/** Redis commands that read one value; their answer is recorded, and whether they found anything. */
const REDIS_READS = new Set(['get', 'hget', 'getex', 'getdel', 'hgetall', 'json.get']);

/** A Redis command sent (its keys and arguments are the inputs) and answered. */
export function noteRedisCommand(span: ApiSpan, command: string, args: readonly unknown[], response: unknown): void {
  if (!tracking) return;
  const name = command.toLowerCase();
  const read = REDIS_READS.has(name);
  if (read) {
    const empty =
      response === null ||
      response === undefined ||
      (typeof response === 'object' && !Buffer.isBuffer(response) && Object.keys(response).length === 0);
    span.setAttribute(CACHE_HIT, !empty);
  }
  noteInputs(
    span,
    args.map((arg) => (Buffer.isBuffer(arg) && arg.length <= MAX_VALUE_LENGTH ? arg.toString() : arg)),
    true,
  );
  if (read) noteOutputs(span, cachedValues(response));
}

/** An outgoing HTTP request's path and query string: its segments and query values are its inputs. */
export function noteRequestPath(span: ApiSpan, path: string | undefined): void {
  if (path === undefined || valuesOf(span) === undefined) return;
  noteInputs(span, urlParts(path));
}

/** Path segments and query values of a path with its query string, decoded. */
function urlParts(path: string): string[] {
  const parts: string[] = [];
  const query = path.indexOf('?');
  const pathname = query < 0 ? path : path.slice(0, query);
  for (const segment of pathname.split('/')) if (segment !== '') parts.push(decode(segment));
  if (query >= 0) {
    for (const [, value] of new URLSearchParams(path.slice(query + 1))) parts.push(value);
  }
  return parts.slice(0, MAX_VALUES_PER_CALL);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Holds the values of a mysql2 query while its patched method runs: the
 * instrumentation starts the query's span synchronously there, and
 * {@link DataDependencySpanProcessor} hands them to that span.
 */
export function withPendingInputs<T>(inputs: readonly unknown[] | undefined, run: () => T): T {
  if (inputs === undefined || traces.size === 0) return run();
  pendingInputs = inputs;
  try {
    return run();
  } finally {
    pendingInputs = undefined;
  }
}

/**
 * Opens the record of a trace when its first span in this process starts
 * (a request arriving, a message consumed, a root span of the app's own), with
 * the incoming request's URL values as what the request already had, and
 * frees it when that span ends. Hands a starting mysql2 query its values.
 *
 * @example
 * ```ts
 * registerTracing({ spanProcessors: [new DataDependencySpanProcessor(), exportProcessor], ... });
 * ```
 */
export class DataDependencySpanProcessor implements SpanProcessor {
  constructor() {
    tracking = true;
  }

  onStart(span: Span, parentContext: Context): void {
    if (pendingInputs !== undefined) {
      const inputs = pendingInputs;
      pendingInputs = undefined;
      noteInputs(span, inputs);
    }
    const parent = trace.getSpanContext(parentContext);
    if (parent !== undefined && !parent.isRemote) return;
    const { traceId } = span.spanContext();
    let values = traces.get(traceId);
    if (values === undefined) {
      if (traces.size >= MAX_TRACES) {
        const oldest = traces.keys().next().value;
        if (oldest !== undefined) traces.delete(oldest);
      }
      values = { roots: 0, requestInputs: new Set(), returned: new Map() };
      traces.set(traceId, values);
    }
    values.roots++;
    roots.add(span);
    const a = span.attributes;
    const target = a['url.path'] ?? a['http.target'];
    if (typeof target === 'string') {
      const query = a['url.query'];
      const url = typeof query === 'string' && query !== '' && !target.includes('?') ? `${target}?${query}` : target;
      for (const part of urlParts(url)) {
        const text = significant(part);
        if (text !== undefined) values.requestInputs.add(fingerprint(text));
      }
    }
  }

  onEnd(span: ReadableSpan): void {
    if (!roots.has(span)) return;
    roots.delete(span);
    const { traceId } = span.spanContext();
    const values = traces.get(traceId);
    if (values !== undefined && --values.roots <= 0) traces.delete(traceId);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    tracking = false;
    traces.clear();
    return Promise.resolve();
  }
}

/** How many traces are followed right now (for tests: the state is freed when requests end). */
export function followedTraces(): number {
  return traces.size;
}
