import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, type CliResult, publicFixtures, repoRoot, runCli, startCli, tempDir } from './cli-runner.js';

interface FixtureFile {
  readonly path: string;
  readonly format: string;
  readonly spans: number;
  /** Spans stored: a span id given twice in one trace is stored once (the first). */
  readonly stored?: number;
  readonly traceIds: readonly string[];
}

/** Reads what a public trace file holds, straight from its JSON, to check the importer against. */
function describeFixture(path: string): FixtureFile {
  const json = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (Array.isArray(json)) {
    const spans = json as { traceId: string; id: string; kind?: string }[];
    return {
      path,
      format: 'zipkin',
      spans: spans.length,
      traceIds: [...new Set(spans.map((span) => span.traceId.padStart(32, '0').toLowerCase()))],
    };
  }
  const object = json as Record<string, unknown>;
  const otlp = (object.result ?? object) as { resourceSpans?: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
  if (otlp.resourceSpans) {
    const spans = otlp.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    return {
      path,
      format: 'otlp-json',
      spans: spans.length,
      traceIds: [...new Set(spans.map((span) => span.traceId.toLowerCase()))],
    };
  }
  const jaeger = object as { traceID: string; spans: { spanID: string }[] };
  return {
    path,
    format: 'jaeger',
    // Every span is read; of an id given twice the store keeps the first, and the import says so.
    spans: jaeger.spans.length,
    stored: new Set(jaeger.spans.map((span) => span.spanID)).size,
    traceIds: [jaeger.traceID.padStart(32, '0').toLowerCase()],
  };
}

const fixtures: FixtureFile[] = readdirSync(publicFixtures, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((dir) =>
    readdirSync(join(publicFixtures, dir.name))
      .filter((name) => name.endsWith('.json'))
      .map((name) => describeFixture(join(publicFixtures, dir.name, name))),
  );

/** A user error: status 1, exactly one line on stderr, no stack trace. */
function expectUserError(result: CliResult, pattern: RegExp): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(1);
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^lifeline: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

let work: string;
let db: string;
const hotrod = () => {
  const file = fixtures.find((fixture) => basename(fixture.path) === 'jaeger-api-v3-hotrod-dispatch.json');
  if (!file?.traceIds[0]) throw new Error('the HotROD fixture is missing');
  return file.traceIds[0];
};

beforeAll(() => {
  buildWorkspace();
  work = tempDir('main');
  db = join(work, 'traces.db');
}, 300_000);

describe('lifeline import', () => {
  it('imports every public trace file, naming its format and counting its spans and traces', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
    const result = runCli(['import', '--db', db, ...fixtures.map((fixture) => fixture.path)]);
    // The Jaeger fixture gives one span id to two different spans: the second is lost, and the status says so.
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/^lifeline: did not import 1 span that shared an id with a different span /m);
    for (const fixture of fixtures) {
      const line = result.stdout.split('\n').find((candidate) => candidate.startsWith(`${fixture.path}:`));
      expect(line, `no line for ${fixture.path} in\n${result.stdout}`).toBeDefined();
      const s = fixture.spans === 1 ? '' : 's';
      const t = fixture.traceIds.length === 1 ? '' : 's';
      expect(line).toContain(`: ${fixture.format}, ${fixture.spans} span${s} in ${fixture.traceIds.length} trace${t}`);
    }
    const total = fixtures.reduce((sum, fixture) => sum + (fixture.stored ?? fixture.spans), 0);
    expect(result.stdout).toContain(`Imported ${total} new spans`);
  });

  it('says how many spans shared an id with a different span, and which, and exits 3: they were not imported', () => {
    const jaeger = fixtures.find((fixture) => fixture.format === 'jaeger');
    if (!jaeger) throw new Error('no Jaeger fixture');
    const result = runCli(['import', '--db', join(work, 'warnings.db'), jaeger.path]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/; 1 sharing an id with a different span\n/);
    expect(result.stderr).toMatch(
      /^lifeline: did not import 1 span that shared an id with a different span \(kept the first, see span 0000000000000002 of trace 0+1\); the rest was imported$/m,
    );
  });
});

