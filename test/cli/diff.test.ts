/**
 * `lifeline diff` on real recordings: the blog API example run with the
 * recorder preloaded, as shipped and as reviewed (its N+1 list fixed, its
 * serial route made concurrent), each run into its own SQLite file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { openStore } from '@lifeline/store';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, repoRoot, runCli, tempDir } from './cli-runner.js';

const exampleDir = join(repoRoot, 'examples', 'blog-api');
/** Requests per endpoint kept for the comparison: the first, cold one is left out by `--per-endpoint`. */
const KEPT = 5;

interface Recording {
  readonly db: string;
  /** Trace ids by path, in request order. */
  readonly traces: Record<string, string[]>;
}

interface RunSpec {
  readonly db: string;
  readonly reviewed: boolean;
  readonly paths: readonly string[];
}

/** Starts the blog API (embedded SQLite, no other service) recording into `db`; resolves with its URL and a stop. */
async function startBlogApi(spec: RunSpec): Promise<{ url: string; stop: () => Promise<void> }> {
  const work = tempDir('diff-app');
  const child: ChildProcess = spawn(process.execPath, ['--import', '@lifeline/node/register', 'src/server.ts'], {
    cwd: exampleDir,
    env: {
      ...process.env,
      PORT: '0',
      LIFELINE_DB: spec.db,
      EXAMPLE_BACKENDS: 'embedded',
      EXAMPLE_SQLITE_PATH: join(work, 'blog.db'),
      EXAMPLE_JOBS_PATH: join(work, 'jobs.db'),
      EXAMPLE_REVIEWED: spec.reviewed ? '1' : '0',
      OTEL_SERVICE_NAME: 'blog-api',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`blog-api exited (${code}) before it was ready:\n${output}`)));
    child.on('message', (message: { ready?: boolean; url?: string }) => {
      if (message.ready && message.url) resolve(message.url);
    });
  });
  return {
    url,
    stop: async () => {
      child.send({ shutdown: true });
      const code = await exited;
      if (code !== 0) throw new Error(`blog-api exited with ${code}:\n${output}`);
    },
  };
}

/**
 * Records several runs at once, their requests taking turns: a busy machine
 * slows every run alike, as the runs of a CI job on one runner. (One run after
 * another would compare the machine's load, not the code.)
 */
async function recordTogether(specs: readonly RunSpec[]): Promise<Recording[]> {
  const apps = await Promise.all(specs.map((spec) => startBlogApi(spec)));
  const traces: Record<string, string[]>[] = specs.map(() => ({}));
  // One round more than kept: the first request of each endpoint warms the process up.
  for (let round = 0; round <= KEPT; round++) {
    for (const path of new Set(specs.flatMap((spec) => spec.paths))) {
      for (let i = 0; i < specs.length; i++) {
        if (!(specs[i] as RunSpec).paths.includes(path)) continue;
        const response = await fetch(`${(apps[i] as { url: string }).url}${path}`);
        await response.arrayBuffer();
        const byPath = traces[i] as Record<string, string[]>;
        byPath[path] = [...(byPath[path] ?? []), response.headers.get('x-lifeline-trace') ?? ''];
      }
    }
  }
  await Promise.all(apps.map((app) => app.stop()));
  return specs.map((spec, i) => ({ db: spec.db, traces: traces[i] as Record<string, string[]> }));
}

const PATHS = ['/articles/1/serial', '/articles/1/parallel', '/articles'];

