import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { plural, type Span } from '@lifeline/core';
import {
  CONFLICT_EXAMPLES,
  type ImportProblem,
  type ParsedTraceFile,
  parseTraceDocument,
  parseTraceFile,
  parseTraceLines,
  type SpanStore,
  TraceFileError,
} from '@lifeline/store';
import type { Command } from 'commander';
import { IncompleteError, oneLine, UserError } from '../errors.js';
import { readDocumentBatches } from '../json-document.js';
import { readLineBlocks } from '../json-lines.js';
import { displayPath, openWritableStore, resolveDbPath } from '../store-access.js';

interface ImportOptions {
  readonly db?: string;
}

interface ParsedFile {
  readonly file: string;
  readonly format: string;
  /** The spans to write; empty for a file streamed a block at a time (already written). */
  readonly spans: readonly Span[];
  readonly spanCount: number;
  readonly traceIds: ReadonlySet<string>;
  readonly serviceCount: number;
  readonly warnings: readonly string[];
  /** What was skipped, each with the spans it lost. */
  readonly problems: readonly ImportProblem[];
  readonly skippedSignals: ParsedTraceFile['skippedSignals'];
}

/** Problems printed in full; the rest are counted. */
const problemsShown = 10;

/** Files at least this large get a progress bar (when stderr is a terminal). */
const progressThresholdBytes = 2 * 1024 * 1024;
/** Spans written per transaction while a progress bar is shown, so it can move. */
const batchSize = 2000;
/**
 * Files of one JSON document at least this large are read a part at a time
 * (see `json-document.ts`) and written as they are read; smaller ones whole,
 * before anything is written.
 */
const streamThresholdBytes = 16 * 1024 * 1024;