describe('lifeline list', () => {
  it('stops quietly when the reader of its output goes away (lifeline list | head -1)', async () => {
    // Many rows, so the writes outlast a reader that takes one line and closes the pipe.
    const child = startCli(['list', '--db', db, '--limit', '1000', '--all']);
    child.stdout?.once('data', () => child.stdout?.destroy());
    let errors = '';
    child.stderr?.on('data', (chunk) => {
      errors += chunk;
    });
    const [code] = await once(child, 'close');
    expect(errors).not.toMatch(/EPIPE|at /);
    expect(code).toBe(0);
  });

  it('prints an aligned table with one row per trace, newest first', () => {
    // --all: the fixtures hold background work (traces not rooted in a server or consumer span) too.
    const result = runCli(['list', '--db', db, '--limit', '50', '--all']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    const header = lines[0] ?? '';
    for (const column of [
      'TIME',
      'SERVICE',
      'REQUEST',
      'STATUS',
      'DURATION',
      'SPANS',
      'CONCURRENCY',
      'FLAGS',
      'TRACE',
    ]) {
      expect(header).toContain(column);
    }
    const traceCount = new Set(fixtures.flatMap((fixture) => fixture.traceIds)).size;
    expect(lines).toHaveLength(traceCount + 1);
    // Aligned: every row's trace id starts in the TRACE column.
    const traceColumn = header.indexOf('TRACE');
    for (const row of lines.slice(1)) expect(row.slice(traceColumn)).toMatch(/^[0-9a-f]{32}$/);
    expect(result.stdout).toContain(hotrod());
    const times = lines.slice(1).map((row) => row.slice(0, 19));
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('prints JSON summaries and applies --service, --min-ms, --errors and --limit', () => {
    const all = JSON.parse(runCli(['list', '--db', db, '--json', '--limit', '50']).stdout) as {
      traceId: string;
      rootService: string;
      startTimeNs: unknown;
      durationNs: number;
      error: boolean;
    }[];
    expect(all.map((item) => item.traceId)).toContain(hotrod());
    // Exact epoch nanoseconds, as decimal strings.
    for (const item of all) expect(item.startTimeNs).toMatch(/^\d{19}$/);

    const frontend = JSON.parse(runCli(['list', '--db', db, '--json', '--service', 'frontend']).stdout) as typeof all;
    expect(frontend.map((item) => item.traceId)).toEqual([hotrod()]);

    const slow = JSON.parse(runCli(['list', '--db', db, '--json', '--min-ms', '200']).stdout) as typeof all;
    expect(slow.length).toBeGreaterThan(0);
    expect(slow.length).toBeLessThan(all.length);
    for (const item of slow) expect(item.durationNs / 1e6).toBeGreaterThanOrEqual(200);

    const errors = JSON.parse(runCli(['list', '--db', db, '--json', '--errors']).stdout) as typeof all;
    expect(errors.length).toBeGreaterThan(0);
    for (const item of errors) expect(item.error).toBe(true);

    const two = JSON.parse(runCli(['list', '--db', db, '--json', '--limit', '2']).stdout) as typeof all;
    expect(two).toHaveLength(2);
  });

  it('says on stderr that nothing matched, and exits 0, when filters match no trace', () => {
    const result = runCli(['list', '--db', db, '--service', 'no-such-service']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/None of the \d+ traces .* match these filters/);
  });
});

/**
 * An OTLP/JSON file with one request (a server span with a query) and the
 * background work a BullMQ app records beside it: a query at start-up (a
 * client root) and a stalled-jobs check (an internal root), the newest.
 */
function writeRequestAndBackground(
  path: string,
  options: { request: boolean } = { request: true },
): { request: string; startUp: string; housekeeping: string } {
  const t0 = BigInt(Date.UTC(2026, 0, 5, 10, 0, 0)) * 1_000_000n;
  const ms = 1_000_000n;
  const ids = { request: 'a1'.repeat(16), startUp: 'b2'.repeat(16), housekeeping: 'c3'.repeat(16) };
  const span = (
    traceId: string,
    spanId: string,
    name: string,
    kind: number,
    start: bigint,
    attributes: Record<string, string | number>,
    parentSpanId?: string,
  ) => ({
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name,
    kind,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 4n * ms),
    attributes: Object.entries(attributes).map(([key, value]) => ({
      key,
      value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value },
    })),
    status: {},
  });
  const spans = [
    span(ids.startUp, '0000000000000001', 'CREATE TABLE', 3, t0, {
      'db.system.name': 'postgresql',
      'db.query.text': 'CREATE TABLE IF NOT EXISTS invoices (id int)',
    }),
    span(ids.request, '0000000000000002', 'POST /invoices/:id', 2, t0 + 10n * ms, {
      'http.request.method': 'POST',
      'http.route': '/invoices/:id',
      'http.response.status_code': 202,
    }),
    span(
      ids.request,
      '0000000000000003',
      'SELECT',
      3,
      t0 + 11n * ms,
      { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' },
      '0000000000000002',
    ),
    span(ids.housekeeping, '0000000000000004', 'moveStalledJobsToWait invoices', 1, t0 + 20n * ms, {
      'bullmq.queue.name': 'invoices',
      'bullmq.queue.operation': 'moveStalledJobsToWait',
    }),
  ];
  const file = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'billing' } }] },
        scopeSpans: [
          { scope: { name: 'test' }, spans: options.request ? spans : spans.filter((s) => s.traceId !== ids.request) },
        ],
      },
    ],
  };
  writeFileSync(path, JSON.stringify(file));
  return ids;
}

