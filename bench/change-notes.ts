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

const estimateFirst =
  'The size guard estimates a trace of more calls than the limit over 64 characters before drawing it, and ' +
  'skips the whole drawing when the estimate is over the limit by more than its tested 7 % error (1.1×, was ' +
  '1.5×). The 1,000-span trace (962 calls, 63,030 characters whole against the 50,000 limit) was built and ' +
  'printed whole only to be thrown away, then folded and built again: its CPU profile (`--draw-only` child ' +
  'under `--cpu-prof`) put twice the sequence builder time and twice the garbage collection of the build ' +
  'before in that case. It is now estimated and built once, folded.';

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans1000.ms': estimateFirst,
  'diagram.growthExponent': estimateFirst,
};
