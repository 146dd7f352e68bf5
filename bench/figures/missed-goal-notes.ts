/**
 * What limits each figure whose goal can be missed, and what would move it,
 * from CPU profiles of the benchmark servers (`node bench/profile.ts …`).
 * A note is printed under a figure only when its goal was missed in the run.
 */
import { type FigureReport, goalMet } from '../lib/report.ts';

const overheadLimits =
  'What limits it: the app, PostgreSQL and autocannon share two cores, so throughput is CPU per request (see ' +
  'the "app CPU per request" rows). Most of the traced cost is paid before any export: the "OTel SDK, spans ' +
  'dropped" configuration — the same SDK and instrumentations with an exporter that drops every batch — already ' +
  "loses most of the bare app's throughput (span creation, context propagation and attribute collection for " +
  'about four spans a request). ' +
  "Lifeline's own share is the difference between its row and that one: in its writer thread one SQLite INSERT " +
  'per span with JSON.stringify of attributes (`#write`, `sqliteTransaction` in the profile) and per-trace ' +
  'summaries that re-read and re-summarize the whole trace whenever its spans arrive in more than one batch ' +
  '(`readTraceSpans` → `buildSpanTree` → `summarizeTrace`); on the app thread the structured clone of every ' +
  'batch posted to that thread (`postMessage`) and SQL sanitizing (`sanitizeSql`). What would move it: fewer ' +
  'spans per request (the express request-handler span adds little to a diagram the HTTP server span already ' +
  'draws), summaries computed once per trace instead of ' +
  're-read per batch, batches posted to the writer as one transferable buffer, and sampling under load. With ' +
  'the SDK alone below the goal on this machine, 0.93× is out of reach for any exporter here; it is realistic ' +
  'where a request costs more CPU than its spans do.';

/** Notes by result key (see bench/results.json). */
export const missedGoalNotes: Readonly<Record<string, string>> = {
  'overhead.db.lifeline.rps': overheadLimits,
  'overhead.db.lifelineVsOtlp.rps':
    'Lifeline pays for SQLite inserts and per-trace summaries where the OTLP exporter only serializes and sends to a receiver that discards. The fixes in the throughput note (summaries once per trace, pre-serialized batches to the writer thread) are what would move it.',
  'overhead.hello.lifelineVsOtlp.rps':
    "On the hello route every span is an HTTP server span whose trace arrives in one batch, so the difference to OTLP is the writer thread's per-span INSERT and JSON work and the structured clone of each batch; see the DB route's note for what would move it.",
  'overhead.db.lifeline.p99':
    "What limits it: with one connection, the tail is the requests that coincide with the app thread's export work (converting a 512-span batch and posting it to the writer thread) and with the writer thread competing for the second core; the stock OTLP configuration shows the same kind of tail from its serializer. Posting smaller chunks more often (the exporter already posts 128-span chunks per event-loop turn) and cheaper conversion would shorten it.",
  'overhead.hello.lifeline.p99':
    'Same limit as the DB route: the tail is made of requests that share the event loop with batch conversion and posting to the writer thread.',
  'receiver.viewer.spansPerS':
    "What limits it: the viewer stores on its own event loop. The profile puts most of the time in the store's `#write` (one INSERT per span, JSON.stringify of attributes, resource lookups), `sqliteTransaction`, and garbage collection; protobuf decoding plus the conversion to OTLP/JSON (`toObject`, 64-bit integers turned into decimal strings by `long`) and then to Lifeline spans (`otlpSpan`, `addAttribute`) and per-trace summaries (`classifySpan`, `buildSpanTree`) take most of the rest. What would move it: convert decoded protobuf straight to Lifeline spans without the OTLP/JSON detour (no `toObject`, no int64 strings), write through the same writer thread the exporter uses so decoding and SQLite overlap on two cores, and insert spans with a multi-row statement.",
  'ingest.exporter.spansPerS':
    'What limits it: per span, the exporter converts a ReadableSpan, structured-clones it to the writer thread, and the writer does an INSERT with three JSON.stringify calls plus a resource lookup; per trace it computes a summary (classification, span tree, N+1 and concurrency counts) and upserts it. The raw baseline does only the INSERT. What would move it: batch inserts (multi-row INSERT or one prepared statement per 32 rows), one JSON encoding per batch transferred as a buffer, and summaries computed incrementally.',
  'ingest.exporter.shareOfRaw':
    'The gap to the raw insert is the per-trace summary work and the thread hand-off, see the throughput row.',
  'exportLoop.addedDelayP99Ms':
    'What limits it: `export()` converts the whole 512-span batch on the app thread before the first chunk is posted (see the synchronous export() time rows), so a batch lands on the event loop as one block. Converting and posting in smaller chunks across turns (yielding between 128-span chunks) would spread it.',
  'diagram.spans10000.ms':
    'What limits it: the profile of `CORE_BENCH_SIZES=10000 node --cpu-prof bench/core-diagram.ts` puts the time in `buildSpanTree`, `layoutTrace`, `classifySpan` and garbage collection (about a fifth): per-span objects built for the tree and the layout. Classifying each span once and reusing it across tree, layout and summary, and fewer intermediate arrays, would move it.',
  'diagram.growthExponent':
    'The time grows faster than the span count between the sizes measured; the per-span allocations in `buildSpanTree` and `layoutTrace` (and the garbage collection they cause) are what grows.',
  'memory.app.lifelineMb':
    "What limits it: the OpenTelemetry SDK and its instrumentations load about as much code and state as the stock configuration (compare the OTel row), and Lifeline adds a worker thread with its own V8 isolate, better-sqlite3 and the store's code. A writer that runs SQLite on the app's own thread in small slices, or a shared isolate, would remove the second heap; sharing one copy of the store's modules would reduce it.",
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
