/**
 * Figure 1 (request overhead) and the app half of figure 8 (memory): the bench
 * app under load from autocannon in another process, uninstrumented, recorded
 * by Lifeline, and traced by the stock OpenTelemetry SDK exporting OTLP.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInterleaved } from '../lib/interleave.ts';
import { type LoadResult, runLoad } from '../lib/load.ts';
import { postgresUrl, preparePostgres } from '../lib/postgres.ts';
import { processCpuMs, RssSampler, type RunningServer, startServer } from '../lib/processes.ts';
import type { FigureReport, Goal, Measurement } from '../lib/report.ts';
import { median } from '../lib/stats.ts';

/** The ways the bench app runs (see bench/apps/db-app.ts). */
export type OverheadConfig = 'bare' | 'lifeline' | 'lifelineBefore' | 'otlp' | 'sdkOnly';

const configNames: Record<OverheadConfig, string> = {
  bare: 'no instrumentation',
  lifeline: 'Lifeline (SQLite)',
  lifelineBefore: 'Lifeline before (SQLite)',
  otlp: 'stock OTel NodeSDK + OTLP/HTTP',
  sdkOnly: 'stock OTel NodeSDK, spans dropped',
};

/** Every configuration, in the order they run in a round. */
const allConfigs = ['bare', 'lifeline', 'lifelineBefore', 'otlp', 'sdkOnly'] as const;
/** The traced configurations, in the order their rows are written. */
const tracedConfigs = ['lifeline', 'lifelineBefore', 'otlp', 'sdkOnly'] as const;

/** Options of {@link requestOverheadFigure}. */
export interface RequestOverheadOptions {
  /** Configurations to measure; `bare` is always measured as the baseline. */
  configs: readonly OverheadConfig[];
  rounds: number;
  durationS: number;
  warmupS: number;
  /** Saturating load: concurrent connections. */
  connections: number;
  /**
   * Pause after each saturating round so a traced app finishes exporting
   * before the next one runs; the app's CPU is read after it, so that export counts.
   */
  settleMs: number;
  /**
   * Another build of Lifeline (a folder holding `core`, `store` and `node`,
   * each with its `package.json`, `dist` and `node_modules`), measured as
   * `lifelineBefore` beside the current one.
   */
  lifelineBefore?: string;
  /** Where Lifeline's SQLite file for the run goes. */
  workDir: string;
  /** Checks that the Lifeline run really recorded spans; returns the span count. */
  countRecordedSpans?: (dbPath: string) => number;
}

/** What figure 1 produces, plus the app memory samples for figure 8. */
export interface RequestOverheadResult {
  figure: FigureReport;
  /** Median peak RSS (MB) of the app under saturating load on the DB route, per configuration. */
  peakRssMb: Partial<Record<OverheadConfig, number>>;
}

interface Sample {
  load: LoadResult;
  peakRssMb: number;
  /** CPU time of the app process (every thread) per request served, ms. */
  cpuMsPerRequest: number;
}

const appScript = fileURLToPath(new URL('../apps/db-app.ts', import.meta.url));
const sinkScript = fileURLToPath(new URL('../apps/otlp-sink.ts', import.meta.url));

const endpoints = [
  // `spans`: what Lifeline records per request, for the no-span-lost check.
  { key: 'hello', name: 'hello route', path: '/hello', spans: 1 },
  { key: 'db', name: 'DB route (2 PostgreSQL queries)', path: '/articles/{n}', spans: 3 },
  { key: 'nplus1', name: 'N+1 route (19 PostgreSQL queries, 20 spans)', path: '/feed/{n}', spans: 20 },
] as const;

/**
 * Measures throughput at saturation (several connections) and latency with one
 * connection (requests back to back, so latency is the app's own time and not
 * queueing), interleaving the configurations round by round.
 */
