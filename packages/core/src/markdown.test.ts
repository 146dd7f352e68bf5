import { expectValidMermaid, httpServer, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from './analysis.js';
import { displayName, plural } from './format.js';
import { markdownExport, traceToMarkdown } from './markdown.js';
import { traceToMermaid } from './mermaid.js';
import { summarizeTrace } from './summary.js';

const request = trace(
  httpServer({ id: 'root', route: '/articles/:id', status: 500, start: 0, end: 40 }),
  ...[0, 1, 2, 3].map((i) =>
    sql({
      id: `q${i}`,
      parent: 'root',
      query: 'SELECT * FROM comments WHERE id = $1',
      start: 2 + i * 8,
      end: 8 + i * 8,
    }),
  ),
);

describe('markdownExport', () => {
  it('writes the summary line, then the diagram in a mermaid fence', async () => {
    const md = traceToMarkdown(request, { timings: false });
    const match = /^(.+)\n\n```mermaid\n([\s\S]*)\n```\n$/.exec(md);
    expect(match, md).not.toBeNull();
    expect(match?.[1]).toMatch(/^\*\*`GET \/articles\/:id`\*\* on `[^`]+` → 500 · 5 spans · /);
    expect(match?.[1]).toMatch(/· trace `0af7651916cd43dd8448eb211c80319c`$/);
    // Without timings the line has no durations, so the export is byte-stable.
    expect(match?.[1]).not.toMatch(/\d ms/);
    await expectValidMermaid(match?.[2] ?? '');
  });

  it('gives durations with timings', () => {
    expect(traceToMarkdown(request).split('\n')[0]).toMatch(/→ 500 in 40 ms · /);
  });

  it('is traceToMarkdown from the parts the viewer receives', () => {
    const { text, folded } = traceToMermaid(request, { timings: true, internal: false, participantShapes: false });
    const parts = {
      traceId: request.traceId,
      summary: summarizeTrace(request),
      analysis: analyzeTrace(request),
      mermaid: text,
      folded,
      timings: true,
    };
    // The viewer's copy has been through JSON.
    const viaJson = JSON.parse(
      JSON.stringify(parts, (_key, value) => (typeof value === 'bigint' ? String(value) : value)),
    );
    expect(markdownExport(viaJson)).toBe(traceToMarkdown(request));
  });

  it('grows the fence past any backtick run in the text and notes a folded diagram', () => {
    const md = markdownExport({
      traceId: 'abc',
      summary: {
        rootName: 'job',
        rootService: 'worker',
        durationNs: 1e6,
        spanCount: 1,
        parGroups: 0,
        error: false,
      },
      analysis: { serialRuns: [], overlapSavingMs: 0, nPlusOne: [], errors: [] },
      mermaid: 'sequenceDiagram\n  A->>B: ```` four',
      folded: true,
      timings: false,
    });
    expect(md).toBe(
      [
        '**`job`** on `worker` · 1 span · trace `abc`',
        '',
        "> Some calls are folded (notes in the diagram say where) to keep it under Mermaid's 50,000-character limit.",
        '',
        '`````mermaid',
        'sequenceDiagram\n  A->>B: ```` four',
        '`````',
        '',
      ].join('\n'),
    );
  });

  it('keeps the summary line one line of sensible width for a huge or hostile name', () => {
    const route = `/reports/${'x'.repeat(100_000)}`;
    const md = markdownExport({
      traceId: 'abc',
      summary: {
        method: 'GET',
        route: `${route}\n# heading\r\n\u001b[2J\u202e`,
        rootName: 'GET',
        rootService: `reports\u0007\nservice`,
        statusCode: 500,
        durationNs: 1e6,
        spanCount: 1,
        parGroups: 0,
        error: true,
      },
      analysis: {
        serialRuns: [],
        overlapSavingMs: 0,
        nPlusOne: [],
        errors: [{ spanId: 'a', name: 'Error', message: `boom\n${'y'.repeat(50_000)}` }],
      },
      mermaid: 'sequenceDiagram\n  A->>B: x',
      folded: false,
      timings: false,
    });
    const [summary, blank, fence] = md.split('\n');
    expect(blank).toBe('');
    expect(fence).toBe('```mermaid');
    expect(summary).toBe(
      `**\`GET /reports/${'x'.repeat(106)}…\`** on \`reports service\` → 500 · 1 span · error: \`boom ${'y'.repeat(114)}…\` · trace \`abc\``,
    );
  });
});

describe('plural', () => {
  it('adds an s unless the count is 1', () => {
    expect(plural(0, 'span')).toBe('0 spans');
    expect(plural(1, 'span')).toBe('1 span');
    expect(plural(2, 'concurrent group')).toBe('2 concurrent groups');
  });
});

describe('displayName', () => {
  it('makes one clean line: breaks become spaces, control and invisible format characters go', () => {
    expect(displayName('GET /a\r\nX-Injected: 1\t\u001b[2J', 80)).toBe('GET /a X-Injected: 1 [2J');
    expect(displayName('\u202eevil\u200b\ufeff \u2066name\u2069', 80)).toBe('evil name');
    // The joiner that emoji sequences are made of stays.
    expect(displayName('team 👩\u200d💻', 80)).toBe('team 👩\u200d💻');
  });

  it('cuts at whole code points with an ellipsis, whatever the length', () => {
    expect(displayName('x'.repeat(100_000), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(displayName('😀'.repeat(20), 5)).toBe('😀😀😀😀…');
    expect(displayName('short', 10)).toBe('short');
    // Cut before cleaning: what is left after the cut still says it was cut.
    expect(displayName(`ab${'\u0000'.repeat(200_000)}`, 10)).toBe('ab…');
  });
});
