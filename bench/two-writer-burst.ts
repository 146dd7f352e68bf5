/**
 * Two apps recording into one database file under a burst, run several
 * times: every finished span must be stored in every run, and neither app
 * may say anything on stderr. Each app serves and calls itself `requests`
 * times with 32 calls in flight, two spans per call, so a run should store
 * 4 × `requests` spans.
 *
 * Usage (after `pnpm run build`): node bench/two-writer-burst.ts [runs=10] [requests-per-app=30000]
 * Exits 1 when any run lost a span or an app failed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const runs = Number(process.argv[2] ?? 10);
const requests = Number(process.argv[3] ?? 30_000);
const register = fileURLToPath(new URL('../packages/node/dist/register.js', import.meta.url));
const app = fileURLToPath(new URL('./apps/burst-app.ts', import.meta.url));

function runApp(db: string, service: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', register, app], {
      env: { ...process.env, LIFELINE_DB: db, OTEL_SERVICE_NAME: service, N_REQ: String(requests), CONC: '32' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let failed = 0;
for (let run = 1; run <= runs; run++) {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-two-writers-'));
  const db = join(dir, 'two.db');
  const started = performance.now();
  const apps = await Promise.all([runApp(db, 'appA'), runApp(db, 'appB')]);
  const seconds = (performance.now() - started) / 1000;
  const store = new Database(db, { readonly: true });
  const spans = store.prepare('SELECT count(*) FROM spans').pluck().get() as number;
  const halfTraces = store.prepare('SELECT count(*) FROM traces WHERE span_count = 1').pluck().get() as number;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  const expected = 4 * requests;
  const quiet = apps.every((a) => a.code === 0 && a.stderr === '' && a.stdout.includes(`finished ${requests}`));
  const ok = quiet && spans === expected && halfTraces === 0;
  if (!ok) failed++;
  process.stdout.write(
    `run ${run}: ${spans} of ${expected} spans stored, ${halfTraces} traces with one of two spans, ` +
      `exit ${apps.map((a) => a.code).join('/')}, stderr ${apps.map((a) => a.stderr.length).join('/')} bytes, ` +
      `${seconds.toFixed(1)} s${ok ? '' : ' FAILED'}\n`,
  );
  for (const a of apps) if (a.stderr !== '') process.stdout.write(`  stderr: ${a.stderr.trim().split('\n')[0]}\n`);
}
process.stdout.write(`${runs - failed} of ${runs} runs stored every span\n`);
process.exitCode = failed === 0 ? 0 : 1;
