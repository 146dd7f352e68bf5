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

const drawing =
  'Drawing reads each span once. Line-level CPU profiles of ten 10,000-span drawings against one of 100,000 spans ' +
  "(`node --cpu-prof`, inspector sampling) and a heap sampling profile put the larger drawing's extra time per " +
  'span in every pass that went back to the spans after the tree had read them, or read a large table in random ' +
  "order: the id table's inserts and lookups (+12 ms), the parent-linking pass re-reading parent ids (+7 ms), " +
  "the layout reading each span's service and kind and each call's batch part, the size estimate reading " +
  'connection waits, failures and a WeakMap of normalised statements for every call, and a pass over every call ' +
  'for dependency hints. Now the tree parses ids as it reads each span and files and looks them up in bulk, in ' +
  "the order of the table's regions; a span's class keeps what the later stages read (its service, kind, batch " +
  'part, connection wait, failure, dependency hint and normalised statement); the layout sorts, groups and labels ' +
  'its calls in one walk; the estimate reads each call once and sizes its columns up front (the 100,000-span ' +
  'drawing allocates 216 MB instead of 261). Same machine, same day, pinned alternating rounds: 10,000 spans ' +
  'from 21.2 to about 16 ms, 100,000 spans from 294 to about 215 ms. The machine also ran faster in this run ' +
  'than in the previous one (the raw insert of figure 2 went from 128,645 to 214,875 spans/s).';

const summaries =
  "No change to the receiver. The summary its writer computes per trace now takes each span's failure from its " +
  'class, read once with everything else the class keeps; the decode-only baseline rose by a similar share ' +
  '(309,346 to 461,311 spans/s): the machine ran faster in this run.';

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans10000.ms': drawing,
  'diagram.spans100000.ms': drawing,
  'diagram.growthExponent': drawing,
  'diagram.lastDecadeExponent': drawing,
  'diagram.summary.usPerTrace': drawing,
  'receiver.viewer.spansPerS': summaries,
  'receiver.viewer.p99': summaries,
};
