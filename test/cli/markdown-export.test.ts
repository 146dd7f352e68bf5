/**
 * One Markdown export: `lifeline export --format md` and the viewer's "Copy
 * Markdown" give the same bytes for the same trace and options. The viewer's
 * side runs the browser client's own code (its API call and its export)
 * against `lifeline serve`; the client is bundled for the browser, not a
 * package export, so it is loaded from its source.
 */
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getTrace } from '../../viewer/client/api.js';
import { toMarkdown } from '../../viewer/client/export.js';
import { buildWorkspace, publicFixtures, repoRoot, runCli, startCli, tempDir } from './cli-runner.js';

const work = tempDir('markdown');
const db = join(work, 'traces.db');
let server: ReturnType<typeof startCli> | undefined;
let traceIds: string[] = [];

function traceFiles(): string[] {
  const fixtures = join(repoRoot, 'test', 'fixtures');
  const samples = readdirSync(fixtures)
    .filter((name) => name.endsWith('.sample.json'))
    .map((name) => join(fixtures, name));
  const published = readdirSync(publicFixtures, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((dir) =>
      readdirSync(join(publicFixtures, dir.name))
        .filter((name) => name.endsWith('.json'))
        .map((name) => join(publicFixtures, dir.name, name)),
    );
  return [...samples, ...published];
}

beforeAll(async () => {
  buildWorkspace();
  const imported = runCli(['import', '--db', db, ...traceFiles()]);
  expect([0, 3], imported.stderr).toContain(imported.code);
  const listed = runCli(['list', '--db', db, '--all', '--limit', '1000', '--json']);
  expect(listed.code, listed.stderr).toBe(0);
  traceIds = (JSON.parse(listed.stdout) as { traceId: string }[]).map((item) => item.traceId);

  server = startCli(['serve', '--port', '0', '--db', db]);
  let output = '';
  server.stdout.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    server?.stdout.on('data', (chunk: string) => {
      output += chunk;
      const match = /Lifeline viewer on (\S+)/.exec(output);
      if (match?.[1]) resolve(match[1].replace(/\/+$/, ''));
    });
    server?.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  // The client asks for same-origin relative URLs, as the page served by this server does.
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => realFetch(typeof input === 'string' ? `${url}${input}` : input, init);
}, 300_000);

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
});

describe('the Markdown export', () => {
  it('has traces of every kind to compare', () => {
    expect(traceIds.length).toBeGreaterThan(5);
  });

  it.each([
    { name: 'with timings', cli: [], viewer: { timings: true, shapes: false } },
    { name: 'without timings', cli: ['--no-timings'], viewer: { timings: false, shapes: false } },
    { name: 'with participant shapes', cli: ['--mermaid-shapes'], viewer: { timings: true, shapes: true } },
  ])(
    'is the same from the CLI and the viewer, $name',
    async ({ cli, viewer }) => {
      for (const traceId of traceIds) {
        const fromCli = runCli(['export', traceId, '--db', db, '--format', 'md', ...cli]);
        expect(fromCli.code, fromCli.stderr).toBe(0);
        const data = await getTrace(traceId, { ...viewer, internal: false, loops: true });
        const fromViewer = toMarkdown(data, viewer.timings);
        expect(fromViewer, traceId).toBe(fromCli.stdout);
        if (!viewer.shapes) {
          const block = /^(`{3,})mermaid\n([\s\S]*?)\n\1\n$/m.exec(fromViewer);
          expect(block, fromViewer).not.toBeNull();
          await parseMermaid(block?.[2] ?? '');
        }
      }
    },
    300_000,
  );
});
