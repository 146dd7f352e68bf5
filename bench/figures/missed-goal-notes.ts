/**
 * What limits each figure whose goal can be missed, and what would move it,
 * from CPU profiles of the benchmark servers (`node bench/profile.ts …`).
 * A note is printed under a figure only when its goal was missed in the run.
 */
import { type FigureReport, goalMet } from '../lib/report.ts';

const overheadLimits =
  'What limits it: the app, PostgreSQL and autocannon share two cores, so throughput follows CPU per request. ' +
  'Both configurations pay for the OpenTelemetry SDK and the http and pg instrumentations (span creation, context ' +
  'propagation, attribute collection); the stock set-up records more spans (express middleware, pg pool connects), ' +
  "Lifeline's writer thread appends each batch to the store's inbox table (better-sqlite3's `sqliteTransaction` " +
  'and the commit in its profile), where the OTLP exporter serializes and sends; storing spans under their keys ' +
  'and summarising their traces is left to the reader of the file (figure 2). On this shared machine the order of two configurations within a few ' +
  'percent of each other changes from run to run. Profile both with `node bench/profile.ts app-lifeline` and ' +
  '`app-otlp` (`--route /feed/{n}` for the N+1 route) before changing anything. Split by thread (CPU of each ' +
  'thread from /proc/PID/task, DB route, one run): the app thread spent 0.540 ms per request under Lifeline and ' +
  "0.560 ms under the stock set-up; Lifeline's writer thread 0.096 ms when it still stored and summarised every " +
  "span itself; V8's helper threads (concurrent garbage collection, shared by both isolates) 0.18 ms against " +
  '0.11 ms. What Lifeline adds beyond the stock set-up is the writer thread and the garbage it makes. Tried and not adopted: sending the spans to a running ' +
  '`lifeline serve` over OTLP/HTTP protobuf instead of writing SQLite in the app. The OpenTelemetry exporter ' +
  "serialising on the app thread cost more than the writer thread: the app's added CPU on the DB route went from " +
  '0.570 ms to 0.684 ms per request (stock: 0.588 ms), and the server spent 0.33 ms per request storing them.';

const diagramGrowth =
  'What limits it: a cliff in the CPU cache, not an algorithm that grows faster than linearly. In one process on ' +
  'this machine, drawing took 1.78 µs a span at 10,000 spans and 2.16, 2.14, 2.33 and 2.36 µs at 20,000, ' +
  '30,000, 50,000 and 100,000: flat past 20,000. The benchmark draws the same trace again and again, and at ' +
  '10,000 spans what the drawing reads of it (the spans, their ids, times, attributes and remembered classes, ' +
  'about 10 MB) stays in the 32 MB last-level cache between drawings; from 20,000 on it does not, and every ' +
  'pass that reads a span or a large table costs a trip to memory per span. The changes of this run took out ' +
  'every such pass that could go (see the change note): the 100,000-span drawing went from about 295 to 215 ms ' +
  'on this machine, but the 10,000-span one became as much faster (21 to 16 ms), so the ratio hardly moved. ' +
  'Pinned alternating rounds gave exponents from 1.08 to 1.15 for this build on the same day; the row from a ' +
  'fifth of the largest size, timed in the same rounds, gives the growth past the cache alone. What would move ' +
  'it: fewer bytes read per span by each stage. The tree still reads about ten cache lines of every input span ' +
  '(the span, its id strings, its two times, its status, attributes, events and links objects, and the memo of ' +
  "its class); the layout reads the span's attributes again for the outcome of each call, and the class, node " +
  'and call objects are about 170, 80 and 150 bytes.';

