/**
 * Lifeline's demo: records two example services, a worker and a queue into a
 * fresh database, sends one request to every example endpoint, and serves the
 * viewer so each request can be looked at as a sequence diagram.
 *
 *   npm run demo                  # serve until Ctrl-C
 *   npm run demo -- --port 4343   # another viewer port
 *   npm run demo -- --once        # write demo-output/<endpoint>.md and exit
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sendTraffic, type TrafficResult } from '@lifeline-example/blog-api/traffic';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
// The CLI's entry sits beside its built index (dist/), which is what the package resolves to.
const cliBin = join(dirname(require.resolve('lifeline')), 'bin.js');

const { values: args } = parseArgs({
  options: {
    once: { type: 'boolean', default: false },
    port: { type: 'string', default: '4242' },
    out: { type: 'string', default: join(root, 'demo-output') },
    db: { type: 'string', default: join(root, '.lifeline', 'demo.db') },
  },
});
const viewerPort = Number(args.port);
if (!Number.isInteger(viewerPort) || viewerPort < 0 || viewerPort > 65535) {
  console.error(`demo: --port ${args.port} is not a port number (0-65535)`);
  process.exit(1);
}
const dbPath = resolve(args.db);
const dataDir = join(dirname(dbPath), 'demo-data');
const children: { name: string; child: ChildProcess }[] = [];

function log(line: string): void {
  console.log(`[demo] ${line}`);
}

/** A fresh start: the previous run's traces and example data would mix with this run's. */
function resetFiles(): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
}

interface Ready {
  readonly url?: string;
}

/** Starts one process, prefixing its output, and resolves when it says it is ready (over IPC). */
function start(
  name: string,
  command: string,
  commandArgs: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<Ready> {
  const child = spawn(process.execPath, [...commandArgs, command].filter(Boolean), {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.push({ name, child });
  const prefix = (stream: NodeJS.ReadableStream, write: (line: string) => void) => {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) write(line.startsWith('[') ? line : `[${name}] ${line}`);
    });
  };
  if (child.stdout) prefix(child.stdout, (line) => console.log(line));
  if (child.stderr) prefix(child.stderr, (line) => console.error(line));
  return new Promise((resolvePromise, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${name} exited (code ${code}) before it was ready`));
    child.once('exit', onExit);
    child.on('message', (message: { ready?: boolean; url?: string }) => {
      if (message.ready) {
        child.off('exit', onExit);
        resolvePromise(message.url ? { url: message.url } : {});
      }
    });
  });
}

/** Runs the built CLI and resolves with its output, rejecting with its one-line error. */
function cli(cliArgs: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliBin, ...cliArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on('exit', (code) =>
      code === 0 ? resolvePromise(out) : reject(new Error(err.trim() || `lifeline exited ${code}`)),
    );
  });
}

/** Starts `lifeline serve`; resolves with the viewer's URL from its first line. */
function startViewer(): Promise<string> {
  const child = spawn(process.execPath, [cliBin, 'serve', '--port', String(viewerPort), '--db', dbPath], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push({ name: 'viewer', child });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const match = /Lifeline viewer on (\S+)/.exec(out);
      if (match?.[1]) resolvePromise(match[1].replace(/\/+$/, ''));
    });
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
    });
    child.once('exit', (code) => {
      const reason = err.trim().split('\n')[0] ?? '';
      reject(
        new Error(
          /already in use/.test(reason)
            ? `the viewer's port ${viewerPort} is taken: stop what uses it, or run \`npm run demo -- --port ${viewerPort + 1}\``
            : `the viewer stopped (code ${code}): ${reason}`,
        ),
      );
    });
  });
}

/** Asks every child to stop (the recorder flushes on the way out) and waits for them, last started first. */
async function stopAll(): Promise<void> {
  for (const { name, child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      log(`${name} did not stop within 10 s; killing it`);
      child.kill('SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Waits for the worker to report the job it processed, so its consumer span exists before anything stops. */
function waitForJob(worker: ChildProcess, timeoutMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(false), timeoutMs);
    worker.on('message', (message: { processed?: unknown }) => {
      if (message.processed) {
        clearTimeout(timer);
        resolvePromise(true);
      }
    });
  });
}

async function main(): Promise<void> {
  resetFiles();
  log(`recording into ${relative(root, dbPath)}`);
  const viewerUrl = await startViewer();
  const recorderEnv = (service: string): NodeJS.ProcessEnv => ({
    OTEL_SERVICE_NAME: service,
    LIFELINE_DB: dbPath,
    LIFELINE_VIEWER_URL: viewerUrl,
    EXAMPLE_SQLITE_PATH: join(dataDir, 'blog.db'),
    EXAMPLE_JOBS_PATH: join(dataDir, 'blog-jobs.db'),
    EXAMPLE_RECOMMENDATIONS_SQLITE_PATH: join(dataDir, 'recommendations.db'),
    PORT: '0',
  });
  const register = ['--import', '@lifeline/node/register'];
  const recommendations = await start('recommendations', 'src/server.ts', register, {
    cwd: join(root, 'examples', 'recommendations'),
    env: recorderEnv('recommendations'),
  });
  const blog = await start('blog-api', 'src/server.ts', register, {
    cwd: join(root, 'examples', 'blog-api'),
    env: { ...recorderEnv('blog-api'), RECOMMENDATIONS_URL: recommendations.url ?? '' },
  });
  await start('blog-worker', 'src/worker.ts', register, {
    cwd: join(root, 'examples', 'blog-api'),
    env: recorderEnv('blog-worker'),
  });
  const worker = children.find((entry) => entry.name === 'blog-worker')?.child;
  const jobDone = worker ? waitForJob(worker, 15_000) : Promise.resolve(false);

  log(`sending traffic to ${blog.url}`);
  const results = await sendTraffic(blog.url ?? '');
  for (const result of results) {
    if (result.status !== result.request.expectedStatus) {
      log(
        `warning: ${result.request.method} ${result.request.path} answered ${result.status}, expected ${result.request.expectedStatus}`,
      );
    }
  }
  if (!(await jobDone)) log('warning: the worker did not report the notification job within 15 s');

  if (args.once) {
    // Stopping the services flushes their last spans; then every trace is complete.
    await stopAll();
    await writeExports(results);
    return;
  }
  printGuide(viewerUrl, results);
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  log('stopping…');
  await stopAll();
  log(`stopped; the traces stay in ${relative(root, dbPath)}`);
}

function printGuide(viewerUrl: string, results: readonly TrafficResult[]): void {
  console.log(`\nLifeline is showing the demo at ${viewerUrl}\n`);
  for (const { request, traceId, status } of results) {
    const url = traceId ? `${viewerUrl}/traces/${traceId}` : `${viewerUrl} (trace id missing)`;
    console.log(`  ${request.method} ${request.path} → ${status}\n    ${url}\n    ${request.shows}\n`);
  }
  console.log(`The same from a terminal: npm run lifeline -- list --db ${relative(root, dbPath)}`);
  console.log('Press Ctrl-C to stop.\n');
}

async function writeExports(results: readonly TrafficResult[]): Promise<void> {
  const outDir = resolve(args.out);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const { request, traceId } of results) {
    if (!traceId)
      throw new Error(`${request.method} ${request.path} carried no X-Lifeline-Trace header: was it recorded?`);
    const file = join(outDir, `${request.name}.md`);
    await cli(['export', traceId, '--db', dbPath, '--format', 'md', '--out', file]);
    log(`${relative(root, file)}: ${request.shows}`);
  }
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`[demo] ${(error as Error).message}`);
  await stopAll();
}
process.exitCode = failed ? 1 : 0;