/**
 * Registers `lifeline import`: OTLP, Tempo, Jaeger and Zipkin JSON files into the
 * store. Exits 0 when all was imported (spans already stored count as
 * imported), 3 ({@link IncompleteError}) when parts of a file were skipped or
 * spans were not stored because a different span held their id, 1 when a
 * file could not be imported at all.
 */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description(
      'Import trace files (OTLP JSON or JSON lines, Grafana Tempo JSON, Jaeger JSON, Zipkin v2 or v1 JSON) into the database',
    )
    .argument('<files...>', 'trace files to import; the format of each is detected')
    .option('--db <path>', 'SQLite database to write (default: $LIFELINE_DB or .lifeline/traces.db)')
    .addHelpText(
      'after',
      `
Formats: OTLP JSON ({"resourceSpans": …}, also inside Jaeger's API v3
{"result": …}), the OpenTelemetry Collector file exporter's JSON lines (lines of
metrics and logs are skipped and counted), Grafana Tempo's trace JSON
({"batches": …}, API v2 {"trace": …}), Jaeger UI JSON and Zipkin v2 or v1 JSON.

Every file is read before anything is written (a file that is not a trace file
at all imports nothing), except JSON lines, which are read and written a block
of lines at a time, and JSON documents of 16 MiB or more, whose spans are read
with a streaming parser and written a batch at a time, however many one
resource or trace holds: a file of any size imports in about the same memory. Inside a trace file, what is valid is imported and each
malformed span, resource or line is skipped and named with its place (a JSON
path, or the line of a JSON-lines file); the first ${problemsShown} are printed.
Ids that are not hex are replaced by ids hashed from their text (the original
is kept in the span attribute lifeline.import.original_span_id / _trace_id);
short hex ids are left-padded. A span with an all-zero id or a time out of range
is skipped and named, and so is one without a start time (absent or 0); one
of an unknown kind is imported as unspecified. Each oddity is a warning. Spans
already in the database are counted, not added again; a different span under
an id already taken is not imported (the first is kept), and counted as lost.

Exit status: 0 all imported (spans already there included), 3 imported with
some spans or lines skipped or lost to an id already taken (counted on stderr),
1 nothing imported (unreadable file, unknown format), 2 unexpected failure.

Examples:
  $ lifeline import jaeger-trace.json
  $ lifeline import exports/*.json --db team-traces.db
  $ curl -s localhost:16686/api/traces/<id> > t.json && lifeline import t.json
  $ curl -s localhost:3200/api/traces/<id> > tempo.json && lifeline import tempo.json`,
    )
    .action((files: string[], options: ImportOptions) => {
      // JSON-lines files and large documents are read and written a part at a time; the others whole, before anything is written.
      const parsed = files.map((file) => (isJsonLines(file) || isLargeDocument(file) ? file : parseFile(file)));
      const path = resolveDbPath(options.db);
      const store = openWritableStore(path);
      try {
        // What was new, not what was read: a repeated line or a second import adds nothing.
        const total = new WriteTally();
        const parsedFiles: ParsedFile[] = [];
        const traceIds = new Set<string>();
        for (const entry of parsed) {
          const { file, written } =
            typeof entry === 'string'
              ? isJsonLines(entry)
                ? streamFile(store, entry)
                : (streamDocument(store, entry) ?? wholeFile(store, entry))
              : {
                  file: entry,
                  written: writeWithProgress(store, entry),
                };
          parsedFiles.push(file);
          for (const id of file.traceIds) traceIds.add(id);
          total.add(written);
          process.stdout.write(
            `${file.file}: ${file.format}, ${plural(file.spanCount, 'span')} in ${plural(file.traceIds.size, 'trace')} from ${plural(file.serviceCount, 'service')}${knownText(written.duplicates)}${conflictText(written.conflicts)}${skippedText(file)}\n`,
          );
          for (const warning of file.warnings) process.stderr.write(`warning: ${file.file}: ${oneLine(warning)}\n`);
        }
        const problems = parsedFiles.flatMap((file) => file.problems.map((problem) => ({ file: file.file, problem })));
        for (const { file, problem } of problems.slice(0, problemsShown)) {
          process.stderr.write(`problem: ${file}: ${describeProblem(problem)}\n`);
        }
        if (problems.length > problemsShown) {
          process.stderr.write(`problem: … and ${plural(problems.length - problemsShown, 'more problem')}\n`);
        }
        const { inserted, duplicates, conflicts, conflictExamples } = total.result();
        const known =
          duplicates === 0
            ? ''
            : ` ${plural(duplicates, 'span')} ${duplicates === 1 ? 'was' : 'were'} already there (stored before, or repeated in a file).`;
        process.stdout.write(
          `Imported ${plural(inserted, 'new span')} in ${plural(traceIds.size, 'trace')} into ${displayPath(path)}.${known} See them with \`lifeline list\`.\n`,
        );
        const lost: string[] = [];
        if (problems.length > 0) {
          const withProblems = parsedFiles.filter((file) => file.problems.length > 0).length;
          lost.push(
            `skipped ${lostText(parsedFiles.flatMap((file) => file.problems))} (${plural(problems.length, 'problem')} in ${plural(withProblems, 'file')}, listed above)`,
          );
        }
        if (conflicts > 0) {
          // Not a copy: a different span under an id already taken. Only the first is kept, so the other is lost.
          lost.push(
            `did not import ${plural(conflicts, 'span')} that shared an id with a different span (kept the first, see ${conflictExamples.join(', ')}${conflicts > conflictExamples.length ? ', …' : ''})`,
          );
        }
        // Everything else is written: the exit status says that part of the input did not make it.
        if (lost.length > 0) throw new IncompleteError(`${lost.join('; ')}; the rest was imported`);
      } finally {
        store.close();
      }
    });
}

/** `; 2 sharing an id with a different span`, or nothing. */
function conflictText(conflicts: number): string {
  return conflicts === 0 ? '' : `; ${conflicts} sharing an id with a different span`;
}

/** `; 3 already there`, or nothing. */
function knownText(duplicates: number): string {
  return duplicates === 0 ? '' : `; ${duplicates} already there`;
}

/**
 * What problems lost: `2 spans`, `1 unreadable line` (a line that is not
 * JSON, whose spans cannot be counted), or `2 spans and 1 unreadable line`.
 */
function lostText(problems: readonly ImportProblem[]): string {
  const spans = problems.reduce((sum, problem) => sum + problem.rejectedSpans, 0);
  const lines = problems.filter((problem) => problem.unknownSpans === true).length;
  if (lines === 0) return plural(spans, 'span');
  const unreadable = `${lines} unreadable ${lines === 1 ? 'line' : 'lines'}`;
  return spans === 0 ? unreadable : `${plural(spans, 'span')} and ${unreadable}`;
}

