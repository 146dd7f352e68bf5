/**
 * Validates Mermaid text with Mermaid's own parsers, for every suite that
 * produces diagrams (core, viewer, CLI, integration). Each diagram is parsed
 * twice: by Mermaid 10.9 (the oldest release Lifeline's exports must parse on,
 * because GitHub, GitLab, editors and wikis lag behind) and by the current
 * Mermaid (what the viewer bundles). Both must accept it and read the same
 * participants, arrows and notes.
 */
import { JSDOM } from 'jsdom';
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

/** The part of Mermaid's API both major versions share. */
interface MermaidLike {
  parse(text: string): Promise<unknown>;
  mermaidAPI: { getDiagramFromText(text: string): Promise<{ db: unknown }> };
}

interface ParserVersion {
  readonly name: string;
  readonly load: () => Promise<MermaidLike>;
}

let oldMermaid: Promise<MermaidLike> | undefined;

/**
 * Mermaid 10 reads `window` and `document` when its module is evaluated (its
 * sanitizer and its text measuring), even just to parse: it gets a jsdom
 * window, set only here and only once, before the module is first imported.
 */
function loadMermaid10(): Promise<MermaidLike> {
  oldMermaid ??= (async () => {
    const globals = globalThis as { window?: unknown; document?: unknown };
    if (globals.window === undefined) {
      const { window } = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
      globals.window = window;
      globals.document = window.document;
    }
    const module = (await import('mermaid-10')) as { default: MermaidLike };
    return module.default;
  })();
  return oldMermaid;
}

/** The parsers every diagram must pass, oldest first. */
const VERSIONS: readonly ParserVersion[] = [
  { name: 'Mermaid 10.9', load: loadMermaid10 },
  { name: 'Mermaid 12', load: async () => mermaid as unknown as MermaidLike },
];

/** Options of {@link parseMermaid} and {@link parseSequenceDiagram}. */
export interface ParseOptions {
  /**
   * `'all'` (default): Mermaid 10.9 and the current Mermaid must both accept
   * the text. `'current'`: only the current Mermaid, for syntax Lifeline
   * emits only when asked (participant shapes).
   */
  readonly versions?: 'all' | 'current';
}

function versionsFor(options: ParseOptions): readonly ParserVersion[] {
  return options.versions === 'current' ? VERSIONS.slice(-1) : VERSIONS;
}

/**
 * Parses Mermaid text with Mermaid 10.9 and with the current Mermaid.
 *
 * @throws Error naming the Mermaid version that rejected the text, with the
 *   parser's message and the text itself.
 */
export async function parseMermaid(text: string, options: ParseOptions = {}): Promise<void> {
  for (const version of versionsFor(options)) {
    const parser = await version.load();
    try {
      await parser.parse(text);
    } catch (error) {
      throw new Error(
        `Mermaid rejected the diagram (${version.name}): ${(error as Error).message}\n--- diagram ---\n${text}`,
      );
    }
  }
}

interface SequenceDbLike {
  /** A Map from Mermaid 11 on; a plain object keyed by id in Mermaid 10. */
  getActors(): Map<string, ActorLike> | Record<string, ActorLike>;
  getMessages(): {
    from?: string | { actor: string };
    to?: string | { actor: string };
    message: unknown;
    type?: number;
  }[];
  LINETYPE: { NOTE: number };
}

interface ActorLike {
  description: string;
  type?: string;
}

/** Reads participants, arrows and notes from one version's sequence db. */
async function readSequence(parser: MermaidLike, text: string): Promise<ParsedSequence> {
  const diagram = await parser.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db as SequenceDbLike;
  const rawActors = db.getActors();
  const entries = rawActors instanceof Map ? [...rawActors.entries()] : Object.entries(rawActors);
  const actors = entries.map(([id, actor]) => ({
    id,
    name: decodeMermaidText(actor.description),
    type: actor.type ?? 'participant',
  }));
  const signals: ParsedSignal[] = [];
  const notes: string[] = [];
  const actorId = (end: string | { actor: string }): string => (typeof end === 'string' ? end : end.actor);
  for (const message of db.getMessages()) {
    if (message.type === db.LINETYPE.NOTE) {
      notes.push(decodeMermaidText(String(message.message)));
    } else if (message.from !== undefined && message.to !== undefined) {
      signals.push({
        from: actorId(message.from),
        to: actorId(message.to),
        text: decodeMermaidText(String(message.message)),
        type: message.type ?? -1,
      });
    }
  }
  return { actors, signals, notes };
}

/**
 * Parses a sequence diagram with Mermaid 10.9 and the current Mermaid and
 * returns what they read: participants, arrows and notes, with texts decoded,
 * so tests can check that escaping kept the meaning.
 *
 * @throws Error when either version rejects the text, or when the two read
 *   different participants (ids and names), arrows or notes. Participant
 *   types are the current Mermaid's: Mermaid 10 has no participant shapes.
 */
export async function parseSequenceDiagram(text: string, options: ParseOptions = {}): Promise<ParsedSequence> {
  await parseMermaid(text, options);
  const readings = await Promise.all(
    versionsFor(options).map(async (version) => readSequence(await version.load(), text)),
  );
  const current = readings[readings.length - 1] as ParsedSequence;
  const old = readings[0] as ParsedSequence;
  const sameReading = (a: ParsedSequence): unknown => ({
    actors: a.actors.map(({ id, name }) => ({ id, name })),
    signals: a.signals.map(({ from, to, text }) => ({ from, to, text })),
    notes: a.notes,
  });
  const before = JSON.stringify(sameReading(old));
  const after = JSON.stringify(sameReading(current));
  if (before !== after) {
    throw new Error(
      `Mermaid 10.9 and Mermaid 12 read the diagram differently\n--- Mermaid 10.9 ---\n${before}\n--- Mermaid 12 ---\n${after}\n--- diagram ---\n${text}`,
    );
  }
  return current;
}

const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the placeholders Mermaid substitutes for `#code;` entities back to characters. */
export function decodeMermaidText(text: string): string {
  return text
    .replace(/\ufb02\u00b0\u00b0(\d+)\u00b6\u00df/g, (_, code: string) => String.fromCodePoint(Number(code)))
    .replace(/\ufb02\u00b0(\w+)\u00b6\u00df/g, (whole, name: string) => NAMED[name] ?? whole);
}
