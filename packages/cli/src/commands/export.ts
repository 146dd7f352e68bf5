import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import {
  analyzeTrace,
  bigintToJson,
  boundAnalysis,
  DEFAULT_MAX_TEXT_LENGTH,
  joinLinkedTraces,
  MAX_TRACE_SPANS,
  markdownExport,
  type Span,
  summarizeTrace,
  type Trace,
  type TraceDiagram,
  traceToMermaid,
  truncationNote,
  withLeadingNote,
} from '@lifeline/core';
import type { SpanStore, TraceFilter } from '@lifeline/store';
import { type Command, Option } from 'commander';
import { ChromiumNotFoundError } from '../chromium.js';
import { UserError } from '../errors.js';
import { closeReadStore, displayPath, openExistingStore, resolveDbPath } from '../store-access.js';
import { addWorkOptions, type WorkFlags, workFromFlags } from '../work-options.js';
import { addSourceOptions, oneSource, type SourceFlags, traceFromSource } from './sources.js';

/** Output formats of `lifeline export`. */
export type ExportFormat = 'mmd' | 'md' | 'svg' | 'png' | 'json';

const formats: readonly ExportFormat[] = ['mmd', 'md', 'svg', 'png', 'json'];

interface ExportOptions extends WorkFlags, SourceFlags {
  readonly db?: string;
  readonly route?: string;
  readonly service?: string;
  readonly method?: string;
  readonly format?: ExportFormat;
  readonly timings: boolean;
  readonly internal?: boolean;
  readonly mermaidShapes?: boolean;
  readonly out?: string;
  readonly allSpans?: boolean;
}

