/**
 * Figure 6: the store's list and trace queries on a large store, against
 * plain SQL on the same file; and the viewer half of figure 8, the viewer's
 * memory while it serves that store.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Span } from '@lifeline/core';
import { generateTraces } from '@lifeline/test-support/generate';
import Database from 'better-sqlite3';
import { runInterleaved } from '../lib/interleave.ts';
import { startServer } from '../lib/processes.ts';
import type { FigureReport, Measurement } from '../lib/report.ts';
import { median } from '../lib/stats.ts';

type Store = typeof import('@lifeline/store');

/** A generated store on disk and what is known about its content. */
export interface BenchStore {
  path: string;
  spans: number;
  traces: number;
  /** Ids of the traces with 1,000 spans. */
  largeTraceIds: string[];
  /** Ids of a few ordinary traces. */
  smallTraceIds: string[];
  /** Seconds it took to write (0 when the cached file was reused). */
  buildS: number;
  reused: boolean;
}

// Bump when the generator changes, so an old cached store is not reused.
const generatorVersion = 1;

/**
 * A short hash of the built store and core code: what they write into the
 * summary table (and how) can change without a schema change, and a store
 * written by older code would then measure queries on stale rows.
 */
export function storeCodeVersion(): string {
  const require = createRequire(import.meta.url);
  const hash = createHash('sha256');
  for (const pkg of ['@lifeline/store', '@lifeline/core']) {
    const dir = dirname(require.resolve(pkg));
    for (const file of readdirSync(dir, { recursive: true }).map(String).sort()) {
      if (file.endsWith('.js')) hash.update(file).update(readFileSync(join(dir, file)));
    }
  }
  return hash.digest('hex').slice(0, 10);
}

/**
 * The store of `spans` generated spans under `workDir`, written through the
 * store's own writeSpans. Built once per store code, schema and generator
 * version and reused afterwards (the folder is git-ignored), because writing
 * a million spans takes longer than every query measured on it.
 */
export function ensureBenchStore(store: Store, options: { spans: number; workDir: string }): BenchStore {
  const name = `store-s${store.latestSchemaVersion}-g${generatorVersion}-${storeCodeVersion()}-${options.spans}`;
  const path = join(options.workDir, `${name}.db`);
  const metaPath = join(options.workDir, `${name}.json`);
  if (existsSync(path) && existsSync(metaPath)) {
    return { ...(JSON.parse(readFileSync(metaPath, 'utf8')) as BenchStore), path, reused: true };
  }
  // Stores of this size written by other code are half a gigabyte each at full size: keep one.
  const sameSize = new RegExp(`^store-.*-${options.spans}\\.(db|db-wal|db-shm|json)$`);
  for (const old of readdirSync(options.workDir)) {
    if (sameSize.test(old)) rmSync(join(options.workDir, old), { force: true });
  }
  const t0 = performance.now();
  const opened = store.openStore({ path });
  const largeTraceIds: string[] = [];
  const smallTraceIds: string[] = [];
  let spans = 0;
  let traces = 0;
  let batch: Span[] = [];
  try {
    for (const trace of generateTraces({
      seed: 6,
      totalSpans: options.spans,
      endTimeNs: Date.UTC(2026, 0, 8) * 1e6,
      windowDays: 7,
      largeEvery: 2000,
      largeTraceSpans: 1000,
    })) {
      const id = trace[0]?.traceId as string;
      if (trace.length >= 1000) largeTraceIds.push(id);
      else if (traces % 997 === 0 && smallTraceIds.length < 50) smallTraceIds.push(id);
      spans += trace.length;
      traces++;
      batch.push(...trace);
      // Batches of whole traces, about as large as the exporter writes.
      if (batch.length >= 2048) {
        opened.writeSpans(batch);
        batch = [];
      }
    }
    if (batch.length > 0) opened.writeSpans(batch);
  } finally {
    opened.close();
  }
  const built: BenchStore = {
    path,
    spans,
    traces,
    largeTraceIds,
    smallTraceIds,
    buildS: (performance.now() - t0) / 1000,
    reused: false,
  };
  writeFileSync(metaPath, JSON.stringify(built));
  return built;
}

/** Options of {@link storeQueriesFigure}. */
export interface StoreQueriesOptions {
  store: Store;
  bench: BenchStore;
  /** Samples per query (interleaved). */
  rounds: number;
}

const ms = (start: number) => performance.now() - start;

