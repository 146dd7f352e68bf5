/**
 * Where the time goes when a benchmark goal is missed: runs one benchmark
 * server under `node --cpu-prof` with the same load as the benchmark, then
 * prints the hot functions and packages of every profiled thread.
 *
 *   node bench/profile.ts app-lifeline [--route /articles/{n}] [--seconds 8]
 *   node bench/profile.ts app-otlp | app-bare | receiver
 *
 * Profiles and summaries are kept under .lifeline/bench/profiles/.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CpuProfile, formatHotSpots, hotFunctions, hotPackages } from './lib/cpu-profile.ts';
import { runLoad } from './lib/load.ts';
import { buildOtlpBody } from './lib/otlp-body.ts';
import { preparePostgres } from './lib/postgres.ts';
import { startServer } from './lib/processes.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values, positionals } = parseArgs({
  options: { route: { type: 'string', default: '/articles/{n}' }, seconds: { type: 'string', default: '8' } },
  allowPositionals: true,
});
const target = positionals[0] ?? 'app-lifeline';
const seconds = Number(values.seconds);
const outDir = join(root, '.lifeline', 'bench', 'profiles', target);
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const dbPath = join(outDir, 'profile.db');
const execArgv = ['--cpu-prof', `--cpu-prof-dir=${outDir}`];

if (target.startsWith('app-')) {
  await preparePostgres();
  const sink = await startServer<{ port: number }>({
    script: fileURLToPath(new URL('./apps/otlp-sink.ts', import.meta.url)),
  });
  const app = await startServer<{ port: number }>({
    script: fileURLToPath(new URL('./apps/db-app.ts', import.meta.url)),
    execArgv,
    env: {
      BENCH_MODE: target.slice(4),
      BENCH_DB_PATH: dbPath,
      BENCH_OTLP_URL: `http://127.0.0.1:${sink.ready.port}/v1/traces`,
    },
  });
  const result = await runLoad({
    url: `http://127.0.0.1:${app.ready.port}${values.route}`,
    connections: 10,
    durationS: seconds,
    warmupS: 1,
  });
  process.stderr.write(`${target}: ${Math.round(result.rps)} req/s under the profiler\n`);
  await app.stop();
  await sink.stop();
} else if (target === 'receiver') {
  const batch = await buildOtlpBody({ spanCount: 512, seed: 4 });
  const bodyFile = join(outDir, 'otlp-512.pb');
  writeFileSync(bodyFile, batch.body);
  const viewer = await startServer<{ port: number }>({
    script: fileURLToPath(new URL('./apps/viewer-server.ts', import.meta.url)),
    execArgv,
    env: { BENCH_DB_PATH: dbPath },
  });
  const result = await runLoad({
    url: `http://127.0.0.1:${viewer.ready.port}/v1/traces`,
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    bodyFile,
    traceIdOffsets: batch.traceIdOffsets,
    connections: 4,
    durationS: seconds,
  });
  process.stderr.write(`receiver: ${Math.round(result.rps * batch.spans)} spans/s under the profiler\n`);
  await viewer.stop();
} else {
  throw new Error(`unknown target ${target}: app-lifeline, app-otlp, app-bare or receiver`);
}

const summaries: string[] = [];
for (const file of readdirSync(outDir).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(join(outDir, file), 'utf8')) as CpuProfile;
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  summaries.push(
    `## ${file} (${wallMs.toFixed(0)} ms profiled)`,
    'by package:',
    formatHotSpots(hotPackages(profile)),
    'by function:',
    formatHotSpots(hotFunctions(profile, 20)),
    '',
  );
}
const text = summaries.join('\n');
writeFileSync(join(outDir, 'summary.txt'), text);
process.stdout.write(`${text}\n`);
