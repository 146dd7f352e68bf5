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

const drawRuns =
  'Figure 5 draws each trace for about a second or two (2,000 runs of the 100-span trace, 150 of the 1,000-span ' +
  'one, 20 of the 10,000-span one) instead of 15 runs at most: 15 draws of a 100-span trace measured mostly what ' +
  "the JIT had compiled so far (3.00 ms against 0.3–0.5 ms once warm). The size guard's walk of the printed lines " +
  "measures a call's indentation without copying its line (its CPU profile showed `trimStart` copies).";

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans100.ms': drawRuns,
  'diagram.spans1000.ms': drawRuns,
  'diagram.spans10000.ms': drawRuns,
  'diagram.lastDecadeExponent': drawRuns,
  'diagram.growthExponent': drawRuns,
};
