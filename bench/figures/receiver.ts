/**
 * Figure 4: spans per second the viewer's OTLP/HTTP receiver stores, fed
 * 512-span protobuf batches by autocannon, against a receiver that only
 * decodes and discards.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInterleaved } from '../lib/interleave.ts';
import { runLoad } from '../lib/load.ts';
import { buildOtlpBody } from '../lib/otlp-body.ts';
import { type RunningServer, startServer } from '../lib/processes.ts';
import type { FigureReport } from '../lib/report.ts';
import { median } from '../lib/stats.ts';

/** Options of {@link receiverFigure}. */
export interface ReceiverOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  workDir: string;
  /** Spans in the viewer's store after the run, to check the load really was stored. */
  countStoredSpans: (dbPath: string) => number;
}

const viewerScript = fileURLToPath(new URL('../apps/viewer-server.ts', import.meta.url));
const parseSinkScript = fileURLToPath(new URL('../apps/otlp-parse-sink.ts', import.meta.url));

/** Measures both receivers in interleaved rounds and checks what was stored. */
export async function receiverFigure(options: ReceiverOptions): Promise<FigureReport> {
  const batch = await buildOtlpBody({ spanCount: 512, seed: 4 });
  const bodyFile = join(options.workDir, 'otlp-512.pb');
  writeFileSync(bodyFile, batch.body);
  const dbPath = join(options.workDir, `receiver-${process.pid}.db`);
  const clean = () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  };
  clean();
  const figure: FigureReport = {
    id: 4,
    title: 'OTLP/HTTP receiver',
    method:
      `autocannon (${options.connections} connections, ${options.durationS} s per round, ${options.rounds} interleaved ` +
      `round(s)) posts protobuf ExportTraceServiceRequests of ${batch.spans} spans (${Math.round(batch.body.length / 1024)} KiB, ` +
      "encoded by the OTLP exporter's ProtobufTraceSerializer from real SDK spans; every request carries new trace ids) " +
      'to `POST /v1/traces` of the viewer started with `startViewer`, which stores them in SQLite. Baseline: an ' +
      'express receiver that decodes the same protobuf with the same generated code and discards it.',
    rows: [],
    notes: [],
  };
  const servers: RunningServer<{ port: number }>[] = [];
  try {
    const viewer = await startServer<{ port: number }>({ script: viewerScript, env: { BENCH_DB_PATH: dbPath } });
    servers.push(viewer);
    const sink = await startServer<{ port: number }>({ script: parseSinkScript });
    servers.push(sink);
    const urls = {
      viewer: `http://127.0.0.1:${viewer.ready.port}/v1/traces`,
      parse: `http://127.0.0.1:${sink.ready.port}/v1/traces`,
    };
    let viewerRequests = 0;
    const load = (config: 'viewer' | 'parse', durationS: number) =>
      runLoad({
        url: urls[config],
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        bodyFile,
        traceIdOffsets: batch.traceIdOffsets,
        connections: options.connections,
        durationS,
      });
    for (const config of ['viewer', 'parse'] as const) {
      const warm = await load(config, options.warmupS);
      if (config === 'viewer') viewerRequests += warm.requests;
    }
    const samples = await runInterleaved({
      configs: ['viewer', 'parse'] as const,
      rounds: options.rounds,
      measure: async (config) => {
        const result = await load(config, options.durationS);
        if (config === 'viewer') viewerRequests += result.requests;
        return result;
      },
    });
    const spansPerS = (config: 'viewer' | 'parse') => median(samples[config].map((s) => s.rps)) * batch.spans;
    const baseline = { name: 'decode and discard', value: spansPerS('parse'), unit: 'spans/s' };
    figure.rows.push(
      {
        key: 'receiver.parseOnly.spansPerS',
        name: 'decode-and-discard receiver',
        value: spansPerS('parse'),
        unit: 'spans/s',
      },
      {
        key: 'receiver.viewer.spansPerS',
        name: 'viewer receiver, stored in SQLite',
        value: spansPerS('viewer'),
        unit: 'spans/s',
        baseline,
        goal: { on: 'value', op: '>=', target: 50_000, text: '≥ 50,000 spans/s' },
      },
      {
        key: 'receiver.viewer.p99',
        name: 'viewer receiver: p99 latency of one 512-span export',
        value: median(samples.viewer.map((s) => s.p99Ms)),
        unit: 'ms',
        baseline: { name: 'decode and discard', value: median(samples.parse.map((s) => s.p99Ms)), unit: 'ms' },
      },
    );
    await viewer.stop();
    const stored = options.countStoredSpans(dbPath);
    const expected = viewerRequests * batch.spans;
    if (stored < expected * 0.99) {
      throw new Error(`the viewer acknowledged ${expected} spans but its store holds ${stored}`);
    }
    figure.notes.push(
      `Check after the run: the viewer acknowledged ${viewerRequests.toLocaleString('en-US')} exports and its store holds ${stored.toLocaleString('en-US')} spans (${batch.spans} per export).`,
    );
    return figure;
  } finally {
    for (const server of servers) await server.stop();
    clean();
  }
}
