/**
 * How long drawing a trace takes as traces grow: times `traceToMermaid`
 * (span tree, layout, sequence model, Mermaid text and the size guard),
 * `analyzeTrace` and `summarizeTrace` on synthetic traces of 100 to 100,000
 * spans, takes the median of several runs, and fits the growth exponent (the
 * slope of log time against log spans; 1 means linear). It also times
 * `summarizeTrace` on many small request-shaped traces, the cost the store
 * pays per ingested trace.
 *
 * With `--core-before DIR` (a built `@lifeline/core`: its `package.json`,
 * `dist/` and `node_modules/`, see bench/README.md), the same traces are
 * drawn and summarised by that build and by this one, each in child
 * processes of its own (`--draw-only`), both at once on CPUs of their own
 * (see `paired`), and each size reports both times (`pairedDiagramMs`,
 * `beforeDiagramMs`). One process
 * holding both builds measured them 20 % apart either way from run to run:
 * whichever build the JIT met second paid for the first one's code.
 *
 * Run: `node bench/core-diagram.ts [--core-before DIR]` (Node 22 strips the types). Prints JSON.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Span, Trace, TraceDiagram } from '../packages/core/src/index.ts';

// The core's sources import each other with NodeNext ".js" specifiers; when
// run straight from source, resolve them to the ".ts" files beside them.
registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      if (specifier.startsWith('.') && specifier.endsWith('.js'))
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      throw error;
    }
  },
});
const { analyzeTrace, summarizeTrace, traceToMermaid } = await import('../packages/core/src/index.ts');

const { values: args } = parseArgs({
  options: {
    'core-before': { type: 'string' },
    'draw-only': { type: 'string' },
    part: { type: 'string' },
    decade: { type: 'boolean' },
  },
  allowPositionals: false,
});

/** Loads `traceToMermaid` and `summarizeTrace` from a built core: the entry its package.json names, else `dist/index.js`. */
async function loadBefore(
  dir: string,
): Promise<{ traceToMermaid: (trace: Trace) => TraceDiagram; summarizeTrace: (trace: Trace) => unknown }> {
  const root = resolve(dir);
  const manifestPath = join(root, 'package.json');
  if (!existsSync(manifestPath)) throw new Error(`--core-before ${dir}: no package.json there`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports?: string | { '.'?: string | { import?: string; default?: string } };
    main?: string;
  };
  const dot = typeof manifest.exports === 'object' ? manifest.exports['.'] : manifest.exports;
  const entry = (typeof dot === 'string' ? dot : (dot?.import ?? dot?.default)) ?? manifest.main ?? './dist/index.js';
  const core = (await import(pathToFileURL(join(root, entry)).href)) as {
    traceToMermaid?: (trace: Trace) => TraceDiagram;
    summarizeTrace?: (trace: Trace) => unknown;
  };
  if (typeof core.traceToMermaid !== 'function') throw new Error(`--core-before ${dir}: no traceToMermaid in ${entry}`);
  if (typeof core.summarizeTrace !== 'function') throw new Error(`--core-before ${dir}: no summarizeTrace in ${entry}`);
  return { traceToMermaid: core.traceToMermaid, summarizeTrace: core.summarizeTrace };
}

// CORE_BENCH_SIZES=1000,10000 measures only some sizes (handy with --cpu-prof).
const SIZES = (process.env.CORE_BENCH_SIZES ?? '100,1000,10000,100000').split(',').map(Number);
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const T0 = 1_700_000_000_000 * 1e6;

/** A generated time (float ns) as the model's exact whole nanoseconds. */
function exactNs(ns: number): bigint {
  return BigInt(Math.round(ns));
}

/** Deterministic pseudo-random numbers (mulberry32), so every run measures the same traces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A realistic-looking trace of about `size` spans: an API whose requests fan
 * out to downstream services, each of which runs queries (serial, concurrent,
 * and N+1 runs), cache lookups and internal spans.
 */