/** Registers `lifeline export`: one trace as Mermaid, Markdown, SVG, PNG or JSON. */
export function registerExportCommand(program: Command): void {
  const command = program
    .command('export')
    .description('Export one request as a sequence diagram (mmd, md, svg, png) or as JSON with its analysis')
    .argument('[trace]', 'a trace id from `lifeline list`, or `last` for the most recent request', 'last')
    .option('--db <path>', 'SQLite database to read (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--route <route>', 'with `last`: the most recent request on this route template')
    .option('--service <name>', 'with `last`: the most recent request served by this service')
    .option('--method <method>', 'with `last`: the most recent request with this HTTP method')
    .addOption(
      new Option('--format <format>', 'output format (default: from the --out extension, else mmd)').choices(formats),
    )
    .option('--no-timings', 'leave durations out: byte-stable output for docs and reviews')
    .option('--internal', 'draw internal spans as self-calls')
    .option(
      '--mermaid-shapes',
      'mmd, md, json: draw databases, caches and queues with Mermaid participant shapes (needs Mermaid 11.13 or later to render)',
    )
    .option('--out <file>', 'write to this file instead of stdout')
    .option(
      '--all-spans',
      `read, draw and analyse every span of a trace over ${MAX_TRACE_SPANS.toLocaleString('en-US')} spans, not only its earliest ${MAX_TRACE_SPANS.toLocaleString('en-US')} (as the viewer does)`,
    );
  addSourceOptions(command, 'read the trace from');
  addWorkOptions(command, 'with `last`: pick among')
    .addHelpText(
      'after',
      `
Formats: mmd (Mermaid text), md (summary line + fenced mermaid block for PRs and
docs), svg and png (rendered by Mermaid in a headless Chromium: set
LIFELINE_CHROMIUM or install chromium), json (trace, analysis, sequence model).

A trace of more than 10,000 spans is read, drawn and analysed from its earliest
10,000 by start time, as the viewer's trace page does: the diagram's first note
and stderr say so, the JSON has spanCount (every span), analyzedSpans and
truncated: true, and the Mermaid text is the viewer's, byte for byte.
--all-spans reads every span instead (JSON spans are written as they are
turned to text); each list of the JSON analysis keeps its first 1,000 entries
and analysis.omitted counts the rest.

Mermaid text (mmd, md, json) parses on Mermaid 10.9 and later, as GitHub, GitLab
and most wikis run: databases, caches and queues are plain participants named
with their kind, e.g. "postgresql blog (db)", "redis (cache)", "orders (queue)".
--mermaid-shapes draws them with Mermaid's database and queue shapes instead;
svg and png always do, as they are drawn by the Mermaid bundled with Lifeline.

Examples:
  $ lifeline export last
  $ lifeline export last --background
  $ lifeline export last --route /articles/:id/serial --format md --no-timings
  $ lifeline export 4bf92f3577b34da6a3ce929d0e0e4736 --out diagram.svg
  $ lifeline export last --format json | jq .analysis.nPlusOne
  $ lifeline export --source jaeger=http://jaeger-query:16686 4bf92f3577b34da6a3ce929d0e0e4736 --format md`,
    )
    .action(async (reference: string, options: ExportOptions) => {
      const fromFile = formatFromFile(options.out);
      // A .png file holding SVG text (or the other way round) opens nowhere: the
      // extension names a format, so a different --format is refused rather than obeyed.
      if (options.format !== undefined && fromFile !== undefined && fromFile !== options.format) {
        throw new UserError(
          `--format ${options.format} does not match --out ${options.out}, which names ${fromFile}: name the file ${withExtension(options.out ?? '', options.format)}, or leave --format out to write ${fromFile}`,
        );
      }
      const format = options.format ?? fromFile ?? 'mmd';
      if (format === 'png' && !options.out && process.stdout.isTTY) {
        throw new UserError('a PNG is binary and would garble the terminal: pass --out FILE.png or redirect stdout');
      }
      const source = await oneSource(options, 'export');
      let trace: Trace;
      let spanCount: number | undefined;
      if (source !== undefined) {
        if (reference === 'last')
          throw new UserError('with --source, name the trace: lifeline list --source shows the ids');
        trace = await traceFromSource(source, reference);
        if (options.allSpans !== true && trace.spans.length > MAX_TRACE_SPANS) {
          spanCount = trace.spans.length;
          trace = { ...trace, spans: earliestSpans(trace.spans, MAX_TRACE_SPANS) };
        }
      } else {
        const path = resolveDbPath(options.db);
        const store = openExistingStore(path);
        try {
          ({ trace, spanCount } = findTrace(store, reference, options, path));
        } finally {
          closeReadStore(store, path);
        }
      }
      const capped = spanCount !== undefined && spanCount > trace.spans.length;
      if (capped) {
        process.stderr.write(
          `Trace ${trace.traceId} has ${spanCount?.toLocaleString('en-US')} spans: exporting the earliest ${trace.spans.length.toLocaleString('en-US')} by start time, as the viewer draws it; pass --all-spans for every span\n`,
        );
      }
      const renderOptions: RenderExportOptions = {
        format,
        timings: options.timings,
        internal: options.internal ?? false,
        participantShapes: options.mermaidShapes ?? false,
        ...(capped ? { spanCount } : {}),
      };
      // JSON is written a few hundred spans at a time: the spans of a huge trace are never one string.
      let output: string | Buffer | Iterable<string>;
      try {
        output = format === 'json' ? jsonChunks(trace, renderOptions) : await renderExport(trace, renderOptions);
      } catch (error) {
        // The library says what is missing; to the command line that is the user's to fix.
        if (error instanceof ChromiumNotFoundError) throw new UserError(error.message);
        throw error;
      }
      if (options.out) {
        try {
          const fd = openSync(options.out, 'w');
          try {
            for (const piece of typeof output === 'string' || Buffer.isBuffer(output) ? [output] : output) {
              writeFileSync(fd, piece);
            }
          } finally {
            closeSync(fd);
          }
        } catch (error) {
          throw new UserError(`cannot write ${options.out}: ${(error as Error).message}`);
        }
        process.stderr.write(`Wrote ${format} of trace ${trace.traceId} to ${options.out}\n`);
      } else if (typeof output === 'string' || Buffer.isBuffer(output)) {
        process.stdout.write(output);
      } else {
        for (const piece of output) {
          // Wait for a slow reader (a pager, a pipe) rather than queue the whole document.
          if (!process.stdout.write(piece)) await once(process.stdout, 'drain');
        }
      }
    });
}

/** `file` with the usual extension of `format` in place of its own. */
function withExtension(file: string, format: ExportFormat): string {
  const extension = extname(file);
  return `${extension === '' ? file : file.slice(0, -extension.length)}.${format}`;
}

function formatFromFile(file: string | undefined): ExportFormat | undefined {
  if (!file) return undefined;
  const extension = extname(file).slice(1).toLowerCase();
  if (extension === 'mermaid') return 'mmd';
  if (extension === 'markdown') return 'md';
  return formats.find((format) => format === extension);
}

/**
 * Traces are read with the traces linked to them, as the viewer reads them,
 * so an export draws what the viewer draws: the processing of the messages a
 * request published, even when the consumer started a trace of its own.
 */