/** Times the list and trace queries, interleaved with their raw-SQL baselines. */
export async function storeQueriesFigure(options: StoreQueriesOptions): Promise<FigureReport> {
  const { bench } = options;
  if (bench.largeTraceIds.length === 0) throw new Error('the generated store has no 1,000-span trace');
  const opened = options.store.openStore({ path: bench.path });
  const raw = new Database(bench.path, { readonly: true });
  try {
    const rawList = raw.prepare('SELECT * FROM traces ORDER BY duration_ns DESC LIMIT 50');
    const rawSpans = raw.prepare('SELECT * FROM spans WHERE trace_id = ?');
    let large = 0;
    const nextLarge = () => bench.largeTraceIds[large++ % bench.largeTraceIds.length] as string;
    const queries = {
      listFiltered: () =>
        opened.listTraces({ route: '/articles/:id', minMs: 10 }, { order: 'slowest', limit: 50 }).items.length,
      listNewest: () => opened.listTraces({}, { order: 'newest', limit: 50 }).items.length,
      endpoints: () => opened.listEndpoints().length,
      rawList: () => rawList.all().length,
      trace: () => opened.getTrace(nextLarge())?.spans.length ?? 0,
      rawTrace: () => rawSpans.all(nextLarge()).length,
    };
    type Query = keyof typeof queries;
    // One unmeasured pass warms SQLite's page cache and the statement caches.
    for (const run of Object.values(queries)) run();
    const counts = new Map<Query, number>();
    const samples = await runInterleaved({
      configs: Object.keys(queries) as Query[],
      rounds: options.rounds,
      measure: async (query) => {
        const t0 = performance.now();
        const n = queries[query]();
        const elapsed = ms(t0);
        counts.set(query, n);
        return elapsed;
      },
    });
    if ((counts.get('trace') ?? 0) < 1000) throw new Error(`a large trace came back with ${counts.get('trace')} spans`);
    if ((counts.get('listFiltered') ?? 0) === 0) throw new Error('the filtered list came back empty');
    if ((counts.get('endpoints') ?? 0) === 0) throw new Error('the endpoint list came back empty');
    // Free-text search scans span names, so it is far slower; a few samples suffice.
    const search: number[] = [];
    for (let i = 0; i < Math.min(5, options.rounds); i++) {
      const t0 = performance.now();
      opened.listTraces({ q: 'invoices' }, { order: 'newest', limit: 50 });
      search.push(ms(t0));
    }
    const stats = opened.stats();
    const rawListBaseline = { name: 'plain SELECT … LIMIT 50 on traces', value: median(samples.rawList), unit: 'ms' };
    const rows: Measurement[] = [
      {
        key: 'store.listFiltered.p50',
        name: 'list page: route + min duration filter, slowest first (p50)',
        value: median(samples.listFiltered),
        unit: 'ms',
        baseline: rawListBaseline,
        goal: { on: 'value', op: '<', target: 20, text: '< 20 ms' },
      },
      {
        key: 'store.listNewest.p50',
        name: 'list page: no filter, newest first (p50)',
        value: median(samples.listNewest),
        unit: 'ms',
        baseline: rawListBaseline,
      },
      {
        key: 'store.listSearch.p50',
        name: 'list page: free-text search of span names (p50)',
        value: median(search),
        unit: 'ms',
        baseline: rawListBaseline,
      },
      {
        key: 'store.endpoints.p50',
        name: `endpoint list: every endpoint with percentiles, shares and calls per request (${counts.get('endpoints')} endpoints, p50)`,
        value: median(samples.endpoints),
        unit: 'ms',
        baseline: rawListBaseline,
        goal: { on: 'value', op: '<', target: 50, text: '< 50 ms' },
      },
      {
        key: 'store.trace1000.p50',
        name: 'open a 1,000-span trace (p50)',
        value: median(samples.trace),
        unit: 'ms',
        baseline: { name: 'plain SELECT of its span rows', value: median(samples.rawTrace), unit: 'ms' },
        goal: { on: 'value', op: '<', target: 20, text: '< 20 ms' },
      },
      {
        key: 'store.sizePerMillionSpans',
        name: 'database size per million spans',
        value: ((stats.sizeBytes / stats.spans) * 1e6) / 2 ** 20,
        unit: 'MB',
      },
    ];
    return {
      id: 6,
      title: 'Store queries',
      method:
        `A store of ${stats.spans.toLocaleString('en-US')} spans in ${stats.traces.toLocaleString('en-US')} traces ` +
        '(generated: an HTTP service with PostgreSQL, Redis, queue and downstream-service calls, some overlapping, ' +
        'some N+1, 3 % errors, spread over 7 days, one trace in 2,000 with 1,000 spans), written with the ' +
        `store's \`writeSpans\`${bench.reused ? ' (cached under .lifeline/bench/)' : ` in ${bench.buildS.toFixed(0)} s`}. ` +
        `Each query runs ${options.rounds} times, interleaved with the others, after one unmeasured pass; p50 of the ` +
        'samples. Baselines are plain SQL on the same file with better-sqlite3.',
      rows,
      notes: [],
    };
  } finally {
    raw.close();
    opened.close();
  }
}

/** Options of {@link viewerMemory}. */
export interface ViewerMemoryOptions {
  bench: BenchStore;
}

const viewerScript = fileURLToPath(new URL('../apps/viewer-server.ts', import.meta.url));

/**
 * The viewer's resident memory over the big store: right after start (the
 * baseline) and after it served list pages and trace pages through its JSON API.
 */
export async function viewerMemory(options: ViewerMemoryOptions): Promise<Measurement[]> {
  const viewer = await startServer<{ port: number }>({
    script: viewerScript,
    env: { BENCH_DB_PATH: options.bench.path },
  });
  try {
    const base = `http://127.0.0.1:${viewer.ready.port}`;
    const get = async (path: string) => {
      const response = await fetch(base + path);
      if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
      await response.arrayBuffer();
    };
    await get('/api/health');
    const idle = viewer.rssMb();
    const lists = [
      '/api/traces?order=slowest&limit=50',
      '/api/traces?order=newest&limit=50',
      '/api/traces?route=%2Farticles%2F%3Aid&minMs=10&order=slowest',
      '/api/traces?service=web-api&error=true',
      '/api/traces?method=GET&status=200&order=slowest',
    ];
    for (const path of lists) await get(path);
    for (const id of options.bench.largeTraceIds.slice(0, 5)) await get(`/api/traces/${id}`);
    for (const id of options.bench.smallTraceIds.slice(0, 20)) await get(`/api/traces/${id}`);
    const served = viewer.rssMb();
    return [
      {
        key: 'memory.viewer.rssMb',
        name: `viewer RSS serving the ${options.bench.spans.toLocaleString('en-US')}-span store, after 5 list and 25 trace requests`,
        value: served,
        unit: 'MB',
        baseline: { name: 'the same viewer just started', value: idle, unit: 'MB' },
        goal: { on: 'value', op: '<=', target: 200, text: '≤ 200 MB' },
      },
    ];
  } finally {
    await viewer.stop();
  }
}
