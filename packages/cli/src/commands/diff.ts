import { diffRuns, diffTraces, joinLinkedTraces, REGRESSIONS, type Regression, type Trace } from '@lifeline/core';
import type { SpanStore } from '@lifeline/store';
// Types only: the viewer package loads when a source is read, not for every diff.
import type { SourceConfig } from '@lifeline/viewer';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  runDiffJson,
  runDiffMarkdown,
  runDiffText,
  traceComparisonJson,
  traceComparisonMarkdown,
  traceComparisonText,
} from '../diff-report.js';
import { UserError } from '../errors.js';
import { nonNegativeNumber, wholeNumber } from '../option-parsers.js';
import { closeReadStore, displayPath, openExistingStore, resolveDbPath } from '../store-access.js';
import { addSourceOptions, oneSource, type SourceFlags, traceFromSource } from './sources.js';

type DiffFormat = 'text' | 'json' | 'md';

interface DiffOptions extends SourceFlags {
  readonly db?: string;
  readonly against?: string;
  readonly format?: DiffFormat;
  readonly json?: boolean;
  readonly failOn?: readonly Regression[];
  readonly perEndpoint: number;
  readonly noiseMs?: number;
}

/** Parses `--fail-on n-plus-one,new-error` (or `any`), repeatable. */
function regressionList(value: string, previous: readonly Regression[] | undefined): Regression[] {
  const out = new Set<Regression>(previous ?? []);
  for (const part of value.split(',').map((p) => p.trim().toLowerCase())) {
    if (part === '') continue;
    if (part === 'any') {
      for (const r of REGRESSIONS) out.add(r);
      continue;
    }
    const found = REGRESSIONS.find((r) => r === part);
    if (found === undefined) {
      throw new InvalidArgumentError(`expected one or more of ${REGRESSIONS.join(', ')} or any, comma-separated`);
    }
    out.add(found);
  }
  // An empty list would ask for nothing, and the gate could never fail.
  if (out.size === 0)
    throw new InvalidArgumentError(`expected one or more of ${REGRESSIONS.join(', ')} or any, comma-separated`);
  return [...out];
}

/** Registers `lifeline diff`: two requests, or two recorded runs endpoint by endpoint. */
export function registerDiffCommand(program: Command): void {
  const command = program
    .command('diff')
    .description(
      'Compare two requests, or two recorded runs endpoint by endpoint: calls, loops, overlap, errors, timing',
    )
    .argument('[before]', 'trace id of the request before the change (or `last`)')
    .argument('[after]', 'trace id of the request after the change (or `last`)')
    .option('--db <path>', 'SQLite database of the base run (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--against <path>', 'SQLite database of the new run: compare the two runs, or read the `after` trace there')
    .addOption(new Option('--format <format>', 'output format (default text)').choices(['text', 'json', 'md']))
    .addOption(new Option('--json', 'same as --format json').conflicts('format'))
    .option(
      '--fail-on <regressions>',
      `exit with status 1 when the change brings any of: ${REGRESSIONS.join(', ')} (comma-separated, or any)`,
      regressionList,
    )
    .addOption(
      new Option('--per-endpoint <n>', 'runs: compare at most the newest N requests of each endpoint')
        .default(50)
        .argParser(wholeNumber(1)),
    )
    .option(
      '--noise-ms <ms>',
      'smallest timing change that counts when a side has one request (default 0.5)',
      nonNegativeNumber,
    );
  addSourceOptions(command, 'read both traces from')
    .addHelpText(
      'after',
      `
The comparison works on the flows the diagrams draw, aligned in order (never on
span ids): calls added and removed, loops whose count changed (an N+1 fixed or
introduced), calls that began or stopped overlapping, new and fixed errors,
calls per kind, and wall time, database time and the critical path. A timing
change no larger than the runs' own spread (max − min of an endpoint's
requests in either run) is reported as noise.

Runs are compared endpoint by endpoint (service, method and route); endpoints
requested in only one run are listed. An endpoint only in the new run has
nothing to compare with: an N+1 loop or a failed call in its requests counts
as n-plus-one or new-error. A base run without a request is said so, and
fails any --fail-on: nothing compared is no proof of no regression.

--format md writes a pull-request comment: a summary table, then the new flow
of each changed endpoint as a Mermaid diagram (parses on Mermaid 10.9 and
later) with added calls on green, changed calls on yellow and removed calls
listed in a note.

Exit status: 0 no regression asked for by --fail-on, 1 one was found (or the
input is wrong), 2 an unexpected failure.

Examples:
  $ lifeline diff 4bf92f35… 9a0c11d2…
  $ lifeline diff --db base.db --against head.db
  $ lifeline diff --db base.db --against head.db --format md --fail-on n-plus-one,new-error > comment.md
  $ lifeline diff --source tempo=http://tempo:3200 4bf92f35… 9a0c11d2…

With --source, both trace ids are read from that backend (Tempo or Jaeger),
with the traces linked to them that it sends, and compared as two recorded
requests are; runs (--db/--against) and \`last\` are for the local database.`,
    )
    .action(async (before: string | undefined, after: string | undefined, options: DiffOptions) => {
      const format: DiffFormat = options.json ? 'json' : (options.format ?? 'text');
      const diffOptions = options.noiseMs !== undefined ? { noiseFloorMs: options.noiseMs } : {};
      let output: string;
      let regressions: readonly Regression[];
      const source = await oneSource(options, 'diff');
      if (source !== undefined && (options.db !== undefined || options.against !== undefined)) {
        // Both traces come from the backend: a database named beside it would be silently unread.
        throw new UserError('with --source, both traces are read from it: leave out --db and --against');
      }
      if (source !== undefined && before === undefined) {
        throw new UserError('with --source, name the two traces: lifeline diff --source NAME BEFORE AFTER');
      }
      if (before === undefined) {
        if (options.against === undefined) {
          throw new UserError(
            'pass two trace ids (lifeline diff BEFORE AFTER), or two databases (lifeline diff --db base.db --against head.db)',
          );
        }
        const base = readRun(resolveDbPath(options.db), options.perEndpoint);
        const head = readRun(resolveDbPath(options.against), options.perEndpoint);
        const runs = diffRuns(base, head, diffOptions);
        output = format === 'json' ? runDiffJson(runs) : format === 'md' ? runDiffMarkdown(runs) : runDiffText(runs);
        regressions = runs.regressions;
        if (runs.requests.before === 0 && (options.failOn?.length ?? 0) > 0) {
          // Nothing compared is no evidence of no regression: a gate must not pass on it.
          process.stdout.write(output);
          throw new UserError(
            `the base run ${displayPath(resolveDbPath(options.db))} has no request, so nothing was compared (--fail-on)`,
          );
        }
      } else {
        if (after === undefined) throw new UserError('pass the trace id of the request after the change as well');
        const [beforeTrace, afterTrace] =
          source === undefined
            ? [
                readTrace(resolveDbPath(options.db), before),
                readTrace(resolveDbPath(options.against ?? options.db), after),
              ]
            : await Promise.all([readSourceTrace(source, before), readSourceTrace(source, after)]);
        const comparison = {
          diff: diffTraces(beforeTrace, afterTrace, diffOptions),
          before: beforeTrace,
          after: afterTrace,
        };
        output =
          format === 'json'
            ? traceComparisonJson(comparison)
            : format === 'md'
              ? traceComparisonMarkdown(comparison)
              : traceComparisonText(comparison);
        regressions = comparison.diff.regressions;
      }
      process.stdout.write(output);
      const failing = regressions.filter((r) => options.failOn?.includes(r));
      if (failing.length > 0) throw new UserError(`the change brings ${failing.join(', ')} (--fail-on)`);
    });
}