/** Notes by result key (see bench/results.json). */
export const missedGoalNotes: Readonly<Record<string, string>> = {
  'overhead.hello.lifelineVsOtlp.addedCpu': overheadLimits,
  'overhead.hello.lifelineVsOtlp.rps': overheadLimits,
  'overhead.db.lifelineVsOtlp.addedCpu': overheadLimits,
  'overhead.db.lifelineVsOtlp.rps': overheadLimits,
  'overhead.nplus1.lifelineVsOtlp.addedCpu': overheadLimits,
  'overhead.nplus1.lifelineVsOtlp.rps': overheadLimits,
  'receiver.viewer.spansPerS':
    "What limits it: the viewer decodes protobuf on its event loop (protobufjs, then straight into Lifeline spans and the writer's flat format) while its writer thread commits; the load generator shares the same two cores. In the profile the event loop's largest items are garbage collection of the decoded messages and the structured clone of each batch posted to the writer; the writer's are the inserts (`#insertRows`) and the summaries. What would move it: decoding protobuf without building protobufjs message objects, and computing summaries from the flat rows.",
  'ingest.exporter.spansPerS':
    "What limits it: the raw baseline inserts into one table with a primary key; the store also upserts a summary row per trace (with its secondary indexes), looks up resources, and on the app thread encodes each ReadableSpan into the writer's flat format before posting it. The writer's profile is mostly `#write` and `sqliteTransaction`, then summary work (`decodeSpan`, `summarizeTrace`, `#saveSummary`). Within `#write`, callgrind shows better-sqlite3 spending more instructions binding the span values (N-API type checks and UTF-8 copies, value by value) than SQLite spends executing the inserts: 2.3× `sqlite3_step` before the values were passed as arguments and the usual nulls written into the statement, 1.7× after. The writer thread is the bottleneck: during a run the app thread is busy about a fifth of the time, the writer all of it, at roughly 11 µs of CPU per span (the raw loop spends about 9). On a machine where the raw insert of the same rows itself stays under 150,000 spans/s (see the baseline row), no exporter that also keeps summaries reaches the absolute goal. Tried and not adopted: a WITHOUT ROWID span table is faster with this benchmark's ordered trace ids but 15–30 % slower with the random trace ids real apps produce; a larger page cache and memory-mapped I/O made no measurable difference. What would move it: computing summaries from the flat rows without decoding spans, fewer values bound per span, fewer secondary indexes to update per trace, and trace and span ids stored as 16- and 8-byte blobs instead of hex text (smaller index pages).",
  'ingest.exporter.shareOfRaw':
    "The gap to the raw insert is the per-trace summary, the resource lookups and the hand-off to the writer thread; see the throughput row. Measured by dropping one index at a time (the writer alone, 60,000 three-span traces in batches of 2,048 spans): the two trace indexes ordered by duration (`traces_by_duration`, and `traces_endpoints`, by duration within an endpoint) cost about 26 of the writer's 73 µs per trace, because each insert lands on a random page the commit then writes out; the four ordered by time or sequence (`traces_by_start`, `traces_requests_by_start`, `traces_by_seq`, `traces_endpoint_savings`) cost nothing measurable. Pages of 1, 2 or 8 KiB instead of 4 made no difference beyond the noise. What would move it: indexes a new trace appends to (by time), with the duration order worked out when read, at the cost of sorting in the slowest-first list and the endpoints' percentiles.",
  'exportLoop.addedDelayP99Ms':
    'What limits it: each 128-span slice of a batch is encoded and posted in one turn of the event loop (see the synchronous export() rows), and the writer thread competes for the second core while it commits. Smaller slices would spread the work over more turns.',
  'diagram.spans10000.ms':
    'What limits it: the profile of `CORE_BENCH_SIZES=10000 node --cpu-prof bench/core-diagram.ts` puts the time in `buildSpanTree`, `layoutTrace`, `classifySpan` and garbage collection (about a fifth): per-span objects built for the tree and the layout. Classifying each span once and reusing it across tree, layout and summary, and fewer intermediate arrays, would move it.',
  'diagram.growthExponent': diagramGrowth,
  'diagram.lastDecadeExponent': diagramGrowth,
  'browser.viewerPage200.ms':
    "What limits it: the page draws the same Mermaid text as the bare page, but first loads the viewer's own code and fetches the trace from the viewer (the bare page gets its text inline and its script through the browser's request interception, without a server), and after drawing it puts in the rest of the page (toolbar, analysis, timeline) before the mark. Performance marks in both pages show `mermaid.render` taking about the same time in each once the viewer draws before building its page; the rest is the page's start (about 100 ms later than the bare page's on this machine under load) and the page built around the diagram. On this shared machine the ratio moved between 1.20× and 1.33× from run to run with no change to the viewer.",
  'memory.app.lifelineMb':
    "What limits it: the OpenTelemetry SDK and instrumentations alone already take a good part of the budget (compare the \"spans dropped\" row), and Lifeline sits above that. Part of it is the writer thread, a second V8 isolate with better-sqlite3 and the store's code: starting `SqliteSpanExporter` alone and exporting one span adds about 20 MB of RSS. Broken down under the same load: the app thread's V8 heap is only about 10 MB above the bare app's and the writer's heap about 18 MB (10 MB in use); most of the rest is memory V8 keeps outside the heap figures, such as the pooled young-generation pages `--trace-gc` reports (about 38 MB with Lifeline against 24 MB bare), which grow with the allocation rate of the instrumented requests. What Lifeline adds above the spans-dropped configuration varies between runs on this machine, from about 20 to about 50 MB. The writer thread now runs with an 8 MB young generation and a 4 MB SQLite page cache (better-sqlite3's default is 16 MB, full once the store outgrows it): at a fixed 2,400 spans/s that took the process's peak RSS from about 207 to 188 MB, with the writer's heap from about 50 to 30 MB and its CPU unchanged; at the rates this busy machine reaches in the bench app the writer's heap stays near 17 MB either way, so the difference there is within the noise. Export batches of 512 spans instead of 2,048 took another 13 MB off at 2,400 spans/s (fewer slices in flight to the writer at once) but cost the writer about 12 % more CPU per span (four times the commits), so they were not adopted. The seven instrumentation packages the bench app does not use take about 0.6 MB once loaded, so loading instrumentations lazily would hardly move it. What would move it: fewer allocations per traced request, which is mostly the SDK's and the instrumentations' code.",
};

/**
 * Appends to each figure the notes of its rows whose goals were missed.
 * Returns the keys of missed goals that have no note, so the run can say so.
 */
export function attachMissedGoalNotes(
  figures: FigureReport[],
  notes: Readonly<Record<string, string>> = missedGoalNotes,
): string[] {
  const unexplained: string[] = [];
  for (const figure of figures) {
    const seen = new Set<string>();
    for (const row of figure.rows) {
      if (goalMet(row) !== false) continue;
      const note = notes[row.key];
      if (note === undefined) {
        unexplained.push(row.key);
        continue;
      }
      if (seen.has(note)) continue;
      seen.add(note);
      figure.notes.push(`**Goal missed — ${row.name} (${row.goal?.text}).** ${note}`);
    }
  }
  return unexplained;
}
