import type { Span } from '@lifeline/core';
import { isJaegerDocument, jaegerToSpans } from './jaeger.js';
import { asObject, parseJsonExact } from './json-reader.js';
import { isOtlpRequest, otlpToSpans } from './otlp.js';
import { TraceFileError } from './trace-file-error.js';
import { isZipkinDocument, zipkinToSpans } from './zipkin.js';

/** The trace file formats Lifeline imports. */
export type TraceFileFormat = 'otlp-json' | 'otlp-jsonl' | 'jaeger' | 'zipkin';

/** A parsed trace file. */
export interface ParsedTraceFile {
  readonly format: TraceFileFormat;
  readonly spans: Span[];
  /** Oddities that did not stop the import (duplicate ids, unknown processes, …). */
  readonly warnings: string[];
}

function withFileName(error: unknown, fileName: string | undefined, linePlace?: string): never {
  if (error instanceof TraceFileError) {
    const place = [linePlace, error.place].filter((p) => p !== undefined && p !== '').join(', ');
    throw new TraceFileError(error.problem, { place, ...(fileName === undefined ? {} : { fileName }), cause: error });
  }
  throw error;
}

const UNKNOWN_FORMAT =
  'unrecognised trace format: expected OTLP JSON ({"resourceSpans": …}), OTLP JSON lines (one request per line), ' +
  'Jaeger JSON ({"data": [{"spans": …}]}) or Zipkin v2 JSON ([{"traceId", "id", …}])';

function fromDocument(document: unknown, warnings: string[]): { format: TraceFileFormat; spans: Span[] } {
  if (isOtlpRequest(document)) return { format: 'otlp-json', spans: otlpToSpans(document as never) };
  // Jaeger's API v3 wraps the OTLP request: {"result": {"resourceSpans": …}}.
  if (typeof document === 'object' && document !== null && isOtlpRequest((document as { result?: unknown }).result)) {
    const result = asObject((document as { result: unknown }).result, 'result');
    return { format: 'otlp-json', spans: otlpToSpans(result as never, { place: 'result' }) };
  }
  if (isJaegerDocument(document)) return { format: 'jaeger', spans: jaegerToSpans(document, warnings) };
  if (isZipkinDocument(document)) return { format: 'zipkin', spans: zipkinToSpans(document, warnings) };
  throw new TraceFileError(UNKNOWN_FORMAT);
}

function parseLines(text: string, fileName: string | undefined): ParsedTraceFile {
  const spans: Span[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const place = `line ${index + 1}`;
    let request: unknown;
    try {
      request = parseJsonExact(line);
    } catch (error) {
      throw new TraceFileError(`invalid JSON (${(error as Error).message})`, {
        place,
        ...(fileName === undefined ? {} : { fileName }),
      });
    }
    if (!isOtlpRequest(request)) {
      throw new TraceFileError('expected an OTLP export request ({"resourceSpans": …}) on every line', {
        place,
        ...(fileName === undefined ? {} : { fileName }),
      });
    }
    try {
      for (const span of otlpToSpans(request as never)) spans.push(span);
    } catch (error) {
      withFileName(error, fileName, place);
    }
  }
  return { format: 'otlp-jsonl', spans, warnings: [] };
}

/**
 * Reads a trace file in any format Lifeline imports, detected from its
 * content: OTLP JSON (also inside Jaeger's API v3 `{"result": …}` envelope),
 * OTLP JSON lines as the OpenTelemetry Collector's file exporter writes them,
 * Jaeger JSON as the Jaeger UI downloads it, and Zipkin v2 JSON. Malformed
 * input throws a {@link TraceFileError} naming the place (`line 3`, or a JSON
 * path such as `data[0].spans[3].startTime`).
 *
 * @example
 * ```ts
 * const { format, spans, warnings } = parseTraceFile(readFileSync('trace.json', 'utf8'), { fileName: 'trace.json' });
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
    document = parseJsonExact(body);
  } catch (error) {
    const firstLine = body.trimStart().split('\n', 1)[0] ?? '';
    let firstIsJson = false;
    try {
      JSON.parse(firstLine);
      firstIsJson = true;
    } catch {
      firstIsJson = false;
    }
    // Several JSON documents, one per line: the Collector's file exporter.
    if (firstIsJson && body.trim().includes('\n')) return parseLines(body, fileName);
    throw new TraceFileError(`invalid JSON (${(error as Error).message})`, fileName === undefined ? {} : { fileName });
  }
  const warnings: string[] = [];
  try {
    const { format, spans } = fromDocument(document, warnings);
    // A one-line JSON-lines file is also a valid JSON document; its name tells them apart.
    const jsonLines = format === 'otlp-json' && fileName !== undefined && /\.(jsonl|ndjson)$/i.test(fileName);
    return { format: jsonLines ? 'otlp-jsonl' : format, spans, warnings };
  } catch (error) {
    withFileName(error, fileName);
  }
}
