import { bigintToJson, formatDuration, isRequestRoot, type TraceSummary } from '@lifeline/core';
import type { TraceFilter } from '@lifeline/store';
import { type Command, Option } from 'commander';
import { UserError } from '../errors.js';
import { httpStatus, nonNegativeNumber, wholeNumber } from '../option-parsers.js';
import { closeReadStore, displayPath, openExistingStore, resolveDbPath } from '../store-access.js';
import { formatTable, MAX_REQUEST_WIDTH, MAX_SERVICE_WIDTH } from '../table.js';
import { addWorkOptions, type WorkFlags, workFromFlags } from '../work-options.js';
import { addSourceOptions, listFromSource, oneSource, type SourceFlags } from './sources.js';

interface ListOptions extends WorkFlags, SourceFlags {
  readonly db?: string;
  readonly route?: string;
  readonly service?: string;
  readonly method?: string;
  readonly status?: number;
  readonly minMs?: number;
  readonly errors?: boolean;
  readonly limit: number;
  readonly slowest?: boolean;
  readonly json?: boolean;
}

/** Registers `lifeline list`: the recorded requests, newest (or slowest) first. */
export function registerListCommand(program: Command): void {
  const command = program
    .command('list')
    .description('List recorded requests, newest first, with their timing, concurrency and flags')
    .option('--db <path>', 'SQLite database to read (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--route <route>', 'only requests on this route template, e.g. /articles/:id')
    .option('--service <name>', 'only requests served by this service')
    .option('--method <method>', 'only requests with this HTTP method, e.g. GET')
    .option('--status <code>', 'only requests answered with this HTTP status', httpStatus)
    .option('--min-ms <ms>', 'only requests that took at least this many milliseconds', nonNegativeNumber)
    .option('--errors', 'only requests that failed')
    .addOption(new Option('--limit <n>', 'show at most this many requests').default(20).argParser(wholeNumber(1)))
    .option('--slowest', 'slowest first instead of newest first')
    .option('--json', 'print the summaries as a JSON array instead of a table');
  addSourceOptions(command, 'list');
  addWorkOptions(command, 'list')
    .addHelpText(
      'after',
      `
Requests are traces rooted in a server span (an incoming call) or a consumer
span (a processed message or job). Every other trace is background work:
queries run at start-up, timers, a queue library's housekeeping. They are
listed with --background (only them) or --all, marked "(background)".

Columns: TIME (local), SERVICE, REQUEST (method and route), STATUS, DURATION,
SPANS, CONCURRENCY (par groups and serial calls), FLAGS (error, N+1), TRACE id.

Examples:
  $ lifeline list
  $ lifeline list --route /articles/:id --min-ms 100
  $ lifeline list --background
  $ lifeline list --errors --limit 5 --json | jq '.[0].traceId'
  $ lifeline list --source tempo=http://tempo:3200 --service checkout --min-ms 500`,
    )
    .action(async (options: ListOptions) => {
      const source = await oneSource(options, 'list');
      if (source !== undefined) {
        const filter = listFilter(options);
        const items = await listFromSource(source, filter, {
          limit: options.limit,
          order: options.slowest ? 'slowest' : 'newest',
        });
        if (options.json) process.stdout.write(`${JSON.stringify(items, bigintToJson, 2)}\n`);
        else if (items.length === 0) process.stderr.write(`No trace of source ${source.name} matches these filters.\n`);
        else process.stdout.write(`${formatSummaryTable(items)}\n`);
        return;
      }
      const path = resolveDbPath(options.db);
      const store = openExistingStore(path);
      try {
        const filter = listFilter(options);
        const page = store.listTraces(filter, { limit: options.limit, order: options.slowest ? 'slowest' : 'newest' });
        if (options.json) {
          // Exact times (bigint) are written as decimal strings.
          process.stdout.write(`${JSON.stringify(page.items, bigintToJson, 2)}\n`);
          return;
        }
        if (page.items.length === 0) {
          const total = store.stats().traces;
          if (total === 0) {
            // Spans only waiting in the inbox: closeReadStore says how many and why.
            if (store.unsettled() !== undefined) return;
            throw new UserError(
              `no traces yet in ${displayPath(path)}: record an app with \`node --import @lifeline/node/register app.js\` or import a file with \`lifeline import FILE\``,
            );
          } else if (
            filter.work === 'requests' &&
            store.listTraces({ ...filter, work: 'all' }, { limit: 1 }).items.length > 0
          ) {
            process.stderr.write(
              `None of the ${total} traces in ${displayPath(path)} is a request matching these filters; background work does: add --background or --all.\n`,
            );
          } else {
            process.stderr.write(`None of the ${total} traces in ${displayPath(path)} match these filters.\n`);
          }
          return;
        }
        process.stdout.write(`${formatSummaryTable(page.items)}\n`);
        if (page.nextCursor) {
          // True whatever --limit was: the default or one given, it is the number shown.
          process.stderr.write(
            `(showing the first ${page.items.length}; more match: pass a --limit larger than ${options.limit} to see them)\n`,
          );
        }
      } finally {
        closeReadStore(store, path);
      }
    });
}

