import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parseMermaid } from '@lifeline/test-support/mermaid';
import { exampleRequests } from '@lifeline-example/blog-api/traffic';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, repoRoot, tempDir } from './cli-runner.js';

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(700, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Runs the demo once into a temporary folder; resolves with its exit code and output. */
function runDemo(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; outDir: string }> {
  const work = tempDir('demo');
  const outDir = join(work, 'demo-output');
  const child = spawn(
    process.execPath,
    ['examples/demo/run.ts', '--once', '--port', '0', '--out', outDir, '--db', join(work, 'demo.db')],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output, outDir })));
}

function mermaidBlock(markdown: string): string {
  const block = /```mermaid\n([\s\S]*?)\n```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error(`no mermaid block in:\n${markdown}`);
  return block;
}

async function checkDemoOutput(outDir: string): Promise<void> {
  for (const request of exampleRequests) {
    const file = join(outDir, `${request.name}.md`);
    expect(existsSync(file), `${file} is missing`).toBe(true);
    const markdown = readFileSync(file, 'utf8');
    expect(markdown.split('\n')[0]).toContain(`\`${request.method} ${request.route}\``);
    // parseMermaid checks with Mermaid 10.9 as well as the current Mermaid: what GitHub, GitLab and wikis run.
    await parseMermaid(mermaidBlock(markdown));
    expect(mermaidBlock(markdown), 'participant shapes need Mermaid 11').not.toContain('@{');
  }
  const diagram = (name: string) => mermaidBlock(readFileSync(join(outDir, `${name}.md`), 'utf8'));
  expect(diagram('serial')).not.toMatch(/^\s*par\b/m);
  expect(diagram('parallel').match(/^\s*par\b/gm) ?? []).toHaveLength(1);
  expect(diagram('n-plus-one')).toMatch(/^\s*loop\b/m);
  expect(diagram('comment')).toMatch(/-\)/);
  expect(diagram('broken')).toMatch(/--x/);
  // Without shapes, the kind of each participant is the word after its name.
  expect(diagram('serial')).toMatch(/^participant p\d+ as \S.* \(db\)$/m);
  expect(diagram('comment')).toMatch(/^participant p\d+ as \S.* \(queue\)$/m);
}

const realServers = (await Promise.all([answers(5432), answers(6379), answers(5672)])).every(Boolean);
if (!realServers) {
  if (process.env.CI)
    throw new Error('CI needs PostgreSQL, Redis and RabbitMQ on their usual local ports for the demo test');
  console.warn('Skipping the demo with real servers: PostgreSQL, Redis or RabbitMQ is not answering locally.');
}

describe('the demo, end to end', () => {
  beforeAll(() => buildWorkspace(), 300_000);

  it('writes a Markdown diagram of every example request with embedded SQLite and the SQLite job table', async () => {
    const { code, output, outDir } = await runDemo({ EXAMPLE_BACKENDS: 'embedded' });
    expect(code, output).toBe(0);
    expect(output).toContain('embedded SQLite');
    await checkDemoOutput(outDir);
  }, 180_000);

  it.skipIf(!realServers)(
    'writes the same diagrams with the PostgreSQL, Redis and RabbitMQ it finds',
    async () => {
      const { code, output, outDir } = await runDemo({});
      expect(code, output).toBe(0);
      expect(output).toContain('PostgreSQL at');
      expect(output).toContain('RabbitMQ at');
      await checkDemoOutput(outDir);
    },
    180_000,
  );
});
