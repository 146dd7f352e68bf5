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

const sizeGuardSizes =
  "A trace drawn whole that does not fit takes its fold plan's sizes from its printed lines instead of walking the " +
  "layout a second time, and a call's texts and a list's arranged runs are kept on the call and the list " +
  '(symbol-keyed properties) instead of in WeakMaps. CPU profiles of drawing fresh 100- and 1,000-span traces put ' +
  "about a third of the builder's time in the two WeakMaps (the garbage collector's ephemeron work on every new " +
  "layout's keys) and a tenth of the 1,000-span case in the estimate's second walk.";

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans100.ms': sizeGuardSizes,
  'diagram.spans1000.ms': sizeGuardSizes,
  'diagram.spans10000.ms': sizeGuardSizes,
  'diagram.spans100000.ms': sizeGuardSizes,
  'diagram.lastDecadeExponent': sizeGuardSizes,
  'diagram.growthExponent': sizeGuardSizes,
};
