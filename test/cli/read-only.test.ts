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
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkspace, cliBin, repoRoot } from './cli-runner.js';

type Database = import('better-sqlite3').Database;
const openSqlite = createRequire(join(repoRoot, 'packages', 'store', 'package.json'))('better-sqlite3') as (
  path: string,
) => Database;

const SPAN_COLUMNS =
  'trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns, status_code, status_message, ' +
  'attributes, events, links, resource_id, scope_name, scope_version';

/**
 * Copies `from` to `to` with the spans of every trace but the first `keep`
 * moved back into the inbox, as an app's exporter leaves them before any
 * reader has settled them. Returns how many spans wait there.
 */
function copyWithInbox(from: string, to: string, keep: number): number {
  copyFileSync(from, to);
  const db = openSqlite(to);
  try {
    const kept = `trace_id IN (SELECT trace_id FROM traces ORDER BY trace_id LIMIT ${keep})`;
    const moved = db
      .prepare(`INSERT INTO inbox (${SPAN_COLUMNS}) SELECT ${SPAN_COLUMNS} FROM spans WHERE NOT ${kept}`)
      .run();
    db.exec(`DELETE FROM spans WHERE NOT ${kept}; DELETE FROM traces WHERE NOT ${kept};`);
    return moved.changes;
  } finally {
    db.close();
  }
}

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

  it("reads what is stored and says how many of an app's spans wait unstored, and why, when it cannot store them", () => {
    const source = join(dir, 'three.db');
    for (const format of ['otlp', 'jaeger', 'zipkin']) {
      const file = join(repoRoot, 'test', 'fixtures', `${format}.sample.json`);
      const imported = spawnSync(process.execPath, [cliBin, 'import', '--db', source, file], { encoding: 'utf8' });
      expect(imported.status, imported.stderr).toBe(0);
    }
    const partly = join(dir, 'partly.db');
    const waiting = copyWithInbox(source, partly, 1);
    expect(waiting).toBeGreaterThan(0);
    chmodSync(partly, 0o644);
    const list = runAsNobody(['list', '--db', partly, '--all']);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n').length).toBeGreaterThan(1);
    const note = list.stderr.trim();
    expect(note.split('\n')).toHaveLength(1);
    expect(note).toContain(
      `${waiting} recorded spans in ${partly} are not shown: an app appended them to the file's inbox and this process could not store them (`,
    );
    expect(note).toMatch(
      /\(attempt to write a readonly database\)\)\. Read the file as a user who may write it, or free disk space, and they appear\.$/,
    );

    const none = join(dir, 'none.db');
    const all = copyWithInbox(source, none, 0);
    chmodSync(none, 0o644);
    const empty = runAsNobody(['list', '--db', none]);
    expect(empty.status).toBe(0);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toContain(`${all} recorded spans in ${none} are not shown`);
    const last = runAsNobody(['export', 'last', '--db', none]);
    expect(last.status).toBe(1);
    expect(last.stderr).toContain(`${all} recorded spans in ${none} are not shown`);
    expect(last.stderr).toMatch(/lifeline: no trace in .*none\.db can be shown yet: see the note above/);

    // Its owner may write it: the first read stores them, and says nothing.
    const owner = spawnSync(process.execPath, [cliBin, 'list', '--db', none, '--all'], { encoding: 'utf8' });
    expect(owner.status, owner.stderr).toBe(0);
    expect(owner.stderr).toBe('');
    expect(owner.stdout.trim().split('\n').length).toBeGreaterThan(list.stdout.trim().split('\n').length);
    const again = runAsNobody(['list', '--db', none, '--all']);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe(owner.stdout);
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
