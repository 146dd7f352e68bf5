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

const diagramLookups =
  'The span tree finds spans by id through a table of W3C ids held as numbers (`span-index.ts`) instead of a ' +
  '`Map` of id strings, and classifies each span as it reads it, keeping the class on the span under a private ' +
  'symbol instead of in a WeakMap. Line-level CPU profiles of the 10,000- and 100,000-span drawings put the growth ' +
  "past 10,000 spans in these lookups: the Map's `has` and `set` of each span id went from about 125 to 358 ns a " +
  'span (each probe reads the hash, and on a collision the characters, of id strings scattered over the heap), ' +
  "and the classification memo's WeakMap probe from 65 to 135 ns a span, once the trace no longer fits the CPU " +
  "cache. In the same profiles after the change, the class is read off the span (no longer among the drawing's " +
  'costly lines) and the id table costs one slot read per lookup. Both builds drawing the same traces at once, ' +
  'each on a CPU of its own: about the same time at 10,000 spans, 15 % less at 100,000. The diagram text is ' +
  'byte-identical: 504 generated traces with orphans, unended spans, duplicate ids, clock skew and unknown kinds ' +
  'drew the same with both builds.';

export const changeNotes: Readonly<Record<string, string>> = {
  'diagram.spans10000.ms': diagramLookups,
  'diagram.spans100000.ms': diagramLookups,
  'diagram.growthExponent': diagramLookups,
  'diagram.lastDecadeExponent': diagramLookups,
};
