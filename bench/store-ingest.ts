/**
 * Ingest benchmark of the Lifeline store: spans/s through the exporter path
 * (ReadableSpan-like objects → encoding → writer thread → the store's inbox),
 * spans/s of the reader settling that inbox (span table and per-trace
 * summaries) against a plain better-sqlite3 insert of the same rows
 * in the same run, and the event-loop delay an export adds to the app (raw,
 * and added: with exports minus without, in interleaved rounds). Runs are
 * interleaved and reported as medians. Prints JSON.
 *
 *   node bench/store-ingest.ts [--spans 200000] [--runs 5] [--loop-rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { registerSourceHooks } from '@lifeline/test-support/source-hooks';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type BetterSqlite3 from 'better-sqlite3';

// Run the store from its sources, like the tests: never a stale dist.
registerSourceHooks();
const store = (await import('../packages/store/src/index.ts')) as typeof import('../packages/store/src/index.ts');
const Database = createRequire(new URL('../packages/store/package.json', import.meta.url))(
  'better-sqlite3',
) as typeof BetterSqlite3;

const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '5' },
    'loop-rounds': { type: 'string', default: '5' },
  },
});
const SPAN_COUNT = Number(values.spans);
const RUNS = Number(values.runs);
const LOOP_ROUNDS = Number(values['loop-rounds']);
const BATCH = 512;
const SPANS_PER_TRACE = 10;

const resource = {
  attributes: {
    'service.name': 'blog-api',
    'service.version': '1.4.2',
    'host.name': 'web-1',
    'process.pid': 4711,
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
    'telemetry.sdk.version': '2.12.1',
  },
} as unknown as ReadableSpan['resource'];

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');

/** Request-shaped spans: per trace one server span and nine database calls. */
function makeSpans(count: number, seed: number): ReadableSpan[] {
  const spans: ReadableSpan[] = [];
  const t0 = Math.floor(Date.now() / 1000);
  for (let i = 0; i < count; i++) {
    const trace = Math.floor(i / SPANS_PER_TRACE);
    const isRoot = i % SPANS_PER_TRACE === 0;
    const traceId = `${hex(seed, 8)}${hex(trace, 24)}`;
    const spanId = `${hex(seed, 4)}${hex(i, 12)}`;
    const rootId = `${hex(seed, 4)}${hex(trace * SPANS_PER_TRACE, 12)}`;
    const startS = t0 + trace;
    const startNs = (i % SPANS_PER_TRACE) * 2_000_000;
    spans.push({
      name: isRoot ? 'GET /articles/:id' : 'SELECT blog',
      kind: isRoot ? 1 : 2,
      spanContext: () => ({ traceId, spanId, traceFlags: 1 }),
      ...(isRoot ? {} : { parentSpanContext: { traceId, spanId: rootId, traceFlags: 1 } }),
      startTime: [startS, startNs],
      endTime: [startS, startNs + (isRoot ? 25_000_000 : 1_500_000)],
      status: { code: 0 },
      attributes: isRoot
        ? {
            'http.request.method': 'GET',
            'http.route': '/articles/:id',
            'url.path': `/articles/${trace}`,
            'http.response.status_code': 200,
            'server.address': 'localhost',
            'server.port': 3000,
          }
        : {
            'db.system.name': 'postgresql',
            'db.namespace': 'blog',
            'db.query.text': 'SELECT * FROM comments WHERE article_id = $1',
            'db.operation.name': 'SELECT',
            'server.address': 'localhost',
            'server.port': 5432,
          },
      links: [],
      events: [],
      duration: [0, 1_500_000],
      ended: true,
      resource,
      instrumentationScope: {
        name: isRoot ? '@opentelemetry/instrumentation-http' : '@opentelemetry/instrumentation-pg',
      },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    } as ReadableSpan);
  }
  return spans;
}

