import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import {
  analyzeTrace,
  bigintToJson,
  joinLinkedTraces,
  summarizeTrace,
  type Trace,
  traceToMarkdown,
  traceToMermaid,
} from '@lifeline/core';
import type { SpanStore, TraceFilter } from '@lifeline/store';
import { type Command, Option } from 'commander';
import { ChromiumNotFoundError } from '../chromium.js';
import { UserError } from '../errors.js';
import { displayPath, openExistingStore, resolveDbPath } from '../store-access.js';
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
    .option('--out <file>', 'write to this file instead of stdout');
  addSourceOptions(command, 'read the trace from');
  addWorkOptions(command, 'with `last`: pick among')
    .addHelpText(
      'after',
      `
Formats: mmd (Mermaid text), md (summary line + fenced mermaid block for PRs and
docs), svg and png (rendered by Mermaid in a headless Chromium: set
LIFELINE_CHROMIUM or install chromium), json (trace, analysis, sequence model;
the analysis covers every span, analyzedSpans = spanCount, where the viewer's
analysis of a trace over 10,000 spans covers its earliest 10,000).

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
      if (source !== undefined) {
        if (reference === 'last')
          throw new UserError('with --source, name the trace: lifeline list --source shows the ids');
        trace = await traceFromSource(source, reference);
      } else {
        const path = resolveDbPath(options.db);
        const store = openExistingStore(path);
        try {
          trace = findTrace(store, reference, options, path);
        } finally {
          store.close();
        }
      }
      let output: string | Buffer;
      try {
        output = await renderExport(trace, {
          format,
          timings: options.timings,
          internal: options.internal ?? false,
          participantShapes: options.mermaidShapes ?? false,
        });
      } catch (error) {
        // The library says what is missing; to the command line that is the user's to fix.
        if (error instanceof ChromiumNotFoundError) throw new UserError(error.message);
        throw error;
      }
      if (options.out) {
        try {
          writeFileSync(options.out, output);
        } catch (error) {
          throw new UserError(`cannot write ${options.out}: ${(error as Error).message}`);
        }
        process.stderr.write(`Wrote ${format} of trace ${trace.traceId} to ${options.out}\n`);
      } else {
        process.stdout.write(output);
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

function findTrace(store: SpanStore, reference: string, options: ExportOptions, path: string): Trace {
  const filter: TraceFilter = {
    ...(options.route !== undefined ? { route: options.route } : {}),
    ...(options.service !== undefined ? { service: options.service } : {}),
    ...(options.method !== undefined ? { method: options.method.toUpperCase() } : {}),
  };
  const filtered = Object.keys(filter).length > 0 || options.background === true || options.all === true;
  if (reference === 'last') {
    // The same requests `lifeline list` shows by default, so `last` is its first row.
    const trace = store.latestTrace({ ...filter, work: workFromFlags(options) }, LINKED);
    if (trace) return trace;
    if (store.stats().traces === 0) {
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
  const trace =
    store.getTrace(id, LINKED) ?? (id.length < 32 ? store.getTrace(id.padStart(32, '0'), LINKED) : undefined);
  if (trace) return trace;
  throw new UserError(`no trace ${id} in ${displayPath(path)}: run \`lifeline list\` to see the recorded ones`);
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
}

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
  // The spans of the linked traces that the picture draws, and no others.
  const trace = joinLinkedTraces(read);
  const sequenceOptions = {
    timings: options.timings,
    internal: options.internal,
    participantShapes: options.participantShapes ?? false,
  };
  switch (options.format) {
    case 'md':
      return traceToMarkdown(trace, sequenceOptions);
    case 'json': {
      const { text, model, folded } = traceToMermaid(trace, sequenceOptions);
      const document = {
        traceId: trace.traceId,
        // Every span read is analyzed, however many: the same fields as the viewer's trace
        // answer, whose analysis of a trace over its span cap covers only the earliest spans.
        spanCount: trace.spans.length,
        analyzedSpans: trace.spans.length,
        summary: summarizeTrace(trace),
        analysis: analyzeTrace(trace),
        mermaid: text,
        folded,
        model,
        trace,
      };
      // Exact times (bigint) are written as decimal strings.
      return `${JSON.stringify(document, bigintToJson, 2)}\n`;
    }
    case 'svg':
    case 'png': {
      const { text } = traceToMermaid(trace, { ...sequenceOptions, participantShapes: true });
      // Playwright is loaded only for the two formats that need a browser.
      const { renderMermaidImage } = await import('../render-image.js');
      return options.format === 'svg'
        ? `${await renderMermaidImage(text, { format: 'svg' })}\n`
        : await renderMermaidImage(text, { format: 'png' });
    }
    default: {
      const { text } = traceToMermaid(trace, sequenceOptions);
      return text.endsWith('\n') ? text : `${text}\n`;
    }
  }
}
