import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import { afterAll, describe, expect, it } from 'vitest';
import { finished, startChild } from './children.js';

const PROCESSES = 4;
const ROUNDS = 40;
const STEP_MS = 60;

describe('several processes opening a new database file at the same moment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-first-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`creates and migrates each file once, and every process opens it (${PROCESSES} × ${ROUNDS} opens)`, async () => {
    // Far enough ahead for every child to have loaded the store.
    const startAt = Date.now() + 3000;
    const children = Array.from({ length: PROCESSES }, () =>
      startChild('first-open.ts', [dir, String(ROUNDS), String(startAt), String(STEP_MS)]),
    );
    const results = await Promise.all(children.map(finished));
    const failures: string[] = [];
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0);
      const line = result.stdout.trim().split('\n').at(-1) ?? '{}';
      failures.push(...(JSON.parse(line) as { failures: string[] }).failures);
    }
    expect(failures).toEqual([]);
    // Each file came out a sound Lifeline database.
    for (let round = 0; round < ROUNDS; round++) {
      const store = openStore({ path: join(dir, `round-${round}.db`), readonly: true });
      expect(store.listTraces({}).items).toEqual([]);
      store.close();
    }
  }, 60_000);
});
