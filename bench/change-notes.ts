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

const tracePage =
  'The trace page draws its diagram before building the rest of the page, and its entry script no longer holds ' +
  'the list, endpoints and compare pages (21 KB instead of 76 KB). Performance marks in both pages (navigation, ' +
  "the bundle's start, the trace's arrival, the start and end of `mermaid.render`, the diagram in the page) put " +
  "the viewer page's extra time in three places: its larger entry script and the code run before the first line " +
  'of the page, the page built before the diagram, and `mermaid.render` itself, which took about a tenth longer ' +
  'in the finished page than in an empty one because Mermaid measures each label by adding it to the page. ' +
  "Resource timings then showed the page's modules requested in three waves (the entry, its 24 chunks, " +
  "Mermaid's sequence diagram chunk), each found only once the one before had arrived: the page's HTML now names " +
  'them all as `modulepreload` links. Marks after `mermaid.render` showed about 100 ms before the diagram was laid ' +
  'out: an XML parse of the SVG (18 ms, now 9 ms through the HTML parser) and two layouts of the page (the width ' +
  'was read with the diagram already in it); the SVG is now sized before it goes in, and the analysis panel in ' +
  'the side column is filled after the diagram.';

const diagramObjects =
  'The drawing keeps fewer objects alive per span. The size guard estimated every call with the memoising ' +
  "helpers, so a 100,000-span layout carried each call's texts and run lists until it was dropped, although a " +
  'plan draws at most a few thousand arrows; the estimate now reads them without remembering (retained at ' +
  '100,000 spans: 739 → 455 B/span). The layout no longer makes an interval object per child when it groups ' +
  'calls, two arrays per call for outcomes, or a batch view per child of a call with plain Redis commands, and ' +
  'a drawn call has all its fields from creation (allocated at 100,000 spans: 289 → 252 MB). What pointed there: ' +
  '`--trace-gc` put most of the garbage collection in scavenges whose cost grew with the per-call data still ' +
  'alive (1,015 → 438 ms over a warm run of 10,000- and 100,000-span drawings), and measuring what the tree, ' +
  "the layout and the estimate each kept alive put the estimate's texts first (263 of 739 B/span).";

export const changeNotes: Readonly<Record<string, string>> = {
  'browser.viewerPage200.ms': tracePage,
  'diagram.spans10000.ms': diagramObjects,
  'diagram.spans100000.ms': diagramObjects,
  'diagram.growthExponent': diagramObjects,
  'diagram.lastDecadeExponent': diagramObjects,
};