describe('lifeline diff on recordings of the blog API', () => {
  const dir = tempDir('diff');
  let base: Recording;
  let again: Recording;
  let head: Recording;

  beforeAll(async () => {
    buildWorkspace();
    [base, again, head] = (await recordTogether([
      { db: join(dir, 'base.db'), reviewed: false, paths: PATHS },
      { db: join(dir, 'again.db'), reviewed: false, paths: PATHS },
      { db: join(dir, 'head.db'), reviewed: true, paths: [...PATHS, '/articles/1/broken'] },
    ])) as [Recording, Recording, Recording];
  }, 180_000);

  const diffRuns = (from: Recording, to: Recording, ...extra: string[]) =>
    runCli(['diff', '--db', from.db, '--against', to.db, '--per-endpoint', String(KEPT), ...extra]);

  it('reports no difference beyond noise between two recordings of the same code', () => {
    const result = diffRuns(base, again, '--json', '--fail-on', 'any');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      endpoints: { endpoint: { route: string }; changes: unknown[]; same: boolean; requests: { before: number } }[];
      onlyBefore: unknown[];
      onlyAfter: unknown[];
      regressions: string[];
    };
    expect(report.endpoints.map((e) => e.endpoint.route).sort()).toEqual([
      '/articles',
      '/articles/:id/parallel',
      '/articles/:id/serial',
    ]);
    for (const endpoint of report.endpoints) {
      expect(endpoint.changes, endpoint.endpoint.route).toEqual([]);
      expect(endpoint.requests.before).toBe(KEPT);
      expect(endpoint.same, `${endpoint.endpoint.route}: ${JSON.stringify(endpoint)}`).toBe(true);
    }
    expect(report.onlyBefore).toEqual([]);
    expect(report.onlyAfter).toEqual([]);
    expect(report.regressions).toEqual([]);
  });

  it('names the fixed N+1, the queries made concurrent and the endpoint only in the new run', () => {
    const result = diffRuns(base, head, '--fail-on', 'n-plus-one,more-queries,lost-overlap');
    expect(result.code, result.stderr).toBe(0);
    const text = result.stdout;
    expect(text).toMatch(/^GET \/articles on blog-api \(5 → 5 requests\)$/m);
    expect(text).toContain('loop 6× SELECT authors → 1× SELECT authors (sqlite blog)');
    expect(text).toContain('queries 7 → 2');
    expect(text).toContain('SELECT articles (sqlite blog) now overlaps SELECT comments');
    expect(text).not.toContain('SELECT comments (sqlite blog) now overlaps SELECT articles');
    expect(text).toMatch(/^GET \/articles\/:id\/parallel on blog-api \(5 → 5 requests\): no difference beyond noise$/m);
    expect(text).toContain('only in the new run: GET /articles/:id/broken on blog-api');
    // The new endpoint fails on every request: nothing to compare it with, but its error is the change's.
    expect(text).toMatch(/^only in the new run: GET \/articles\/:id\/broken on blog-api\n {2}error: /m);
    expect(text).toMatch(/regressions: new-error\n$/);
    const gate = diffRuns(base, head, '--fail-on', 'new-error');
    expect(gate.code).toBe(1);
    expect(gate.stderr).toBe('lifeline: the change brings new-error (--fail-on)\n');
    // Five queries fewer take less time, but whether the saving stands out of the
    // runs' spread depends on the machine's load: the text says which it is.
    for (const route of ['', '\\/:id\\/serial']) {
      expect(text).toMatch(
        new RegExp(
          `^GET \\/articles${route} on blog-api[^\\n]*\\n(?: {2}[^\\n]*\\n)*? {2}wall time [^\\n]*\\((?:−|noise)`,
          'm',
        ),
      );
    }
    const json = JSON.parse(diffRuns(base, head, '--json').stdout) as {
      endpoints: { endpoint: { route: string }; timing: { wallTime: { before: number; after: number } } }[];
    };
    const list = json.endpoints.find((e) => e.endpoint.route === '/articles');
    expect(list?.timing.wallTime.after).toBeLessThan(list?.timing.wallTime.before ?? 0);
  });

  it('fails the build on the regressions asked for when the change goes the other way', () => {
    const result = diffRuns(head, base, '--fail-on', 'n-plus-one,lost-overlap');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('lifeline: the change brings n-plus-one, lost-overlap (--fail-on)\n');
    expect(result.stdout).toContain('1× SELECT authors → loop 6× SELECT authors (sqlite blog)');
    expect(result.stdout).toContain('no longer overlaps');
    expect(result.stdout).toContain('regressions: n-plus-one, more-queries, lost-overlap');
    // Not asked for: exit 0 although there are regressions.
    expect(diffRuns(head, base, '--fail-on', 'new-error').code).toBe(0);
    expect(diffRuns(head, base, '--fail-on', 'slower').code).toBe(1);
  });

  it('writes a pull-request comment whose diagrams parse on Mermaid 10.9 and current', async () => {
    const result = diffRuns(base, head, '--format', 'md');
    expect(result.code, result.stderr).toBe(0);
    const markdown = result.stdout;
    expect(markdown).toContain('| endpoint | requests | changes | queries | wall time | database time |');
    expect(markdown).toMatch(/\| `GET \/articles on blog-api` \| 5 → 5 \| loop 6× SELECT authors → 1× SELECT authors/);
    expect(markdown).toContain('| 7 → **2** |');
    const blocks = [...markdown.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1] as string);
    expect(blocks).toHaveLength(3);
    // The new endpoint's error, with its flow drawn.
    expect(markdown).toContain('### `GET /articles/:id/broken on blog-api` (new)');
    await parseMermaid(blocks[0] as string);
    for (const block of blocks.slice(1)) {
      await parseMermaid(block);
      expect(block).toMatch(/^rect rgb\(255, 236, 179\)$/m);
      expect(block).toContain('Note over p1,p3: yellow blocks: changed by this change');
      expect(block).not.toContain('@{');
    }
    expect(blocks.join('\n')).toContain('was 6×, now 1×');
    expect(blocks.join('\n')).toContain('now concurrent (was serial)');
  });

  it('compares two requests by trace id, serial against parallel', async () => {
    const serial = base.traces['/articles/1/serial']?.at(-1) ?? '';
    const parallel = base.traces['/articles/1/parallel']?.at(-1) ?? '';
    const result = runCli(['diff', serial, parallel, '--db', base.db]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n').slice(0, 4)).toEqual([
      `${serial} → ${parallel}`,
      '  compared GET /articles/:id/serial on blog-api with GET /articles/:id/parallel on blog-api',
      '  SELECT articles (sqlite blog) now overlaps SELECT comments',
      '  queries 2',
    ]);
    const md = runCli(['diff', serial, parallel, '--db', base.db, '--format', 'md']);
    const block = /```mermaid\n([\s\S]*?)\n```/.exec(md.stdout)?.[1] ?? '';
    await parseMermaid(block);
    // The new flow across two files: the `after` trace read from --against.
    const across = runCli([
      'diff',
      serial,
      head.traces['/articles/1/serial']?.at(-1) ?? '',
      '--db',
      base.db,
      '--against',
      head.db,
      '--json',
    ]);
    expect(across.code, across.stderr).toBe(0);
    expect((JSON.parse(across.stdout) as { changes: { kind: string }[] }).changes.map((c) => c.kind)).toEqual([
      'overlap-gained',
    ]);
  });

  it('says a base run without a request compared nothing, and fails any --fail-on on it', () => {
    const empty = join(dir, 'empty.db');
    openStore({ path: empty }).close();
    const text = runCli(['diff', '--db', empty, '--against', head.db]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('the base run has no request: nothing was compared');
    const md = runCli(['diff', '--db', empty, '--against', head.db, '--format', 'md']);
    expect(md.stdout).toContain('**The base run has no request: nothing was compared');
    const gate = runCli(['diff', '--db', empty, '--against', head.db, '--fail-on', 'more-queries']);
    expect(gate.code).toBe(1);
    expect(gate.stderr).toMatch(
      /^lifeline: the base run .*empty\.db has no request, so nothing was compared \(--fail-on\)\n$/,
    );
  });

  it('refuses --json with --format, and an empty --fail-on', () => {
    const both = runCli(['diff', '--db', base.db, '--against', head.db, '--json', '--format', 'md']);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/option '--json' cannot be used with option '--format/);
    const none = runCli(['diff', '--db', base.db, '--against', head.db, '--fail-on', '']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('expected one or more of n-plus-one');
  });

  it('says what to pass when the input is wrong', () => {
    expect(runCli(['diff']).stderr).toContain('pass two trace ids');
    const missing = runCli(['diff', 'abc', 'def', '--db', base.db]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lifeline: no trace abc in /);
  });
});