function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const ms = (value: number) => Number(value.toFixed(3));
const percentile = (xs: readonly number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

function tempPath(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-'));
  return { path: join(dir, 'traces.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function exportBatch(exporter: InstanceType<typeof store.SqliteSpanExporter>, spans: ReadableSpan[]): Promise<void> {
  return new Promise((done, fail) =>
    exporter.export(spans, (result) => (result.code === 0 ? done() : fail(result.error))),
  );
}

/**
 * Spans/s through SqliteSpanExporter, the writer thread started and the file
 * created beforehand, until every span is committed and the exporter shut down.
 */
async function exporterRun(seed: number): Promise<{ exporter: number; settle: number }> {
  const { path, cleanup } = tempPath();
  const exporter = new store.SqliteSpanExporter({ path });
  await exportBatch(exporter, makeSpans(SPANS_PER_TRACE, 0xffff));
  const work = batches(makeSpans(SPAN_COUNT, seed), BATCH);
  const start = performance.now();
  // A few batches in flight, as a BatchSpanProcessor under sustained load has.
  const inFlight = new Set<Promise<void>>();
  for (const batch of work) {
    const pending = exportBatch(exporter, batch).finally(() => inFlight.delete(pending));
    inFlight.add(pending);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  // Shutting down folds the WAL back into the file: the checkpoint work a
  // run leaves behind is paid inside the measured time, as the raw run's close.
  await exporter.shutdown();
  const seconds = (performance.now() - start) / 1000;
  // The exporter appended the spans to the store's inbox; the first read
  // settles them (stores them under their keys and summarises their
  // traces), in the reader's process: timed apart, as what a reader pays.
  const check = store.openStore({ path });
  const settleStart = performance.now();
  const stored = check.stats().spans;
  const settleSeconds = (performance.now() - settleStart) / 1000;
  check.close();
  cleanup();
  if (stored !== SPAN_COUNT + SPANS_PER_TRACE) throw new Error(`exporter stored ${stored} spans`);
  return { exporter: SPAN_COUNT / seconds, settle: SPAN_COUNT / settleSeconds };
}

/** Spans/s of a hand-written better-sqlite3 insert of the same rows, closing included: the floor any store pays. */
function rawRun(seed: number): number {
  const { path, cleanup } = tempPath();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE spans (trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, name TEXT NOT NULL,
    kind INTEGER NOT NULL, service TEXT NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER, status_code INTEGER NOT NULL,
    attributes TEXT NOT NULL, resource TEXT, scope_name TEXT, PRIMARY KEY (trace_id, span_id))`);
  const insert = db.prepare('INSERT OR IGNORE INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const resourceJson = JSON.stringify(resource.attributes);
  const write = db.transaction((spans: ReadableSpan[]) => {
    for (const s of spans) {
      const context = s.spanContext();
      insert.run(
        context.traceId,
        context.spanId,
        s.parentSpanContext?.spanId ?? null,
        s.name,
        s.kind,
        'blog-api',
        s.startTime[0] * 1e9 + s.startTime[1],
        s.endTime[0] * 1e9 + s.endTime[1],
        s.status.code,
        JSON.stringify(s.attributes),
        resourceJson,
        s.instrumentationScope.name,
      );
    }
  });
  const work = batches(makeSpans(SPAN_COUNT, seed), BATCH);
  const start = performance.now();
  for (const batch of work) write(batch);
  db.close();
  const seconds = (performance.now() - start) / 1000;
  cleanup();
  return SPAN_COUNT / seconds;
}

interface LoopSegment {
  readonly delayP50Ms: number;
  readonly delayP99Ms: number;
}

/**
 * Event-loop delay over 20 ms timer ticks, exporting one 512-span batch per
 * tick when `work` is given, nothing otherwise. Exports still in flight when
 * the ticks end are awaited outside the measured window, so both kinds of
 * segment measure the same stretch of time.
 */
async function loopSegment(
  exporter: InstanceType<typeof store.SqliteSpanExporter>,
  work: ReadableSpan[][] | undefined,
  ticks: number,
  callMs: number[],
): Promise<LoopSegment> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const pending: Promise<void>[] = [];
  histogram.enable();
  for (let i = 0; i < ticks; i++) {
    await new Promise((done) => setTimeout(done, 20));
    const batch = work?.[i];
    if (batch === undefined) continue;
    const before = performance.now();
    pending.push(exportBatch(exporter, batch));
    callMs.push(performance.now() - before);
  }
  histogram.disable();
  await Promise.all(pending);
  return { delayP50Ms: histogram.percentile(50) / 1e6, delayP99Ms: histogram.percentile(99) / 1e6 };
}

/**
 * The event-loop delay exports add: rounds of two segments of the same timer
 * ticks, one exporting a 512-span batch every tick and one exporting nothing,
 * in alternating order so that drift in machine load hits both alike. The
 * added delay is the median over rounds of (with exports − without); the
 * machine's own jitter (other processes on a shared machine) cancels out.
 */
async function eventLoopRun(rounds: number): Promise<{
  idle: LoopSegment;
  busy: LoopSegment;
  addedP50Ms: number;
  addedP99Ms: number;
  addedP99Runs: number[];
  exportCallP50Ms: number;
  exportCallP99Ms: number;
}> {
  const { path, cleanup } = tempPath();
  const exporter = new store.SqliteSpanExporter({ path });
  await exportBatch(exporter, makeSpans(SPANS_PER_TRACE, 0xffff));
  const ticks = 100;
  const idle: LoopSegment[] = [];
  const busy: LoopSegment[] = [];
  const callMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const work = batches(makeSpans(ticks * BATCH, 0xbe00 + round), BATCH);
    if (round % 2 === 0) {
      idle.push(await loopSegment(exporter, undefined, ticks, callMs));
      busy.push(await loopSegment(exporter, work, ticks, callMs));
    } else {
      busy.push(await loopSegment(exporter, work, ticks, callMs));
      idle.push(await loopSegment(exporter, undefined, ticks, callMs));
    }
  }
  await exporter.shutdown();
  cleanup();
  const addedP99Runs = busy.map((b, i) => b.delayP99Ms - (idle[i] as LoopSegment).delayP99Ms);
  return {
    idle: { delayP50Ms: median(idle.map((x) => x.delayP50Ms)), delayP99Ms: median(idle.map((x) => x.delayP99Ms)) },
    busy: { delayP50Ms: median(busy.map((x) => x.delayP50Ms)), delayP99Ms: median(busy.map((x) => x.delayP99Ms)) },
    addedP50Ms: median(busy.map((b, i) => b.delayP50Ms - (idle[i] as LoopSegment).delayP50Ms)),
    addedP99Ms: median(addedP99Runs),
    addedP99Runs,
    exportCallP50Ms: percentile(callMs, 50),
    exportCallP99Ms: percentile(callMs, 99),
  };
}

const exporterRates: number[] = [];
const settleRates: number[] = [];
const rawRates: number[] = [];
for (let run = 0; run < RUNS; run++) {
  // Interleaved so that drift in machine load hits both sides alike.
  if (run % 2 === 0) rawRates.push(rawRun(run + 1));
  const { exporter, settle } = await exporterRun(run + 1);
  exporterRates.push(exporter);
  settleRates.push(settle);
  if (run % 2 === 1) rawRates.push(rawRun(run + 1));
}
const loop = await eventLoopRun(LOOP_ROUNDS);
const exporterMedian = median(exporterRates);
const rawMedian = median(rawRates);
const result = {
  spansPerRun: SPAN_COUNT,
  runs: RUNS,
  batchSize: BATCH,
  exporterSpansPerSecond: Math.round(exporterMedian),
  rawInsertSpansPerSecond: Math.round(rawMedian),
  settleSpansPerSecond: Math.round(median(settleRates)),
  exporterShareOfRaw: Number((exporterMedian / rawMedian).toFixed(3)),
  exporterRuns: exporterRates.map(Math.round),
  settleRuns: settleRates.map(Math.round),
  rawRuns: rawRates.map(Math.round),
  eventLoop: {
    rounds: LOOP_ROUNDS,
    idleDelayP50Ms: ms(loop.idle.delayP50Ms),
    idleDelayP99Ms: ms(loop.idle.delayP99Ms),
    delayP50Ms: ms(loop.busy.delayP50Ms),
    delayP99Ms: ms(loop.busy.delayP99Ms),
    addedDelayP50Ms: ms(loop.addedP50Ms),
    addedDelayP99Ms: ms(loop.addedP99Ms),
    addedDelayP99Runs: loop.addedP99Runs.map(ms),
    exportCallP50Ms: ms(loop.exportCallP50Ms),
    exportCallP99Ms: ms(loop.exportCallP99Ms),
  },
  goals: {
    spansPerSecond: { goal: 150_000, met: exporterMedian >= 150_000 },
    shareOfRaw: { goal: 0.6, met: exporterMedian / rawMedian >= 0.6 },
    addedEventLoopDelayP99Ms: { goal: 2, met: loop.addedP99Ms <= 2 },
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