/** `; skipped 2 spans (3 problems); skipped lines of other signals: 2 metrics, 1 logs`, or nothing. */
function skippedText(file: Pick<ParsedFile, 'problems' | 'skippedSignals'>): string {
  let text = '';
  if (file.problems.length > 0) {
    text += `; skipped ${lostText(file.problems)} (${plural(file.problems.length, 'problem')})`;
  }
  const signals = Object.entries(file.skippedSignals).map(([signal, count]) => `${count} ${signal}`);
  if (signals.length > 0) text += `; skipped lines of other signals: ${signals.join(', ')}`;
  return text;
}

function describeProblem(problem: ImportProblem): string {
  return oneLine(problem.place === '' ? problem.problem : `at ${problem.place}: ${problem.problem}`);
}

function parseFile(file: string): ParsedFile {
  let text: string;
  try {
    if (statSync(file).isDirectory())
      throw new UserError(`cannot import ${file}: it is a directory, pass the trace files inside it`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as { code?: string }).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : oneLine((error as Error).message);
    throw new UserError(`cannot read ${file}: ${reason}. Nothing was imported`);
  }
  const big = Buffer.byteLength(text) >= progressThresholdBytes && process.stderr.isTTY;
  if (big) process.stderr.write(`Parsing ${file} (${(Buffer.byteLength(text) / 1024 / 1024).toFixed(1)} MB)…\n`);
  try {
    const result = parseTraceFile(text, { fileName: basename(file) });
    if (result.spans.length === 0) {
      const [first] = result.problems;
      const reason =
        first === undefined
          ? `holds no spans (read as ${result.format}${skippedText({ ...result, problems: [] })})`
          : `no span could be read (${plural(result.problems.length, 'problem')}; the first: ${describeProblem(first)})`;
      throw new UserError(`${file} ${reason}. Nothing was imported`);
    }
    return {
      file,
      format: result.format,
      spans: result.spans,
      spanCount: result.spans.length,
      traceIds: new Set(result.spans.map((span) => span.traceId)),
      serviceCount: new Set(result.spans.map((span) => span.serviceName)).size,
      warnings: result.warnings,
      problems: result.problems,
      skippedSignals: result.skippedSignals,
    };
  } catch (error) {
    if (error instanceof TraceFileError) {
      throw new UserError(`cannot import ${file}: ${oneLine(error.message)}. Nothing was imported`);
    }
    throw error;
  }
}

/** Bytes at the start of a file read to tell JSON lines from one JSON document. */
const PEEK_BYTES = 64 * 1024;

/** The keys one line of a JSON-lines export starts with: an export request of any signal, or Jaeger's `{"result": …}` chunk. */
const LINE_KEYS = ['resourceSpans', 'resourceMetrics', 'resourceLogs', 'resourceProfiles', 'result'];
const LINE_START = new RegExp(`^\\uFEFF?\\s*\\{\\s*"(?:${LINE_KEYS.join('|')})"`);

/**
 * Whether a file is OTLP JSON lines: its first line is a whole JSON object
 * (an export request of any signal, or Jaeger's `{"result": …}` chunk) and
 * another object follows it. Such a file is streamed; anything else is read
 * whole, or streamed as one document when large. A first line longer than
 * the bytes peeked (the Collector's file exporter writes a whole export
 * batch per line, hundreds of KiB) is found by reading on to its end, a
 * block at a time: the line is told by how it starts and what follows it.
 */
function isJsonLines(file: string): boolean {
  let line: string | undefined;
  let start: string;
  let next: string;
  try {
    if (!statSync(file).isFile()) return false;
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(PEEK_BYTES);
      const read = (at: number) => buffer.subarray(0, readSync(fd, buffer, 0, PEEK_BYTES, at));
      const first = read(0);
      start = first.toString('utf8');
      let newline = first.indexOf(0x0a);
      if (newline >= 0) line = first.subarray(0, newline).toString('utf8');
      // Raw newlines are whitespace between JSON tokens (a string escapes its own), so the first ends the first line.
      for (let at = first.length, chunk = first; newline < 0 && chunk.length > 0; at += chunk.length) {
        chunk = read(at);
        const found = chunk.indexOf(0x0a);
        if (found >= 0) newline = at + found;
      }
      if (newline < 0) return false;
      next = read(newline + 1).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    // parseFile names the problem.
    return false;
  }
  if (!next.trimStart().startsWith('{')) return false;
  // A first line longer than the peek is told by how it starts.
  if (line === undefined) return LINE_START.test(start);
  try {
    const first = JSON.parse(line.replace(/^\uFEFF/, '')) as unknown;
    if (typeof first !== 'object' || first === null || Array.isArray(first)) return false;
    return LINE_KEYS.some((key) => key in first);
  } catch {
    return false;
  }
}