const LINKED = { linked: true } as const;

/**
 * The trace named, read as the viewer reads it: of a trace over
 * {@link MAX_TRACE_SPANS} spans, the earliest started (unless `--all-spans`),
 * with `spanCount` saying how many it has.
 */
function findTrace(
  store: SpanStore,
  reference: string,
  options: ExportOptions,
  path: string,
): { trace: Trace; spanCount: number | undefined } {
  const read = (id: string): { trace: Trace; spanCount: number | undefined } | undefined => {
    const spanCount = store.traceSpanCount(id);
    const capped = options.allSpans !== true && spanCount !== undefined && spanCount > MAX_TRACE_SPANS;
    const trace = store.getTrace(id, { ...LINKED, ...(capped ? { maxSpans: MAX_TRACE_SPANS } : {}) });
    return trace === undefined ? undefined : { trace, spanCount };
  };
  const filter: TraceFilter = {
    ...(options.route !== undefined ? { route: options.route } : {}),
    ...(options.service !== undefined ? { service: options.service } : {}),
    ...(options.method !== undefined ? { method: options.method.toUpperCase() } : {}),
  };
  const filtered = Object.keys(filter).length > 0 || options.background === true || options.all === true;
  if (reference === 'last') {
    // The same requests `lifeline list` shows by default, so `last` is its first row.
    const latest = store.listTraces({ ...filter, work: workFromFlags(options) }, { limit: 1 }).items[0];
    const found = latest === undefined ? undefined : read(latest.traceId);
    if (found) return found;
    if (store.stats().traces === 0) {
      // Spans only waiting in the inbox: closeReadStore writes how many and why, before this error.
      if (store.unsettled() !== undefined) {
        throw new UserError(`no trace in ${displayPath(path)} can be shown yet: see the note above`);
      }
      throw new UserError(
        `no traces yet in ${displayPath(path)}: record a request (node --import @lifeline/node/register app.js) or import a file (lifeline import FILE)`,
      );
    }
    const onlyBackground =
      workFromFlags(options) === 'requests' &&
      store.listTraces({ ...filter, work: 'all' }, { limit: 1 }).items.length > 0;
    if (onlyBackground) {
      const matching = Object.keys(filter).length > 0 ? ` matches ${describeFilter(filter)}` : '';
      throw new UserError(
        `no recorded request${matching}, only background work: pass --background or --all, or see \`lifeline list --all\``,
      );
    }
    throw new UserError(
      `no recorded request matches ${describeFilter(filter)}: run \`lifeline list\` to see the routes and services recorded`,
    );
  }
  if (filtered) {
    throw new UserError(
      '--route, --service, --method, --background and --all choose among recent traces: use them with `last`, not with a trace id',
    );
  }
  const id = reference.trim().toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(id)) {
    throw new UserError(`"${reference}" is not a trace id: pass the hex id shown by \`lifeline list\`, or \`last\``);
  }
  const found = read(id) ?? (id.length < 32 ? read(id.padStart(32, '0')) : undefined);
  if (found) return found;
  throw new UserError(`no trace ${id} in ${displayPath(path)}: run \`lifeline list\` to see the recorded ones`);
}

/** The `count` earliest started spans, in start order, as the store reads them. */
function earliestSpans(spans: readonly Span[], count: number): Span[] {
  return [...spans]
    .sort((a, b) =>
      a.startTimeNs < b.startTimeNs
        ? -1
        : a.startTimeNs > b.startTimeNs
          ? 1
          : a.spanId < b.spanId
            ? -1
            : a.spanId > b.spanId
              ? 1
              : 0,
    )
    .slice(0, count);
}

function describeFilter(filter: TraceFilter): string {
  return Object.entries(filter)
    .map(([key, value]) => `--${key} ${String(value)}`)
    .join(' ');
}

/** Options for {@link renderExport}. */
export interface RenderExportOptions {
  readonly format: ExportFormat;
  readonly timings: boolean;
  readonly internal: boolean;
  /**
   * Mermaid text (mmd, md, json) uses participant shapes, which need Mermaid
   * 11.13 or later; without it the text parses on Mermaid 10.9 and later.
   * svg and png are drawn by the bundled Mermaid and always use shapes.
   * Default false.
   */
  readonly participantShapes?: boolean;
  /**
   * Every span of the trace, when `read` holds only its earliest ones (at
   * most {@link MAX_TRACE_SPANS}, as the viewer reads them): the diagram's
   * first note says how many there are, and the JSON says `truncated`.
   * Default: the spans read are the whole trace.
   */
  readonly spanCount?: number;
}

