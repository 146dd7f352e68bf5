import type { Span } from '@lifeline/core';
import { IdReader, SHARED_SPAN_ID_ATTRIBUTE, sharedServerSpanId } from './ids.js';
import { countRawSpans, type ImportContext, type ImportProblem } from './import-context.js';
import { isJaegerDocument, jaegerToSpans } from './jaeger.js';
import { asObject, type JsonObject, parseJsonExact } from './json-reader.js';
import { isOtlpRequest, otlpToSpans, renameKeys, withJsonFieldNames } from './otlp.js';
import { TraceFileError } from './trace-file-error.js';
import { isZipkinDocument, zipkinToSpans } from './zipkin.js';

/** The trace file formats Lifeline imports. `tempo` is Grafana Tempo's trace JSON (OTLP inside). */
export type TraceFileFormat = 'otlp-json' | 'otlp-jsonl' | 'jaeger' | 'zipkin' | 'tempo';

/** OpenTelemetry signals other than traces that a Collector file export may hold. */
export type SkippedSignal = 'metrics' | 'logs' | 'profiles';

/** A parsed trace file: what could be imported, and a report of what could not. */
export interface ParsedTraceFile {
  readonly format: TraceFileFormat;
  /** The spans that were read; those of {@link problems} are not among them. */
  readonly spans: Span[];
  /** Oddities that lost nothing: duplicate ids, unknown processes, ids that were replaced, … */
  readonly warnings: string[];
  /** Parts that were skipped, each with its place, like OTLP's partial success. Empty when all was imported. */
  readonly problems: ImportProblem[];
  /** Spans lost to {@link problems} (as far as they can be counted). */
  readonly rejectedSpans: number;
  /** JSON lines of other signals (Collector file exports mix them), counted per signal and skipped. */
  readonly skippedSignals: Readonly<Partial<Record<SkippedSignal, number>>>;
}

const FORMATS =
  'expected OTLP JSON ({"resourceSpans": …}), OTLP JSON lines (one request per line, as the Collector file exporter writes), ' +
  'Grafana Tempo JSON ({"batches": …} or {"trace": {"resourceSpans": …}}), ' +
  'Jaeger JSON ({"data": [{"spans": …}]}) or Zipkin v2 or v1 JSON ([{"traceId", "id", …}])';

/** The signal of an OTLP export request by its top-level key. */
const SIGNAL_KEYS: Readonly<Record<string, SkippedSignal>> = {
  resourceMetrics: 'metrics',
  resourceLogs: 'logs',
  resourceProfiles: 'profiles',
};