/**
 * Imports a JSON-lines file a block of lines at a time: each block is parsed
 * and written before the next is read, so memory holds one block whatever
 * the file's size. The spans are not kept; the returned file has none.
 */
function streamFile(store: SpanStore, file: string): { file: ParsedFile; written: Written } {
  const tally = new WriteTally();
  let spans = 0;
  const traceIds = new Set<string>();
  const services = new Set<string>();
  const warnings = new Set<string>();
  const problems: ImportProblem[] = [];
  const skippedSignals: Record<string, number> = {};
  readLineBlocks(file, (block) => {
    const result = parseTraceLines(block.text, { firstLine: block.firstLine, endOfFile: block.last });
    const written = store.writeSpans(result.spans);
    tally.add(written);
    spans += result.spans.length;
    for (const span of result.spans) {
      traceIds.add(span.traceId);
      services.add(span.serviceName);
    }
    for (const warning of result.warnings) warnings.add(warning);
    problems.push(...result.problems);
    for (const [signal, count] of Object.entries(result.skippedSignals)) {
      skippedSignals[signal] = (skippedSignals[signal] ?? 0) + count;
    }
  });
  if (spans === 0) {
    const [first] = problems;
    throw new UserError(
      `${file} ${first === undefined ? 'holds no spans (read as otlp-jsonl)' : `no span could be read (the first problem: ${describeProblem(first)})`}. Nothing was imported`,
    );
  }
  return {
    file: {
      file,
      format: 'otlp-jsonl',
      spans: [],
      spanCount: spans,
      traceIds,
      serviceCount: services.size,
      warnings: [...warnings],
      problems,
      skippedSignals,
    },
    written: tally.result(),
  };
}

/** Whether a file is large enough to be streamed as one JSON document (see {@link streamThresholdBytes}). */
function isLargeDocument(file: string): boolean {
  try {
    const stat = statSync(file);
    return stat.isFile() && stat.size >= streamThresholdBytes;
  } catch {
    // parseFile names the problem.
    return false;
  }
}

/** A file read whole and written: a large document of a shape that cannot be streamed. */
function wholeFile(store: SpanStore, path: string): { file: ParsedFile; written: Written } {
  const file = parseFile(path);
  return { file, written: writeWithProgress(store, file) };
}

/**
 * Imports one large JSON document a batch of spans at a time, each with its
 * resource and scope (or Jaeger process): each batch is converted and written
 * before the next is read, so memory holds a batch whatever the file's size
 * or shape. Ids are read within a batch, as in a block of JSON lines.
 * Undefined, with nothing written, when the document holds no list that can
 * be streamed.
 */
