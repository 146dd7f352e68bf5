import { describe, expect, it } from 'vitest';
import { decodeMermaidText, parseMermaid, parseSequenceDiagram } from './mermaid.js';

describe('parseMermaid', () => {
  it('accepts a valid sequence diagram', async () => {
    await expect(
      parseMermaid('sequenceDiagram\nautonumber\nactor p1 as Client\np1->>p1: hi\n'),
    ).resolves.toBeUndefined();
  });

  it('rejects a broken diagram with the parser message and the text', async () => {
    const broken = 'sequenceDiagram\np1->>: missing target\n';
    await expect(parseMermaid(broken)).rejects.toThrow(/Mermaid rejected the diagram: [\s\S]*missing target/);
  });
});

describe('parseSequenceDiagram', () => {
  it('returns participants, arrows and notes with entity codes decoded', async () => {
    const parsed = await parseSequenceDiagram(
      [
        'sequenceDiagram',
        'autonumber',
        'actor p1 as Client',
        'participant p2@{ "type" : "database" } as pg#58; blog',
        'p1->>p2: SELECT a#59; b #lt;c#gt;',
        'Note over p2: 5 ms own work',
        'p2-->>p1: ok',
      ].join('\n'),
    );
    expect(parsed.actors).toEqual([
      { id: 'p1', name: 'Client', type: 'actor' },
      { id: 'p2', name: 'pg: blog', type: 'database' },
    ]);
    expect(parsed.signals.map((s) => [s.from, s.to, s.text])).toEqual([
      ['p1', 'p2', 'SELECT a; b <c>'],
      ['p2', 'p1', 'ok'],
    ]);
    expect(parsed.notes).toEqual(['5 ms own work']);
  });
});

describe('decodeMermaidText', () => {
  it('decodes numeric and named placeholders', () => {
    expect(decodeMermaidText('\ufb02\u00b0\u00b059\u00b6\u00df \ufb02\u00b0amp\u00b6\u00df')).toBe('; &');
  });
});
