/**
 * Figure 5: how drawing a trace scales, measured by the core's own
 * `bench/core-diagram.ts` (run as a child process; its JSON is read here).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runJson } from '../lib/processes.ts';
import type { FigureReport, Measurement } from '../lib/report.ts';
import { fitPowerLaw } from '../lib/stats.ts';

/** One size of core-diagram.ts's output. */
export interface CoreDiagramResult {
  spans: number;
  diagramMs: number;
  timingFreeMs: number;
  analysisMs: number;
  textLength: number;
  arrows: number;
  folded: boolean;
  runs: number;
  /**
   * With `--core-before`: this build's and the other build's time for the
   * same trace, each measured in child processes of its own, both at once on
   * CPUs of their own (the geometric mean of their medians).
   */
  pairedDiagramMs?: number;
  beforeDiagramMs?: number;
  beforeTextLength?: number;
  beforeFolded?: boolean;
}

/** What core-diagram.ts prints. */
export interface CoreDiagramOutput {
  benchmark: string;
  results: CoreDiagramResult[];
  /**
   * `summarizeTrace` on request-shaped 10-span traces, the summary the store
   * computes for every trace it ingests: microseconds per trace, and with
   * `--core-before` the other build's, timed in the same rounds.
   */
  summary?: { spansPerTrace: number; usPerTrace: number; pairedUsPerTrace?: number; beforeUsPerTrace?: number };
  /**
   * The last decade timed in alternation (rounds of ten drawings of the
   * smaller trace and one of the larger, medians of the rounds), when the two
   * largest sizes are a decade apart.
   */
  lastDecade?: {
    fromSpans: number;
    toSpans: number;
    fromMs: number;
    toMs: number;
    rounds: number;
    exponent: number;
    /** A fifth of the largest size, timed in the same rounds, and the exponent from it to the largest. */
    midSpans?: number;
    midMs?: number;
    pastCacheExponent?: number;
  };
}

/** Where the core's diagram benchmark lives. */
export const coreDiagramScript = fileURLToPath(new URL('../core-diagram.ts', import.meta.url));

/**
 * Turns core-diagram.ts's output into figure 5. The growth exponent is fitted
 * here (least squares on log–log) over every measured size.
 */
