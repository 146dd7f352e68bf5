/**
 * Why a goal figure moved since the previous report, by result key (see
 * bench/results.json): the code change behind it and the profile that
 * pointed there. The report prints a note beside each figure that moved by
 * 10 % or more (see `figureChanges` in lib/report.ts); a figure that moved
 * without a note here moved with no change to the code it measures.
 *
 * Rewrite these notes for each report: they describe the change from the
 * previous full run to this one.
 */

const insertBinding =
  'The span insert binds its values as arguments rather than one array, and a span without status message, events ' +
  'or links goes through a statement with NULL in its text for them (13 values bound instead of 16). Pointed there ' +
  "by callgrind of the writer thread: better-sqlite3's `Binder::Bind` cost 2.3× `sqlite3_step`; it fell by 26 %.";

const writerMemory =
  "The writer thread, which lives in the app's process, starts with an 8 MiB young generation and a 4 MiB SQLite page " +
  'cache (heap snapshots and /proc smaps of the app under load: the thread held its default semi-spaces and page ' +
  'cache on top of the main isolate).';

const sizeGuard =
  "The size guard's estimate counts every line the builder draws (notes, `par`/`loop` lines, indentation) with the " +
  'same text functions, so a fold plan that fits is found without trial builds, and the level fallback starts from ' +
  "the estimate; a call whose server span recorded a status no longer gets a 'no response status recorded' note, " +
  'which made the generated traces longer than they draw. The CPU profile of the 10,000-span case showed repeated ' +
  'builds in the fit search and the uncounted notes pushing the plan past 50,000 characters.';

const traceIndex =
  'Spans are indexed by trace id and start time (migration 4), so a trace page reads its spans in order instead of ' +
  "sorting the whole trace in a temporary B-tree (SQLite's query plan showed `USE TEMP B-TREE FOR ORDER BY`).";

export const changeNotes: Readonly<Record<string, string>> = {
  'ingest.exporter.spansPerS': insertBinding,
  'ingest.exporter.shareOfRaw': insertBinding,
  'receiver.viewer.spansPerS': insertBinding,
  'overhead.db.lifelineVsOtlp.addedCpu': `${insertBinding} ${writerMemory}`,
  'overhead.hello.lifelineVsOtlp.addedCpu': `${insertBinding} ${writerMemory}`,
  'overhead.nplus1.lifelineVsOtlp.addedCpu': `${insertBinding} ${writerMemory}`,
  'memory.app.lifelineMb': writerMemory,
  'diagram.spans10000.ms': sizeGuard,
  'diagram.lastDecadeExponent': sizeGuard,
  'diagram.growthExponent': sizeGuard,
  'store.trace1000.p50': traceIndex,
};
