import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { finished, printed, startChild } from './children.ts';

const SPANS = 5_000;

function storedSpans(path: string): { total: number; distinct: number } {
  // The exporter appended to the inbox; a reader settles it.
  const store = openStore({ path });
  store.stats();
  store.close();
  const db = new Database(path, { readonly: true });
  const total = db.prepare('SELECT count(*) FROM spans').pluck().get() as number;
  const distinct = db
    .prepare("SELECT count(DISTINCT name) FROM spans WHERE service = 'shutdown-app'")
    .pluck()
    .get() as number;
  db.close();
  return { total, distinct };
}

describe('an app using SqliteSpanExporter', () => {
  it('loses no finished span when it exits normally', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lifeline-exit-')), 'traces.db');
    const result = await finished(startChild('traced-app.ts', [path, String(SPANS), 'exit']));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(storedSpans(path)).toEqual({ total: SPANS, distinct: SPANS });
  }, 60_000);

  it('loses no finished span when stopped with SIGTERM', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lifeline-sigterm-')), 'traces.db');
    const child = startChild('traced-app.ts', [path, String(SPANS), 'sigterm']);
    const done = finished(child);
    await printed(child, (line) => line === 'ready');
    child.kill('SIGTERM');
    const result = await done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(storedSpans(path)).toEqual({ total: SPANS, distinct: SPANS });
  }, 60_000);
});
