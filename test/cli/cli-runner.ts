/**
 * Runs the built CLI as a child process. The workspace is built once per test
 * process, under a lock, because several suites may build at the same time.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI entry. */
export const cliBin = join(repoRoot, 'packages', 'cli', 'dist', 'bin.js');
/** Real trace files from public repositories. */
export const publicFixtures = join(repoRoot, 'test', 'fixtures', 'public');

const lockDir = join(tmpdir(), `lifeline-build-lock-${Buffer.from(repoRoot).toString('hex').slice(-24)}`);

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Builds core, store, node, cli and viewer with `tsc -b` (a no-op when nothing changed). */
export function buildWorkspace(): void {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      // A lock older than the longest build is left over from a killed run.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > 5 * 60_000) rmdirSync(lockDir);
      } catch {
        // Released meanwhile: try again.
      }
      if (Date.now() > deadline) throw new Error(`could not take the build lock ${lockDir}`);
      sleep(250);
    }
  }
  try {
    execFileSync(
      process.execPath,
      [
        join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-b',
        'packages/core',
        'packages/store',
        'packages/node',
        'packages/cli',
        'viewer',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`tsc -b failed:\n${output}`);
  } finally {
    rmdirSync(lockDir);
  }
}

/** What one run of the CLI did. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCli}. */
export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
}

/** Runs `lifeline <args>` to completion. */
export function runCli(args: readonly string[], options: RunOptions = {}): CliResult {
  const result = spawnSync(process.execPath, [cliBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, LIFELINE_DEBUG: '', ...options.env },
    encoding: 'utf8',
    timeout: 120_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `lifeline <args>` without waiting for it: for `serve`. */
export function startCli(args: readonly string[], options: RunOptions = {}) {
  return spawn(process.execPath, [cliBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A fresh temporary directory for one test's databases and files. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lifeline-cli-${prefix}-`));
}