function withFileName(error: unknown, fileName: string | undefined, linePlace?: string): never {
  if (error instanceof TraceFileError) {
    const place = [linePlace, error.place].filter((p) => p !== undefined && p !== '').join(', ');
    throw new TraceFileError(error.problem, { place, ...(fileName === undefined ? {} : { fileName }), cause: error });
  }
  throw error;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a value is a list of OTLP `ResourceSpans` (by the keys its first item has). */
function isResourceSpansList(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  const first: unknown = value[0];
  if (first === undefined) return true;
  return isObject(first) && ('scopeSpans' in first || 'instrumentationLibrarySpans' in first || 'resource' in first);
}

/**
 * Grafana Tempo's trace JSON (`GET /api/traces/<id>`, also what Grafana
 * saves): OTLP `ResourceSpans` under `batches`. Tempo's API v2
 * (`/api/v2/traces/<id>`) wraps a request in `{"trace": …}`.
 */
function tempoRequest(document: unknown): { request: JsonObject; place: string } | undefined {
  if (!isObject(document)) return undefined;
  if (!('resourceSpans' in document) && isResourceSpansList(document.batches)) return { request: document, place: '' };
  const trace = document.trace;
  if (isObject(trace) && (isOtlpRequest(trace) || isResourceSpansList(trace.batches))) {
    return { request: trace, place: 'trace' };
  }
  return undefined;
}

/** For a file that is no trace format: what it looks like, when it is close to one. */
function nearMissHint(document: unknown): string | undefined {
  if (isObject(document)) {
    for (const [key, signal] of Object.entries(SIGNAL_KEYS)) {
      if (key in document) return `this is OpenTelemetry ${signal} (${key}), not traces`;
    }
    for (const [key, value] of Object.entries(document)) {
      if (Array.isArray(value) && value.length > 0 && isResourceSpansList(value)) {
        return `"${key}" holds what looks like OTLP ResourceSpans: Lifeline reads them under "resourceSpans"`;
      }
      if (isObject(value) && 'resourceSpans' in value) {
        return `"${key}" holds an OTLP request: Lifeline reads it at the top level, or inside {"result": …} or {"trace": …}`;
      }
    }
    if (Array.isArray(document.traces) && isObject(document.traces[0]) && 'rootServiceName' in document.traces[0]) {
      return 'this is a Tempo search result (trace ids, no spans): fetch each trace from /api/traces/<traceID>';
    }
    if ('data' in document) {
      return '"data" is there but does not hold Jaeger traces ({"traceID", "spans", "processes"})';
    }
    if ('spanID' in document || 'spanId' in document) return 'this looks like one span: wrap it in a trace file';
    return undefined;
  }
  if (Array.isArray(document)) {
    if (document.length > 0 && isResourceSpansList(document)) {
      return 'this looks like a list of OTLP ResourceSpans: wrap it as {"resourceSpans": […]}';
    }
    const first: unknown = Array.isArray(document[0]) ? document[0][0] : document[0];
    if (!isObject(first)) return undefined;
    if ('traceID' in first && 'spans' in first) {
      return 'this is a list of Jaeger traces: Lifeline reads them as {"data": [trace, …]}';
    }
    if ('traceID' in first && 'spanID' in first) {
      return 'this is a list of Jaeger spans: Lifeline reads a Jaeger trace ({"traceID", "spans": […], "processes": {…}})';
    }
    if ('spanId' in first && 'traceId' in first) {
      return 'this looks like a list of OTLP spans: wrap them as {"resourceSpans": [{"scopeSpans": [{"spans": […]}]}]}';
    }
    if ('traceId' in first && 'binaryAnnotations' in first) return 'this looks like Zipkin v1 JSON, which has no `id`';
  }
  return undefined;
}

function unknownFormat(document: unknown): TraceFileError {
  const hint = nearMissHint(document);
  return new TraceFileError(`unrecognised trace format: ${FORMATS}${hint === undefined ? '' : `. Hint: ${hint}`}`);
}

function fromDocument(document: unknown, context: ImportContext): { format: TraceFileFormat; spans: Span[] } {
  if (isOtlpRequest(document)) return { format: 'otlp-json', spans: otlpToSpans(document as never, { context }) };
  // Jaeger's API v3 wraps the OTLP request: {"result": {"resourceSpans": …}}.
  if (isObject(document) && isOtlpRequest(document.result)) {
    const result = asObject(document.result, 'result');
    return { format: 'otlp-json', spans: otlpToSpans(result as never, { place: 'result', context }) };
  }
  const tempo = tempoRequest(document);
  if (tempo !== undefined) {
    return { format: 'tempo', spans: otlpToSpans(tempo.request as never, { place: tempo.place, context }) };
  }
  if (isJaegerDocument(document)) return { format: 'jaeger', spans: jaegerToSpans(document, context) };
  if (isZipkinDocument(document)) return { format: 'zipkin', spans: zipkinToSpans(document, context) };
  throw unknownFormat(document);
}

function lenientContext(document: unknown): ImportContext & { problems: ImportProblem[] } {
  const ids = new IdReader({ lenient: true });
  ids.learnTraceIds(document);
  return { ids, warnings: [], problems: [], unknownKinds: new Map() };
}

/**
 * Warnings about spans that were imported but are odd, each kind once with a
 * count: unknown kinds (read as SPAN_KIND_UNSPECIFIED), no end time (an end
 * of 0, or none: drawn as running until their last child ends), and an end
 * before the start, which is set to the start here, so the store never holds
 * a negative duration.
 */
function spanNotes(spans: Span[], context: ImportContext): string[] {
  const notes: string[] = [];
  const kinds = context.unknownKinds ?? new Map<string, number>();
  if (kinds.size > 0) {
    const total = [...kinds.values()].reduce((sum, n) => sum + n, 0);
    const names = [...kinds.keys()].slice(0, 3).map((kind) => JSON.stringify(kind));
    notes.push(
      `${total === 1 ? '1 span has' : `${total} spans have`} an unknown span kind (${names.join(', ')}${kinds.size > 3 ? ', …' : ''}): imported as SPAN_KIND_UNSPECIFIED, drawn as internal`,
    );
  }
  let unended = 0;
  let backwards = 0;
  let firstBackwards: string | undefined;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as Span;
    if (span.endTimeNs === undefined) unended++;
    else if (span.endTimeNs < span.startTimeNs) {
      backwards++;
      firstBackwards ??= span.spanId;
      spans[i] = { ...span, endTimeNs: span.startTimeNs };
    }
  }
  if (unended > 0) {
    notes.push(
      `${unended === 1 ? '1 span has' : `${unended} spans have`} no end time (absent or 0): drawn as running until ${unended === 1 ? 'its' : 'their'} last child ends`,
    );
  }
  if (backwards > 0) {
    notes.push(
      `${backwards === 1 ? '1 span ends' : `${backwards} spans end`} before ${backwards === 1 ? 'it starts' : 'they start'} (e.g. span ${firstBackwards}): end set to the start, zero duration`,
    );
  }
  return notes;
}