function streamDocument(store: SpanStore, file: string): { file: ParsedFile; written: Written } | undefined {
  const tally = new WriteTally();
  let spans = 0;
  let format: string | undefined;
  const traceIds = new Set<string>();
  const services = new Set<string>();
  const warnings = new Set<string>();
  const problems: ImportProblem[] = [];
  const seenProblems = new Map<string, number>();
  let stats: ReturnType<typeof readDocumentBatches>;
  try {
    stats = readDocumentBatches(file, (batch) => {
      let result: ParsedTraceFile;
      try {
        result = parseTraceDocument(batch.document, { fileName: basename(file) });
      } catch (error) {
        // The first batch decides whether this is a trace file at all: nothing is written before it.
        if (format === undefined || !(error instanceof TraceFileError)) throw error;
        addProblem(problems, seenProblems, { place: batch.place, problem: error.problem, rejectedSpans: batch.spans });
        return;
      }
      format ??= result.format;
      const written = store.writeSpans(result.spans);
      tally.add(written);
      spans += result.spans.length;
      for (const span of result.spans) {
        traceIds.add(span.traceId);
        services.add(span.serviceName);
      }
      for (const warning of result.warnings) warnings.add(warning);
      for (const problem of result.problems) {
        addProblem(problems, seenProblems, { ...problem, place: batch.placeInFile(problem.place) });
      }
    });
  } catch (error) {
    if (error instanceof UserError) throw error;
    const { inserted } = tally.result();
    const written =
      spans === 0
        ? 'Nothing was imported'
        : `${plural(inserted, 'new span')} read before that point ${inserted === 1 ? 'was' : 'were'} imported`;
    const code = (error as { code?: string }).code;
    const message =
      error instanceof TraceFileError
        ? `cannot import ${file}: ${oneLine(error.message)}. ${written}`
        : code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR'
          ? `cannot read ${file}: ${oneLine((error as Error).message)}. ${written}`
          : // The parser's own message names the byte where the JSON broke.
            `cannot import ${file}: invalid JSON (${oneLine((error as Error).message)}). ${written}`;
    // Spans already written stay: the exit status says the import is incomplete, not that nothing happened.
    throw spans === 0 ? new UserError(message) : new IncompleteError(message);
  }
  if (stats === undefined) return undefined;
  if (spans === 0) {
    const [first] = problems;
    throw new UserError(
      `${file} ${first === undefined ? `holds no spans (read as ${format ?? 'JSON'})` : `no span could be read (the first problem: ${describeProblem(first)})`}. Nothing was imported`,
    );
  }
  return {
    file: {
      file,
      format: format ?? 'otlp-json',
      spans: [],
      spanCount: spans,
      traceIds,
      serviceCount: services.size,
      warnings: [...warnings],
      problems,
      skippedSignals: {},
    },
    written: tally.result(),
  };
}

/**
 * Adds a problem of a streamed document, once: a resource or a Jaeger trace
 * whose spans came in several batches is named by each, with the spans each lost.
 */
function addProblem(problems: ImportProblem[], seen: Map<string, number>, problem: ImportProblem): void {
  const key = `${problem.place}\n${problem.problem}`;
  const at = seen.get(key);
  if (at === undefined) {
    seen.set(key, problems.push(problem) - 1);
    return;
  }
  const same = problems[at] as ImportProblem;
  problems[at] = { ...same, rejectedSpans: same.rejectedSpans + problem.rejectedSpans };
}

/** What writing one file did (see `WriteResult`). */
interface Written {
  readonly inserted: number;
  readonly duplicates: number;
  readonly conflicts: number;
  readonly conflictExamples: readonly string[];
}

/** Adds up the `WriteResult`s of the batches of one file, keeping the first few conflict examples. */
class WriteTally {
  #inserted = 0;
  #duplicates = 0;
  #conflicts = 0;
  readonly #examples: string[] = [];

  add(written: Written): void {
    this.#inserted += written.inserted;
    this.#duplicates += written.duplicates;
    this.#conflicts += written.conflicts;
    for (const example of written.conflictExamples) {
      if (this.#examples.length >= CONFLICT_EXAMPLES) break;
      this.#examples.push(example);
    }
  }

  result(): Written {
    return {
      inserted: this.#inserted,
      duplicates: this.#duplicates,
      conflicts: this.#conflicts,
      conflictExamples: [...this.#examples],
    };
  }
}

/** Writes a file's spans; returns how many were new and how many already stored. */
function writeWithProgress(store: SpanStore, file: ParsedFile): Written {
  const showBar = process.stderr.isTTY && file.spans.length > batchSize;
  if (!showBar) return store.writeSpans(file.spans);
  const tally = new WriteTally();
  // Required here, not imported at the top: only a large import into a
  // terminal draws a bar, and every other command starts without it.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format: `${basename(file.file)} [{bar}] {percentage}% | {value}/{total} spans | {eta_formatted} left`,
      clearOnComplete: true,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(file.spans.length, 0);
  try {
    for (let offset = 0; offset < file.spans.length; offset += batchSize) {
      const batch = file.spans.slice(offset, offset + batchSize);
      const written = store.writeSpans(batch);
      tally.add(written);
      bar.increment(batch.length);
    }
  } finally {
    bar.stop();
  }
  return tally.result();
}
