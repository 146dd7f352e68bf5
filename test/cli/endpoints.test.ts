/**
 * Endpoints and living docs on real recorded traffic: the recommendations
 * example (Redis cache-aside in front of its database) recorded cold and
 * warm, and with a request it rejects.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, repoRoot, runCli, tempDir } from './cli-runner.js';

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(700, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const redis = await answers(6379);
if (!redis) {
  if (process.env.CI) throw new Error('CI needs Redis on 127.0.0.1:6379 for the cache-aside endpoint test');
  console.warn('Skipping the endpoint tests on recorded traffic: Redis is not answering on 127.0.0.1:6379.');
}

const ROUTE = 'GET /recommendations/:articleId';

/**
 * Starts the recommendations example recorded into `db` (the demo's way),
 * sends `paths` one after another and stops it, so every span is written.
 */
async function record(db: string, paths: readonly string[]): Promise<void> {
  const work = tempDir('rec-data');
  const child = spawn(process.execPath, ['--import', '@lifeline/node/register', 'src/server.ts'], {
    cwd: join(repoRoot, 'examples', 'recommendations'),
    env: {
      ...process.env,
      OTEL_SERVICE_NAME: 'recommendations',
      LIFELINE_DB: db,
      PORT: '0',
      EXAMPLE_RECOMMENDATIONS_SQLITE_PATH: join(work, 'recommendations.db'),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.on('message', (message: { ready?: boolean; url?: string }) => {
      if (message.ready && message.url) resolve(message.url);
    });
    void exited.then((code) => reject(new Error(`recommendations exited (${code}) before listening:\n${output}`)));
  });
  for (const path of paths) {
    const response = await fetch(url + path);
    await response.arrayBuffer();
  }
  child.send({ shutdown: true });
  expect(await exited, output).toBe(0);
}

function mermaidBlock(markdown: string): string {
  const block = /```mermaid\n([\s\S]*?)\n```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error(`no mermaid block in:\n${markdown}`);
  return block;
}

/** The branch lines (`alt …`, `else …`, `opt …`) of a merged diagram, entities decoded. */
function branches(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => /^\s*(alt|else|opt)\b/.test(line))
    .map((line) => line.trim().replace(/#37;/g, '%'));
}

function flow(db: string, ...args: string[]): string {
  const result = runCli(['endpoints', ROUTE, '--db', db, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

describe.skipIf(!redis)('endpoints on recorded traffic of the recommendations example', () => {
  const dir = tempDir('endpoints');
  const coldWarm = join(dir, 'cold-warm.db');
  const sometimesRejected = join(dir, 'rejected.db');
  const rejectedOnly = join(dir, 'rejected-only.db');

  beforeAll(async () => {
    buildWorkspace();
    // Two articles, each first cold (a miss: database and cache write) then warm (hits): 2 misses, 3 hits.
    await record(coldWarm, [
      '/recommendations/1',
      '/recommendations/1',
      '/recommendations/1',
      '/recommendations/2',
      '/recommendations/2',
    ]);
    await record(sometimesRejected, [
      '/recommendations/3',
      '/recommendations/3',
      '/recommendations/0',
      '/recommendations/3',
    ]);
    await record(rejectedOnly, ['/recommendations/0', '/recommendations/-1', '/recommendations/x']);
  }, 240_000);

  it('lists the endpoint with its requests, percentiles and calls per request', () => {
    const result = runCli(['endpoints', '--db', coldWarm, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const [endpoint, ...others] = JSON.parse(result.stdout) as Record<string, unknown>[];
    expect(others).toEqual([]);
    expect(endpoint).toMatchObject({
      service: 'recommendations',
      name: ROUTE,
      kind: 'server',
      requests: 5,
      errorShare: 0,
    });
    // Every request reads the cache; the 2 misses also query the database and write the cache.
    expect(endpoint?.callsPerRequest).toEqual({ db: 0.4, cache: 1.4, http: 0, queue: 0 });
    const p = endpoint as { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number };
    expect(p.p50Ms).toBeLessThanOrEqual(p.p95Ms);
    expect(p.p95Ms).toBeLessThanOrEqual(p.maxMs);
    const table = runCli(['endpoints', '--db', coldWarm]);
    expect(table.stdout).toMatch(/^SERVICE\s+ENDPOINT\s+REQUESTS\s+P50\s+P95/);
    expect(table.stdout).toContain(`recommendations  ${ROUTE}`);
  }, 120_000);

  it('merges the cache-aside flow recorded cold and warm into one diagram with an alt of hit and miss', async () => {
    const text = flow(coldWarm);
    await parseMermaid(text);
    expect(branches(text)).toEqual(['alt cache hit · 60 %', 'else cache miss · 40 %']);
    expect(text.match(/^\s*end$/gm)).toHaveLength(1);
    // What both share is drawn once: the request, the cache read and the reply, outside the alt.
    const lines = text.split('\n');
    const alt = lines.findIndex((line) => line.startsWith('alt '));
    expect(lines.slice(0, alt).some((line) => /->>p\d+: GET lifeline-example:recommendations/.test(line))).toBe(true);
    expect(lines.filter((line) => /: GET lifeline-example/.test(line))).toHaveLength(1);
    expect(lines.filter((line) => /: SELECT recommendations/.test(line))).toHaveLength(1);
    expect(lines.at(-2)).toMatch(/^p2-->>p1: 200$/);
    // With timings, each reply carries the median of its call's durations.
    const timed = flow(coldWarm, '--timings');
    await parseMermaid(timed);
    expect(timed).toMatch(/-->>p2: ok · [\d.]+ (µs|ms)/);
    expect(branches(timed)).toEqual(branches(text));
  }, 120_000);

  it('draws an endpoint with one shape without alt or opt', async () => {
    const text = flow(rejectedOnly);
    await parseMermaid(text);
    expect(branches(text)).toEqual([]);
    expect(text).toContain('p2-->>p1: 400');
  }, 120_000);

  it('gives the path of a request that is sometimes rejected as a variant of its own', async () => {
    const text = flow(sometimesRejected);
    await parseMermaid(text);
    // Variants with as many requests are ordered by their diagram text: the same order on every run.
    expect(branches(text)).toEqual(['alt cache hit · 50 %', 'else replies 400 · 25 %', 'else cache miss · 25 %']);
    const json = JSON.parse(flow(sometimesRejected, '--json')) as {
      flow: { shapes: { label: string; requests: number }[] };
    };
    expect(json.flow.shapes.map((s) => [s.label, s.requests])).toEqual([
      ['cache hit', 2],
      ['replies 400', 1],
      ['cache miss', 1],
    ]);
  }, 120_000);

  it('writes byte-stable docs, passes the check on the same recording and names the endpoint when a call is added', async () => {
    const first = join(dir, 'flows-1');
    const second = join(dir, 'flows-2');
    for (const out of [first, second]) {
      const result = runCli(['docs', '--db', coldWarm, '--out', out]);
      expect(result.code, result.stderr).toBe(0);
    }
    const files = readdirSync(first).sort();
    expect(files).toEqual(['README.md', 'recommendations-get-recommendations-articleid.md']);
    for (const file of files) expect(readFileSync(join(second, file))).toEqual(readFileSync(join(first, file)));
    const page = readFileSync(join(first, files[1] as string), 'utf8');
    expect(page.split('\n')[2]).toBe(
      `\`${ROUTE}\` on \`recommendations\` · 5 recorded requests · 2 variants: cache hit 60 %, cache miss 40 %`,
    );
    await parseMermaid(mermaidBlock(page));

    const pass = runCli(['docs', '--check', '--db', coldWarm, '--out', first]);
    expect(pass.code, pass.stderr).toBe(0);

    // The same endpoint recorded again after a change that makes every request write a second cache key.
    const trace = JSON.parse(flow(coldWarm, '--json')) as { flow: { shapes: { exampleTraceIds: string[] }[] } };
    const exported = runCli([
      'export',
      trace.flow.shapes[0]?.exampleTraceIds[0] as string,
      '--db',
      coldWarm,
      '--format',
      'json',
    ]);
    const { trace: recorded } = JSON.parse(exported.stdout) as {
      trace: { traceId: string; spans: { spanId: string; kind: string; startTimeNs: string; endTimeNs: string }[] };
    };
    const root = recorded.spans.find((s) => s.kind === 'server');
    const extra = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'recommendations' } }] },
          scopeSpans: [
            {
              scope: { name: 'test' },
              spans: [
                {
                  traceId: recorded.traceId,
                  spanId: 'ab00000000000001',
                  parentSpanId: root?.spanId,
                  name: 'set',
                  kind: 3,
                  startTimeUnixNano: String(BigInt(root?.endTimeNs as string) - 200_000n),
                  endTimeUnixNano: String(BigInt(root?.endTimeNs as string) - 100_000n),
                  attributes: [
                    { key: 'db.system', value: { stringValue: 'redis' } },
                    { key: 'db.statement', value: { stringValue: 'set recommendations:seen 1' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const extraFile = join(dir, 'extra.json');
    writeFileSync(extraFile, JSON.stringify(extra));
    const imported = runCli(['import', extraFile, '--db', coldWarm]);
    expect(imported.code, imported.stderr).toBe(0);
    const fail = runCli(['docs', '--check', '--db', coldWarm, '--out', first]);
    expect(fail.code).toBe(1);
    expect(fail.stderr).toContain(`drifted: ${ROUTE} (recommendations): its recorded flow differs`);
  }, 300_000);
});