function listFilter(options: ListOptions): TraceFilter {
  return {
    ...(options.route !== undefined ? { route: options.route } : {}),
    ...(options.service !== undefined ? { service: options.service } : {}),
    ...(options.method !== undefined ? { method: options.method.toUpperCase() } : {}),
    ...(options.status !== undefined ? { status: options.status } : {}),
    ...(options.minMs !== undefined ? { minMs: options.minMs } : {}),
    ...(options.errors ? { error: true } : {}),
    work: workFromFlags(options),
  };
}

/** Renders trace summaries as the aligned table `lifeline list` prints. */
export function formatSummaryTable(items: readonly TraceSummary[]): string {
  return formatTable(
    [
      { header: 'TIME' },
      { header: 'SERVICE', maxWidth: MAX_SERVICE_WIDTH },
      { header: 'REQUEST', maxWidth: MAX_REQUEST_WIDTH },
      { header: 'STATUS', align: 'right' },
      { header: 'DURATION', align: 'right' },
      { header: 'SPANS', align: 'right' },
      { header: 'CONCURRENCY' },
      { header: 'FLAGS' },
      { header: 'TRACE' },
    ],
    items.map((item) => [
      formatLocalTime(item.startTimeNs),
      item.rootService,
      requestLabel(item),
      item.statusCode !== undefined ? String(item.statusCode) : '-',
      formatDuration(item.durationNs / 1e6),
      String(item.spanCount),
      concurrencyLabel(item),
      flagsLabel(item),
      item.traceId,
    ]),
  );
}

/**
 * `GET /articles/:id` when the root is an HTTP request, else the root span's
 * name; background work (a trace not rooted in a server or consumer span) is
 * marked `(background)`.
 */
export function requestLabel(item: TraceSummary): string {
  if (item.method && item.route) return `${item.method} ${item.route}`;
  // Summaries stored before the root kind was recorded carry none: left unmarked.
  if (item.rootKind !== undefined && !isRequestRoot(item)) return `${item.rootName} (background)`;
  return item.rootName;
}

function concurrencyLabel(item: TraceSummary): string {
  const parts: string[] = [];
  if (item.parGroups > 0) parts.push(`${item.parGroups} par`);
  if (item.serialCalls > 0) parts.push(`${item.serialCalls} serial`);
  return parts.length > 0 ? parts.join(', ') : '-';
}

function flagsLabel(item: TraceSummary): string {
  const flags: string[] = [];
  if (item.error) flags.push('error');
  if (item.nPlusOne > 0) flags.push(item.nPlusOne === 1 ? 'N+1' : `N+1 ×${item.nPlusOne}`);
  return flags.length > 0 ? flags.join(' ') : '-';
}

function formatLocalTime(ns: bigint): string {
  const date = new Date(Number(ns / 1_000_000n));
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
