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

const leanerDraw =
  'Fewer objects and less bookkeeping per drawn call: arrows and call outcomes written out instead of built ' +
  'by object spread, attribute key lists as constants, serial calls grouped without an array each, small par ' +
  'blocks packed into lanes without a typed array, a call drawn at once completed without a closure, request ' +
  "numbers kept only when some call used another's answer, the search for loops of parent links skipped when " +
  'every span was reached, and nothing remembered on a layout that is drawn only once. A CPU profile of 30,000 ' +
  'draws of the 100-span trace (`node --cpu-prof --no-turbo-inlining`), compared function by function with ' +
  "d25049b's, pointed at the map entry per request arrow (about a third of `head`'s time), the closures per " +
  'call and garbage collection; a sampling heap profile counting collected objects put the 100-span draw at ' +
  '501 KB allocated, now 443 KB (d25049b: 485 KB). Figure 5 now also runs this build and the build before ' +
  'at the same time, one per CPU, swapping CPUs each round: the two CPUs of this machine were measured up to ' +
  '1.6× apart for minutes, which had flipped the comparison from run to run.';

const sharedTree =
  "The writer thread's per-trace summary shares the span tree and call layout that were made leaner for " +
  "drawing (see figure 5's note); measured alone, `summarizeTrace` per 10-span trace is within a few percent " +
  'of before. A larger move is the noise of this shared machine, whose two CPUs were measured up to 1.6× ' +
  "apart for minutes during this run's preparation.";

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans10000.ms': leanerDraw,
  'diagram.growthExponent': leanerDraw,
  'diagram.lastDecadeExponent': leanerDraw,
  'overhead.hello.lifelineVsOtlp.addedCpu': sharedTree,
  'overhead.hello.lifelineVsOtlp.rps': sharedTree,
  'overhead.db.lifelineVsOtlp.addedCpu': sharedTree,
  'overhead.db.lifelineVsOtlp.rps': sharedTree,
  'overhead.nplus1.lifelineVsOtlp.addedCpu': sharedTree,
  'overhead.nplus1.lifelineVsOtlp.rps': sharedTree,
  'ingest.exporter.spansPerS': sharedTree,
  'ingest.exporter.shareOfRaw': sharedTree,
  'receiver.viewer.spansPerS': sharedTree,
};
