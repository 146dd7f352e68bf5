import { tempDbPath } from '@lifeline/test-support/spans';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { SELECT_TRACE_SPANS } from './span-writer.js';

describe("reading a page of a trace's spans in start order", () => {
  it('walks an index in that order instead of sorting the whole trace first', () => {
    const db = openDatabase(tempDbPath());
    try {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${SELECT_TRACE_SPANS} LIMIT ? OFFSET ?`)
        .all('0af7651916cd43dd8448eb211c80319c', 10_000, 0) as { detail: string }[];
      const steps = plan.map((row) => row.detail);
      expect(steps.some((step) => step.includes('spans_by_trace_start'))).toBe(true);
      // A temporary B-tree would mean every span of the trace is read and sorted to find the first page.
      expect(steps.filter((step) => step.includes('TEMP B-TREE'))).toEqual([]);
    } finally {
      db.close();
    }
  });
});
