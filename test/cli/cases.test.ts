import { join } from 'node:path';
import { parseSequenceDiagram } from '@lifeline/test-support/mermaid';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, repoRoot, runCli, tempDir } from './cli-runner.js';

/** Trace files that reproduce a reported fault of the diagram (see test/fixtures/cases/README.md). */
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
      participant p3 as redis (cache)
      participant p4 as postgresql (db)
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

describe('a request that answers and keeps working (OTLP file)', () => {
  it('exports the response where it happened, the calls that outlived it after it and marked', async () => {
    const db = join(tempDir('after-response'), 'case.db');
    const imported = runCli(['import', join(cases, 'layout-work-after-the-response', 'trace.json'), '--db', db]);
    expect(imported.code, imported.stderr).toBe(0);

    const mmd = runCli(['export', 'last', '--db', db, '--format', 'mmd', '--no-timings']);
    expect(mmd.code, mmd.stderr).toBe(0);
    const parsed = await parseSequenceDiagram(mmd.stdout);
    expect(parsed.signals.map((s) => `${s.from}->${s.to}: ${s.text}`)).toEqual([
      'p1->p2: POST /signup',
      'p2->p3: INSERT users',
      'p3->p2: ok',
      'p2->p4: POST /send',
      'p2->p1: 201',
      'p2->p3: UPDATE audit',
      'p3->p2: ok',
      'p4->p2: 202',
    ]);
    expect(parsed.notes).toEqual(['after the response: 2 calls outlived the request']);
    expect(mmd.stdout).not.toContain('par ');

    const timed = runCli(['export', 'last', '--db', db, '--format', 'mmd']);
    expect(timed.stdout).toContain('p2-->>p1: 201 · 20 ms\n');
    expect(timed.stdout).toContain('Note over p2: after the response: 2 calls outlived the request by 180 ms\n');
    // The 10 ms between the mailer call and the response is exactly the own-work threshold, not above it: no note.
    expect(timed.stdout).toContain('p2->>p4: POST /send\np2-->>p1: 201 · 20 ms\n');

    const json = JSON.parse(runCli(['export', 'last', '--db', db, '--format', 'json']).stdout) as {
      analysis: { wallTimeMs: number; afterResponse?: { calls: number; durationMs: number }; notes: string[] };
      sequence?: { model?: { notes: string[]; parGroups: number } };
    };
    expect(json.analysis.wallTimeMs).toBe(20);
    expect(json.analysis.afterResponse).toMatchObject({ calls: 2, durationMs: 180 });
    expect(json.analysis.notes).toContain('2 calls ran on after the response to POST /signup');

    const list = JSON.parse(runCli(['list', '--db', db, '--json']).stdout) as { parGroups: number }[];
    expect(list).toHaveLength(1);
    expect(list[0]?.parGroups).toBe(0);
  });
});
