/**
 * Starting instrumented apps as child processes (instrumentation has to load
 * before the libraries it patches, so each app gets a fresh process) and
 * reading back what they recorded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Span, Trace } from '@lifeline/core';
import { openStore } from '@lifeline/store';

/** The integration package's folder: apps resolve their libraries from here. */
export const suiteDir = fileURLToPath(new URL('..', import.meta.url));
const sourceHooks = createRequire(import.meta.url).resolve('@lifeline/test-support/register-source-hooks');

/** A short id that keeps this run's queues, keys and files apart from any other run's. */
export function runId(): string {
  return randomBytes(4).toString('hex');
}

/** A fresh temporary directory with a database path inside; `remove()` deletes both. */
export function tempDb(): { dir: string; path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-it-'));
  return { dir, path: join(dir, 'traces.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How to start an app. */
export interface StartAppOptions {
  /** File under apps/, e.g. `shop.ts`. */
  readonly app: string;
  /** Database the app records into (`LIFELINE_DB`). */
  readonly db: string;
  readonly serviceName: string;
  /** Preload `@lifeline/node/register` (default true); false for apps that call startLifeline themselves. */
  readonly register?: boolean;
  readonly env?: Record<string, string>;
}

/** A running app. */
export interface RunningApp {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the app wrote to stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves with the exit code and signal once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `apps/<app>` with Node, preloading the TypeScript source hooks and
 * (unless `register: false`) `@lifeline/node/register`, exactly as a user
 * would with `node --import @lifeline/node/register app.js`. Resolves once the
 * app prints `listening on <port>`.
 *
 * @example
 * ```ts
 * const app = await startApp({ app: 'shop.ts', db, serviceName: 'shop' });
 * await fetch(`${app.url}/articles/7`);
 * await app.stop();
 * ```
 */
export function startApp(options: StartAppOptions): Promise<RunningApp> {
  // Node strips the types of the preload itself; the workspace sources are
  // erasable-only TypeScript, so no transform is needed (Node 26 has none).
  const args = ['--no-warnings=ExperimentalWarning', '--import', sourceHooks];
  if (options.register !== false) args.push('--import', '@lifeline/node/register');
  args.push(join(suiteDir, 'apps', options.app));
  const child = spawn(process.execPath, args, {
    cwd: suiteDir,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      LIFELINE_DB: options.db,
      OTEL_SERVICE_NAME: options.serviceName,
      PORT: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.app} did not start within 45 s:\n${output}`));
    }, 45_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (more: Buffer) => {
          output += more.toString();
        });
        resolve({
          url: `http://127.0.0.1:${match[1]}`,
          child,
          output: () => output,
          exited,
          stop: (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${options.app} exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });
}

/**
 * Polls the database until the trace holds spans that satisfy `ready`
 * (spans arrive in batches, and from several processes). Reads with
 * `linked: true`, so a queue consumer recorded in a linked trace is included.
 *
 * @example
 * ```ts
 * const trace = await waitForTrace(db, traceId, (spans) => spans.some((s) => s.kind === 'consumer'));
 * ```
 */
export async function waitForTrace(
  dbPath: string,
  traceId: string,
  ready: (spans: readonly Span[]) => boolean,
  timeoutMs = 15_000,
): Promise<Trace> {
  const deadline = Date.now() + timeoutMs;
  let last: Trace | undefined;
  for (;;) {
    try {
      const store = openStore({ path: dbPath, readonly: true, migrate: false });
      try {
        last = store.getTrace(traceId, { linked: true });
      } finally {
        store.close();
      }
    } catch {
      // The app has not created the file yet.
    }
    if (last !== undefined && ready(last.spans)) return last;
    if (Date.now() > deadline) {
      const names = last?.spans.map((s) => `${s.serviceName}:${s.kind}:${s.name}`).join(', ') ?? 'no trace';
      throw new Error(`trace ${traceId} not complete within ${timeoutMs} ms; recorded: ${names}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The trace id an instrumented app reported for a response (its `X-Lifeline-Trace` header). */
export function traceIdOf(response: Response): string {
  const id = response.headers.get('x-lifeline-trace');
  if (id === null || !/^[0-9a-f]{32}$/.test(id)) {
    throw new Error(`response has no X-Lifeline-Trace header (status ${response.status})`);
  }
  return id;
}

/** Spans whose name or attributes say they are database calls of `system`. */
export function dbSpans(spans: readonly Span[], system: string): Span[] {
  return spans.filter((s) => (s.attributes['db.system.name'] ?? s.attributes['db.system']) === system);
}

/** Spans in start order: the order the diagram reads. */
export function byStart(spans: readonly Span[]): Span[] {
  return [...spans].sort((a, b) => Number(a.startTimeNs - b.startTimeNs));
}