export async function requestOverheadFigure(options: RequestOverheadOptions): Promise<RequestOverheadResult> {
  const figure: FigureReport = {
    id: 1,
    title: 'Request overhead',
    method:
      'The bench app (express 5 + pg, `bench/apps/db-app.ts`) runs the same code several ways: without ' +
      'instrumentation, with Lifeline recording to SQLite' +
      (options.lifelineBefore ? ' (this build, and the build before the changes noted below)' : '') +
      ', and with the stock OpenTelemetry set-up a user would pick, untuned: `NodeSDK` with its default settings, ' +
      '`HttpInstrumentation`, `ExpressInstrumentation` and `PgInstrumentation` with their default options (so it ' +
      'also records express middleware and pg pool spans), and the OTLP/HTTP protobuf exporter sending to a local ' +
      'sink that answers 200 and discards' +
      (options.configs.includes('sdkOnly') ? ' (or, "spans dropped", to an exporter that drops every batch)' : '') +
      '. Routes: hello; DB, two PostgreSQL queries one after the other; N+1, a list query and one query per listed ' +
      'article (18), 20 spans a request under Lifeline. ' +
      `autocannon runs in its own process on loopback. Throughput: ${options.connections} connections ` +
      `for ${options.durationS} s (peak RSS sampled from /proc every 200 ms during those rounds); latency: 1 connection, requests back to back, for ${options.durationS} s ` +
      `(quantiles over every response time, not autocannon's whole-millisecond histogram). App CPU per request is ` +
      `the app process's user + system time (all threads, from /proc) over a saturating round and the ` +
      `${(options.settleMs / 1000).toFixed(1)} s after it, divided by the requests served; the CPU a configuration ` +
      `adds is that minus the uninstrumented app's. ` +
      `${options.rounds} interleaved round(s), medians.`,
    rows: [],
    notes: [],
  };
  await preparePostgres();
  mkdirSync(options.workDir, { recursive: true });
  const dbPath = join(options.workDir, `overhead-${process.pid}.db`);
  const removeDbFiles = () => {
    for (const file of [dbPath, `${dbPath}.before`])
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  };
  removeDbFiles();

  const configs = allConfigs.filter(
    (c) => c === 'bare' || (options.configs.includes(c) && (c !== 'lifelineBefore' || options.lifelineBefore)),
  );
  const servers = new Map<OverheadConfig, RunningServer<{ port: number }>>();
  const sink = await startServer<{ port: number }>({ script: sinkScript });
  try {
    for (const config of configs) {
      servers.set(
        config,
        await startServer<{ port: number }>({
          script: appScript,
          env: {
            BENCH_MODE: config,
            // Each build of Lifeline writes its own file: their schemas may differ.
            BENCH_DB_PATH: config === 'lifelineBefore' ? `${dbPath}.before` : dbPath,
            ...(options.lifelineBefore ? { BENCH_LIFELINE_BEFORE: options.lifelineBefore } : {}),
            BENCH_PG_URL: postgresUrl(),
            BENCH_OTLP_URL: `http://127.0.0.1:${sink.ready.port}/v1/traces`,
          },
        }),
      );
    }
    const url = (config: OverheadConfig, path: string) => `http://127.0.0.1:${servers.get(config)?.ready.port}${path}`;
    // Spans each configuration must have recorded at least: every answered
    // request's spans (a request still in flight when a load run stops is
    // served and recorded, but not counted here).
    const expectedSpans = new Map<OverheadConfig, number>();
    const served = (config: OverheadConfig, endpoint: (typeof endpoints)[number], load: LoadResult) =>
      expectedSpans.set(config, (expectedSpans.get(config) ?? 0) + load.requests * endpoint.spans);
    for (const config of configs) {
      for (const endpoint of endpoints) {
        const load = await runLoad({
          url: url(config, endpoint.path),
          connections: options.connections,
          durationS: options.warmupS,
        });
        served(config, endpoint, load);
      }
    }

    const peakRssMb: RequestOverheadResult['peakRssMb'] = {};
    for (const endpoint of endpoints) {
      const saturated: Partial<Record<OverheadConfig, Sample[]>> = await runInterleaved<OverheadConfig, Sample>({
        configs,
        rounds: options.rounds,
        measure: async (config) => {
          const pid = servers.get(config)?.pid as number;
          const sampler = new RssSampler(pid);
          const cpuBefore = processCpuMs(pid);
          const load = await runLoad({
            url: url(config, endpoint.path),
            connections: options.connections,
            durationS: options.durationS,
          });
          const peak = sampler.stop();
          served(config, endpoint, load);
          // The pause lets a traced app finish exporting before the next
          // configuration runs; CPU is read after it so that export is counted.
          await new Promise((resolve) => setTimeout(resolve, options.settleMs));
          const cpuMsPerRequest = (processCpuMs(pid) - cpuBefore) / load.requests;
          return { load, peakRssMb: peak, cpuMsPerRequest };
        },
      });
      const serial: Partial<Record<OverheadConfig, LoadResult[]>> = await runInterleaved<OverheadConfig, LoadResult>({
        configs,
        rounds: options.rounds,
        measure: async (config) => {
          const load = await runLoad({ url: url(config, endpoint.path), connections: 1, durationS: options.durationS });
          served(config, endpoint, load);
          await new Promise((resolve) => setTimeout(resolve, options.settleMs / 2));
          return load;
        },
      });
      if (endpoint.key === 'db') {
        for (const config of configs) peakRssMb[config] = median((saturated[config] ?? []).map((s) => s.peakRssMb));
      }
      figure.rows.push(...endpointRows(endpoint, saturated, serial));
    }

    const sinkStats = (await (await fetch(`http://127.0.0.1:${sink.ready.port}/stats`)).json()) as {
      exports: number;
      receivedBytes: number;
    };
    if (configs.includes('otlp') && sinkStats.exports === 0)
      throw new Error('the OTLP configuration exported nothing: its figures would be void');
    const checks = [
      `the OTLP receiver got ${sinkStats.exports} exports (${Math.round(sinkStats.receivedBytes / 1024)} KiB)`,
    ];
    if (options.countRecordedSpans && configs.includes('lifeline')) {
      await servers.get('lifeline')?.stop();
      const recorded = options.countRecordedSpans(dbPath);
      const expected = expectedSpans.get('lifeline') ?? 0;
      if (recorded === 0) throw new Error('the Lifeline configuration recorded no span: its figures would be void');
      if (recorded < expected)
        throw new Error(`Lifeline lost spans: ${recorded} stored of at least ${expected} for the requests answered`);
      checks.push(
        `Lifeline's store holds ${recorded.toLocaleString('en-US')} spans, at least the ` +
          `${expected.toLocaleString('en-US')} the answered requests make (none lost)`,
      );
    }
    figure.notes.push(`Sanity checks after the run: ${checks.join('; ')}.`);
    return { figure, peakRssMb };
  } finally {
    for (const server of servers.values()) await server.stop();
    await sink.stop();
    removeDbFiles();
  }
}

