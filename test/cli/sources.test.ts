import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import {
  closedPort,
  type FakeBackend,
  FIXTURE_TRACES,
  sourceFixture,
  startFakeBackend,
} from '@lifeline/test-support/trace-backends';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, type CliResult, runCli, startCli, tempDir } from './cli-runner.js';

/** Runs the CLI without blocking this process, whose stand-in backends must keep answering. */
function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = startCli(args, { env: { LIFELINE_DEBUG: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

let work: string;
let tempo: FakeBackend;
let jaeger: FakeBackend;
let jaegerV1: FakeBackend;

beforeAll(async () => {
  buildWorkspace();
  work = tempDir('sources');
  tempo = await startFakeBackend('tempo', { requireHeaders: { 'X-Scope-OrgID': 'team-a' } });
  jaeger = await startFakeBackend('jaeger');
  jaegerV1 = await startFakeBackend('jaeger', { v3: false });
}, 300_000);

afterAll(async () => {
  await Promise.all([tempo?.close(), jaeger?.close(), jaegerV1?.close()]);
});

describe('lifeline export --source', () => {
  const cases = [
    {
      name: 'Tempo trace-by-id',
      source: () => [`tempo=${tempo.url}`, '--source-header', 'tempo=X-Scope-OrgID:team-a'],
      id: FIXTURE_TRACES.tempo,
      file: 'tempo-trace-by-id.json',
    },
    {
      name: 'Jaeger API v3',
      source: () => [`jaeger=${jaeger.url}`],
      id: FIXTURE_TRACES.jaeger,
      file: 'jaeger-v3-trace-by-id.json',
    },
    {
      name: 'Jaeger /api/traces/<id>',
      source: () => [`jaeger=${jaegerV1.url}`],
      id: FIXTURE_TRACES.jaeger,
      file: 'jaeger-trace-by-id.json',
    },
  ];
  for (const { name, source, id, file } of cases) {
    it(`writes what the same ${name} body imported from a file exports, as JSON and Markdown`, async () => {
      const db = join(work, `${file}.db`);
      const path = join(work, file);
      writeFileSync(path, sourceFixture(file));
      const imported = runCli(['import', '--db', db, path]);
      expect(imported.code, imported.stderr).toBe(0);
      // json holds the trace, its analysis and the Mermaid text; md the summary line.
      for (const format of ['json', 'md']) {
        const fromFile = runCli(['export', id, '--db', db, '--format', format]);
        expect(fromFile.code, fromFile.stderr).toBe(0);
        const fromSource = await run(['export', id, '--source', ...source(), '--format', format]);
        expect(fromSource.code, fromSource.stderr).toBe(0);
        expect(fromSource.stdout).toBe(fromFile.stdout);
        if (format === 'json') {
          const document = JSON.parse(fromSource.stdout) as { mermaid: string; trace: { spans: unknown[] } };
          expect(document.trace.spans).toHaveLength(5);
          await parseMermaid(document.mermaid);
        }
      }
    }, 180_000);
  }

  it('fails in one line for a missing trace, a 401, an unreachable backend, and `last`', async () => {
    const missing = await run(['export', 'abcd', '--source', `jaeger=${jaeger.url}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^lifeline: source jaeger \(jaeger at http:\/\/127\.0\.0\.1:\d+\) has no trace abcd\n$/,
    );
    const unauthorized = await run(['export', FIXTURE_TRACES.tempo, '--source', `tempo=${tempo.url}`]);
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/^lifeline: source tempo \(tempo at .*\): 401 .*\n$/);
    const port = await closedPort();
    const down = await run(['export', FIXTURE_TRACES.tempo, '--source', `tempo=http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      `lifeline: source tempo (tempo at http://127.0.0.1:${port}): cannot connect (ECONNREFUSED): is the URL right and the backend running?\n`,
    );
    const last = await run(['export', '--source', `jaeger=${jaeger.url}`]);
    expect(last.stderr).toMatch(/with --source, name the trace/);
  }, 180_000);
});

describe('lifeline list --source', () => {
  it('lists the requests of a Tempo source, the tenant header from the environment', async () => {
    const listed = await run(['list', '--source', 'tempo', '--json'], {
      LIFELINE_SOURCES: `tempo=${tempo.url}`,
      LIFELINE_SOURCE_TEMPO_HEADERS: 'X-Scope-OrgID=team-a',
    });
    expect(listed.code, listed.stderr).toBe(0);
    const items = JSON.parse(listed.stdout) as { traceId: string; error: boolean }[];
    expect(items.map((i) => [i.traceId, i.error])).toEqual([
      [FIXTURE_TRACES.tempoError, true],
      [FIXTURE_TRACES.tempo, false],
    ]);
  }, 120_000);

  it('lists the failed requests of a Jaeger source as a table', async () => {
    const listed = await run(['list', '--source', `jaeger=${jaeger.url}`, '--errors']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/frontend\s+GET \/orders\/:id\s+500/);
    expect(listed.stdout).toContain(FIXTURE_TRACES.jaegerError);
    expect(listed.stdout).not.toContain(FIXTURE_TRACES.jaeger);
  }, 120_000);

  it('rejects a source it cannot read in one line', async () => {
    const bad = await run(['list', '--source', 'staging=http://x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^lifeline: --source staging=http:\/\/x: cannot tell the backend/);
    const slow = await startFakeBackend('jaeger', { delayMs: 2000 });
    try {
      const late = await run(['list', '--source', `jaeger=${slow.url}`, '--source-timeout', '200']);
      expect(late.code).toBe(1);
      expect(late.stderr).toMatch(/no answer to \/api\/services within 200 ms/);
    } finally {
      await slow.close();
    }
  }, 120_000);
});

describe('lifeline diff --source', () => {
  it('compares two Tempo traces as it compares the same bodies imported from files, in every format', async () => {
    const db = join(work, 'diff-tempo.db');
    for (const file of ['tempo-trace-by-id.json', 'tempo-trace-by-id-error.json']) {
      const path = join(work, `diff-${file}`);
      writeFileSync(path, sourceFixture(file));
      const imported = runCli(['import', '--db', db, path]);
      expect(imported.code, imported.stderr).toBe(0);
    }
    const ids = [FIXTURE_TRACES.tempo, FIXTURE_TRACES.tempoError];
    const source = ['--source', `tempo=${tempo.url}`, '--source-header', 'tempo=X-Scope-OrgID:team-a'];
    for (const format of ['text', 'json', 'md']) {
      const fromFile = runCli(['diff', ...ids, '--db', db, '--format', format]);
      expect(fromFile.code, fromFile.stderr).toBe(0);
      const fromSource = await run(['diff', ...ids, ...source, '--format', format]);
      expect(fromSource.code, fromSource.stderr).toBe(0);
      expect(fromSource.stdout).toBe(fromFile.stdout);
    }
    // The error trace brings a failed call: the gate sees it through the source as well.
    const gated = await run(['diff', ...ids, ...source, '--json', '--fail-on', 'new-error']);
    const document = JSON.parse(gated.stdout) as { regressions: string[] };
    expect(document.regressions).toContain('new-error');
    expect(gated.code).toBe(1);
    expect(gated.stderr).toMatch(/new-error \(--fail-on\)/);
  }, 180_000);

  it('reads both traces from the source alone, and says what it cannot do with one', async () => {
    // The stand-in serves one Jaeger trace by id: compared with itself, nothing changed.
    const both = await run([
      'diff',
      FIXTURE_TRACES.jaeger,
      FIXTURE_TRACES.jaeger,
      '--source',
      `jaeger=${jaeger.url}`,
      '--json',
    ]);
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({ same: true, regressions: [] });
    const missing = await run(['diff', FIXTURE_TRACES.jaeger, 'abcd', '--source', `jaeger=${jaeger.url}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^lifeline: source jaeger \(jaeger at http:\/\/127\.0\.0\.1:\d+\) has no trace abcd\n$/,
    );
    const runs = await run(['diff', '--source', `jaeger=${jaeger.url}`]);
    expect(runs.code).toBe(1);
    expect(runs.stderr).toMatch(/with --source, name the two traces/);
    const withDb = await run(['diff', 'a', 'b', '--source', `jaeger=${jaeger.url}`, '--db', join(work, 'x.db')]);
    expect(withDb.code).toBe(1);
    expect(withDb.stderr).toMatch(/leave out --db and --against/);
    const last = await run(['diff', 'last', FIXTURE_TRACES.jaeger, '--source', `jaeger=${jaeger.url}`]);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/with --source, name the trace/);
  }, 180_000);
});
