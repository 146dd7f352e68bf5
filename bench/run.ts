/**
 * `npm run bench`: measures what Lifeline costs on this machine and writes
 * BENCHMARKS.md and bench/results.json from this run alone.
 *
 *   npm run bench               full run (≈ 10 minutes on 2 cores)
 *   npm run bench -- --quick    shorter rounds and a 100,000-span store (< 2 minutes)
 *   npm run bench -- --only 1,7 only these figures; the report goes to .lifeline/bench/
 *
 * Figures that cannot be measured (a missing service, a part of Lifeline not
 * built) are reported as not measured, with the reason; nothing is filled in.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { browserRenderFigure } from './figures/browser-render.ts';
import { type OverheadConfig, requestOverheadFigure } from './figures/request-overhead.ts';
import { machineInfo } from './lib/machine.ts';
import { type FigureReport, type RunReport, renderMarkdown, toResultsJson } from './lib/report.ts';
import { generateTrace, seededRandom } from './lib/trace-gen.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
  allowPositionals: false,
});
const quick = values.quick ?? false;
const only = values.only ? new Set(values.only.split(',').map((s) => Number(s.trim()))) : undefined;
const workDir = join(root, '.lifeline', 'bench');
mkdirSync(workDir, { recursive: true });

const settings = quick
  ? { rounds: 1, durationS: 2, warmupS: 1, browserRounds: 2 }
  : { rounds: 3, durationS: 5, warmupS: 2, browserRounds: 5 };

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
    const configs: OverheadConfig[] = typeof lifeline === 'string' ? ['bare', 'otlp'] : ['bare', 'lifeline', 'otlp'];
    const result = await requestOverheadFigure({
      configs,
      rounds: settings.rounds,
      durationS: settings.durationS,
      warmupS: settings.warmupS,
      connections: 10,
      workDir,
    });
    appPeakRss = result.peakRssMb;
    if (typeof lifeline === 'string')
      result.figure.failure = `the Lifeline configuration was not measured: ${lifeline}`;
    return result.figure;
  }),
);

push(
  await section(7, 'Diagram rendering in the browser', async () => {
    const core = await load<Core>('@lifeline/core', ['traceToMermaid']);
    if (typeof core === 'string') return failed(7, 'Diagram rendering in the browser', core);
    return browserRenderFigure({
      rounds: settings.browserRounds,
      diagram: async (messages) => diagramWithMessages(core, messages),
    });
  }),
);

/**
 * Mermaid text of a generated trace whose diagram has about `target`
 * messages: the span budget is adjusted until the sequence model's message
 * count lands within 2 % of the target.
 */
function diagramWithMessages(core: Core, target: number): { messages: number; text: string } {
  let spans = Math.max(2, Math.round(target / 2));
  let best: { messages: number; text: string } | undefined;
  for (let attempt = 0; attempt < 8; attempt++) {
    const trace = generateTrace({
      random: seededRandom(target),
      startTimeNs: startedAt.getTime() * 1e6,
      targetSpans: spans,
    });
    const result = core.traceToMermaid({ traceId: trace[0]?.traceId ?? '', spans: trace }, { foldLoops: false });
    const candidate = { messages: result.model.messageCount, text: result.text };
    if (!best || Math.abs(candidate.messages - target) < Math.abs(best.messages - target)) best = candidate;
    if (Math.abs(candidate.messages - target) <= target * 0.02 || candidate.messages === 0) break;
    spans = Math.max(2, Math.round((spans * target) / candidate.messages));
  }
  return best as { messages: number; text: string };
}

const report: RunReport = {
  machine: machineInfo(),
  startedAt: startedAt.toISOString(),
  durationS: (performance.now() - t0) / 1000,
  quick,
  figures: figures.sort((a, b) => a.id - b.id),
};
const markdownPath = only ? join(workDir, 'BENCHMARKS.partial.md') : join(root, 'BENCHMARKS.md');
const jsonPath = only ? join(workDir, 'results.partial.json') : join(root, 'bench', 'results.json');
writeFileSync(markdownPath, renderMarkdown(report));
writeFileSync(jsonPath, `${JSON.stringify(toResultsJson(report), null, 2)}\n`);
log(`wrote ${markdownPath} and ${jsonPath} in ${Math.round(report.durationS)} s`);
