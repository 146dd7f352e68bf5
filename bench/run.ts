/**
 * `npm run bench`: measures what Lifeline costs on this machine and writes
 * BENCHMARKS.md and bench/results.json from this run alone.
 *
 *   npm run bench               full run (≈ 10 minutes on 2 cores)
 *   npm run bench -- --quick    shorter rounds and a 100,000-span store (< 2 minutes)
 *   npm run bench -- --only 1,7 only these figures; the report goes to .lifeline/bench/
 *   npm run bench -- --rounds 5  more interleaved rounds for figures 1 and 4
 *   npm run bench -- --lifeline-before DIR
 *                               figure 1 measures another build of Lifeline beside this one
 *                               (DIR holds core/, store/ and node/, each with package.json,
 *                               dist/ and node_modules/; see bench/README.md)
 *   npm run bench -- --only 5 --core-before DIR
 *                               figure 5 draws the same traces with another build of
 *                               @lifeline/core (DIR: its package.json, dist/, node_modules/)
 *
 * Figures that cannot be measured (a missing service, a part of Lifeline not
 * built) are reported as not measured, with the reason; nothing is filled in.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Span } from '@lifeline/core';
import { generateTrace, seededRandom } from '@lifeline/test-support/generate';
import { buildClient } from '../viewer/src/build-client.ts';
import { changeNotes } from './change-notes.ts';
import { browserRenderFigure, type ViewerPageSetup } from './figures/browser-render.ts';
import { dependencyCostFigure } from './figures/dependency-cost.ts';
import { diagramBuildingFigure } from './figures/diagram-building.ts';
import { ingestFiguresRun } from './figures/ingest.ts';
import { attachMissedGoalNotes } from './figures/missed-goal-notes.ts';
import { receiverFigure } from './figures/receiver.ts';
import { type OverheadConfig, requestOverheadFigure } from './figures/request-overhead.ts';
import { type BenchStore, ensureBenchStore, storeQueriesFigure, viewerMemory } from './figures/store-queries.ts';
import { machineInfo } from './lib/machine.ts';
import { type FigureReport, type ResultsJson, type RunReport, renderMarkdown, toResultsJson } from './lib/report.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'lifeline-before': { type: 'string' },
    'core-before': { type: 'string' },
    'sdk-only': { type: 'boolean', default: false },
    rounds: { type: 'string' },
  },
  allowPositionals: false,
});
const quick = values.quick ?? false;
const only = values.only ? new Set(values.only.split(',').map((s) => Number(s.trim()))) : undefined;
const workDir = join(root, '.lifeline', 'bench');
/** Interleaved rounds of figures 1 and 4 (`--rounds N`): more rounds steady the medians on a busy machine. */
const roundsOverride = values.rounds === undefined ? undefined : Math.max(1, Math.round(Number(values.rounds)) || 1);
mkdirSync(workDir, { recursive: true });

const settings = quick
  ? {
      rounds: roundsOverride ?? 1,
      durationS: 1.2,
      warmupS: 0.5,
      settleMs: 500,
      browserRounds: 2,
      storeSpans: 100_000,
      queryRounds: 30,
      diagramSizes: [100, 1_000, 10_000],
      ingestSpans: 30_000,
      ingestRuns: 3,
    }
  : {
      rounds: roundsOverride ?? 3,
      durationS: 5,
      warmupS: 2,
      settleMs: 1500,
      browserRounds: 5,
      storeSpans: 1_000_000,
      queryRounds: 100,
      diagramSizes: [100, 1_000, 10_000, 100_000],
      ingestSpans: 200_000,
      ingestRuns: 5,
    };

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Loads a workspace package's built entry, or explains why it cannot. */
async function load<T>(specifier: string, names: readonly string[]): Promise<T | string> {
  try {
    const module = (await import(specifier)) as Record<string, unknown>;
    const missing = names.filter((name) => module[name] === undefined);
    if (missing.length > 0) return `${specifier} does not export ${missing.join(', ')} yet`;
    return module as T;
  } catch (error) {
    return `${specifier} could not be loaded (${(error as Error).message.split('\n')[0]})`;
  }
}

function failed(id: number, title: string, reason: string): FigureReport {
  return { id, title, method: '', rows: [], notes: [], failure: reason };
}