/** Reads one trace (with the traces linked to it, as `export` draws them). */
function readTrace(path: string, reference: string): Trace {
  const store = openExistingStore(path);
  try {
    const read = findTrace(store, reference, path);
    return joinLinkedTraces(read);
  } finally {
    closeReadStore(store, path);
  }
}

/** Reads one trace of a source, joined with its linked traces as {@link readTrace} joins local ones. */
async function readSourceTrace(source: SourceConfig, reference: string): Promise<Trace> {
  if (reference === 'last') throw new UserError('with --source, name the trace: lifeline list --source shows the ids');
  return joinLinkedTraces(await traceFromSource(source, reference));
}

function findTrace(store: SpanStore, reference: string, path: string): Trace {
  if (reference === 'last') {
    const trace = store.latestTrace({ work: 'requests' }, { linked: true });
    if (trace) return trace;
    throw new UserError(`no recorded request in ${displayPath(path)}`);
  }
  const id = reference.trim().toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(id)) {
    throw new UserError(`"${reference}" is not a trace id: pass the hex id shown by \`lifeline list\`, or \`last\``);
  }
  const trace =
    store.getTrace(id, { linked: true }) ??
    (id.length < 32 ? store.getTrace(id.padStart(32, '0'), { linked: true }) : undefined);
  if (trace) return trace;
  throw new UserError(`no trace ${id} in ${displayPath(path)}: run \`lifeline list --db ${displayPath(path)}\``);
}

/** The requests of a run, the newest `perEndpoint` of each endpoint. */
function readRun(path: string, perEndpoint: number): Trace[] {
  const store = openExistingStore(path);
  try {
    const kept = new Map<string, string[]>();
    let cursor: string | undefined;
    do {
      const page = store.listTraces({ work: 'requests' }, { limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const summary of page.items) {
        const key = [summary.rootService, summary.method ?? '', summary.route ?? summary.rootName].join('\u0000');
        const ids = kept.get(key) ?? [];
        if (ids.length < perEndpoint) ids.push(summary.traceId);
        kept.set(key, ids);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const traces: Trace[] = [];
    for (const ids of kept.values()) {
      for (const id of ids) {
        const trace = store.getTrace(id, { linked: true });
        if (trace) traces.push(joinLinkedTraces(trace));
      }
    }
    return traces;
  } finally {
    closeReadStore(store, path);
  }
}
