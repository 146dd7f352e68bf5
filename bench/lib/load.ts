import { fileURLToPath } from 'node:url';
import { runJson } from './processes.ts';

/** What the load process is asked to do. */
export interface LoadOptions {
  /** Target on loopback; a `{n}` in the path is replaced by ids cycling 1..1000. */
  url: string;
  connections: number;
  durationS: number;
  /** Unmeasured load before the measured run, to warm the JIT and connection pools. */
  warmupS?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A file whose bytes are sent as every request's body. */
  bodyFile?: string;
  /** Offsets of 16-byte trace ids in the body, rewritten per request (see `OtlpBody`). */
  traceIdOffsets?: number[];
}

/** What one load run measured (2xx responses only). */
export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  elapsedS: number;
}

const worker = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

/**
 * Runs autocannon in its own process against a server on loopback. Fails when
 * any request errors or answers non-2xx: a figure measured on failing requests
 * would be meaningless.
 *
 * @example
 * const { rps, p99Ms } = await runLoad({ url: 'http://127.0.0.1:3000/hello', connections: 10, durationS: 5 });
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new Error(`load is only ever sent to loopback, not ${url.hostname}`);
  }
  const result = await runJson<LoadResult>({
    script: worker,
    args: [JSON.stringify(options)],
    timeoutMs: ((options.warmupS ?? 0) + options.durationS) * 1000 + 60_000,
  });
  if (result.errors > 0 || result.non2xx > 0 || result.requests === 0) {
    throw new Error(
      `load on ${options.url} failed: ${result.requests} ok, ${result.non2xx} non-2xx, ${result.errors} errors`,
    );
  }
  return result;
}