function makeTrace(size: number, seed: number): Trace {
  const rnd = random(seed);
  const spans: Span[] = [];
  let nextId = 0;
  // Ids start at 1: an all-zero span id is invalid in W3C trace context and means "no parent".
  const id = (): string => (++nextId).toString(16).padStart(16, '0');
  const base = (
    over: Partial<Span> & Pick<Span, 'spanId' | 'name' | 'kind' | 'serviceName' | 'startTimeNs'>,
  ): Span => ({
    traceId: TRACE_ID,
    status: { code: 'unset' },
    attributes: {},
    events: [],
    links: [],
    resource: { 'service.name': over.serviceName },
    ...over,
  });
  const rootId = id();
  const rootEnd = T0 + size * 2e6;
  spans.push(
    base({
      spanId: rootId,
      name: 'GET /reports/:id',
      kind: 'server',
      serviceName: 'api',
      startTimeNs: exactNs(T0),
      endTimeNs: exactNs(rootEnd),
      attributes: { 'http.request.method': 'GET', 'http.route': '/reports/:id', 'http.response.status_code': 200 },
    }),
  );
  let cursor = T0 + 1e6;
  let service = 0;
  while (spans.length < size) {
    // One downstream call with its own server span and a batch of queries.
    const svc = `svc-${service++ % 12}`;
    const batch = Math.min(size - spans.length - 2, 5 + Math.floor(rnd() * 40));
    const callStart = cursor;
    const callEnd = callStart + (batch + 2) * 1e6;
    const clientId = id();
    const serverId = id();
    spans.push(
      base({
        spanId: clientId,
        parentSpanId: rootId,
        name: 'GET',
        kind: 'client',
        serviceName: 'api',
        startTimeNs: exactNs(callStart),
        endTimeNs: exactNs(callEnd),
        attributes: {
          'http.request.method': 'GET',
          'url.full': `http://${svc}:8080/items/${service}`,
          'server.address': svc,
        },
      }),
      base({
        spanId: serverId,
        parentSpanId: clientId,
        name: 'GET /items/:id',
        kind: 'server',
        serviceName: svc,
        startTimeNs: exactNs(callStart + 2e5),
        endTimeNs: exactNs(callEnd - 2e5),
        attributes: { 'http.request.method': 'GET', 'http.route': '/items/:id', 'http.response.status_code': 200 },
      }),
    );
    let t = callStart + 5e5;
    for (let i = 0; i < batch && spans.length < size; i++) {
      const r = rnd();
      const concurrent = r < 0.3;
      const start = concurrent ? t - 4e5 : t;
      const duration = 3e5 + rnd() * 6e5;
      const table = r > 0.6 ? 'authors' : `table_${Math.floor(rnd() * 20)}`;
      spans.push(
        base({
          spanId: id(),
          parentSpanId: serverId,
          name: 'SELECT',
          kind: r > 0.9 ? 'internal' : 'client',
          serviceName: svc,
          startTimeNs: exactNs(start),
          endTimeNs: exactNs(start + duration),
          attributes:
            r > 0.85
              ? { 'db.system': 'redis', 'db.statement': `GET item:${i}` }
              : {
                  'db.system.name': 'postgresql',
                  'db.namespace': 'shop',
                  'db.query.text': `SELECT * FROM ${table} WHERE id = $1`,
                },
        }),
      );
      t = start + duration;
    }
    cursor = callEnd + (rnd() < 0.5 ? -5e5 : 1e5);
  }
  return { traceId: TRACE_ID, spans };
}

/**
 * Timed runs per size, about a second or two of drawing each: a small trace
 * draws in well under a millisecond, and a median of a few such runs shifts
 * by a third with what the JIT has compiled so far; the large ones take long
 * enough per run to be steady.
 */