/**
 * Splits the spans of Zipkin's shared-span model wherever a file carries
 * them under one id (an OTLP file written by a Collector that received B3
 * data, say): a SERVER span with the same trace and span id as a CLIENT span
 * is the server half of that call. As Zipkin's own model has it, the server
 * side is a child of the client side: it gets an id of its own (derived
 * from the shared one, the same on every import) with the client as its
 * parent, and the spans of its service under the shared id move under it,
 * as the Jaeger reader does.
 * Zipkin and Jaeger files are split by their readers already; the OTLP
 * receiver splits each request's spans the same way.
 *
 * @returns how many server halves were split
 */
export function splitSharedIds(spans: Span[]): number {
  const first = new Map<string, number>();
  const halves = new Map<string, Span>();
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as Span;
    const key = `${span.traceId}/${span.spanId}`;
    const at = first.get(key);
    if (at === undefined) {
      first.set(key, i);
      continue;
    }
    const other = spans[at] as Span;
    const server =
      span.kind === 'server' && other.kind === 'client'
        ? i
        : other.kind === 'server' && span.kind === 'client'
          ? at
          : undefined;
    if (server === undefined || halves.has(key)) continue;
    const half = spans[server] as Span;
    const split: Span = {
      ...half,
      spanId: sharedServerSpanId(half.spanId),
      parentSpanId: half.spanId,
      attributes: { ...half.attributes, [SHARED_SPAN_ID_ATTRIBUTE]: half.spanId },
    };
    spans[server] = split;
    halves.set(key, split);
    // The client half keeps the first place; a server half listed first moves behind it.
    if (server === at) first.set(key, i);
  }
  if (halves.size === 0) return 0;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i] as Span;
    if (span.parentSpanId === undefined) continue;
    const half = halves.get(`${span.traceId}/${span.parentSpanId}`);
    // The children the server recorded hang under the server half; the client's own stay with it.
    if (half !== undefined && span !== half && span.serviceName === half.serviceName) {
      spans[i] = { ...span, parentSpanId: half.spanId };
    }
  }
  return halves.size;
}

function report(
  format: TraceFileFormat,
  spans: Span[],
  context: ImportContext & { problems: ImportProblem[] },
  skippedSignals: Partial<Record<SkippedSignal, number>> = {},
): ParsedTraceFile {
  const shared = splitSharedIds(spans);
  const sharedNote =
    shared === 0
      ? []
      : [
          `${shared === 1 ? '1 server span shares' : `${shared} server spans share`} the span id of the client span that called it (Zipkin's shared spans): each server half gets an id of its own, under its client`,
        ];
  return {
    format,
    spans,
    warnings: [...context.ids.notes(), ...context.warnings, ...sharedNote, ...spanNotes(spans, context)],
    problems: context.problems,
    rejectedSpans: context.problems.reduce((sum, p) => sum + p.rejectedSpans, 0),
    skippedSignals,
  };
}

