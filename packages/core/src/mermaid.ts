/**
 * Stage two of drawing: a sequence model becomes Mermaid `sequenceDiagram`
 * text. All text from spans passes through one escaper, so no span name,
 * attribute or error message can break the diagram or inject markup.
 */
import { type DrawnCall, layoutTrace, type TraceLayout } from './layout.js';
import {
  buildBounded,
  buildSequence,
  type FoldLimits,
  MAX_DRAWN_DEPTH,
  type Note,
  type Participant,
  type SequenceItem,
  type SequenceModel,
  type SequenceOptions,
  truncate,
} from './sequence.js';
import { chooseFolds, estimateSizes } from './size-guard.js';
import type { Trace } from './trace.js';
import { buildSpanTree } from './tree.js';

/** Options for {@link renderMermaid}. */
export interface RenderOptions {
  /** Indentation per nesting level of `par`/`loop` blocks. Default two spaces. */
  readonly indent?: string;
  /**
   * Draw databases and caches with Mermaid's database shape and queues with
   * its queue shape (`participant p3@{ "type" : "database" } as …`). That
   * syntax parses only on recent Mermaid (11.13 and later), so it is off by
   * default: every participant is then a plain `participant`, its kind said
   * by a word after the name (`postgresql blog (db)`, `redis (cache)`,
   * `orders (queue)`), which parses on Mermaid 10.9 and every later release.
   * Default false.
   */
  readonly participantShapes?: boolean;
}

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

