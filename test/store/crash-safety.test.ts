import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { batchOfSpans } from './children/span-source.ts';
import { finished, printed, startChild } from './children.ts';

describe('a writer killed mid-write', () => {
  for (const mode of ['store', 'exporter'] as const) {
    it(`leaves a sound database holding every batch committed before SIGKILL (${mode})`, async () => {
      const path = join(mkdtempSync(join(tmpdir(), 'lifeline-sigkill-')), 'traces.db');
      const child = startChild('writer.ts', [path, '0', '100000', '500', mode]);
      const done = finished(child);
      await printed(child, (line) => line === 'committed 30');
      child.kill('SIGKILL');
      const result = await done;
      expect(result.signal).toBe('SIGKILL');
      const committed = result.stdout
        .split('\n')
        .filter((line) => line.startsWith('committed '))
        .map((line) => Number(line.slice('committed '.length)));
      expect(committed.length).toBeGreaterThan(30);
      expect(committed.length).toBeLessThan(100_000);

      const raw = new Database(path);
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
      raw.close();
      // The exporter appended to the inbox; a reader settles it.
      const store = openStore({ path });
      store.stats();
      store.close();
      const db = new Database(path);
      expect(db.prepare('SELECT count(*) FROM inbox').pluck().get()).toBe(0);
      const has = db.prepare('SELECT count(*) FROM spans WHERE trace_id = ? AND span_id = ?').pluck();
      for (const batch of committed) {
        for (const span of batchOfSpans(0, batch, 500)) {
          expect(has.get(span.traceId, span.spanId), `batch ${batch} span ${span.spanId}`).toBe(1);
        }
      }
      const stored = db.prepare('SELECT count(*) FROM spans').pluck().get() as number;
      expect(stored).toBeGreaterThanOrEqual(committed.length * 500);
      if (mode === 'store') {
        // writeSpans is one transaction: the stored total is a whole number of batches.
        expect(stored % 500).toBe(0);
      }
      db.close();
    }, 120_000);
  }
});
