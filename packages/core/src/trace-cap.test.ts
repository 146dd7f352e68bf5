import { parseMermaid } from '@lifeline/test-support/mermaid';
import { httpServer, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { traceToMermaid } from './mermaid.js';
import { truncationNote, withLeadingNote } from './trace-cap.js';

const request = trace(
  httpServer({ id: 'r', start: 0, end: 30, method: 'GET', route: '/report', status: 200 }),
  sql({ id: 'q1', parent: 'r', start: 1, end: 2, query: 'SELECT 1' }),
  sql({ id: 'q2', parent: 'r', start: 3, end: 4, query: 'SELECT 2' }),
);

describe('the note of a trace cut to its earliest spans', () => {
  it('says how many spans there are and how many are drawn', () => {
    expect(truncationNote(250_000, 10_000)).toBe(
      'This trace has 250,000 spans: the earliest 10,000 by start time are drawn',
    );
  });

  it('is the first statement of the diagram after its participants, and parses on every Mermaid supported', async () => {
    const drawn = traceToMermaid(request, { timings: false });
    const noted = withLeadingNote(drawn, truncationNote(250_000, 3), 'longer note for the page');
    const lines = noted.text.split('\n');
    const participants = drawn.model.participants.length;
    expect(lines.slice(0, 2 + participants)).toEqual(drawn.text.split('\n').slice(0, 2 + participants));
    const first = drawn.model.participants[0]?.id;
    const last = drawn.model.participants.at(-1)?.id;
    expect(lines[2 + participants]).toBe(
      `Note over ${first},${last}: This trace has 250,000 spans: the earliest 3 by start time are drawn`,
    );
    expect(lines.slice(3 + participants)).toEqual(drawn.text.split('\n').slice(2 + participants));
    expect(noted.model.notes[0]).toBe('longer note for the page');
    expect(noted.model.participants).toBe(drawn.model.participants);
    await parseMermaid(noted.text);
  }, 60_000);

  it('escapes what Mermaid would read as syntax', async () => {
    const noted = withLeadingNote(traceToMermaid(request, { timings: false }), 'a; note # with specials');
    expect(noted.text).toContain(': a#59; note #35; with specials\n');
    await parseMermaid(noted.text);
  }, 60_000);
});
