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

const fasterMiddle =
  `${estimateFirst} The fitted exponent rose because that middle point fell: the 1,000-span drawing is about ` +
  'half as long as before, which steepens the slope from 1,000 to 10,000 spans, while the 10,000- and ' +
  "100,000-span drawings did not get slower (see figure 5's rows against the build before, same run).";

const nestedSaving =
  "Each ingested trace's summary makes one more pass over its calls (the request's overlap saving is reckoned " +
  'from the innermost calls out instead of summed over every serial run). That cannot make ingest faster: a ' +
  "move up is this shared machine's noise.";

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans1000.ms': estimateFirst,
  'diagram.growthExponent': fasterMiddle,
  'ingest.exporter.spansPerS': nestedSaving,
  'ingest.exporter.shareOfRaw': nestedSaving,
  'receiver.viewer.spansPerS': nestedSaving,
};