async function section(id: number, title: string, run: () => Promise<FigureReport>): Promise<FigureReport | undefined> {
  if (only && !only.has(id)) return undefined;
  log(`figure ${id}: ${title}`);
  const t0 = performance.now();
  try {
    const figure = await run();
    log(
      `figure ${id} done in ${((performance.now() - t0) / 1000).toFixed(1)} s${figure.failure ? `: ${figure.failure}` : ''}`,
    );
    return figure;
  } catch (error) {
    const message = (error as Error).message;
    log(`figure ${id} failed: ${message}`);
    return failed(id, title, message);
  }
}

type Core = typeof import('@lifeline/core');
type Store = typeof import('@lifeline/store');

/** Spans in a store file, read through the store's own API. */
function countSync(store: Store, path: string): number {
  const opened = store.openStore({ path, readonly: true });
  try {
    return opened.stats().spans;
  } finally {
    opened.close();
  }
}

const startedAt = new Date();
const t0 = performance.now();
const figures: FigureReport[] = [];
const push = (figure: FigureReport | undefined) => {
  if (figure) figures.push(figure);
};

let appPeakRss: Partial<Record<OverheadConfig, number>> = {};
push(
  await section(1, 'Request overhead', async () => {
    const lifeline = await load<typeof import('@lifeline/node')>('@lifeline/node', ['startLifeline']);
    const before = values['lifeline-before'];
    const configs: OverheadConfig[] = [
      'bare',
      ...(typeof lifeline === 'string' ? [] : ['lifeline' as const]),
      ...(before ? ['lifelineBefore' as const] : []),
      'otlp',
      // The stock SDK with an exporter that drops every batch: asked for with --sdk-only.
      ...(values['sdk-only'] ? ['sdkOnly' as const] : []),
    ];
    const store = await load<Store>('@lifeline/store', ['openStore']);
    const result = await requestOverheadFigure({
      configs,
      rounds: settings.rounds,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      connections: 10,
      settleMs: settings.settleMs,
      workDir,
      ...(before ? { lifelineBefore: resolve(before) } : {}),
      ...(typeof store === 'string' ? {} : { countRecordedSpans: (path: string) => countSync(store, path) }),
    });
    appPeakRss = result.peakRssMb;
    if (typeof lifeline === 'string')
      result.figure.failure = `the Lifeline configuration was not measured: ${lifeline}`;
    return result.figure;
  }),
);

if (!only || only.has(2) || only.has(3)) {
  log('figures 2 and 3: ingest and export event-loop delay');
  try {
    for (const figure of await ingestFiguresRun({ spans: settings.ingestSpans, runs: settings.ingestRuns })) {
      if (!only || only.has(figure.id)) push(figure);
    }
  } catch (error) {
    const message = (error as Error).message;
    log(`figures 2 and 3 failed: ${message}`);
    for (const [id, title] of [
      [2, 'Ingest through the exporter'],
      [3, 'Event-loop delay of an export'],
    ] as const) {
      if (!only || only.has(id)) push(failed(id, title, message));
    }
  }
}

push(
  await section(4, 'OTLP/HTTP receiver', async () => {
    const viewer = await load('@lifeline/viewer', ['startViewer']);
    if (typeof viewer === 'string') return failed(4, 'OTLP/HTTP receiver', viewer);
    const store = await load<Store>('@lifeline/store', ['openStore']);
    if (typeof store === 'string') return failed(4, 'OTLP/HTTP receiver', store);
    return receiverFigure({
      rounds: settings.rounds,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      connections: 4,
      workDir,
      countStoredSpans: (path) => countSync(store, path),
    });
  }),
);

push(
  await section(5, 'Diagram building', () =>
    diagramBuildingFigure({
      sizes: settings.diagramSizes,
      ...(values['core-before'] ? { coreBefore: resolve(values['core-before']) } : {}),
    }),
  ),
);

let benchStore: BenchStore | undefined;
/** The generated store for figures 6 and 8, built on first use. */
async function getBenchStore(): Promise<BenchStore> {
  if (benchStore) return benchStore;
  const store = await load<Store>('@lifeline/store', ['openStore', 'latestSchemaVersion']);
  if (typeof store === 'string') throw new Error(store);
  log(`preparing a store of ${settings.storeSpans.toLocaleString('en-US')} spans`);
  benchStore = ensureBenchStore(store, { spans: settings.storeSpans, workDir });
  log(
    benchStore.reused ? `reused ${benchStore.path}` : `wrote ${benchStore.path} in ${benchStore.buildS.toFixed(1)} s`,
  );
  return benchStore;
}

