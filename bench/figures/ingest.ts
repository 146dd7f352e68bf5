/**
 * Figures 2 (ingest through the exporter against a raw insert) and 3 (the
 * event-loop delay an export adds), measured by the store's own
 * `bench/store-ingest.ts` (run as a child process; its JSON is read here).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runJson } from '../lib/processes.ts';
import type { FigureReport } from '../lib/report.ts';

/** What store-ingest.ts prints (the parts read here). */
export interface StoreIngestOutput {
  spansPerRun: number;
  runs: number;
  batchSize: number;
  exporterSpansPerSecond: number;
  rawInsertSpansPerSecond: number;
  eventLoop: { delayP50Ms: number; delayP99Ms: number; exportCallP50Ms: number; exportCallP99Ms: number };
}

/** The event-loop delay of an otherwise idle process on the same timer cadence. */
export interface IdleLoopDelay {
  delayP50Ms: number;
  delayP99Ms: number;
}

/** Where the store's ingest benchmark lives. */
export const storeIngestScript = fileURLToPath(new URL('../store-ingest.ts', import.meta.url));
const idleScript = fileURLToPath(new URL('../lib/idle-loop-delay.ts', import.meta.url));

function check(output: StoreIngestOutput): void {
  for (const key of ['exporterSpansPerSecond', 'rawInsertSpansPerSecond'] as const) {
    if (typeof output[key] !== 'number') throw new Error(`bench/store-ingest.ts printed no ${key}`);
  }
  if (typeof output.eventLoop?.delayP99Ms !== 'number') throw new Error('bench/store-ingest.ts printed no eventLoop');
}

/** Turns store-ingest.ts's output and the idle baseline into figures 2 and 3. */
export function ingestFigures(output: StoreIngestOutput, idle: IdleLoopDelay): FigureReport[] {
  check(output);
  const raw = { name: 'raw better-sqlite3 insert', value: output.rawInsertSpansPerSecond, unit: 'spans/s' };
  const ingest: FigureReport = {
    id: 2,
    title: 'Ingest through the exporter',
    method:
      "The store's `bench/store-ingest.ts` (child process) exports " +
      `${output.spansPerRun.toLocaleString('en-US')} request-shaped spans in ${output.batchSize}-span batches ` +
      'through `SqliteSpanExporter` (conversion, writer thread, SQLite, per-trace summaries; up to 4 batches in ' +
      'flight) and inserts the same rows with a hand-written better-sqlite3 statement in one transaction per batch; ' +
      `${output.runs} interleaved runs, medians.`,
    rows: [
      {
        key: 'ingest.raw.spansPerS',
        name: 'raw better-sqlite3 insert',
        value: output.rawInsertSpansPerSecond,
        unit: 'spans/s',
      },
      {
        key: 'ingest.exporter.spansPerS',
        name: 'SqliteSpanExporter, throughput',
        value: output.exporterSpansPerSecond,
        unit: 'spans/s',
        baseline: raw,
        goal: { on: 'value', op: '>=', target: 150_000, text: '≥ 150,000 spans/s' },
      },
      {
        key: 'ingest.exporter.shareOfRaw',
        name: 'SqliteSpanExporter, share of the raw insert rate',
        value: output.exporterSpansPerSecond,
        unit: 'spans/s',
        baseline: raw,
        goal: { on: 'ratio', op: '>=', target: 0.6, text: '≥ 0.60× raw' },
      },
    ],
    notes: [],
  };
  const loop: FigureReport = {
    id: 3,
    title: 'Event-loop delay of an export',
    method:
      "The store's `bench/store-ingest.ts` exports a 512-span batch every 20 ms (200 batches) and records the app " +
      "thread's event-loop delay with `monitorEventLoopDelay` (1 ms resolution) and the synchronous time of each " +
      '`export()` call. Baseline: the same timer cadence with no export, in its own process; the goal is judged on ' +
      'the delay the export adds to it.',
    rows: [
      {
        key: 'exportLoop.delayP99Ms',
        name: 'event-loop delay p99 while exporting 512-span batches',
        value: output.eventLoop.delayP99Ms,
        unit: 'ms',
        baseline: { name: 'same timers, no export', value: idle.delayP99Ms, unit: 'ms' },
        // Judged on what the export adds: a loaded 2-core machine shows a
        // millisecond or two of p99 delay with no export at all.
        goal: { on: 'difference', op: '<=', target: 2, text: 'adds ≤ 2 ms' },
      },
      {
        key: 'exportLoop.delayP50Ms',
        name: 'event-loop delay p50 while exporting',
        value: output.eventLoop.delayP50Ms,
        unit: 'ms',
        baseline: { name: 'same timers, no export', value: idle.delayP50Ms, unit: 'ms' },
      },
      {
        key: 'exportLoop.exportCallP99Ms',
        name: 'synchronous time of one export() call, p99',
        value: output.eventLoop.exportCallP99Ms,
        unit: 'ms',
      },
      {
        key: 'exportLoop.exportCallP50Ms',
        name: 'synchronous time of one export() call, p50',
        value: output.eventLoop.exportCallP50Ms,
        unit: 'ms',
      },
    ],
    notes: [],
  };
  return [ingest, loop];
}

/** Runs store-ingest.ts and the idle baseline, and returns figures 2 and 3. */
export async function ingestFiguresRun(options: { spans: number; runs: number }): Promise<FigureReport[]> {
  if (!existsSync(storeIngestScript)) throw new Error('bench/store-ingest.ts does not exist yet');
  const output = await runJson<StoreIngestOutput>({
    script: storeIngestScript,
    args: ['--spans', String(options.spans), '--runs', String(options.runs)],
    timeoutMs: 300_000,
  });
  const idle = await runJson<IdleLoopDelay>({ script: idleScript, args: ['200'] });
  return ingestFigures(output, idle);
}