describe('requests and background work', () => {
  let path: string;
  let ids: ReturnType<typeof writeRequestAndBackground>;
  beforeAll(() => {
    path = join(work, 'background.db');
    const file = join(work, 'background.otlp.json');
    ids = writeRequestAndBackground(file);
    expect(runCli(['import', '--db', path, file]).code).toBe(0);
  });

  it('lists requests by default, background work with --background, both with --all', () => {
    const traceIds = (args: string[]) =>
      (JSON.parse(runCli(['list', '--db', path, '--json', ...args]).stdout) as { traceId: string }[]).map(
        (item) => item.traceId,
      );
    expect(traceIds([])).toEqual([ids.request]);
    expect(traceIds(['--background'])).toEqual([ids.housekeeping, ids.startUp]);
    expect(traceIds(['--all'])).toEqual([ids.housekeeping, ids.request, ids.startUp]);
  });

  it('marks background work in the table and refuses --background with --all', () => {
    const table = runCli(['list', '--db', path, '--all']);
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trimEnd().split('\n').slice(1);
    expect(rows.map((row) => /billing\s+(.+?)\s{2,}/.exec(row)?.[1])).toEqual([
      'moveStalledJobsToWait invoices (background)',
      'POST /invoices/:id',
      'CREATE TABLE invoices (background)',
    ]);
    expectUserError(
      runCli(['list', '--db', path, '--background', '--all']),
      /--background.*cannot be used with.*--all/,
    );
  });

  it('exports the same last trace list shows first, for requests and for background work', () => {
    const last = (args: string[]) =>
      (JSON.parse(runCli(['export', 'last', '--db', path, '--format', 'json', ...args]).stdout) as { traceId: string })
        .traceId;
    expect(last([])).toBe(ids.request);
    expect(last(['--background'])).toBe(ids.housekeeping);
    expect(last(['--all'])).toBe(ids.housekeeping);
    expectUserError(
      runCli(['export', ids.request, '--db', path, '--background']),
      /use them with `last`, not with a trace id/,
    );
  });

  it('points to --background when only background work was recorded', () => {
    const path = join(work, 'only-background.db');
    const file = join(work, 'only-background.otlp.json');
    writeRequestAndBackground(file, { request: false });
    expect(runCli(['import', '--db', path, file]).code).toBe(0);
    const list = runCli(['list', '--db', path]);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('');
    expect(list.stderr).toMatch(
      /None of the 2 traces .* is a request .*background work does: add --background or --all/,
    );
    expect(runCli(['list', '--db', path, '--all', '--errors']).stderr).toMatch(/None of the 2 traces .* match these/);
    expectUserError(
      runCli(['export', 'last', '--db', path]),
      /no recorded request, only background work: pass --background/,
    );
    expectUserError(
      runCli(['export', 'last', '--db', path, '--method', 'GET', '--all']),
      /no recorded request matches/,
    );
  });
});

