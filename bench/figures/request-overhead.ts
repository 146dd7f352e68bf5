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

/** The ways the bench app runs. */
export type OverheadConfig = 'bare' | 'lifeline' | 'otlp' | 'sdkOnly';

const configNames: Record<OverheadConfig, string> = {
  bare: 'no instrumentation',
  lifeline: 'Lifeline (SQLite)',
  otlp: 'OTel SDK + OTLP/HTTP',
  sdkOnly: 'OTel SDK, spans dropped',
};

/** Options of {@link requestOverheadFigure}. */
export interface RequestOverheadOptions {
  /** Configurations to measure; `bare` is always measured as the baseline. */
  configs: readonly OverheadConfig[];
  rounds: number;
  durationS: number;
  warmupS: number;
  /** Saturating load: concurrent connections. */
  connections: number;
  /** Pause after each saturating round so a traced app finishes exporting before the next one runs. */
  settleMs: number;
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
  { key: 'db', name: 'DB route (2 PostgreSQL queries)', path: '/articles/{n}', throughputGoal: true },
  { key: 'hello', name: 'hello route', path: '/hello', throughputGoal: false },
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
      'The bench app (express 5 + pg, `bench/apps/db-app.ts`) runs the same code four ways: without ' +
      'instrumentation, with Lifeline recording to SQLite, and with the stock OpenTelemetry NodeSDK (same http/express/pg ' +
      'instrumentations configured as Lifeline configures them, BatchSpanProcessor defaults) either exporting OTLP/HTTP ' +
      'protobuf to a local receiver that discards, or handing batches to an exporter that drops them (the cost of ' +
      'recording spans before any export). ' +
      `autocannon runs in its own process on loopback. Throughput: ${options.connections} connections ` +
      `for ${options.durationS} s; latency: 1 connection, requests back to back, for ${options.durationS} s ` +
      `(quantiles over every response time, not autocannon's whole-millisecond histogram). App CPU per request is ` +
      `the app process's user + system time (all threads, from /proc) over a saturating round and the pause after it, ` +
      `divided by the requests served. ` +
      `${options.rounds} interleaved round(s), medians.`,
    rows: [],
    notes: [],
  };
  await preparePostgres();
  mkdirSync(options.workDir, { recursive: true });
  const dbPath = join(options.workDir, `overhead-${process.pid}.db`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });

  const configs = (['bare', 'lifeline', 'otlp', 'sdkOnly'] as const).filter(
    (c) => c === 'bare' || options.configs.includes(c),
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
            BENCH_DB_PATH: dbPath,
            BENCH_PG_URL: postgresUrl(),
            BENCH_OTLP_URL: `http://127.0.0.1:${sink.ready.port}/v1/traces`,
          },
        }),
      );
    }
    const url = (config: OverheadConfig, path: string) => `http://127.0.0.1:${servers.get(config)?.ready.port}${path}`;
    for (const config of configs) {
      for (const endpoint of endpoints) {
        await runLoad({
          url: url(config, endpoint.path),
          connections: options.connections,
          durationS: options.warmupS,
        });
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
      if (recorded === 0) throw new Error('the Lifeline configuration recorded no span: its figures would be void');
      checks.push(`Lifeline's store holds ${recorded.toLocaleString('en-US')} spans`);
    }
    figure.notes.push(`Sanity checks after the run: ${checks.join('; ')}.`);
    return { figure, peakRssMb };
  } finally {
    for (const server of servers.values()) await server.stop();
    await sink.stop();
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  }
}

const throughputGoal: Goal = { on: 'ratio', op: '>=', target: 0.93, text: '≥ 0.93× bare' };
const aheadGoal: Goal = { on: 'ratio', op: '>', target: 1, text: 'Lifeline ahead (> 1×)' };
const p99Goal: Goal = { on: 'difference', op: '<=', target: 1, text: '≤ bare + 1 ms' };

function endpointRows(
  endpoint: (typeof endpoints)[number],
  saturated: Partial<Record<OverheadConfig, Sample[]>>,
  serial: Partial<Record<OverheadConfig, LoadResult[]>>,
): Measurement[] {
  const rps = (c: OverheadConfig) => median((saturated[c] ?? []).map((s) => s.load.rps));
  const p50 = (c: OverheadConfig) => median((serial[c] ?? []).map((s) => s.p50Ms));
  const p99 = (c: OverheadConfig) => median((serial[c] ?? []).map((s) => s.p99Ms));
  const cpu = (c: OverheadConfig) => median((saturated[c] ?? []).map((s) => s.cpuMsPerRequest));
  const e = endpoint.key;
  const has = (c: OverheadConfig) => saturated[c] !== undefined;
  const bare = (value: number, unit: string) => ({ name: configNames.bare, value, unit });
  const rows: Measurement[] = [
    {
      key: `overhead.${e}.bare.rps`,
      name: `${endpoint.name}: throughput, ${configNames.bare}`,
      value: rps('bare'),
      unit: 'req/s',
    },
  ];
  for (const config of ['lifeline', 'otlp', 'sdkOnly'] as const) {
    if (!has(config)) continue;
    rows.push({
      key: `overhead.${e}.${config}.rps`,
      name: `${endpoint.name}: throughput, ${configNames[config]}`,
      value: rps(config),
      unit: 'req/s',
      baseline: bare(rps('bare'), 'req/s'),
      ...(config === 'lifeline' && endpoint.throughputGoal ? { goal: throughputGoal } : {}),
    });
  }
  if (has('lifeline') && has('otlp')) {
    rows.push({
      key: `overhead.${e}.lifelineVsOtlp.rps`,
      name: `${endpoint.name}: throughput, Lifeline vs OTel + OTLP`,
      value: rps('lifeline'),
      unit: 'req/s',
      baseline: { name: configNames.otlp, value: rps('otlp'), unit: 'req/s' },
      goal: aheadGoal,
    });
  }
  rows.push({
    key: `overhead.${e}.bare.cpuMsPerRequest`,
    name: `${endpoint.name}: app CPU per request, ${configNames.bare}`,
    value: cpu('bare'),
    unit: 'ms',
  });
  for (const config of ['lifeline', 'otlp', 'sdkOnly'] as const) {
    if (!has(config)) continue;
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
  for (const config of ['lifeline', 'otlp', 'sdkOnly'] as const) {
    if (!has(config)) continue;
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
        ...(config === 'lifeline' ? { goal: p99Goal } : {}),
      },
    );
  }
  return rows;
}
