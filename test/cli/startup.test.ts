/**
 * What each command loads: a command pays at start-up only for the
 * dependencies it uses (Playwright for images, express and protobufjs for the
 * server), so `lifeline list` starts fast.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, cliBin, repoRoot, runCli, startCli, tempDir } from './cli-runner.js';

const work = tempDir('startup');
const db = join(work, 'small.db');
const hook = join(work, 'record-loads.mjs');

// Records every module the process resolves and prints the npm packages among
// them as JSON on stderr when it exits.
writeFileSync(
  hook,
  `import { registerHooks } from 'node:module';
const urls = new Set();
registerHooks({ resolve(specifier, context, next) { const result = next(specifier, context); urls.add(result.url); return result; } });
process.on('exit', () => {
  const packages = new Set();
  for (const url of urls) {
    const match = /node_modules\\/(?!.*node_modules\\/)((?:@[^/]+\\/)?[^/]+)\\//.exec(url);
    if (match) packages.add(match[1]);
  }
  process.stderr.write('LOADED ' + JSON.stringify([...packages]) + '\\n');
});
`,
);

/** The npm packages `lifeline <args>` loads, by name. */
function packagesLoadedBy(args: readonly string[]): Set<string> {
  const result = spawnSync(process.execPath, ['--import', hook, cliBin, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.status, result.stderr).toBe(0);
  const line = result.stderr.split('\n').find((text) => text.startsWith('LOADED '));
  expect(line, result.stderr).toBeDefined();
  return new Set(JSON.parse((line as string).slice('LOADED '.length)) as string[]);
}

const serverOnly = ['express', 'protobufjs', 'playwright-core', 'mermaid', 'cli-progress'];

beforeAll(() => {
  buildWorkspace();
  const fixtures = join(repoRoot, 'test', 'fixtures');
  const samples = readdirSync(fixtures)
    .filter((name) => name.endsWith('.sample.json'))
    .map((name) => join(fixtures, name));
  const imported = runCli(['import', '--db', db, ...samples]);
  expect(imported.code, imported.stderr).toBe(0);
}, 300_000);

describe('command start-up', () => {
  it.each(['list --help', 'list --all', 'export last --format md', 'db migrate'])(
    '`lifeline %s` loads neither Playwright, express nor protobufjs',
    (command) => {
      const args = command.split(' ');
      const loaded = packagesLoadedBy([...args, '--db', db]);
      // The hook sees what the command does load: commander always, SQLite when the database is read.
      expect(loaded.has('commander')).toBe(true);
      if (args[1] !== '--help') expect(loaded.has('better-sqlite3')).toBe(true);
      for (const name of serverOnly) expect(loaded.has(name), `${name} was loaded`).toBe(false);
    },
  );

  it('loads express and protobufjs for `lifeline serve`, so the check above can fail', async () => {
    const child = spawn(process.execPath, ['--import', hook, cliBin, 'serve', '--port', '0', '--db', db], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      errors += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Lifeline viewer on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${errors}`)));
    });
    child.kill('SIGTERM');
    // 'close', not 'exit': the last of stderr may arrive after the process exited.
    await once(child, 'close');
    const line = errors.split('\n').find((text) => text.startsWith('LOADED ')) ?? 'LOADED []';
    const loaded = new Set(JSON.parse(line.slice('LOADED '.length)) as string[]);
    expect(loaded.has('express')).toBe(true);
    expect(loaded.has('protobufjs')).toBe(true);
  });
});

describe('lifeline serve on loopback', () => {
  it.each(['127.0.0.2', '127.1.2.3'])(
    'serves on %s without --allow-remote, as the viewer counts all of 127.0.0.0/8 as loopback',
    async (host) => {
      const child = startCli(['serve', '--host', host, '--port', '0', '--db', db]);
      let output = '';
      let errors = '';
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        errors += chunk;
      });
      try {
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: string) => {
            output += chunk;
            const match = /Lifeline viewer on (\S+)/.exec(output);
            if (match?.[1]) resolve(match[1]);
          });
          child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${errors}`)));
        });
        expect(url).toMatch(new RegExp(`^http://${host.replaceAll('.', '\\.')}:\\d+`));
        // The server's Host check accepts the same address.
        expect((await fetch(`${url.replace(/\/+$/, '')}/api/traces`)).status).toBe(200);
      } finally {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  );

  it('still refuses an address other machines can reach', () => {
    const result = runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--db', db]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--allow-remote/);
  });
});

describe('lifeline export without a Chromium', () => {
  it.each([
    [{ PATH: '/nonexistent', LIFELINE_CHROMIUM: '' }, /--format svg needs a Chromium .*apt-get install chromium/],
    [{ LIFELINE_CHROMIUM: '/nonexistent/chromium' }, /LIFELINE_CHROMIUM=\/nonexistent\/chromium is not an executable/],
  ])('is a user error with one line (%j)', (env, pattern) => {
    const result = spawnSync(process.execPath, [cliBin, 'export', 'last', '--all', '--db', db, '--format', 'svg'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, LIFELINE_DEBUG: '', ...env },
    });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(pattern);
  });
});
