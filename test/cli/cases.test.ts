import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSequenceDiagram } from '../support/mermaid.js';
import { buildWorkspace, repoRoot, runCli, tempDir } from './cli-runner.js';

/** Traces that once came out untrue, under test/fixtures/cases (see its README). */
const cases = join(repoRoot, 'test', 'fixtures', 'cases');

beforeAll(() => {
  buildWorkspace();
}, 300_000);

describe('a handled exception (outcome-handled-exception)', () => {
  it('imports as a request without error: list --errors is empty and the export has no failure arrow', async () => {
    const db = join(tempDir('handled'), 'case.db');
    const imported = runCli(['import', '--db', db, join(cases, 'outcome-handled-exception', 'trace.json')]);
    expect(imported.code, imported.stderr).toBe(0);

    const errors = runCli(['list', '--db', db, '--errors']);
    expect(errors.code, errors.stderr).toBe(0);
    expect(errors.stdout).toBe('');
    expect(errors.stderr).toMatch(/None of the 1 traces .* match these filters/);
    expect(JSON.parse(runCli(['list', '--db', db, '--errors', '--json']).stdout)).toEqual([]);
    const all = JSON.parse(runCli(['list', '--db', db, '--json']).stdout) as { error: boolean; statusCode: number }[];
    expect(all).toMatchObject([{ error: false, statusCode: 200 }]);

    const mmd = runCli(['export', 'last', '--db', db, '--format', 'mmd', '--no-timings']);
    expect(mmd.code, mmd.stderr).toBe(0);
    expect(mmd.stdout).not.toContain('--x');
    const parsed = await parseSequenceDiagram(mmd.stdout);
    expect(parsed.notes).toEqual(['handled TimeoutError: cache read timed out, using database']);
    expect(mmd.stdout).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as profile
      participant p3@{ "type" : "database" } as redis
      participant p4@{ "type" : "database" } as postgresql
      p1->>p2: GET /profile/:id
      p2->>p3: GET profile:*
      p3-->>p2: ok
      Note over p2,p3: handled TimeoutError: cache read timed out, using database
      p2->>p4: SELECT profiles
      p4-->>p2: ok
      p2-->>p1: 200
      "
    `);

    const json = JSON.parse(runCli(['export', 'last', '--db', db, '--format', 'json']).stdout) as {
      summary: { error: boolean };
      analysis: { errors: unknown[] };
      model: { items: { type: string; reason?: string; spanId?: string }[] };
    };
    expect(json.summary.error).toBe(false);
    expect(json.analysis.errors).toEqual([]);
    // The handled exception stays in the model, for the viewer to show.
    expect(json.model.items.filter((item) => item.type === 'note')).toMatchObject([
      { reason: 'exception', spanId: 'f000000000000002' },
    ]);
  });
});
