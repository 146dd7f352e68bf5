/**
 * Prints a sequence model as Mermaid `sequenceDiagram` text. All text from
 * spans passes through {@link escapeMermaidText}.
 */
import { escapeMermaidText } from './escape.js';
import type { Participant, SequenceItem, SequenceModel } from './sequence-model.js';

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
  return `${renderLines(model, options).join('\n')}\n`;
}

/**
 * The lines {@link renderMermaid} prints, without their newlines: the
 * header, a line per participant, then a line per item of `model.items`
 * depth first (a `par` block's `par`, `and` and `end` lines around its
 * branches, a `loop` block's `loop` and `end` around its items). The size
 * guard reads what each line costs from them.
 */
export function renderLines(model: SequenceModel, options: RenderOptions = {}): string[] {
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
  return lines;
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
