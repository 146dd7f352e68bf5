/**
 * Cold start of the `lifeline` command line: how long `lifeline list --help`
 * and `lifeline list` on a small database take from spawn to exit, measured
 * on the built CLI (`packages/cli/dist/bin.js`).
 *
 *   node bench/cli-startup.ts [--runs 30] [--db PATH] [--baseline OTHER/bin.js]
 *
 * Each command runs `runs` times after two unmeasured warm-up runs (they fill
 * the OS file cache, as any second start of the CLI finds it). The two
 * commands alternate, so drift on a shared machine hits both alike. Without
 * --db, the sample trace files in test/fixtures are imported into a fresh
 * database first. Prints one JSON object: median and minimum per command, in
 * milliseconds. --baseline measures another build of the CLI (e.g. a copy of
 * an earlier commit's checkout) in the same rounds, for a before/after figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'packages', 'cli', 'dist', 'bin.js');
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, db: { type: 'string' }, baseline: { type: 'string' } },
  allowPositionals: false,
});
const runs = Number(values.runs);

function run(args: readonly string[], entry = bin): number {
  const t0 = performance.now();
  const result = spawnSync(process.execPath, [entry, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - t0;
  if (result.status !== 0) throw new Error(`lifeline ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const workDir = mkdtempSync(join(tmpdir(), 'lifeline-cli-startup-'));
try {
  let db = values.db;
  if (db === undefined) {
    db = join(workDir, 'small.db');
    const fixtures = join(root, 'test', 'fixtures');
    const samples = readdirSync(fixtures)
      .filter((name) => name.endsWith('.sample.json'))
      .map((name) => join(fixtures, name));
    run(['import', '--db', db, ...samples]);
  }
  const commands: Record<string, readonly string[]> = {
    'list --help': ['list', '--help'],
    list: ['list', '--db', db, '--all'],
  };
  const builds: Record<string, string> = { '': bin };
  if (values.baseline !== undefined) builds[' (baseline)'] = values.baseline;
  const times: Record<string, number[]> = {};
  for (let i = 0; i < runs + 2; i++) {
    for (const [name, args] of Object.entries(commands)) {
      for (const [label, entry] of Object.entries(builds)) {
        const ms = run(args, entry);
        if (i < 2) continue;
        const key = `${name}${label}`;
        times[key] = [...(times[key] ?? []), ms];
      }
    }
  }
  const results = Object.entries(times).map(([command, ms]) => ({
    command: `lifeline ${command}`,
    medianMs: Number(median(ms).toFixed(1)),
    minMs: Number(Math.min(...ms).toFixed(1)),
    runs: ms.length,
  }));
  process.stdout.write(`${JSON.stringify({ benchmark: 'cli-startup', node: process.version, results }, null, 2)}\n`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