/**
 * JSON lines as the OpenTelemetry Collector's file exporter writes them: one
 * export request per line, traces mixed with metrics and logs when one
 * exporter serves several pipelines. Trace lines are imported, lines of other
 * signals counted and skipped, and a line that is not JSON or not a request
 * is a problem at `line N`.
 */
function parseLines(text: string, firstLine = 1, endOfFile = true): ParsedTraceFile {
  const lines: { request: unknown; place: string; root: string }[] = [];
  const problems: ImportProblem[] = [];
  const skipped: Partial<Record<SkippedSignal, number>> = {};
  const all = text.split('\n');
  let last = all.length - 1;
  while (last > 0 && (all[last] as string).trim() === '') last--;
  for (const [index, line] of all.entries()) {
    if (line.trim() === '') continue;
    const place = `line ${index + firstLine}`;
    let request: unknown;
    try {
      request = withJsonFieldNames(parseJsonExact(line), line);
    } catch (error) {
      const message = (error as Error).message;
      // A line that stops inside its JSON lost all its spans, uncounted: say so, and why that usually happens.
      const problem = !isCutShort(line, message)
        ? `invalid JSON (${message}); its spans were not imported`
        : `not complete JSON${endOfFile && index === last ? ' (the file may have been cut off)' : ''}; its spans were not imported`;
      problems.push({ place, problem, rejectedSpans: 0, unknownSpans: true });
      continue;
    }
    const signal = isObject(request) && !isOtlpRequest(request) ? otherSignal(request) : undefined;
    if (signal !== undefined) {
      skipped[signal] = (skipped[signal] ?? 0) + 1;
    } else if (isObject(request) && !isOtlpRequest(request) && isOtlpRequest(request.result)) {
      // Jaeger's API v3 streams its answer as one {"result": …} chunk per line.
      lines.push({ request: request.result, place, root: 'result' });
    } else if (!isOtlpRequest(request)) {
      problems.push({
        place,
        problem: 'expected an OTLP export request ({"resourceSpans": …}, or resourceMetrics / resourceLogs to skip)',
        rejectedSpans: countRawSpans(request),
      });
    } else {
      lines.push({ request, place, root: '' });
    }
  }
  const context = lenientContext(lines.map((line) => line.request));
  context.problems.push(...problems);
  const spans: Span[] = [];
  for (const { request, place, root } of lines) {
    const before = context.problems.length;
    for (const span of otlpToSpans(request as never, { context, place: root })) spans.push(span);
    // The converter names JSON paths within the line; say which line.
    for (let i = before; i < context.problems.length; i++) {
      const problem = context.problems[i] as ImportProblem;
      context.problems[i] = { ...problem, place: problem.place === '' ? place : `${place}, ${problem.place}` };
    }
  }
  context.problems.sort((a, b) => lineNumber(a.place) - lineNumber(b.place));
  return report('otlp-jsonl', spans, context, skipped);
}

/**
 * Reads a block of lines of an OTLP JSON-lines file (see {@link parseTraceFile}),
 * for a caller that reads a large file a block at a time; `firstLine` is the
 * number of the block's first line in the file, so problems name the file's
 * lines. Ids are read within the block (a 64-bit trace id is widened only by
 * 128-bit ids of the same block). `endOfFile` (default true) says the block
 * ends the file: a last line cut short is then named as the file's end.
 */
export function parseTraceLines(
  text: string,
  options: { firstLine?: number; endOfFile?: boolean } = {},
): ParsedTraceFile {
  return parseLines(text, options.firstLine ?? 1, options.endOfFile ?? true);
}

/**
 * Whether JSON.parse failed because the text ended before the JSON did (a
 * line cut short), rather than at a wrong character: the error is at the end.
 */
function isCutShort(line: string, message: string): boolean {
  if (/end of JSON input/i.test(message)) return true;
  const at = /at position (\d+)/.exec(message);
  return at !== null && Number(at[1]) >= line.trimEnd().length;
}