/** Room kept in the Mermaid text for the note that says a trace was cut, as the viewer keeps it. */
const CAP_NOTE_ROOM = 300;

/**
 * Produces the bytes `lifeline export` writes for one trace in one format.
 *
 * @throws {ChromiumNotFoundError} for svg and png when no Chromium is found.
 *
 * @example
 * ```ts
 * const md = await renderExport(trace, { format: 'md', timings: false, internal: false });
 * ```
 */
export async function renderExport(read: Trace, options: RenderExportOptions): Promise<string | Buffer> {
  if (options.format === 'json') return [...jsonChunks(read, options)].join('');
  // The spans of the linked traces that the picture draws, and no others.
  const trace = joinLinkedTraces(read);
  switch (options.format) {
    case 'md': {
      const timings = options.timings;
      const { text, folded } = draw(trace, options, options.participantShapes ?? false);
      return markdownExport({
        traceId: trace.traceId,
        summary: summarizeTrace(trace),
        analysis: analyzeTrace(trace),
        mermaid: text,
        folded,
        timings,
      });
    }
    case 'svg':
    case 'png': {
      const { text } = draw(trace, options, true);
      // Playwright is loaded only for the two formats that need a browser.
      const { renderMermaidImage } = await import('../render-image.js');
      return options.format === 'svg'
        ? `${await renderMermaidImage(text, { format: 'svg' })}\n`
        : await renderMermaidImage(text, { format: 'png' });
    }
    default: {
      const { text } = draw(trace, options, options.participantShapes ?? false);
      return text.endsWith('\n') ? text : `${text}\n`;
    }
  }
}

/**
 * The diagram, drawn as the viewer draws it: of a trace cut to its earliest
 * spans, with the note that says so first in the text.
 */
function draw(trace: Trace, options: RenderExportOptions, participantShapes: boolean): TraceDiagram {
  const capped = options.spanCount !== undefined && options.spanCount > trace.spans.length;
  const drawn = traceToMermaid(trace, {
    timings: options.timings,
    internal: options.internal,
    participantShapes,
    ...(capped ? { maxTextLength: DEFAULT_MAX_TEXT_LENGTH - CAP_NOTE_ROOM } : {}),
  });
  return capped ? withLeadingNote(drawn, truncationNote(options.spanCount ?? 0, trace.spans.length)) : drawn;
}

/** Spans turned to text at a time by {@link jsonChunks}. */
const SPANS_PER_CHUNK = 500;

/**
 * The JSON export in pieces: the document up to the spans, then the spans a
 * few hundred at a time, so that a trace of any size is never one string.
 */
export function* jsonChunks(read: Trace, options: RenderExportOptions): Generator<string> {
  const trace = joinLinkedTraces(read);
  const { text, model, folded } = draw(trace, options, options.participantShapes ?? false);
  const spanCount = Math.max(options.spanCount ?? 0, trace.spans.length);
  const document = {
    traceId: trace.traceId,
    // The same fields as the viewer's trace answer: of a trace over the span cap, the
    // earliest spans are read, drawn and analysed (`analyzedSpans`), unless asked for all.
    spanCount,
    analyzedSpans: trace.spans.length,
    ...(spanCount > trace.spans.length ? { truncated: true } : {}),
    summary: summarizeTrace(trace),
    // Each list cut to its first entries, `omitted` counting the rest: a trace of
    // 250,000 spans has a critical path of as many steps.
    analysis: boundAnalysis(analyzeTrace(trace)),
    mermaid: text,
    folded,
    model,
    trace: { traceId: trace.traceId, spans: [] as unknown[] },
  };
  // Exact times (bigint) are written as decimal strings.
  const head = JSON.stringify(document, bigintToJson, 2);
  const marker = '"spans": []';
  const at = head.lastIndexOf(marker);
  yield `${head.slice(0, at)}"spans": [`;
  const pad = '\n      ';
  for (let i = 0; i < trace.spans.length; i += SPANS_PER_CHUNK) {
    const part = trace.spans
      .slice(i, i + SPANS_PER_CHUNK)
      .map((span) => pad + JSON.stringify(span, bigintToJson, 2).replaceAll('\n', pad));
    yield (i === 0 ? '' : ',') + part.join(',');
  }
  yield `${trace.spans.length > 0 ? '\n    ' : ''}]${head.slice(at + marker.length)}\n`;
}
