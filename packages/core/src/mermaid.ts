/**
 * Drawing a trace as Mermaid text, stage by stage: span tree (tree.ts), call
 * layout (layout.ts), sequence model (sequence.ts), then the size guard
 * (size-guard.ts), which builds and prints (render.ts, escape.ts) within
 * Mermaid's text limit. Escaping and printing are importable from here too.
 */
import { layoutTrace } from './layout.js';
import type { RenderOptions } from './render.js';
import type { SequenceModel, SequenceOptions } from './sequence-model.js';
import { fitDiagram } from './size-guard.js';
import type { Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

export { type EscapeOptions, escapeMermaidText } from './escape.js';
export { type RenderOptions, renderMermaid } from './render.js';

/** Options for {@link traceToMermaid}. */
export interface TraceToMermaidOptions extends SequenceOptions, RenderOptions {
  /** Upper bound for the text length; Mermaid's default `maxTextSize` is 50,000. */
  readonly maxTextLength?: number;
}

/** The diagram of a trace, with the model it was printed from. */
export interface TraceDiagram {
  readonly text: string;
  readonly model: SequenceModel;
  /** True when parts of the trace were folded to respect `maxTextLength`. */
  readonly folded: boolean;
}

/** Mermaid's default `maxTextSize`; GitHub does not raise it. */
export const DEFAULT_MAX_TEXT_LENGTH = 50_000;

/**
 * Draws a trace as Mermaid text in one call: span tree, layout, sequence
 * model, text. Keeps the text under `maxTextLength` (default 50,000
 * characters, Mermaid's `maxTextSize`): when the whole drawing is longer, the
 * fewest groups of nested calls are folded, largest (then deepest) first, so
 * that the folded diagram still uses at least 80 % of the limit where the
 * trace's shape allows it. Each folded group becomes a note in place ("37
 * calls folded", and "…, 2 failed" when failed calls are among them: no fold
 * hides a failure), and a note at the top of the diagram (also in
 * `model.notes`) says how many calls were folded under which arrows.
 *
 * @example
 * ```ts
 * const { text, model, folded } = traceToMermaid(trace, { timings: false });
 * // text starts with 'sequenceDiagram\nautonumber\n'
 * // model.arrows[n - 1].spanId is the span behind arrow number n
 * ```
 */
export function traceToMermaid(trace: Trace, options: TraceToMermaidOptions = {}): TraceDiagram {
  const max = Math.max(200, options.maxTextLength ?? DEFAULT_MAX_TEXT_LENGTH);
  return fitDiagram(layoutTrace(buildSpanTree(trace), { internal: options.internal }), options, max);
}