/** The goals of figure 1: Lifeline costs the app no more than the stock OpenTelemetry set-up, on every route. */
const addedCpuGoal: Goal = { on: 'ratio', op: '<=', target: 1, text: '≤ 1× stock' };
const throughputGoal: Goal = { on: 'ratio', op: '>=', target: 1, text: '≥ 1× stock' };

function endpointRows(
  endpoint: (typeof endpoints)[number],
  saturated: Partial<Record<OverheadConfig, Sample[]>>,
  serial: Partial<Record<OverheadConfig, LoadResult[]>>,
): Measurement[] {
  const rps = (c: OverheadConfig) => median((saturated[c] ?? []).map((s) => s.load.rps));
  const p50 = (c: OverheadConfig) => median((serial[c] ?? []).map((s) => s.p50Ms));
  const p99 = (c: OverheadConfig) => median((serial[c] ?? []).map((s) => s.p99Ms));
  const cpu = (c: OverheadConfig) => median((saturated[c] ?? []).map((s) => s.cpuMsPerRequest));
  const rss = (c: OverheadConfig) => median((saturated[c] ?? []).map((s) => s.peakRssMb));
  const added = (c: OverheadConfig) => cpu(c) - cpu('bare');
  const e = endpoint.key;
  const has = (c: OverheadConfig) => saturated[c] !== undefined;
  const traced = tracedConfigs.filter(has);
  const bare = (value: number, unit: string) => ({ name: configNames.bare, value, unit });
  const stock = (value: number, unit: string) => ({ name: configNames.otlp, value, unit });
  const rows: Measurement[] = [];
  // The goal rows first: what Lifeline adds against what the stock set-up adds.
  for (const config of ['lifeline', 'lifelineBefore'] as const) {
    if (!has(config) || !has('otlp')) continue;
    const goals = config === 'lifeline';
    rows.push(
      {
        key: `overhead.${e}.${config}VsOtlp.addedCpu`,
        name: `${endpoint.name}: app CPU added per request, ${configNames[config]} / stock`,
        value: added(config),
        unit: 'ms',
        baseline: stock(added('otlp'), 'ms'),
        ...(goals ? { goal: addedCpuGoal } : {}),
      },
      {
        key: `overhead.${e}.${config}VsOtlp.rps`,
        name: `${endpoint.name}: throughput, ${configNames[config]} / stock`,
        value: rps(config),
        unit: 'req/s',
        baseline: stock(rps('otlp'), 'req/s'),
        ...(goals ? { goal: throughputGoal } : {}),
      },
      {
        key: `overhead.${e}.${config}VsOtlp.p99`,
        name: `${endpoint.name}: p99 latency, ${configNames[config]} / stock`,
        value: p99(config),
        unit: 'ms',
        baseline: stock(p99('otlp'), 'ms'),
      },
      {
        key: `overhead.${e}.${config}VsOtlp.peakRssMb`,
        name: `${endpoint.name}: app peak RSS under load, ${configNames[config]} / stock`,
        value: rss(config),
        unit: 'MB',
        baseline: stock(rss('otlp'), 'MB'),
      },
    );
  }
  if (has('lifeline') && has('lifelineBefore')) {
    const before = (value: number, unit: string) => ({ name: configNames.lifelineBefore, value, unit });
    rows.push(
      {
        key: `overhead.${e}.lifelineVsBefore.addedCpu`,
        name: `${endpoint.name}: app CPU added per request, Lifeline / Lifeline before`,
        value: added('lifeline'),
        unit: 'ms',
        baseline: before(added('lifelineBefore'), 'ms'),
      },
      {
        key: `overhead.${e}.lifelineVsBefore.rps`,
        name: `${endpoint.name}: throughput, Lifeline / Lifeline before`,
        value: rps('lifeline'),
        unit: 'req/s',
        baseline: before(rps('lifelineBefore'), 'req/s'),
      },
    );
  }
  rows.push({
    key: `overhead.${e}.bare.rps`,
    name: `${endpoint.name}: throughput, ${configNames.bare}`,
    value: rps('bare'),
    unit: 'req/s',
  });
  for (const config of traced) {
    rows.push({
      key: `overhead.${e}.${config}.rps`,
      name: `${endpoint.name}: throughput, ${configNames[config]}`,
      value: rps(config),
      unit: 'req/s',
      baseline: bare(rps('bare'), 'req/s'),
    });
  }
  rows.push({
    key: `overhead.${e}.bare.cpuMsPerRequest`,
    name: `${endpoint.name}: app CPU per request, ${configNames.bare}`,
    value: cpu('bare'),
    unit: 'ms',
  });
  for (const config of traced) {
    rows.push({
      key: `overhead.${e}.${config}.cpuMsPerRequest`,
      name: `${endpoint.name}: app CPU per request (all threads), ${configNames[config]}`,
      value: cpu(config),
      unit: 'ms',
      baseline: bare(cpu('bare'), 'ms'),
    });
  }
  rows.push(
    {
      key: `overhead.${e}.bare.p50`,
      name: `${endpoint.name}: p50 latency, ${configNames.bare}`,
      value: p50('bare'),
      unit: 'ms',
    },
    {
      key: `overhead.${e}.bare.p99`,
      name: `${endpoint.name}: p99 latency, ${configNames.bare}`,
      value: p99('bare'),
      unit: 'ms',
    },
  );
  for (const config of traced) {
    rows.push(
      {
        key: `overhead.${e}.${config}.p50`,
        name: `${endpoint.name}: p50 latency, ${configNames[config]}`,
        value: p50(config),
        unit: 'ms',
        baseline: bare(p50('bare'), 'ms'),
      },
      {
        key: `overhead.${e}.${config}.p99`,
        name: `${endpoint.name}: p99 latency, ${configNames[config]}`,
        value: p99(config),
        unit: 'ms',
        baseline: bare(p99('bare'), 'ms'),
      },
    );
  }
  return rows;
}
