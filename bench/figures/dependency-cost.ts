/**
 * Figure 9: what tracking data dependencies between calls costs. The bench
 * app's DB route (two queries, their rows fingerprinted and their parameters
 * checked) under Lifeline with the tracking on and with it off
 * (`LIFELINE_DATA_DEPENDENCIES=off`), and uninstrumented for Lifeline's own
 * recording cost.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInterleaved } from '../lib/interleave.ts';
import { runLoad } from '../lib/load.ts';
import { postgresUrl, preparePostgres } from '../lib/postgres.ts';
import { processCpuMs, type RunningServer, runJson, startServer } from '../lib/processes.ts';
import type { FigureReport } from '../lib/report.ts';
import { median } from '../lib/stats.ts';

type Config = 'bare' | 'off' | 'on';

const configs: readonly Config[] = ['bare', 'off', 'on'];

/** Options of {@link dependencyCostFigure}. */
export interface DependencyCostOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  settleMs: number;
  /** Where Lifeline's SQLite files for the run go. */
  workDir: string;
}

const appScript = fileURLToPath(new URL('../apps/db-app.ts', import.meta.url));
const hooksScript = fileURLToPath(new URL('../dependency-hooks.ts', import.meta.url));

/**
 * App CPU per request on the DB route with the tracking on, off, and without
 * Lifeline, in interleaved rounds; the cost is the median over rounds of
 * (on − off), set against Lifeline's own recording cost (off − bare).
 */
export async function dependencyCostFigure(options: DependencyCostOptions): Promise<FigureReport> {
  const figure: FigureReport = {
    id: 9,
    title: 'Data-dependency tracking cost',
    method:
      'The DB route of figure 1 (`/articles/{n}`: one query for the article, one for up to 20 comments, all under ' +
      "Lifeline's value fingerprinting: up to 10 rows × 16 columns per result, every parameter checked) with the " +
      'tracking on (the default) and off (`LIFELINE_DATA_DEPENDENCIES=off`), and without instrumentation. App CPU ' +
      `per request (user + system, all threads) at saturation, ${options.connections} connections for ` +
      `${options.durationS} s and the pause after, ${options.rounds} interleaved rounds; the cost is the median of ` +
      "the per-round differences (on − off), set against Lifeline's own recording cost (off − bare). " +
      'A difference of microseconds is within the noise of those rounds on a shared machine, so ' +
      '`bench/dependency-hooks.ts` also times the same two queries as spans with and without the hooks in one ' +
      'process (alternating loops, medians), and the goal is read from that cost per call against the recording cost.',
    rows: [],
    notes: [],
  };
  await preparePostgres();
  mkdirSync(options.workDir, { recursive: true });
  const dbPath = (config: Config) => join(options.workDir, `dependency-cost-${config}-${process.pid}.db`);
  const servers = new Map<Config, RunningServer<{ port: number }>>();
  try {
    for (const config of configs) {
      servers.set(
        config,
        await startServer<{ port: number }>({
          script: appScript,
          env: {
            BENCH_MODE: config === 'bare' ? 'bare' : 'lifeline',
            BENCH_DB_PATH: dbPath(config),
            BENCH_PG_URL: postgresUrl(),
            LIFELINE_DATA_DEPENDENCIES: config === 'off' ? 'off' : 'on',
          },
        }),
      );
    }
    const url = (config: Config) => `http://127.0.0.1:${servers.get(config)?.ready.port}/articles/{n}`;
    for (const config of configs) {
      await runLoad({ url: url(config), connections: options.connections, durationS: options.warmupS });
    }
    const samples = await runInterleaved<Config, number>({
      configs,
      rounds: options.rounds,
      measure: async (config) => {
        const pid = servers.get(config)?.pid as number;
        const before = processCpuMs(pid);
        const load = await runLoad({
          url: url(config),
          connections: options.connections,
          durationS: options.durationS,
        });
        await new Promise((resolve) => setTimeout(resolve, options.settleMs));
        return (processCpuMs(pid) - before) / load.requests;
      },
    });
    const cpu = (config: Config) => median(samples[config]);
    const paired = (a: Config, b: Config) => median(samples[a].map((value, i) => value - (samples[b][i] ?? value)));
    const trackingMs = paired('on', 'off');
    const recordingMs = paired('off', 'bare');
    const perCallUs = (trackingMs * 1000) / 2;
    const inProcess = await runJson<{ perCallUs: number }>({ script: hooksScript, timeoutMs: 300_000 });
    figure.rows.push(
      {
        key: 'dependencies.db.bare.cpuMsPerRequest',
        name: 'app CPU per request, no instrumentation',
        value: cpu('bare'),
        unit: 'ms',
      },
      {
        key: 'dependencies.db.off.cpuMsPerRequest',
        name: 'app CPU per request, Lifeline with data-dependency tracking off',
        value: cpu('off'),
        unit: 'ms',
      },
      {
        key: 'dependencies.db.on.cpuMsPerRequest',
        name: 'app CPU per request, Lifeline with data-dependency tracking on',
        value: cpu('on'),
        unit: 'ms',
        baseline: { name: 'tracking off', value: cpu('off'), unit: 'ms' },
      },
      {
        key: 'dependencies.db.perCallUs',
        name: 'app-level difference per database call (median of per-round differences ÷ 2 queries)',
        value: perCallUs,
        unit: 'µs',
      },
      {
        key: 'dependencies.db.appShareOfRecording',
        name: "app-level difference, share of Lifeline's own recording cost (within noise)",
        value: recordingMs > 0 ? (100 * trackingMs) / recordingMs : Number.NaN,
        unit: '%',
      },
      {
        key: 'dependencies.hooks.perCallUs',
        name: 'data-dependency hooks per database call, in process (bench/dependency-hooks.ts)',
        value: inProcess.perCallUs,
        unit: 'µs',
      },
      {
        key: 'dependencies.db.shareOfRecording',
        name: "data-dependency tracking cost (2 calls × the in-process cost), share of Lifeline's own recording cost",
        value: recordingMs > 0 ? (100 * 2 * inProcess.perCallUs) / (recordingMs * 1000) : Number.NaN,
        unit: '%',
        goal: { on: 'value', op: '<', target: 5, text: '< 5 %' },
      },
    );
    return figure;
  } finally {
    for (const server of servers.values()) await server.stop();
    for (const config of configs) {
      for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath(config) + suffix, { force: true });
    }
  }
}
