import { describe, expect, it } from 'vitest';
import { decodeMermaidText, parseMermaid, parseSequenceDiagram } from './mermaid.js';

describe('parseMermaid', () => {
  it('accepts a valid sequence diagram', async () => {
    await expect(
      parseMermaid('sequenceDiagram\nautonumber\nactor p1 as Client\np1->>p1: hi\n'),
    ).resolves.toBeUndefined();
  });

  it('rejects a broken diagram naming the Mermaid version, with the parser message and the text', async () => {
    const broken = 'sequenceDiagram\np1->>: missing target\n';
    await expect(parseMermaid(broken)).rejects.toThrow(
      /Mermaid rejected the diagram \(Mermaid 10\.9\): [\s\S]*missing target/,
    );
  });

  it('rejects syntax only newer Mermaid reads, naming Mermaid 10.9, unless asked for the current Mermaid only', async () => {
    const shaped = 'sequenceDiagram\nparticipant p1@{ "type" : "database" } as pg\np1->>p1: hi\n';
    await expect(parseMermaid(shaped)).rejects.toThrow(/\(Mermaid 10\.9\)/);
    await expect(parseMermaid(shaped, { versions: 'current' })).resolves.toBeUndefined();
  });

  it('names the current Mermaid when only it rejects the text', async () => {
    // Mermaid 12 reads `@{` after a participant id as the start of its shape syntax.
    const text = 'sequenceDiagram\nparticipant p1@{ oops\np1->>p1: hi\n';
    await expect(parseMermaid(text, { versions: 'current' })).rejects.toThrow(/\(Mermaid 12\)/);
  });
});

describe('parseSequenceDiagram', () => {
  it('returns participants, arrows and notes with entity codes decoded, as both Mermaids read them', async () => {
    const parsed = await parseSequenceDiagram(
      [
        'sequenceDiagram',
        'autonumber',
        'actor p1 as Client',
        'participant p2 as pg#58; blog (db)',
        'p1->>p2: SELECT a#59; b #lt;c#gt;',
        'Note over p2: 5 ms own work',
        'p2-->>p1: ok',
      ].join('\n'),
    );
    expect(parsed.actors).toEqual([
      { id: 'p1', name: 'Client', type: 'actor' },
      { id: 'p2', name: 'pg: blog (db)', type: 'participant' },
    ]);
    expect(parsed.signals.map((s) => [s.from, s.to, s.text])).toEqual([
      ['p1', 'p2', 'SELECT a; b <c>'],
      ['p2', 'p1', 'ok'],
    ]);
    expect(parsed.notes).toEqual(['5 ms own work']);
  });

  it('reads participant shapes with the current Mermaid', async () => {
    const parsed = await parseSequenceDiagram(
      'sequenceDiagram\nparticipant p1@{ "type" : "queue" } as orders\np1->>p1: hi\n',
      { versions: 'current' },
    );
    expect(parsed.actors).toEqual([{ id: 'p1', name: 'orders', type: 'queue' }]);
  });
});

describe('decodeMermaidText', () => {
  it('decodes numeric and named placeholders', () => {
    expect(decodeMermaidText('\ufb02\u00b0\u00b059\u00b6\u00df \ufb02\u00b0amp\u00b6\u00df')).toBe('; &');
  });
});
