/**
 * A database the user may only read: `list` and `export` work, and `serve`
 * (which stores what its receiver gets) says in one line why it cannot.
 * Permissions do not bind root, so the CLI runs as the unprivileged user
 * `nobody` through util-linux's setpriv; where that is not possible (not
 * root, no setpriv, or the checkout not readable by others) the suite is
 * skipped with the reason.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, cliBin, repoRoot } from './cli-runner.js';

const asNobody = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

function runAsNobody(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('setpriv', [...asNobody, process.execPath, cliBin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function whyUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root, so no other user can be taken on';
  const probe = spawnSync(
    'setpriv',
    [...asNobody, process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(cliBin)})`],
    {
      encoding: 'utf8',
    },
  );
  if (probe.error !== undefined) return `setpriv is not available (${probe.error.message}); apt-get install util-linux`;
  if (probe.status !== 0) return `the user nobody cannot read ${repoRoot} or run ${process.execPath}`;
  return undefined;
}

const unavailable = whyUnavailable();
if (unavailable !== undefined) {
  console.warn(`Skipping the read-only database tests: ${unavailable}.`);
}

describe.skipIf(unavailable !== undefined)('a database in a folder the user may only read', () => {
  let dir: string;
  let db: string;

  beforeAll(() => {
    buildWorkspace();
    dir = mkdtempSync(join(tmpdir(), 'lifeline-read-only-'));
    db = join(dir, 'traces.db');
    const imported = spawnSync(
      process.execPath,
      [cliBin, 'import', '--db', db, join(repoRoot, 'test', 'fixtures', 'otlp.sample.json')],
      {
        encoding: 'utf8',
      },
    );
    expect(imported.status, imported.stderr).toBe(0);
    // Closed cleanly, SQLite removed its -wal and -shm: only the file is left.
    expect(readdirSync(dir)).toEqual(['traces.db']);
    chmodSync(dir, 0o755);
    chmodSync(db, 0o644);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists and exports it without writing a byte beside it', () => {
    const list = runAsNobody(['list', '--db', db]);
    expect(list.stderr).toBe('');
    expect(list.status).toBe(0);
    expect(list.stdout).toContain('GET /articles/:id');
    const exported = runAsNobody(['export', 'last', '--db', db, '--format', 'mmd', '--no-timings']);
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^sequenceDiagram/);
    expect(readdirSync(dir)).toEqual(['traces.db']);
  });

  it('refuses to serve it with exit 1 and one line naming the cause', () => {
    const served = runAsNobody(['serve', '--port', '0', '--db', db]);
    expect(served.status).toBe(1);
    expect(served.stderr.trim().split('\n')).toHaveLength(1);
    expect(served.stderr).toMatch(/read-only.*make .*traces\.db writable, or pass --db another file/);
  });

  it('refuses to serve a file that is not a database, or in a folder it cannot create, with exit 1', () => {
    const notDb = join(dir, 'notes.txt');
    copyFileSync(join(repoRoot, 'README.md'), notDb);
    chmodSync(notDb, 0o644);
    const foreign = runAsNobody(['serve', '--port', '0', '--db', notDb]);
    expect(foreign.status).toBe(1);
    expect(foreign.stderr).toMatch(/not a Lifeline database/);
    const blocked = runAsNobody(['serve', '--port', '0', '--db', join(dir, 'sub', 'traces.db')]);
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(
      /cannot create .*traces\.db: the folder .*sub does not exist and cannot be created: permission denied in /,
    );
  });
});