function otherSignal(request: JsonObject): SkippedSignal | undefined {
  for (const [key, signal] of Object.entries(SIGNAL_KEYS)) if (key in request) return signal;
  return undefined;
}

function lineNumber(place: string): number {
  return Number(/^line (\d+)/.exec(place)?.[1] ?? 0);
}

/**
 * Reads a trace document already parsed, as {@link parseTraceFile} reads the
 * text of one: for a caller that parses a large file a part at a time with a
 * streaming JSON parser and hands each part on wrapped as a small document of
 * the same shape (`{"resourceSpans": [part, …]}`, `{"data": [part, …]}` or an
 * array of parts). A `resource_spans` key (protobuf's field names) is read as
 * `resourceSpans`, as in a file.
 *
 * @throws TraceFileError when the document is no trace format at all, or its
 * outer structure is broken.
 */
export function parseTraceDocument(document: unknown, options: { fileName?: string } = {}): ParsedTraceFile {
  const { fileName } = options;
  const read = isObject(document) && 'resource_spans' in document ? renameKeys(document) : document;
  try {
    const context = lenientContext(read);
    const { format, spans } = fromDocument(read, context);
    return report(format, spans, context);
  } catch (error) {
    withFileName(error, fileName);
  }
}

/**
 * Reads a trace file in any format Lifeline imports, detected from its
 * content: OTLP JSON (also inside Jaeger's API v3 `{"result": …}` envelope),
 * OTLP JSON lines as the OpenTelemetry Collector's file exporter writes them
 * (lines of metrics and logs are skipped and counted), Grafana Tempo's trace
 * JSON (`{"batches": …}`, API v2 `{"trace": …}`), Jaeger JSON as the Jaeger
 * UI downloads it, and Zipkin v2 or v1 JSON.
 *
 * What is valid is imported; each malformed part (a span, a resource, a line)
 * is skipped and reported in `problems` with its place (`line 3`, or a JSON
 * path such as `data[0].spans[3].startTime`), like OTLP's partial success.
 * Ids that are not hex are replaced by hashed ids (see `IdReader`) and noted
 * in `warnings`.
 *
 * @throws TraceFileError when the file is empty, not JSON, or no trace format
 * at all (the message lists the formats, with a hint for near misses), or its
 * outer structure is broken (e.g. `data` not an array).
 *
 * @example
 * ```ts
 * const { format, spans, warnings, problems } = parseTraceFile(readFileSync('trace.json', 'utf8'), { fileName: 'trace.json' });
 * store.writeSpans(spans);
 * ```
 */
export function parseTraceFile(text: string, options: { fileName?: string } = {}): ParsedTraceFile {
  const { fileName } = options;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') {
    throw new TraceFileError('the file is empty', fileName === undefined ? {} : { fileName });
  }
  let document: unknown;
  try {
    document = withJsonFieldNames(parseJsonExact(body), body);
  } catch (error) {
    const firstLine = body.trimStart().split('\n', 1)[0] ?? '';
    let first: unknown;
    try {
      first = withJsonFieldNames(JSON.parse(firstLine), firstLine);
    } catch {
      first = undefined;
    }
    // Several JSON documents, one per line: the Collector's file exporter (or Jaeger's streamed API v3 answer).
    const request = isObject(first) && isOtlpRequest(first.result) ? first.result : first;
    if (isObject(request) && (isOtlpRequest(request) || otherSignal(request) !== undefined) && body.includes('\n')) {
      return parseLines(body);
    }
    const where = first === undefined ? '' : ' (the first line is JSON, but not an OTLP export request)';
    throw new TraceFileError(
      `invalid JSON${where} (${(error as Error).message})`,
      fileName === undefined ? {} : { fileName },
    );
  }
  try {
    const context = lenientContext(document);
    const { format, spans } = fromDocument(document, context);
    // A one-line JSON-lines file is also a valid JSON document; its name tells them apart.
    const jsonLines = format === 'otlp-json' && fileName !== undefined && /\.(jsonl|ndjson)$/i.test(fileName);
    return report(jsonLines ? 'otlp-jsonl' : format, spans, context);
  } catch (error) {
    withFileName(error, fileName);
  }
}
