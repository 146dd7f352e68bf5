/**
 * Reading one large JSON trace document (an OTLP request `{"resourceSpans":
 * […]}`, a Jaeger download `{"data": […]}`, a Tempo `{"batches": […]}` or a
 * top-level array of Zipkin spans) a part at a time with a streaming JSON
 * parser, so that importing it holds a batch of parts, not the file: V8
 * cannot hold a string above ~512 MiB, and `JSON.parse` of a file costs
 * several times its size.
 *
 * The parser is @streamparser/json: its `write()` is synchronous and calls
 * back for every completed part, which fits a loop that reads a chunk, parses
 * it and commits what it completed before reading on.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Tokenizer, TokenParser } from '@streamparser/json';

/** The lists whose items are streamed one by one, by the path of the list in the document. */
const OBJECT_LISTS = ['resourceSpans', 'resource_spans', 'data', 'batches', 'result.resourceSpans'];

/** A batch of parts of one list, wrapped as a small document of the file's shape. */
export interface DocumentBatch {
  /** `{"resourceSpans": [parts]}`, `{"data": [parts]}`, … or the array of parts for a top-level array. */
  readonly document: unknown;
  /** Path of the list the parts come from (`resourceSpans`, `data`, …), `''` for a top-level array. */
  readonly listPath: string;
  /** Index in that list of the batch's first part, to name places in the file. */
  readonly firstIndex: number;
  /** Spans the batch holds, as counted before conversion. */
  readonly spans: number;
}

/** Options of {@link readDocumentBatches}. */
export interface ReadDocumentOptions {
  /** Bytes read from the file at a time (default 1 MiB). */
  readonly chunkBytes?: number;
  /** A batch is handed on once it holds at least this many spans (default 2,000). */
  readonly batchSpans?: number;
}

/** What {@link readDocumentBatches} did. */
export interface DocumentStats {
  /** Parts read from the document's list. */
  parts: number;
  batches: number;
}

/**
 * Integers beyond float64's exact range (nanosecond times written as JSON
 * numbers) keep their digits, as `parseJsonExact` keeps them for a whole file.
 */
class ExactTokenizer extends Tokenizer {
  override parseNumber(numberStr: string): number {
    const n = Number(numberStr);
    if (Number.isSafeInteger(n) || !/^-?\d+$/.test(numberStr)) return n;
    // The parser hands the value on untouched; its type says number because a plain parser only makes numbers.
    return numberStr as unknown as number;
  }
}

/** Spans an item of a streamed list holds: a resource's or a Jaeger trace's `spans` arrays, else 1 (a Zipkin span). */
function spansIn(part: unknown): number {
  if (typeof part !== 'object' || part === null) return 1;
  const record = part as Record<string, unknown>;
  if (Array.isArray(record.spans)) return record.spans.length;
  let count = 0;
  for (const key of ['scopeSpans', 'scope_spans', 'instrumentationLibrarySpans', 'instrumentation_library_spans']) {
    const scopes = record[key];
    if (!Array.isArray(scopes)) continue;
    for (const scope of scopes) {
      const spans = (scope as Record<string, unknown> | null)?.spans;
      if (Array.isArray(spans)) count += spans.length;
    }
  }
  return Math.max(count, 1);
}

function wrap(listPath: string, parts: unknown[]): unknown {
  if (listPath === '') return parts;
  return listPath.split('.').reduceRight<unknown>((inner, key) => ({ [key]: inner }), parts);
}

/** The first byte of the document that is not white space or a byte-order mark. */
function firstByte(path: string): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer
      .subarray(0, read)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
    const at = text.search(/\S/);
    return at < 0 ? undefined : text.charCodeAt(at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `onBatch` with the items of the document's list of resources, traces
 * or spans, a batch at a time, in order. Returns undefined, having called
 * `onBatch` never, when the document holds none of the lists it streams (an
 * object of another shape): the caller then reads it whole.
 *
 * @throws {Error} the parser's error (with the byte offset) when the file is
 * not valid JSON, what `fs` throws when it cannot be read, and what `onBatch` throws.
 */
export function readDocumentBatches(
  path: string,
  onBatch: (batch: DocumentBatch) => void,
  options: ReadDocumentOptions = {},
): DocumentStats | undefined {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const batchSpans = options.batchSpans ?? 2000;
  const first = firstByte(path);
  if (first !== 0x5b /* [ */ && first !== 0x7b /* { */) return undefined;
  const stats: DocumentStats = { parts: 0, batches: 0 };
  const tokenizer = new ExactTokenizer({ stringBufferSize: 64 * 1024, numberBufferSize: 64 });
  // keepStack false: an item handed on is dropped from its list, so the list never grows.
  const parser = new TokenParser({
    paths: first === 0x5b ? ['$.*'] : OBJECT_LISTS.map((list) => `$.${list}.*`),
    keepStack: false,
  });
  tokenizer.onToken = parser.write.bind(parser);
  parser.onError = tokenizer.error.bind(tokenizer);

  let pending: unknown[] = [];
  let pendingSpans = 0;
  let pendingList = '';
  let pendingFirst = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    const batch: DocumentBatch = {
      document: wrap(pendingList, pending),
      listPath: pendingList,
      firstIndex: pendingFirst,
      spans: pendingSpans,
    };
    pending = [];
    pendingSpans = 0;
    stats.batches++;
    onBatch(batch);
  };
  parser.onValue = ({ value, key, stack }) => {
    const listPath = stack
      .slice(1)
      .map((element) => String(element.key))
      .join('.');
    if (listPath !== pendingList) flush();
    if (pending.length === 0) {
      pendingList = listPath;
      pendingFirst = typeof key === 'number' ? key : 0;
    }
    pending.push(value);
    pendingSpans += spansIn(value);
    stats.parts++;
    if (pendingSpans >= batchSpans) flush();
  };

  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(chunkBytes);
    let start = true;
    for (;;) {
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      if (read === 0) break;
      let chunk = buffer.subarray(0, read);
      // The parser does not skip a byte-order mark.
      if (start && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
      start = false;
      // A copy: the parser may keep a part of the chunk while a string or number goes on in the next.
      tokenizer.write(Uint8Array.from(chunk));
    }
    if (!tokenizer.isEnded) tokenizer.end();
    // A file cut short (a copy interrupted) ends inside the document: the parser waits for more.
    if (!parser.isEnded) throw new Error('the file ends before the JSON document does (truncated?)');
    flush();
  } finally {
    closeSync(fd);
  }
  return stats.parts === 0 ? undefined : stats;
}
