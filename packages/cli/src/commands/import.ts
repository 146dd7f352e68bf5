import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Span } from '@lifeline/core';
import { parseTraceFile, type SpanStore, TraceFileError } from '@lifeline/store';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { oneLine, UserError } from '../errors.js';
import { displayPath, openWritableStore, resolveDbPath } from '../store-access.js';

interface ImportOptions {
  readonly db?: string;
}

interface ParsedFile {
  readonly file: string;
  readonly format: string;
  readonly spans: readonly Span[];
  readonly warnings: readonly string[];
}

/** Files at least this large get a progress bar (when stderr is a terminal). */
const progressThresholdBytes = 2 * 1024 * 1024;
/** Spans written per transaction while a progress bar is shown, so it can move. */
const batchSize = 2000;

/** Registers `lifeline import`: OTLP, Jaeger and Zipkin JSON files into the store. */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('Import trace files (OTLP JSON or JSON lines, Jaeger JSON, Zipkin v2 JSON) into the database')
    .argument('<files...>', 'trace files to import; the format of each is detected')
    .option('--db <path>', 'SQLite database to write (default: $LIFELINE_DB or .lifeline/traces.db)')
    .addHelpText(
      'after',
      `
Every file is read and checked before anything is written, so a malformed file
imports nothing. A file that fails names the place that is wrong.

Examples:
  $ lifeline import jaeger-trace.json
  $ lifeline import exports/*.json --db team-traces.db
  $ curl -s localhost:16686/api/traces/<id> > t.json && lifeline import t.json`,
    )
    .action((files: string[], options: ImportOptions) => {
      const parsed = files.map(parseFile);
      const path = resolveDbPath(options.db);
      const store = openWritableStore(path);
      try {
        let spanTotal = 0;
        const traceIds = new Set<string>();
        for (const file of parsed) {
          writeWithProgress(store, file);
          const fileTraces = new Set(file.spans.map((span) => span.traceId));
          for (const id of fileTraces) traceIds.add(id);
          spanTotal += file.spans.length;
          const services = new Set(file.spans.map((span) => span.serviceName)).size;
          process.stdout.write(
            `${file.file}: ${file.format}, ${plural(file.spans.length, 'span')} in ${plural(fileTraces.size, 'trace')} from ${plural(services, 'service')}\n`,
          );
          for (const warning of file.warnings) process.stderr.write(`warning: ${file.file}: ${oneLine(warning)}\n`);
        }
        process.stdout.write(
          `Imported ${plural(spanTotal, 'span')} in ${plural(traceIds.size, 'trace')} into ${displayPath(path)}. See them with \`lifeline list\`.\n`,
        );
      } finally {
        store.close();
      }
    });
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
      throw new UserError(`${file} holds no spans (read as ${result.format}). Nothing was imported`);
    }
    return { file, format: result.format, spans: result.spans, warnings: result.warnings };
  } catch (error) {
    if (error instanceof TraceFileError) {
      throw new UserError(`cannot import ${file}: ${oneLine(error.message)}. Nothing was imported`);
    }
    throw error;
  }
}

function writeWithProgress(store: SpanStore, file: ParsedFile): void {
  const showBar = process.stderr.isTTY && file.spans.length > batchSize;
  if (!showBar) {
    store.writeSpans(file.spans);
    return;
  }
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
      store.writeSpans(batch);
      bar.increment(batch.length);
    }
  } finally {
    bar.stop();
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
