import { diffRuns, diffTraces } from '@lifeline/core';
import { httpServer, sql, trace } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { runDiffMarkdown, traceComparisonMarkdown } from './diff-report.js';

const root = (route: string) => httpServer({ id: 'root', start: 0, end: 10, route, path: route, status: 200 });
const q = (id: string, query: string, error?: string) =>
  sql({ id, parent: 'root', start: 1, end: 3, query, ...(error !== undefined ? { error } : {}) });
const HTML_ERROR = 'syntax error at or near "<script>" & <b>more</b>';

describe('the pull-request comment', () => {
  it('shows HTML in error messages as text, in table cells and bullets alike', () => {
    const before = trace(root('/a'), q('a', 'SELECT id FROM articles'));
    const after = trace(root('/a'), q('a', 'SELECT id FROM articles', HTML_ERROR));
    const both = [
      traceComparisonMarkdown({ diff: diffTraces(before, after), before, after }),
      runDiffMarkdown(diffRuns([before], [after])),
      runDiffMarkdown(diffRuns([before], [before, trace(root('/b'), q('b', 'SELECT 1', HTML_ERROR))])),
    ];
    for (const markdown of both) {
      const outsideDiagrams = markdown.replace(/```mermaid\n[\s\S]*?\n```/g, '');
      expect(outsideDiagrams).toContain('&lt;script&gt;');
      expect(outsideDiagrams).toContain('&amp; &lt;b&gt;more&lt;/b&gt;');
      expect(outsideDiagrams).not.toMatch(/<script>|<b>/);
    }
  });
});