export function diagramFigure(output: CoreDiagramOutput, sizes: readonly number[]): FigureReport {
  const compared = output.results.some((r) => r.beforeDiagramMs !== undefined);
  const results = [...output.results].sort((a, b) => a.spans - b.spans);
  if (results.length < 2) throw new Error('core-diagram.ts measured fewer than two sizes');
  const smallest = results[0] as CoreDiagramResult;
  const rows: Measurement[] = [];
  for (const r of results) {
    rows.push({
      key: `diagram.spans${r.spans}.ms`,
      name: `traceToMermaid, ${r.spans.toLocaleString('en-US')} spans (${r.arrows.toLocaleString('en-US')} arrows${r.folded ? ', folded by the size guard' : ''})`,
      value: r.diagramMs,
      unit: 'ms',
      ...(r === smallest
        ? {}
        : { baseline: { name: `${smallest.spans} spans`, value: smallest.diagramMs, unit: 'ms' } }),
      ...(r.spans === 10_000 ? { goal: { on: 'value', op: '<', target: 50, text: '< 50 ms' } as const } : {}),
    });
  }
  for (const r of results) {
    rows.push({
      key: `diagram.analysis.spans${r.spans}.ms`,
      name: `analyzeTrace, ${r.spans.toLocaleString('en-US')} spans`,
      value: r.analysisMs,
      unit: 'ms',
    });
  }
  const fit = fitPowerLaw(results.map((r) => ({ x: r.spans, y: r.diagramMs })));
  rows.push({
    key: 'diagram.growthExponent',
    name: `growth exponent of traceToMermaid time, ${results.map((r) => r.spans.toLocaleString('en-US')).join(' / ')} spans (R² ${fit.r2.toFixed(3)})`,
    value: fit.exponent,
    unit: '',
    goal: { on: 'value', op: '<=', target: 1.1, text: '≤ 1.1' },
  });
  // The overall fit is dominated by the small sizes; what goes wrong with
  // size shows in the last step, so the last decade has its own goal.
  const last = results[results.length - 1] as CoreDiagramResult;
  const before = [...results].reverse().find((r) => r.spans * 10 <= last.spans);
  const decade = output.lastDecade;
  if (decade !== undefined) {
    rows.push({
      key: 'diagram.lastDecadeExponent',
      name: `growth exponent of traceToMermaid time over the last decade, ${decade.fromSpans.toLocaleString('en-US')} → ${decade.toSpans.toLocaleString('en-US')} spans (${decade.rounds} alternating rounds: ${decade.fromMs} ms → ${decade.toMs} ms)`,
      value: decade.exponent,
      unit: '',
      goal: { on: 'value', op: '<=', target: 1.1, text: '≤ 1.1' },
    });
    if (decade.midSpans !== undefined && decade.midMs !== undefined && decade.pastCacheExponent !== undefined) {
      rows.push({
        key: 'diagram.pastCacheExponent',
        name: `growth exponent of traceToMermaid time from ${decade.midSpans.toLocaleString('en-US')} to ${decade.toSpans.toLocaleString('en-US')} spans, both past the CPU cache (same rounds: ${decade.midMs} ms → ${decade.toMs} ms)`,
        value: decade.pastCacheExponent,
        unit: '',
      });
    }
  } else if (before !== undefined) {
    rows.push({
      key: 'diagram.lastDecadeExponent',
      name: `growth exponent of traceToMermaid time over the last decade, ${before.spans.toLocaleString('en-US')} → ${last.spans.toLocaleString('en-US')} spans`,
      value: lastDecadeExponent(before, last),
      unit: '',
      goal: { on: 'value', op: '<=', target: 1.1, text: '≤ 1.1' },
    });
  }
  rows.push(...beforeRows(results, before, last));
  rows.push(...summaryRows(output.summary));
  const analysisFit = fitPowerLaw(results.map((r) => ({ x: r.spans, y: r.analysisMs })));
  rows.push({
    key: 'diagram.analysis.growthExponent',
    name: 'growth exponent of analyzeTrace time',
    value: analysisFit.exponent,
    unit: '',
  });
  return {
    id: 5,
    title: 'Diagram building',
    method:
      "The core's `bench/core-diagram.ts` (child process) builds synthetic traces of " +
      `${sizes.map((s) => s.toLocaleString('en-US')).join(', ')} spans (downstream calls with serial, concurrent and ` +
      'N+1 queries) and times `traceToMermaid` (with timings, default options, size guard included) and ' +
      '`analyzeTrace`, median of 3 (100,000 spans) to 2,000 (100 spans) runs after a third as many warm-up runs. The growth exponent is the least-squares slope of ' +
      'log time against log spans over every size, and separately over the last decade (the largest size and the ' +
      'one a tenth of it), where super-linear parts show first; the baseline of each size is the smallest trace. ' +
      'The last decade is timed again in alternation, in rounds of ten drawings of the smaller trace (their median) ' +
      'and one of the larger, in a fresh process pinned to each CPU in turn; its exponent is taken from the ' +
      "geometric means of the processes' medians. Timed seconds apart in the process that had drawn the other " +
      'sizes, a slow spell of the machine during either size, or that heap, moved it by ±0.1 from run to run. ' +
      'The same rounds time a trace a fifth the size of the largest (the median of three drawings): on this ' +
      'machine drawing costs about the same per span from 20,000 spans on, and less below, where what a drawing ' +
      'reads of the trace stays in the CPU cache between drawings; the exponent from there to the largest shows ' +
      'whether the growth is that cliff or something that keeps growing.' +
      (compared
        ? ' With `--core-before`, this build and another build of the core each draw the same traces and ' +
          'summarise the same request traces in child processes of their own (drawing and summarising each in a ' +
          'fresh process, so that the summaries do not run in the heap the largest drawings left), in four rounds; ' +
          'in each round both builds run at the same time, each pinned to a CPU of its own, and the CPUs are ' +
          'swapped from round to round, so that load from elsewhere slows both alike and each build meets each ' +
          'CPU equally often (the two CPUs of this machine were seen to differ by up to 1.6× for minutes). The ' +
          'rows "before" give the other build\'s time and this build\'s over it, size by size, and for ' +
          "`summarizeTrace` on 20,000 request-shaped traces (the store's per-trace ingest work), each the " +
          "geometric mean of the rounds' medians. Both builds in one process measured 20 % apart either way " +
          'from run to run.'
        : ''),
    rows,
    notes: [],
  };
}