push(
  await section(6, 'Store queries', async () => {
    const store = await load<Store>('@lifeline/store', ['openStore', 'latestSchemaVersion']);
    if (typeof store === 'string') return failed(6, 'Store queries', store);
    return storeQueriesFigure({ store, bench: await getBenchStore(), rounds: settings.queryRounds });
  }),
);

push(
  await section(7, 'Diagram rendering in the browser', async () => {
    const core = await load<Core>('@lifeline/core', ['traceToMermaid']);
    if (typeof core === 'string') return failed(7, 'Diagram rendering in the browser', core);
    const store = await load<Store>('@lifeline/store', ['openStore']);
    const viewer = await load<typeof import('@lifeline/viewer')>('@lifeline/viewer', ['startViewer']);
    const figure = await browserRenderFigure({
      rounds: settings.browserRounds,
      diagram: async (messages) => diagramWithMessages(core, messages),
      ...(typeof store === 'string' || typeof viewer === 'string'
        ? {}
        : { viewerPage: (messages: number) => viewerPageSetup(core, store, viewer.startViewer, messages) }),
    });
    if (typeof store === 'string' || typeof viewer === 'string') {
      figure.failure = `the viewer page was not measured: ${typeof store === 'string' ? store : viewer}`;
    }
    return figure;
  }),
);

push(
  await section(8, 'Memory', async () => {
    const figure: FigureReport = {
      id: 8,
      title: 'Memory',
      method:
        'App: peak resident set size of the bench app process (sampled every 200 ms from /proc) during the ' +
        'saturating DB-route rounds of figure 1, median over rounds, Lifeline against no instrumentation and ' +
        'against the stock OpenTelemetry set-up of figure 1. ' +
        "Viewer: RSS of the viewer process serving figure 6's store, after list and trace requests through its JSON API.",
      rows: [],
      notes: [],
    };
    const missing: string[] = [];
    if (appPeakRss.bare !== undefined && appPeakRss.lifeline !== undefined) {
      figure.rows.push(
        {
          key: 'memory.app.bareMb',
          name: 'app RSS under load, no instrumentation',
          value: appPeakRss.bare,
          unit: 'MB',
        },
        {
          key: 'memory.app.lifelineMb',
          name: 'app RSS under load, Lifeline',
          value: appPeakRss.lifeline,
          unit: 'MB',
          baseline: { name: 'no instrumentation', value: appPeakRss.bare, unit: 'MB' },
          goal: { on: 'difference', op: '<=', target: 50, text: '≤ bare + 50 MB' },
        },
      );
      if (appPeakRss.otlp !== undefined) {
        figure.rows.push({
          key: 'memory.app.lifelineVsOtlpMb',
          name: 'app RSS under load, Lifeline vs stock OTel NodeSDK + OTLP/HTTP',
          value: appPeakRss.lifeline,
          unit: 'MB',
          baseline: { name: 'stock OTel NodeSDK + OTLP/HTTP', value: appPeakRss.otlp, unit: 'MB' },
        });
      }
      for (const [config, name] of [
        ['lifelineBefore', 'Lifeline before'],
        ['otlp', 'stock OTel NodeSDK + OTLP/HTTP'],
        ['sdkOnly', 'stock OTel NodeSDK, spans dropped'],
      ] as const) {
        const value = appPeakRss[config];
        if (value === undefined) continue;
        figure.rows.push({
          key: `memory.app.${config}Mb`,
          name: `app RSS under load, ${name}`,
          value,
          unit: 'MB',
          baseline: { name: 'no instrumentation', value: appPeakRss.bare, unit: 'MB' },
        });
      }
    } else {
      missing.push('app memory comes from figure 1, which did not measure both the bare and the Lifeline app');
    }
    try {
      const viewer = await load('@lifeline/viewer', ['startViewer']);
      if (typeof viewer === 'string') throw new Error(viewer);
      figure.rows.push(...(await viewerMemory({ bench: await getBenchStore() })));
    } catch (error) {
      missing.push(`viewer memory: ${(error as Error).message}`);
    }
    if (missing.length > 0) figure.failure = missing.join('; ');
    return figure;
  }),
);

push(
  await section(9, 'Data-dependency tracking cost', async () => {
    const lifeline = await load<typeof import('@lifeline/node')>('@lifeline/node', ['startLifeline']);
    if (typeof lifeline === 'string') return failed(9, 'Data-dependency tracking cost', lifeline);
    return dependencyCostFigure({
      // A difference of a few microseconds per request: more rounds than figure 1.
      rounds: settings.rounds * 2,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      connections: 10,
      settleMs: settings.settleMs,
      workDir,
    });
  }),
);

