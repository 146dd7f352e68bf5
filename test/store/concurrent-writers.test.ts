import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { finished, startChild } from './children.ts';

describe('several processes writing one database', () => {
  it('ends with exactly the 40,000 spans that four writers wrote at the same time', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lifeline-concurrent-')), 'traces.db');
    const modes = ['exporter', 'store', 'exporter', 'store'];
    // 20 batches of 500 spans per writer; the batches of different writers interleave.
    const runs = modes.map((mode, writer) =>
      finished(startChild('writer.ts', [path, String(writer), '20', '500', mode])),
    );
    const results = await Promise.all(runs);
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split('\n')).toHaveLength(20);
    }
    // The exporters appended to the inbox; a reader settles it.
    const store = openStore({ path });
    expect(store.stats().spans).toBe(40_000);
    store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM inbox').pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM spans').pluck().get()).toBe(40_000);
    expect(db.prepare('SELECT count(*) FROM traces').pluck().get()).toBe(4_000);
    expect(db.prepare('SELECT service, count(*) AS n FROM spans GROUP BY service ORDER BY service').all()).toEqual(
      [0, 1, 2, 3].map((w) => ({ service: `writer-${w}`, n: 10_000 })),
    );
    expect(db.prepare('SELECT sum(span_count) FROM traces').pluck().get()).toBe(40_000);
    const seqs = db.prepare('SELECT seq FROM traces ORDER BY seq').pluck().all() as number[];
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  }, 120_000);
});
