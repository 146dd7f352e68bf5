/**
 * Validates Mermaid text with Mermaid's own parser, for every suite that
 * produces diagrams (core, viewer, CLI, integration). `mermaid.parse` runs in
 * Node 22 without a DOM.
 */
import mermaid from 'mermaid';

/** One participant as Mermaid's sequence parser understood it. */
export interface ParsedActor {
  readonly id: string;
  /** Display text with Mermaid's entity codes decoded. */
  readonly name: string;
  readonly type: string;
}

/** One arrow as Mermaid's sequence parser understood it. */
export interface ParsedSignal {
  readonly from: string;
  readonly to: string;
  /** Text with Mermaid's entity codes decoded. */
  readonly text: string;
  readonly type: number;
}

/** What Mermaid's sequence parser read from a diagram. */
export interface ParsedSequence {
  readonly actors: readonly ParsedActor[];
  /** Arrows only (no notes, no block markers), in text order: what `autonumber` numbers. */
  readonly signals: readonly ParsedSignal[];
  /** Texts of notes, decoded. */
  readonly notes: readonly string[];
}

/**
 * Parses Mermaid text and throws, with the parser's message and the text
 * itself, if Mermaid rejects it.
 */
export async function parseMermaid(text: string): Promise<void> {
  try {
    await mermaid.parse(text);
  } catch (error) {
    throw new Error(`Mermaid rejected the diagram: ${(error as Error).message}\n--- diagram ---\n${text}`);
  }
}

interface SequenceDbLike {
  getActors(): Map<string, { description: string; type?: string }>;
  getMessages(): { from?: string; to?: string; message: unknown; type?: number }[];
  LINETYPE: { NOTE: number };
}

/**
 * Parses a sequence diagram and returns what Mermaid read: participants,
 * arrows and notes, with texts decoded, so tests can check that escaping
 * kept the meaning.
 */
export async function parseSequenceDiagram(text: string): Promise<ParsedSequence> {
  await parseMermaid(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db as unknown as SequenceDbLike;
  const actors = [...db.getActors().entries()].map(([id, actor]) => ({
    id,
    name: decodeMermaidText(actor.description),
    type: actor.type ?? 'participant',
  }));
  const signals: ParsedSignal[] = [];
  const notes: string[] = [];
  for (const message of db.getMessages()) {
    if (message.type === db.LINETYPE.NOTE) {
      notes.push(decodeMermaidText(String(message.message)));
    } else if (message.from !== undefined && message.to !== undefined) {
      signals.push({
        from: message.from,
        to: message.to,
        text: decodeMermaidText(String(message.message)),
        type: message.type ?? -1,
      });
    }
  }
  return { actors, signals, notes };
}

const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the placeholders Mermaid substitutes for `#code;` entities back to characters. */
export function decodeMermaidText(text: string): string {
  return text
    .replace(/\ufb02\u00b0\u00b0(\d+)\u00b6\u00df/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/\ufb02\u00b0(\w+)\u00b6\u00df/g, (whole, name: string) => NAMED[name] ?? whole);
}