describe('lifeline export', () => {
  it('prints Mermaid text that Mermaid parses', async () => {
    const result = runCli(['export', hotrod(), '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^sequenceDiagram\n\s*autonumber/);
    await parseMermaid(result.stdout);
  });

  it('prints Markdown: a summary line, then a fenced mermaid block', async () => {
    const result = runCli(['export', hotrod(), '--db', db, '--format', 'md']);
    expect(result.code, result.stderr).toBe(0);
    const [summary, blank, fence] = result.stdout.split('\n');
    expect(summary).toContain('`GET /dispatch`');
    expect(summary).toContain('`frontend`');
    expect(summary).toContain(hotrod());
    expect(blank).toBe('');
    expect(fence).toBe('```mermaid');
    const body = /```mermaid\n([\s\S]*?)\n```/.exec(result.stdout)?.[1];
    expect(body).toBeDefined();
    await parseMermaid(body ?? '');
  });

  it('leaves every duration out with --no-timings, byte for byte the same on every run', async () => {
    const first = runCli(['export', hotrod(), '--db', db, '--format', 'md', '--no-timings']);
    const second = runCli(['export', hotrod(), '--db', db, '--format', 'md', '--no-timings']);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(second.stdout);
    await parseMermaid(/```mermaid\n([\s\S]*?)\n```/.exec(first.stdout)?.[1] ?? '');
    expect(first.stdout).not.toMatch(/\d ?(ms|s)\b/);
    const timed = runCli(['export', hotrod(), '--db', db, '--format', 'md']);
    expect(timed.stdout).toMatch(/\d ?ms\b/);
  });

  it('names databases, caches and queues by kind without Mermaid 11 shapes, and draws shapes only with --mermaid-shapes', async () => {
    const kinds = join(work, 'kinds.db');
    const samples = ['otlp.sample.json', 'otlp-lines.sample.json'].map((name) =>
      join(repoRoot, 'test', 'fixtures', name),
    );
    const imported = runCli(['import', '--db', kinds, ...samples]);
    expect(imported.code, imported.stderr).toBe(0);
    const listed = JSON.parse(runCli(['list', '--db', kinds, '--json']).stdout) as {
      traceId: string;
      counts: { db: number; cache: number; queue: number };
    }[];
    // One trace with each kind of participant is enough: every CLI run costs a process start.
    const ids = [
      ...new Set(
        (['db', 'cache', 'queue'] as const).map((kind) => listed.find((trace) => trace.counts[kind] > 0)?.traceId),
      ),
    ];
    expect(ids.every((id) => id !== undefined)).toBe(true);
    const texts = ids.map((id) => runCli(['export', id ?? '', '--db', kinds, '--no-timings']).stdout);
    const all = texts.join('\n');
    expect(all).not.toContain('@{');
    expect(all).toMatch(/^participant p\d+ as postgresql \S+ \(db\)$/m);
    expect(all).toMatch(/^participant p\d+ as redis \(cache\)$/m);
    expect(all).toMatch(/^participant p\d+ as \S+ \(queue\)$/m);
    for (const text of texts) await parseMermaid(text);
    const markdown = runCli(['export', ids[0] ?? '', '--db', kinds, '--format', 'md', '--no-timings']);
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(markdown.stdout).not.toContain('@{');
    expect(markdown.stdout).toContain(texts[0]?.trimEnd());

    const shaped = ids.map(
      (id) => runCli(['export', id ?? '', '--db', kinds, '--no-timings', '--mermaid-shapes']).stdout,
    );
    const shapedAll = shaped.join('\n');
    expect(shapedAll).toMatch(/^participant p\d+@\{ "type" : "database" \} as redis$/m);
    expect(shapedAll).toMatch(/^participant p\d+@\{ "type" : "queue" \} as \S+$/m);
    expect(shapedAll).not.toMatch(/\((db|cache|queue)\)$/m);
    for (const text of shaped) {
      await expect(parseMermaid(text)).rejects.toThrow(/Mermaid 10\.9/);
      await parseMermaid(text, { versions: 'current' });
    }
  }, 120_000);

  it('prints JSON with the trace, its analysis and the sequence model', async () => {
    const result = runCli(['export', hotrod(), '--db', db, '--format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const document = JSON.parse(result.stdout) as {
      traceId: string;
      trace: { spans: { startTimeNs: unknown }[] };
      analysis: { wallTimeMs: number; nPlusOne: unknown[] };
      model: { arrows: { number: number; spanId: string }[]; messageCount: number };
      mermaid: string;
    };
    const fixture = fixtures.find((candidate) => candidate.traceIds.includes(hotrod()));
    expect(document.traceId).toBe(hotrod());
    expect(document.trace.spans).toHaveLength(fixture?.spans ?? -1);
    for (const span of document.trace.spans) expect(span.startTimeNs).toMatch(/^\d{19}$/);
    expect(document.analysis.wallTimeMs).toBeGreaterThan(0);
    expect(document.model.arrows.map((arrow) => arrow.number)).toEqual(
      document.model.arrows.map((_arrow, index) => index + 1),
    );
    expect(document.mermaid.startsWith('sequenceDiagram')).toBe(true);
    await parseMermaid(document.mermaid);
  });

  it('exports the most recent request with `last`, optionally on one route', () => {
    const latest = JSON.parse(runCli(['list', '--db', db, '--json', '--limit', '1']).stdout) as { traceId: string }[];
    const last = JSON.parse(runCli(['export', 'last', '--db', db, '--format', 'json']).stdout) as { traceId: string };
    expect(last.traceId).toBe(latest[0]?.traceId);
    const onRoute = JSON.parse(
      runCli(['export', 'last', '--db', db, '--route', '/dispatch', '--format', 'json']).stdout,
    ) as {
      traceId: string;
    };
    expect(onRoute.traceId).toBe(hotrod());
  });

  it('writes to --out and picks the format from its extension', () => {
    const out = join(work, 'diagram.md');
    const result = runCli(['export', hotrod(), '--db', db, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toMatch(/^\*\*`GET \/dispatch`\*\*[^\n]*\n\n```mermaid\n/);
  });
});

describe('lifeline db migrate', () => {
  it('prints the pending SQL on a dry run and leaves no file behind', () => {
    const path = join(work, 'fresh', 'migrate.db');
    const result = runCli(['db', 'migrate', '--dry-run', '--db', path]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^-- migration \d+: /m);
    expect(result.stdout).toMatch(/CREATE TABLE/i);
    expect(result.stdout).toContain('dry run');
    expect(existsSync(path)).toBe(false);
  });

  it('applies the migrations after printing them, then finds nothing left to do', () => {
    const path = join(work, 'migrate.db');
    const first = runCli(['db', 'migrate', '--db', path]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/CREATE TABLE/i);
    expect(first.stdout).toMatch(/applied \d+ migrations? .*schema version is now \d+/);
    expect(existsSync(path)).toBe(true);
    const second = runCli(['db', 'migrate', '--db', path]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('up to date');
  });
});

describe('lifeline prune', () => {
  it('keeps only the newest traces with --max-traces', () => {
    const path = join(work, 'prune.db');
    // 3: the Jaeger fixture's second span under a taken id is not imported; everything else is.
    expect(runCli(['import', '--db', path, ...fixtures.map((fixture) => fixture.path)]).code).toBe(3);
    const before = JSON.parse(runCli(['list', '--db', path, '--json', '--limit', '50', '--all']).stdout) as {
      traceId: string;
    }[];
    const result = runCli(['prune', '--db', path, '--max-traces', '2']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Deleted ${before.length - 2} traces; 2 traces`);
    const after = JSON.parse(runCli(['list', '--db', path, '--json', '--limit', '50', '--all']).stdout) as {
      traceId: string;
    }[];
    expect(after.map((item) => item.traceId)).toEqual(before.slice(0, 2).map((item) => item.traceId));
  });
});

describe('lifeline serve', () => {
  it('serves the viewer on the port it prints and stops cleanly on SIGTERM', async () => {
    const child = startCli(['serve', '--port', '0', '--db', db]);
    let output = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        const match = /Lifeline viewer on (\S+)/.exec(output);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toContain('/v1/traces');
    const page = await fetch(url);
    expect(page.status).toBe(200);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('says which port is taken and how to pick another', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      expectUserError(
        runCli(['serve', '--port', String(port), '--db', db]),
        new RegExp(`port ${port} .*already in use.*--port`),
      );
    } finally {
      blocker.close();
    }
  });
});

describe('lifeline --version and --help', () => {
  it('prints the package version', () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'packages', 'cli', 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(manifest.version);
  });

  it.each([['serve'], ['list'], ['export'], ['import'], ['db', 'migrate'], ['prune']])(
    'shows usage with examples for `%s --help`',
    (...command: string[]) => {
      const result = runCli([...command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: lifeline /);
      expect(result.stdout).toContain('Examples:');
      expect(result.stdout).toContain('--db <path>');
    },
  );
});

describe('user errors: exit status 1 and one line that says how to fix it', () => {
  it('names an unknown trace id', () => {
    expectUserError(
      runCli(['export', 'abcdef0123456789abcdef0123456789', '--db', db]),
      /no trace abcdef0123456789abcdef0123456789 .*lifeline list/,
    );
  });

  it('rejects something that is not a trace id', () => {
    expectUserError(runCli(['export', 'not-an-id', '--db', db]), /"not-an-id" is not a trace id/);
  });

  it('says there are no traces yet when the database does not exist', () => {
    const missing = join(work, 'nothing-here.db');
    expectUserError(runCli(['list', '--db', missing]), /no traces yet: .*nothing-here\.db does not exist/);
    expectUserError(runCli(['export', 'last', '--db', missing]), /no traces yet/);
  });

  it('says there are no traces yet in an empty database', () => {
    const empty = join(work, 'empty.db');
    expect(runCli(['db', 'migrate', '--db', empty]).code).toBe(0);
    expectUserError(runCli(['export', 'last', '--db', empty]), /no traces yet in .*empty\.db/);
    expectUserError(runCli(['list', '--db', empty]), /no traces yet in .*empty\.db/);
  });

  it('names a route nothing was recorded on', () => {
    expectUserError(
      runCli(['export', 'last', '--db', db, '--route', '/nowhere']),
      /no recorded request matches --route \/nowhere/,
    );
  });

  it('names a file it cannot read, and imports nothing', () => {
    const path = join(work, 'unread.db');
    expectUserError(
      runCli(['import', '--db', path, fixtures[0]?.path ?? '', join(work, 'missing.json')]),
      /cannot read .*missing\.json: no such file\. Nothing was imported/,
    );
    expect(existsSync(path)).toBe(false);
  });

  it('names a file whose format it does not know', () => {
    const file = join(work, 'unknown.json');
    writeFileSync(file, JSON.stringify({ hello: 'world', items: [1, 2, 3] }));
    expectUserError(runCli(['import', '--db', join(work, 'unknown.db'), file]), /cannot import .*unknown\.json: /);
  });

  it('points at the offending place in a malformed trace file', () => {
    const file = join(work, 'truncated.json');
    const text = readFileSync(fixtures.find((fixture) => fixture.format === 'zipkin')?.path ?? '', 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    const result = runCli(['import', '--db', join(work, 'truncated.db'), file]);
    expectUserError(result, /cannot import .*truncated\.json: .*(line|position|offset|column|\[\d+\]|spans)/i);
  });

  it('refuses a database file that is not SQLite', () => {
    const file = join(work, 'not-a-db.db');
    writeFileSync(file, 'this is plain text, not a database\n'.repeat(200));
    expectUserError(runCli(['list', '--db', file]), /not-a-db\.db is not a .*: point --db at a Lifeline database/);
  });

  it.each([
    [['list', '--limit', '0'], /--limit .*expected a whole number of 1 or more/],
    [['list', '--min-ms', '-5'], /--min-ms .*expected a number of 0 or more/],
    [['list', '--status', '42'], /--status .*HTTP status code/],
    [['export', 'last', '--format', 'gif'], /--format .*Allowed choices are mmd, md, svg, png, json/],
    [['serve', '--port', '70000'], /--port .*0 to 65535/],
    [['prune', '--max-traces', 'many'], /--max-traces .*whole number/],
    [['prune'], /say what to keep: pass --max-traces/],
    [
      ['serve', '--host', '0.0.0.0'],
      /add --allow-remote and a token, which it requires \(--token "\$\(openssl rand -hex 16\)"/,
    ],
    [['serve', '--host', '0.0.0.0', '--allow-remote'], /requires a token .*--token "\$\(openssl rand -hex 16\)"/],
    [
      ['serve', '--host', '0.0.0.0', '--allow-remote', '--token', ' '],
      /empty or only white space.*--token [0-9a-f]{32}/,
    ],
    [['serve', '--host', '0.0.0.0', '--allow-remote', '--token', 'a'], /1 character; use at least 16/],
    [['serve', '--token', ''], /empty or only white space/],
    [['list', '--colour'], /unknown option '--colour'/],
    [['lisst'], /unknown command 'lisst'.*Did you mean list/],
  ])('rejects `%s` with one line', (args, pattern) => {
    expectUserError(runCli([...args, ...(args[0] === 'lisst' ? [] : ['--db', db])]), pattern);
  });

  it('names a --db whose folder cannot be created', () => {
    const blocked = join(work, 'blocked');
    writeFileSync(blocked, 'a file, not a directory');
    expectUserError(
      runCli(['import', '--db', join(blocked, 'x.db'), fixtures[0]?.path ?? '']),
      /cannot create .*x\.db: the folder .*blocked cannot be created: .*blocked is a file, not a folder\. Pass --db a path in a folder you can write/,
    );
  });

  it('says --db is empty rather than calling the working directory a directory', () => {
    expectUserError(runCli(['list', '--db', '']), /lifeline: --db is empty: pass the path of a database file/);
  });

  it('says an empty file holds no Lifeline data, and imports into it as a new database', () => {
    const empty = join(work, 'zero-bytes.db');
    writeFileSync(empty, '');
    expectUserError(runCli(['list', '--db', empty]), /zero-bytes\.db is empty: it holds no Lifeline data yet/);
    expectUserError(runCli(['export', 'last', '--db', '/dev/null']), /\/dev\/null is not a regular file/);
    // A fixture whose spans all go in (one reusing a span id makes the import exit 3).
    const clean = fixtures.find((f) => f.stored === undefined || f.stored === f.spans);
    expect(runCli(['import', '--db', empty, clean?.path ?? '']).code).toBe(0);
  });

  it('refuses --format that differs from the format --out names', () => {
    const out = join(work, 'flow.png');
    expectUserError(
      runCli(['export', 'last', '--db', db, '--format', 'svg', '--out', out]),
      /--format svg does not match --out .*flow\.png, which names png: name the file .*flow\.svg, or leave --format out/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('names a docs folder that cannot be created under /proc, where recursive mkdir never returns', () => {
    const result = runCli(['docs', '--db', db, '--out', '/proc/lifeline-docs/flows']);
    expectUserError(
      result,
      /cannot write the pages: the folder \/proc\/lifeline-docs\/flows \(and \/proc\/lifeline-docs above it\) does not exist and cannot be created: \/proc does not accept new folders/,
    );
  });
});