/**
 * Mermaid text of a generated trace whose diagram has about `target`
 * messages: the span budget is adjusted until the sequence model's message
 * count lands within 2 % of the target.
 */
function diagramWithMessages(core: Core, target: number): { messages: number; text: string; spans: Span[] } {
  let spans = Math.max(2, Math.round(target / 2));
  let best: { messages: number; text: string; spans: Span[] } | undefined;
  for (let attempt = 0; attempt < 8; attempt++) {
    const trace = generateTrace({
      random: seededRandom(target),
      startTimeNs: startedAt.getTime() * 1e6,
      targetSpans: spans,
    });
    const result = core.traceToMermaid({ traceId: trace[0]?.traceId ?? '', spans: trace }, { foldLoops: false });
    const candidate = { messages: result.model.messageCount, text: result.text, spans: trace };
    if (!best || Math.abs(candidate.messages - target) < Math.abs(best.messages - target)) best = candidate;
    if (Math.abs(candidate.messages - target) <= target * 0.02 || candidate.messages === 0) break;
    spans = Math.max(2, Math.round((spans * target) / candidate.messages));
  }
  return best as { messages: number; text: string; spans: Span[] };
}

/**
 * For figure 7's page rows: stores a generated trace of about `messages`
 * messages in a fresh store, starts the viewer on it, and bundles the bare
 * Mermaid page (bench/pages/bare-mermaid.ts) with the viewer's own build.
 * The trace page is opened with loops unfolded, as the diagram was sized;
 * the bare page draws the text the viewer's API gives for that page.
 */
async function viewerPageSetup(
  core: Core,
  store: Store,
  startViewer: typeof import('@lifeline/viewer').startViewer,
  messages: number,
): Promise<ViewerPageSetup> {
  const { spans } = diagramWithMessages(core, messages);
  const dir = join(workDir, 'viewer-page');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'trace.db');
  const writer = store.openStore({ path: db });
  try {
    writer.writeSpans(spans);
  } finally {
    writer.close();
  }
  const bareBundleDir = join(dir, 'bare');
  await buildClient({
    entry: fileURLToPath(new URL('./pages/bare-mermaid.ts', import.meta.url)),
    outdir: bareBundleDir,
  });
  const viewer = await startViewer({ port: 0, db });
  const traceId = spans[0]?.traceId ?? '';
  const query = 'timings=1&internal=0&loops=0&shapes=0';
  const response = await fetch(`${viewer.url}/api/traces/${traceId}?${query}`);
  const body = (await response.json()) as { sequence: { mermaid: string; model: { messageCount: number } } };
  return {
    traceUrl: `${viewer.url}/traces/${traceId}?${query}`,
    text: body.sequence.mermaid,
    messages: body.sequence.model.messageCount,
    bareBundleDir,
    close: () => viewer.close(),
  };
}

const unexplained = attachMissedGoalNotes(figures);
if (unexplained.length > 0) {
  log(`goals missed without a prepared note (profile them with bench/profile.ts): ${unexplained.join(', ')}`);
  for (const figure of figures) {
    for (const row of figure.rows.filter((r) => unexplained.includes(r.key))) {
      figure.notes.push(
        `**Goal missed — ${row.name} (${row.goal?.text}).** Not analysed yet: this goal was met when the notes were written.`,
      );
    }
  }
}

const jsonPath = only ? join(workDir, 'results.partial.json') : join(root, 'bench', 'results.json');
const report: RunReport = {
  machine: machineInfo(),
  startedAt: startedAt.toISOString(),
  durationS: (performance.now() - t0) / 1000,
  quick,
  figures: figures.sort((a, b) => a.id - b.id),
  changeNotes,
};
// A full run says what moved since the full run it replaces.
const previousPath = join(root, 'bench', 'results.json');
if (!quick && existsSync(previousPath)) {
  const previous = JSON.parse(readFileSync(previousPath, 'utf8')) as ResultsJson;
  if (!previous.quick) report.previous = previous;
}
const markdownPath = only ? join(workDir, 'BENCHMARKS.partial.md') : join(root, 'BENCHMARKS.md');
writeFileSync(markdownPath, renderMarkdown(report));
writeFileSync(jsonPath, `${JSON.stringify(toResultsJson(report), null, 2)}\n`);
log(`wrote ${markdownPath} and ${jsonPath} in ${Math.round(report.durationS)} s`);
