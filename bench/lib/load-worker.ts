/**
 * The load generator process: runs autocannon against one URL and prints one
 * JSON line with throughput and latency quantiles. Autocannon's own latency
 * histogram counts whole milliseconds, too coarse for a 1 ms overhead budget,
 * so every response time (float ms from hrtime) is kept and the quantiles are
 * computed here.
 *
 * Usage: node bench/lib/load-worker.ts '<LoadOptions as JSON>'
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './load.ts';
import { quantile } from './stats.ts';

async function run(options: LoadOptions, record: boolean): Promise<LoadResult> {
  const body = options.bodyFile ? readFileSync(options.bodyFile) : undefined;
  const times: number[] = [];
  // A `{n}` in the path cycles through ids 1..1000, so a route reading one row
  // by id does not serve the same cached row every time.
  const target = new URL(options.url);
  const template = decodeURIComponent(target.pathname + target.search);
  let next = 0;
  // Each request gets its own trace ids (a counter and a per-run salt written
  // over the first 8 bytes of every trace id), so a store receiving the same
  // body again stores new spans rather than skipping known ones.
  const salt = Math.floor(Math.random() * 0x100000000);
  const freshBody = (): Buffer | undefined => {
    if (!body || !options.traceIdOffsets) return body;
    const copy = Buffer.from(body);
    const n = next;
    for (const offset of options.traceIdOffsets) {
      copy.writeUInt32BE(n >>> 0, offset);
      copy.writeUInt32BE(salt, offset + 4);
    }
    return copy;
  };
  const perRequest = template.includes('{n}') || options.traceIdOffsets !== undefined;
  const requests = perRequest
    ? [
        {
          setupRequest: (req: autocannon.Request) => {
            const fresh = freshBody();
            const path = template.replace('{n}', String(1 + (next % 1000)));
            next++;
            return { ...req, path, ...(fresh ? { body: fresh } : {}) };
          },
        },
      ]
    : undefined;
  const started = performance.now();
  let non2xx = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: options.method ?? 'GET',
        connections: options.connections,
        duration: record ? options.durationS : (options.warmupS ?? 0),
        ...(body ? { body } : {}),
        headers: options.headers ?? {},
        ...(requests ? { requests } : {}),
        timeout: 10,
      },
      (error: unknown, done: autocannon.Result) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) times.push(responseTime);
      else non2xx++;
    });
  });
  const elapsedS = (performance.now() - started) / 1000;
  return {
    requests: times.length,
    rps: times.length / Math.min(elapsedS, result.duration || elapsedS),
    p50Ms: times.length > 0 ? quantile(times, 0.5) : Number.NaN,
    p99Ms: times.length > 0 ? quantile(times, 0.99) : Number.NaN,
    errors: result.errors + result.timeouts,
    non2xx,
    elapsedS,
  };
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
if (options.warmupS) await run(options, false);
const result = await run(options, true);
process.stdout.write(`${JSON.stringify(result)}\n`);