// Mermaid decodes these entity codes after parsing, so they can stand for any
// character the grammar would otherwise read as syntax.
const ENTITIES: Readonly<Record<string, string>> = {
  '#': '#35;',
  ';': '#59;',
  '%': '#37;',
  '<': '#lt;',
  '>': '#gt;',
  '&': '#amp;',
  '"': '#quot;',
  '`': '#96;',
  '{': '#123;',
  '}': '#125;',
  '\\': '#92;',
  ':': '#58;',
  ',': '#44;',
};
const TEXT_SPECIALS = /[#;%<>&"`{}\\]/g;
const NAME_SPECIALS = /[#;%<>&"`{}\\:,]/g;
// Control characters, line and paragraph separators, and lone surrogates would
// end a statement or garble the text: they become spaces.
const BREAKING =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this removes.
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// Text made only of these characters, with no leading or doubled spaces, is already what the escaper would produce.
const SAFE_NAME = /^[\w./*×·()'=+!?@$^~|[\]-]+(?: [\w./*×·()'=+!?@$^~|[\]-]+)*$/;
const SAFE_TEXT = /^[\w./*×·()'=+!?@$^~|[\]:,-]+(?: [\w./*×·()'=+!?@$^~|[\]:,-]+)*$/;

/** Options for {@link escapeMermaidText}. */
export interface EscapeOptions {
  /** Participant display names also escape `:` and `,`. */
  readonly name?: boolean;
  /** Longer text is cut with `…`. Default 120. */
  readonly maxLength?: number;
}

/**
 * Escapes text for a Mermaid sequence diagram: one line, no character the
 * grammar treats as syntax (`;` `#` `%%` `<` `>` `{` `}` quotes...), each
 * replaced by Mermaid's `#code;` entity, and truncated.
 *
 * @example
 * ```ts
 * escapeMermaidText('a; b <script>'); // 'a#59; b #lt;script#gt;'
 * ```
 */
export function escapeMermaidText(text: string, options: EscapeOptions = {}): string {
  const max = options.maxLength ?? 120;
  // Most labels are plain words: skip the replacements when nothing needs them.
  if (text.length <= max && (options.name ? SAFE_NAME : SAFE_TEXT).test(text) && !/^[\s:]*(?:no)?wrap/i.test(text)) {
    return text;
  }
  let s = String(text).replace(BREAKING, ' ').replace(/\s+/g, ' ').trim();
  if (s.length > max) {
    const points = Array.from(s);
    if (points.length > max)
      s = `${points
        .slice(0, max - 1)
        .join('')
        .trimEnd()}…`;
  }
  if (s === '') return options.name ? '(unnamed)' : '…';
  s = s.replace(options.name ? NAME_SPECIALS : TEXT_SPECIALS, (ch) => ENTITIES[ch] ?? ch);
  // Mermaid reads a leading "wrap:" or "nowrap:" as a directive and drops it from the text.
  if (/^[\s:]*(?:no)?wrap/i.test(s)) s = s.replace(/:/g, '#58;');
  return s;
}

/** Mermaid participant shapes (`participant id@{ "type" : … }`, Mermaid 11.13+) for the kinds that have one. */
const SHAPES: Readonly<Partial<Record<Participant['kind'], string>>> = {
  database: 'database',
  cache: 'database',
  queue: 'queue',
};

/**
 * Without shapes, the word after a participant's name that says what it is:
 * `postgresql blog (db)`, `redis (cache)`, `orders (queue)`.
 */
const KIND_WORDS: Readonly<Partial<Record<Participant['kind'], string>>> = {
  database: 'db',
  cache: 'cache',
  queue: 'queue',
};

const ARROWS = {
  request: '->>',
  self: '->>',
  response: '-->>',
  error: '--x',
  async: '-)',
} as const;

/**
 * Prints a sequence model as Mermaid text: `sequenceDiagram`, `autonumber`,
 * participant declarations in order of first appearance, then the body.
 *
 * @example
 * ```ts
 * const text = renderMermaid(toSequence(trace, { timings: false }));
 * // sequenceDiagram
 * // autonumber
 * // actor p1 as Client
 * // participant p2 as api
 * // p1->>p2: GET /articles/:id
 * // ...
 * ```
 */
export function renderMermaid(model: SequenceModel, options: RenderOptions = {}): string {
  const lines: string[] = ['sequenceDiagram', 'autonumber'];
  // Only whitespace may indent: anything else would become part of the statement.
  const indent = options.indent !== undefined && /^[ \t]*$/.test(options.indent) ? options.indent : '  ';
  const shapes = options.participantShapes === true;
  for (const p of model.participants) {
    const name = escapeMermaidText(p.name, { name: true, maxLength: 60 });
    const shape = SHAPES[p.kind];
    if (p.kind === 'actor') lines.push(`actor ${p.id} as ${name}`);
    else if (shape !== undefined && shapes) lines.push(`participant ${p.id}@{ "type" : "${shape}" } as ${name}`);
    else if (shape !== undefined) lines.push(`participant ${p.id} as ${name} (${KIND_WORDS[p.kind]})`);
    else lines.push(`participant ${p.id} as ${name}`);
  }
  renderItems(model.items, 0, indent, lines);
  return `${lines.join('\n')}\n`;
}

function renderItems(items: readonly SequenceItem[], depth: number, indent: string, lines: string[]): void {
  const pad = indent.repeat(Math.min(depth, 40));
  for (const item of items) {
    switch (item.type) {
      case 'message':
        lines.push(`${pad}${item.from}${ARROWS[item.kind]}${item.to}: ${escapeMermaidText(item.text)}`);
        break;
      case 'note':
        // The size guard's note names what it folded: it may run longer than other notes.
        lines.push(
          `${pad}Note over ${item.over.join(',')}: ${escapeMermaidText(item.text, { maxLength: item.reason === 'folded' ? 240 : 120 })}`,
        );
        break;
      case 'loop':
        lines.push(`${pad}loop ${escapeMermaidText(item.label)}`);
        renderItems(item.items, depth + 1, indent, lines);
        lines.push(`${pad}end`);
        break;
      case 'par':
        item.branches.forEach((branch, i) => {
          const branchLabel = item.branchLabels[i] ?? '';
          if (i === 0) lines.push(`${pad}par ${escapeMermaidText(item.label)}`);
          else lines.push(branchLabel === '' ? `${pad}and` : `${pad}and ${escapeMermaidText(branchLabel)}`);
          renderItems(branch, depth + 1, indent, lines);
        });
        lines.push(`${pad}end`);
        break;
    }
  }
}

/**
 * Characters of a rendered model per nesting level (each line counted with
 * its newline), plus the header. Lines are matched to items in the order the
 * renderer writes them; block lines (`par`, `and`, `loop`, `end`) count at the
 * level of the first arrow inside.
 */
function levelSizes(model: SequenceModel, text: string): { header: number; levels: number[] } {
  const lines = text.split('\n');
  let i = 0;
  let header = 0;
  for (; i < 2 + model.participants.length; i++) header += (lines[i]?.length ?? 0) + 1;
  const levels: number[] = [];
  const add = (level: number): void => {
    levels[level] = (levels[level] ?? 0) + (lines[i++]?.length ?? 0) + 1;
  };
  const firstLevel = (items: readonly SequenceItem[]): number => {
    for (const item of items) {
      if (item.type === 'message' || item.type === 'note') return item.level;
      const inner = item.type === 'loop' ? firstLevel(item.items) : firstLevel(item.branches[0] ?? []);
      if (inner >= 0) return inner;
    }
    return -1;
  };
  const walk = (items: readonly SequenceItem[]): void => {
    for (const item of items) {
      if (item.type === 'message' || item.type === 'note') {
        add(item.level);
      } else if (item.type === 'loop') {
        const level = Math.max(0, firstLevel(item.items));
        add(level);
        walk(item.items);
        add(level);
      } else {
        const level = Math.max(0, firstLevel(item.branches[0] ?? []));
        item.branches.forEach((branch, b) => {
          add(level);
          walk(branch);
          if (b === item.branches.length - 1) add(level);
        });
      }
    }
  };
  walk(model.items);
  return { header, levels };
}

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
  const layout = layoutTrace(buildSpanTree(trace), { internal: options.internal });
  // Every arrow line takes at least 11 characters ("p1->>p2: x" and a newline),
  // so a drawing with more arrows than this is certainly too long: building
  // stops there instead of drawing 100,000 spans only to throw them away.
  const maxArrows = Math.floor(max / 11) + 1;
  const full = buildBounded(layout, options, { maxArrows });
  let fullText: string | undefined;
  if (!full.overflowed) {
    fullText = renderMermaid(full.model, options);
    if (fullText.length <= max) return { text: fullText, model: full.model, folded: false };
  }
  const fitted = foldLargestGroups(layout, options, max, maxArrows, fullText?.length);
  if (fitted) return { ...fitted, folded: true };
  return { ...foldLevels(layout, options, max, maxArrows, full.model, fullText), folded: true };
}

/**
 * Share of the limit a folded diagram is first aimed at: just under it, so
 * that as few groups as possible are folded. Each further plan, with the
 * estimate corrected by what the last one measured, aims a little lower.
 */
const FOLD_TARGET = 0.97;
const FOLD_TARGET_STEP = 0.04;
/** Share of the limit a folded diagram uses at least, where groups small enough exist. */
const FOLD_FLOOR = 0.8;
/** Plans measured before the guard settles for the best one that fits. */
const FOLD_ATTEMPTS = 6;

/**
 * Folds the fewest groups of nested calls, largest first, until the text
 * fits; undefined when no plan of whole groups fits (a single level wider
 * than the limit).
 */
function foldLargestGroups(
  layout: TraceLayout,
  options: TraceToMermaidOptions,
  max: number,
  maxArrows: number,
  fullLength: number | undefined,
): { text: string; model: SequenceModel } | undefined {
  const indent = options.indent !== undefined && /^[ \t]*$/.test(options.indent) ? options.indent : '  ';
  const estimate = estimateSizes(layout, {
    indentWidth: indent.length,
    timings: options.timings !== false,
    foldLoops: options.foldLoops !== false,
  });
  // Real characters per estimated character, known exactly when the full text was printed.
  let scale = fullLength !== undefined ? fullLength / Math.max(1, estimate.total) : 1;
  let best: { text: string; model: SequenceModel } | undefined;
  const tried = new Set<string>();
  for (let attempt = 0; attempt < FOLD_ATTEMPTS; attempt++) {
    const keep = ((FOLD_TARGET - attempt * FOLD_TARGET_STEP) * max) / scale;
    const floor = (FOLD_FLOOR * max) / scale;
    const plan = chooseFolds(estimate.candidates, estimate.total - keep, estimate.total - floor);
    if (plan === undefined) break;
    const key = plan.calls
      .map((call) => call.node.span.spanId)
      .sort()
      .join(',');
    if (tried.has(key)) break;
    tried.add(key);
    const drawn = drawFolded(layout, options, plan.calls, max, maxArrows);
    // A plan that overflowed the arrow bound is certainly too long: assume half as long again.
    const length = drawn?.text.length ?? 1.5 * max;
    if (drawn && length <= max && (!best || length > best.text.length)) best = drawn;
    if (length <= max && length >= FOLD_FLOOR * max) break;
    scale = length / Math.max(1, estimate.total - plan.saved);
  }
  return best;
}

/** Builds and prints the diagram with `folds` folded, led by a note saying what was folded. */
function drawFolded(
  layout: TraceLayout,
  options: TraceToMermaidOptions,
  folds: readonly DrawnCall[],
  max: number,
  maxArrows: number,
): { text: string; model: SequenceModel } | undefined {
  const built = buildBounded(layout, options, {
    foldSpanIds: new Set(folds.map((call) => call.node.span.spanId)),
    maxArrows,
  });
  if (built.overflowed) return undefined;
  const numbers = new Map<string, number>();
  for (const arrow of built.model.arrows) if (!numbers.has(arrow.spanId)) numbers.set(arrow.spanId, arrow.number);
  // Only groups the diagram draws were folded (a call repeated in a loop is drawn once).
  const groups = folds
    .filter((call) => numbers.has(call.node.span.spanId))
    .sort(
      (a, b) =>
        b.nestedCalls - a.nestedCalls ||
        (numbers.get(a.node.span.spanId) ?? 0) - (numbers.get(b.node.span.spanId) ?? 0),
    );
  const calls = groups.reduce((sum, call) => sum + call.nestedCalls, 0);
  const shown = groups
    .slice(0, FOLD_NOTE_GROUPS)
    .map((call) => `${call.nestedCalls} under ${numbers.get(call.node.span.spanId)} ${truncate(call.label, 30)}`);
  if (groups.length > FOLD_NOTE_GROUPS) shown.push(`${groups.length - FOLD_NOTE_GROUPS} more`);
  const text =
    `diagram folded to stay under ${max} characters: ${calls} ${calls === 1 ? 'call' : 'calls'} ` +
    `under ${groups.length} ${groups.length === 1 ? 'arrow' : 'arrows'} (${shown.join(', ')})`;
  const participants = built.model.participants;
  const first = participants[0];
  const last = participants[participants.length - 1];
  const over = first === undefined || last === undefined ? [] : first === last ? [first.id] : [first.id, last.id];
  const note: Note = { type: 'note', over, text, reason: 'folded', level: 0 };
  const model: SequenceModel = {
    ...built.model,
    items: over.length > 0 ? [note, ...built.model.items] : built.model.items,
    notes: [...built.model.notes, text],
  };
  return { text: renderMermaid(model, options), model };
}

/** Folded groups named in the note at the top of a folded diagram; the rest are counted. */
const FOLD_NOTE_GROUPS = 3;

/**
 * The fallback for traces whose width, not depth, is the problem: folds
 * whole levels, and cuts each level short when even one level is too long.
 */
function foldLevels(
  layout: TraceLayout,
  options: TraceToMermaidOptions,
  max: number,
  maxArrows: number,
  fullModel: SequenceModel,
  fullText: string | undefined,
): { text: string; model: SequenceModel } {
  const attempt = (limits: FoldLimits): { model: SequenceModel; text: string } | undefined => {
    const built = buildBounded(layout, options, { ...limits, maxArrows });
    if (built.overflowed) return undefined;
    const text = renderMermaid(built.model, options);
    return text.length <= max ? { model: built.model, text } : undefined;
  };
  // Fold the deepest levels first: the largest depth that fits wins.
  let deepest = 1;
  const withChildren: number[] = [];
  for (const call of layout.calls) {
    if (call.depth + 1 > deepest) deepest = call.depth + 1;
    if (call.children.length > 0) withChildren[call.depth] = (withChildren[call.depth] ?? 0) + 1;
  }
  deepest = Math.min(deepest, MAX_DRAWN_DEPTH);
  let best: { model: SequenceModel; text: string; maxDepth: number } | undefined;
  if (fullText !== undefined) {
    // The full rendering tells how many characters each level costs, so the
    // first depth tried is usually the one that fits.
    const sizes = levelSizes(fullModel, fullText);
    const estimate = (maxDepth: number): number => {
      let total = sizes.header;
      for (let level = 0; level < maxDepth; level++) total += sizes.levels[level] ?? 0;
      return total + (withChildren[maxDepth - 1] ?? 0) * (48 + 2 * maxDepth);
    };
    let depth = deepest - 1;
    while (depth >= 1 && estimate(depth) > max) depth--;
    for (; depth >= 1 && !best; depth--) {
      const fits = attempt({ maxDepth: depth });
      if (fits) best = { ...fits, maxDepth: depth };
    }
  } else {
    // Too big to draw at all: deepen level by level while it still fits.
    for (let depth = 1; depth < deepest; depth++) {
      const fits = attempt({ maxDepth: depth });
      if (!fits) break;
      best = { ...fits, maxDepth: depth };
    }
  }
  if (!best || best.maxDepth < 2) {
    // Even the shallowest drawing is too long (a very wide level), or only the
    // top level fits: keep one more level, each level cut short.
    const depth = best ? Math.min(best.maxDepth + 1, deepest) : 1;
    let itemsLo = 1;
    let itemsHi = Math.max(1, Math.min(layout.calls.length, maxArrows));
    let cut: { model: SequenceModel; text: string } | undefined;
    while (itemsLo <= itemsHi) {
      const mid = (itemsLo + itemsHi) >> 1;
      const fits = attempt({ maxDepth: depth, maxItems: mid });
      if (fits) {
        cut = fits;
        itemsLo = mid + 1;
      } else {
        itemsHi = mid - 1;
      }
    }
    if (cut && (!best || cut.text.length > best.text.length)) best = { ...cut, maxDepth: depth };
  }
  if (!best) {
    const model = buildSequence(layout, options, { maxDepth: 1, maxItems: 1 });
    best = { model, text: renderMermaid(model, options), maxDepth: 1 };
  }
  const model: SequenceModel = {
    ...best.model,
    notes: [
      ...best.model.notes,
      `diagram folded to stay under ${max} characters (the trace has ${layout.calls.length} drawn calls)`,
    ],
  };
  return { text: best.text, model };
}