/**
 * Rows comparing this build with the one given by `--core-before`, when it
 * was measured: per size, this build's time with the other's as baseline
 * (the report shows the ratio), and the other's exponent over the last decade.
 */
function beforeRows(
  results: readonly CoreDiagramResult[],
  before: CoreDiagramResult | undefined,
  last: CoreDiagramResult,
): Measurement[] {
  const rows: Measurement[] = [];
  for (const r of results) {
    if (r.beforeDiagramMs === undefined) continue;
    rows.push({
      key: `diagram.vsBefore.spans${r.spans}.ms`,
      name: `traceToMermaid, ${r.spans.toLocaleString('en-US')} spans, this build against the build before${r.beforeFolded ? ' (which folded it too)' : ''}`,
      value: r.pairedDiagramMs ?? r.diagramMs,
      unit: 'ms',
      baseline: { name: 'before', value: r.beforeDiagramMs, unit: 'ms' },
    });
  }
  if (before?.beforeDiagramMs !== undefined && last.beforeDiagramMs !== undefined) {
    rows.push({
      key: 'diagram.before.lastDecadeExponent',
      name: `growth exponent of the build before, ${before.spans.toLocaleString('en-US')} → ${last.spans.toLocaleString('en-US')} spans`,
      value: Math.log(last.beforeDiagramMs / before.beforeDiagramMs) / Math.log(last.spans / before.spans),
      unit: '',
    });
  }
  return rows;
}

/**
 * The summary the store computes per ingested trace: its cost per trace,
 * and against the build before when that was measured.
 */
function summaryRows(summary: CoreDiagramOutput['summary']): Measurement[] {
  if (summary === undefined) return [];
  const name = `summarizeTrace, per ${summary.spansPerTrace}-span request trace (the store's per-trace ingest work)`;
  const rows: Measurement[] = [{ key: 'diagram.summary.usPerTrace', name, value: summary.usPerTrace, unit: 'µs' }];
  if (summary.beforeUsPerTrace !== undefined) {
    rows.push({
      key: 'diagram.vsBefore.summary.usPerTrace',
      name: `${name}, this build against the build before`,
      value: summary.pairedUsPerTrace ?? summary.usPerTrace,
      unit: 'µs',
      baseline: { name: 'before', value: summary.beforeUsPerTrace, unit: 'µs' },
    });
  }
  return rows;
}

/**
 * The growth exponent between two sizes: the slope of log time against log
 * spans from `from` to `to` (1 means time grew as the span count did).
 */
export function lastDecadeExponent(from: CoreDiagramResult, to: CoreDiagramResult): number {
  return Math.log(to.diagramMs / from.diagramMs) / Math.log(to.spans / from.spans);
}

/**
 * Runs core-diagram.ts for the given sizes and returns figure 5; with
 * `coreBefore` (a directory holding a built core, see bench/README.md), that
 * build is measured beside this one.
 */
export async function diagramBuildingFigure(options: {
  sizes: readonly number[];
  coreBefore?: string;
}): Promise<FigureReport> {
  if (!existsSync(coreDiagramScript)) throw new Error('bench/core-diagram.ts does not exist yet');
  const output = await runJson<CoreDiagramOutput>({
    script: coreDiagramScript,
    ...(options.coreBefore !== undefined ? { args: ['--core-before', options.coreBefore] } : {}),
    env: { CORE_BENCH_SIZES: options.sizes.join(',') },
    timeoutMs: 300_000,
  });
  if (!Array.isArray(output.results)) throw new Error('bench/core-diagram.ts printed no results array');
  return diagramFigure(output, options.sizes);
}