function runsFor(size: number): number {
  return size >= 100_000 ? 3 : size >= 10_000 ? 20 : size >= 1_000 ? 150 : 2_000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function time(fn: () => void, runs: number): number {
  // Warm-up: the first runs pay for JIT compilation, which is not what is measured.
  for (let i = 0; i < Math.max(2, Math.ceil(runs / 3)); i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

/** Least-squares slope of log(time) against log(size). */
function growthExponent(points: { spans: number; ms: number }[]): number {
  const xs = points.map((p) => Math.log(p.spans));
  const ys = points.map((p) => Math.log(Math.max(p.ms, 1e-3)));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return num / den;
}

/**
 * Request-shaped traces as the store ingests them (one server span, nine
 * queries of one statement, fresh objects as if just decoded), built
 * `batch` at a time like the store's write batches.
 */
function smallTraces(batch: number, seed: number): Trace[] {
  const traces: Trace[] = [];
  const t0 = T0 + seed * 1e12;
  for (let t = 0; t < batch; t++) {
    const traceId = `${seed.toString(16).padStart(8, '0')}${t.toString(16).padStart(24, '0')}`;
    const rootId = `${(t * 10).toString(16).padStart(16, '0')}`;
    const spans: Span[] = [];
    for (let k = 0; k < 10; k++) {
      const start = t0 + t * 1e9 + k * 2e6;
      const root = k === 0;
      spans.push({
        traceId,
        spanId: `${(t * 10 + k).toString(16).padStart(16, '0')}`,
        ...(root ? {} : { parentSpanId: rootId }),
        name: root ? 'GET /articles/:id' : 'SELECT blog',
        kind: root ? 'server' : 'client',
        serviceName: 'blog-api',
        startTimeNs: exactNs(start),
        endTimeNs: exactNs(start + (root ? 25e6 : 1.5e6)),
        status: { code: 'unset' },
        attributes: root
          ? {
              'http.request.method': 'GET',
              'http.route': '/articles/:id',
              'url.path': `/articles/${t}`,
              'http.response.status_code': 200,
            }
          : {
              'db.system.name': 'postgresql',
              'db.namespace': 'blog',
              'db.query.text': 'SELECT * FROM comments WHERE article_id = $1',
              'db.operation.name': 'SELECT',
            },
        events: [],
        links: [],
        resource: { 'service.name': 'blog-api' },
      });
    }
    traces.push({ traceId, spans });
  }
  return traces;
}

/** Microseconds per 10-span trace, median over rounds of `total` traces summarised `batch` at a time. */
function summaryPerTrace(summarize: (trace: Trace) => unknown, total: number, batch: number, rounds: number): number {
  const samples: number[] = [];
  for (let round = 0; round < rounds + 1; round++) {
    let ms = 0;
    for (let done = 0; done < total; done += batch) {
      // Only the summaries are timed, not building the spans.
      const traces = smallTraces(batch, round * total + done + 1);
      const start = performance.now();
      for (const trace of traces) summarize(trace);
      ms += performance.now() - start;
    }
    // The first round warms the JIT up.
    if (round > 0) samples.push((ms * 1000) / total);
  }
  return median(samples);
}

const SUMMARY_TRACES = 20_000;
/** Rounds of child processes per build with `--core-before`; even, so that each build meets each CPU as often. */
const PAIRED_ROUNDS = 4;

/** What a `--draw-only` child prints: one build's times for every size and its summary cost. */
interface DrawOnly {
  sizes: { spans: number; diagramMs: number; textLength: number; folded: boolean }[];
  summaryUs: number;
}

/**
 * The last decade's growth measured in alternation: rounds of
 * {@link DECADE_SMALL_RUNS} drawings of the trace a tenth the size of the
 * largest (their median) and one of the largest. Measured one after the
 * other, as the sizes above are, the two times were taken seconds apart, and
 * on a shared machine a slow spell during either moved this exponent by ±0.1
 * from run to run; alternating, both sizes meet the same spells. Each
 * measurement runs in a fresh process (`--decade`), pinned to one CPU and
 * then to the other when there are two (see {@link paired} for why), so that
 * neither the heap this process has left after the other sizes nor the CPU
 * it happens to run on weighs on one size more than on the other.
 */
const DECADE_ROUNDS = 9;
const DECADE_SMALL_RUNS = 10;

interface DecadeTimes {
  fromSpans: number;
  toSpans: number;
  fromMs: number;
  toMs: number;
  /** A size between the two (a fifth of the largest), timed in the same rounds: past the CPU cache where the smaller one is not. */
  midSpans: number;
  midMs: number;
}

/** Runs in a `--decade` child: the alternating rounds for the two largest sizes. */
function decadeTimes(from: number, to: number): DecadeTimes {
  const small = makeTrace(from, from);
  const mid = makeTrace(to / 5, to / 5);
  const large = makeTrace(to, to);
  const once = (trace: Trace): number => {
    const start = performance.now();
    traceToMermaid(trace);
    return performance.now() - start;
  };
  // Warm-up, as for the sizes above: the first drawings pay for compilation.
  for (let i = 0; i < 5; i++) once(small);
  for (let i = 0; i < 2; i++) once(mid);
  for (let i = 0; i < 2; i++) once(large);
  const smallMs: number[] = [];
  const midMs: number[] = [];
  const largeMs: number[] = [];
  for (let round = 0; round < DECADE_ROUNDS; round++) {
    smallMs.push(median(Array.from({ length: DECADE_SMALL_RUNS }, () => once(small))));
    midMs.push(median(Array.from({ length: 3 }, () => once(mid))));
    largeMs.push(once(large));
  }
  return {
    fromSpans: small.spans.length,
    toSpans: large.spans.length,
    fromMs: median(smallMs),
    toMs: median(largeMs),
    midSpans: mid.spans.length,
    midMs: median(midMs),
  };
}

if (args.decade === true) {
  const to = SIZES.at(-1) as number;
  console.log(JSON.stringify(decadeTimes(to / 10, to)));
  process.exit(0);
}

if (args['draw-only'] !== undefined) {
  // A child measuring one build alone: this one (`this`) or the one in the directory given.
  const build = args['draw-only'] === 'this' ? { traceToMermaid, summarizeTrace } : await loadBefore(args['draw-only']);
  // `--part draw` or `--part summary`: one of the two, so that the summaries
  // are not timed in a heap the 100,000-span drawings left behind.
  const part = args.part;
  const sizes = (part === 'summary' ? [] : SIZES).map((size) => {
    const trace = makeTrace(size, size);
    let diagram = build.traceToMermaid(trace);
    const diagramMs = time(() => {
      diagram = build.traceToMermaid(trace);
    }, runsFor(size));
    return { spans: trace.spans.length, diagramMs, textLength: diagram.text.length, folded: diagram.folded };
  });
  const summaryUs = part === 'draw' ? Number.NaN : summaryPerTrace(build.summarizeTrace, SUMMARY_TRACES, 50, 5);
  console.log(JSON.stringify({ sizes, summaryUs } satisfies DrawOnly));
  process.exit(0);
}

/**
 * Runs this script again with `args` in a child process, pinned to `cpu`
 * when one is given, and returns the JSON it prints.
 */
async function childJson<T>(args: readonly string[], cpu: number | undefined): Promise<T> {
  const script = [fileURLToPath(import.meta.url), ...args];
  const [command, argv] =
    cpu === undefined ? [process.execPath, script] : [TASKSET, ['-c', String(cpu), process.execPath, ...script]];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`core-diagram ${args.join(' ')} failed: ${err}`);
  return JSON.parse(out) as T;
}

/** Runs this script as a `--draw-only` child for `build` and `part`, pinned to `cpu` when one is given. */
function drawOnlyChild(build: string, part: 'draw' | 'summary', cpu: number | undefined): Promise<DrawOnly> {
  return childJson<DrawOnly>(['--draw-only', build, '--part', part], cpu);
}

/** util-linux's CPU pinning tool, on every Debian machine; without it the two builds run one after the other. */
const TASKSET = '/usr/bin/taskset';
const PIN = existsSync(TASKSET) && availableParallelism() >= 2;

/**
 * With `--core-before`: each build measured in child processes of its own,
 * one drawing and one summarising (each in a fresh heap), in
 * {@link PAIRED_ROUNDS} rounds. With two CPUs, both builds run at the same
 * time in a round, each pinned to its own CPU, and the CPUs are swapped from
 * round to round: whatever else the machine does then slows both alike, and
 * each build meets each CPU equally often (the two CPUs of a shared machine
 * were seen to differ by up to 1.6× for minutes). Each build's figure is the
 * geometric mean of its rounds, so the ratio of the two is the geometric
 * mean of the rounds' ratios.
 */
async function paired(before: string): Promise<{ self: DrawOnly; before: DrawOnly }> {
  const runs: { self: DrawOnly[]; before: DrawOnly[] } = { self: [], before: [] };
  for (let round = 0; round < PAIRED_ROUNDS; round++) {
    const swap = round % 2 === 1;
    for (const part of ['draw', 'summary'] as const) {
      if (PIN) {
        const [self, other] = await Promise.all([
          drawOnlyChild('this', part, swap ? 1 : 0),
          drawOnlyChild(before, part, swap ? 0 : 1),
        ]);
        runs.self.push(self);
        runs.before.push(other);
      } else {
        const order = swap ? (['before', 'self'] as const) : (['self', 'before'] as const);
        for (const which of order)
          runs[which].push(await drawOnlyChild(which === 'self' ? 'this' : before, part, undefined));
      }
    }
  }
  const geomean = (values: number[]): number =>
    Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
  const combine = (all: DrawOnly[]): DrawOnly => {
    const draws = all.filter((run) => run.sizes.length > 0);
    const summaries = all.filter((run) => Number.isFinite(run.summaryUs));
    return {
      sizes: (draws[0] as DrawOnly).sizes.map((first, i) => ({
        ...first,
        diagramMs: geomean(draws.map((run) => (run.sizes[i] as DrawOnly['sizes'][number]).diagramMs)),
      })),
      summaryUs: geomean(summaries.map((run) => run.summaryUs)),
    };
  };
  return { self: combine(runs.self), before: combine(runs.before) };
}

// A build that cannot be loaded fails here, in one line, before any child is started.
if (args['core-before'] !== undefined) await loadBefore(args['core-before']);
const comparison = args['core-before'] === undefined ? undefined : await paired(resolve(args['core-before']));

const results = SIZES.map((size) => {
  const trace = makeTrace(size, size);
  const runs = runsFor(size);
  let diagram = traceToMermaid(trace);
  const diagramMs = time(() => {
    diagram = traceToMermaid(trace);
  }, runs);
  const timingFreeMs = time(() => traceToMermaid(trace, { timings: false }), runs);
  const analysisMs = time(() => analyzeTrace(trace), runs);
  const summaryMs = time(() => summarizeTrace(trace), runs);
  return {
    spans: trace.spans.length,
    diagramMs: Number(diagramMs.toFixed(2)),
    timingFreeMs: Number(timingFreeMs.toFixed(2)),
    analysisMs: Number(analysisMs.toFixed(2)),
    summaryMs: Number(summaryMs.toFixed(3)),
    textLength: diagram.text.length,
    arrows: diagram.model.arrows.length,
    folded: diagram.folded,
    runs,
    ...(comparison !== undefined ? pairedFields(comparison, SIZES.indexOf(size)) : {}),
  };
});

/** This build's and the build before's times for the size at `index`, from the paired child processes. */
function pairedFields(
  pair: { self: DrawOnly; before: DrawOnly },
  index: number,
): { pairedDiagramMs: number; beforeDiagramMs: number; beforeTextLength: number; beforeFolded: boolean } {
  const self = pair.self.sizes[index] as DrawOnly['sizes'][number];
  const before = pair.before.sizes[index] as DrawOnly['sizes'][number];
  return {
    pairedDiagramMs: Number(self.diagramMs.toFixed(2)),
    beforeDiagramMs: Number(before.diagramMs.toFixed(2)),
    beforeTextLength: before.textLength,
    beforeFolded: before.folded,
  };
}

function decadeChild(cpu: number | undefined): Promise<DecadeTimes> {
  return childJson<DecadeTimes>(['--decade'], cpu);
}

/** The last decade's times (geometric means over the CPUs) and exponent, when the two largest sizes are a decade apart. */
async function lastDecade(): Promise<
  (DecadeTimes & { rounds: number; processes: number; exponent: number; pastCacheExponent: number }) | undefined
> {
  const to = SIZES.at(-1);
  const from = SIZES.at(-2);
  if (to === undefined || from === undefined || from * 10 !== to) return undefined;
  const runs: DecadeTimes[] = [];
  for (const cpu of PIN ? [0, 1] : [undefined]) runs.push(await decadeChild(cpu));
  const geomean = (values: number[]): number =>
    Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
  const fromMs = geomean(runs.map((r) => r.fromMs));
  const toMs = geomean(runs.map((r) => r.toMs));
  const midMs = geomean(runs.map((r) => r.midMs));
  const first = runs[0] as DecadeTimes;
  return {
    fromSpans: first.fromSpans,
    toSpans: first.toSpans,
    fromMs: Number(fromMs.toFixed(2)),
    toMs: Number(toMs.toFixed(2)),
    midSpans: first.midSpans,
    midMs: Number(midMs.toFixed(2)),
    rounds: DECADE_ROUNDS,
    processes: runs.length,
    exponent: Number((Math.log(toMs / fromMs) / Math.log(first.toSpans / first.fromSpans)).toFixed(3)),
    pastCacheExponent: Number((Math.log(toMs / midMs) / Math.log(first.toSpans / first.midSpans)).toFixed(3)),
  };
}

const decade = await lastDecade();
const summaryUs = summaryPerTrace(summarizeTrace, SUMMARY_TRACES, 50, 5);

console.log(
  JSON.stringify(
    {
      benchmark: 'core-diagram',
      node: process.version,
      results,
      ...(decade !== undefined ? { lastDecade: decade } : {}),
      summary: {
        spansPerTrace: 10,
        traces: SUMMARY_TRACES,
        usPerTrace: Number(summaryUs.toFixed(2)),
        usPerSpan: Number((summaryUs / 10).toFixed(3)),
        ...(comparison !== undefined
          ? {
              pairedUsPerTrace: Number(comparison.self.summaryUs.toFixed(2)),
              beforeUsPerTrace: Number(comparison.before.summaryUs.toFixed(2)),
            }
          : {}),
      },
      growthExponent: {
        diagram: Number(growthExponent(results.map((r) => ({ spans: r.spans, ms: r.diagramMs }))).toFixed(3)),
        // The last two sizes alone (10,000 → 100,000 spans by default): where super-linear parts show first.
        diagramLastStep: Number(
          growthExponent(results.slice(-2).map((r) => ({ spans: r.spans, ms: r.diagramMs }))).toFixed(3),
        ),
        analysis: Number(growthExponent(results.map((r) => ({ spans: r.spans, ms: r.analysisMs }))).toFixed(3)),
        ...(comparison !== undefined
          ? {
              diagramBefore: Number(
                growthExponent(results.map((r) => ({ spans: r.spans, ms: r.beforeDiagramMs ?? 0 }))).toFixed(3),
              ),
            }
          : {}),
      },
      ...(args['core-before'] !== undefined ? { coreBefore: resolve(args['core-before']) } : {}),
    },
    null,
    2,
  ),
);
