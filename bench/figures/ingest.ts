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
  /** Spans/s of the first reader settling what the exporter appended (absent in reports before the inbox). */
  settleSpansPerSecond?: number;
  eventLoop: {
    rounds: number;
    idleDelayP50Ms: number;
    idleDelayP99Ms: number;
    delayP50Ms: number;
    delayP99Ms: number;
    /** Median over rounds of (delay while exporting − delay of the idle segment next to it). */
    addedDelayP99Ms: number;
    exportCallP50Ms: number;
    exportCallP99Ms: number;
  };
}

/** Where the store's ingest benchmark lives. */
export const storeIngestScript = fileURLToPath(new URL('../store-ingest.ts', import.meta.url));

function check(output: StoreIngestOutput): void {
  for (const key of ['exporterSpansPerSecond', 'rawInsertSpansPerSecond'] as const) {
    if (typeof output[key] !== 'number') throw new Error(`bench/store-ingest.ts printed no ${key}`);
  }
  for (const key of ['delayP99Ms', 'idleDelayP99Ms', 'addedDelayP99Ms'] as const) {
    if (typeof output.eventLoop?.[key] !== 'number')
      throw new Error(`bench/store-ingest.ts printed no eventLoop.${key}`);
  }
}

/** Turns store-ingest.ts's output into figures 2 and 3. */
export function ingestFigures(output: StoreIngestOutput): FigureReport[] {
  check(output);
  const raw = { name: 'raw better-sqlite3 insert', value: output.rawInsertSpansPerSecond, unit: 'spans/s' };
  const ingest: FigureReport = {
    id: 2,
    title: 'Ingest through the exporter',
    method:
      "The store's `bench/store-ingest.ts` (child process) exports " +
      `${output.spansPerRun.toLocaleString('en-US')} request-shaped spans in ${output.batchSize}-span batches ` +
      "through `SqliteSpanExporter` (conversion, writer thread, an append to the store's inbox: the app's share; " +
      'up to 4 batches in flight), times the first read of the file settling that inbox (span table and per-trace ' +
      "summaries: the reader's share, in the reader's process), and inserts the same rows with a hand-written " +
      'better-sqlite3 statement in one transaction per batch; ' +
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
      ...(typeof output.settleSpansPerSecond === 'number'
        ? [
            {
              key: 'ingest.settle.spansPerS',
              name: "settling the exporter's spans on first read (span table and summaries, reader's process)",
              value: output.settleSpansPerSecond,
              unit: 'spans/s',
              baseline: raw,
            },
          ]
        : []),
    ],
    notes: [],
  };
  const idle = (value: number) => ({ name: 'same timers, no export', value, unit: 'ms' });
  const loop: FigureReport = {
    id: 3,
    title: 'Event-loop delay of an export',
    method:
      "The store's `bench/store-ingest.ts` alternates, over " +
      `${output.eventLoop.rounds} rounds, segments in which a 512-span batch is exported every 20 ms with segments ` +
      "of the same timers and no export, recording the app thread's event-loop delay with `monitorEventLoopDelay` " +
      '(1 ms resolution) and the synchronous time of each `export()` call. The added delay is the median over ' +
      'rounds of (exporting − idle) at p99; the goal is judged on it.',
    rows: [
      {
        key: 'exportLoop.addedDelayP99Ms',
        name: 'event-loop delay p99 an export of 512-span batches adds',
        value: output.eventLoop.addedDelayP99Ms,
        unit: 'ms',
        goal: { on: 'value', op: '<=', target: 2, text: '≤ 2 ms' },
      },
      {
        key: 'exportLoop.delayP99Ms',
        name: 'event-loop delay p99 while exporting',
        value: output.eventLoop.delayP99Ms,
        unit: 'ms',
        baseline: idle(output.eventLoop.idleDelayP99Ms),
      },
      {
        key: 'exportLoop.delayP50Ms',
        name: 'event-loop delay p50 while exporting',
        value: output.eventLoop.delayP50Ms,
        unit: 'ms',
        baseline: idle(output.eventLoop.idleDelayP50Ms),
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
  return ingestFigures(output);
}
