/**
 * Child processes of the benchmark: servers that announce themselves with a
 * JSON line on stdout, and one-shot measurements that print a JSON result.
 * Every server and the load generator run in their own process so that the
 * thing measured never shares an event loop with what measures it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Options of {@link startServer} and {@link runJson}. */
export interface NodeProcessOptions {
  /** Path of the script to run with the current Node. */
  script: string;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** Extra Node flags, e.g. `--cpu-prof`. */
  execArgv?: string[];
  /** Give up after this long (ms). */
  timeoutMs?: number;
  cwd?: string;
}

/** A running server process and the JSON line it announced itself with. */
export interface RunningServer<M> {
  child: ChildProcess;
  pid: number;
  ready: M;
  /** Resident set size of the process now, in MB (Linux /proc). */
  rssMb(): number;
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
}

function spawnNode(options: NodeProcessOptions): ChildProcess {
  return spawn(process.execPath, [...(options.execArgv ?? []), options.script, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Resident set size of a process in MB, read from /proc. */
export function processRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms,
 * from /proc/<pid>/stat (clock ticks of 10 ms on Linux).
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may contain spaces; fields start after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) * 10;
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Starts a server script and resolves once it prints its first JSON line
 * (typically `{"port": 41234}`).
 */
export async function startServer<M>(options: NodeProcessOptions): Promise<RunningServer<M>> {
  const child = spawnNode(options);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.script}`);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = await new Promise<M>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.script} did not announce itself within ${options.timeoutMs ?? 60_000} ms`));
    }, options.timeoutMs ?? 60_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.script} exited with ${code} before it was ready`));
    };
    child.once('exit', onExit);
    lines.on('line', (line) => {
      if (!line.startsWith('{')) {
        process.stderr.write(`[${options.script}] ${line}\n`);
        return;
      }
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve(JSON.parse(line) as M);
    });
  });
  return {
    child,
    pid,
    ready,
    rssMb: () => processRssMb(pid),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = waitForExit(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      lines.close();
    },
  };
}

/**
 * Runs a script to completion and parses the last line of its stdout that is
 * a JSON value. Fails when the script exits non-zero or prints no JSON.
 */
export async function runJson<T>(options: NodeProcessOptions): Promise<T> {
  const child = spawnNode(options);
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    out += chunk;
  });
  const timeoutMs = options.timeoutMs ?? 600_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await waitForExit(child);
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `${options.script} exited with ${code ?? child.signalCode}${out ? `; stdout: ${out.slice(-500)}` : ''}`,
    );
  }
  return parseLastJson<T>(out, options.script);
}

/**
 * The last JSON document in a program's output: either the whole output, or
 * the last line that parses as JSON (so progress lines before it are allowed).
 */
export function parseLastJson<T>(output: string, source = 'output'): T {
  const trimmed = output.trim();
  try {
    return JSON.parse(trimmed) as T;
  } catch {
    // Not one document: fall through to line by line.
  }
  const lines = trimmed.split('\n').reverse();
  for (const line of lines) {
    const candidate = line.trim();
    if (!candidate.startsWith('{') && !candidate.startsWith('[')) continue;
    try {
      return JSON.parse(candidate) as T;
    } catch {
      // A line that merely starts like JSON; keep looking.
    }
  }
  throw new Error(`${source} printed no JSON result`);
}

/** Samples a process's RSS at an interval and keeps the peak. */
export class RssSampler {
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;
  readonly #pid: number;

  /** Starts sampling `pid` every `intervalMs`. */
  constructor(pid: number, intervalMs = 200) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    try {
      this.#peak = Math.max(this.#peak, processRssMb(this.#pid));
    } catch {
      // The process has exited; keep the peak seen so far.
    }
  }

  /** Stops sampling and returns the peak RSS in MB. */
  stop(): number {
    this.#sample();
    clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#peak;
  }
}
