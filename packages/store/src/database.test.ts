import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRequest, makeSpan, nextId, tempDbPath } from '@lifeline/test-support/spans';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isLifelineStoreDatabase, migrate, openDatabase, pendingMigrations } from './database.js';
import { StoreError } from './errors.js';
import { latestSchemaVersion, migrations } from './migrations.js';
import { openStore } from './store.js';

function storeErrorOf(run: () => unknown): StoreError {
  try {
    run();
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
}

describe('schema and migrations', () => {
  it('creates the schema in WAL mode with incremental auto-vacuum and records its version', () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(10000);
    expect(db.pragma('user_version', { simple: true })).toBe(latestSchemaVersion);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['inbox', 'links', 'meta', 'resources', 'spans', 'traces']);
    db.close();
  });

  it('creates the directory of a new database file', () => {
    const path = tempDbPath('nested/deeper/traces.db');
    openDatabase(path).close();
    expect(existsSync(path)).toBe(true);
  });

  it('says which folder cannot be created, and why, for a database under a file', () => {
    const file = tempDbPath();
    writeFileSync(file, 'a file, not a folder');
    const path = join(file, 'dir', 'traces.db');
    expect(() => openDatabase(path)).toThrow(
      new StoreError(
        'missing-folder',
        `Cannot create the database ${path}: the folder ${join(file, 'dir')} cannot be created: ${file} is a file, not a folder`,
      ),
    );
  });

  it('says an empty file holds no Lifeline data when opened for reading, and takes it as a new database for writing', () => {
    const path = tempDbPath();
    writeFileSync(path, '');
    expect(() => openDatabase(path, { readonly: true })).toThrow(
      `${path} holds no Lifeline data yet (an empty database)`,
    );
    openDatabase(path).close();
    openDatabase(path, { readonly: true }).close();
  });

  it('prints pending migrations as SQL without running them', () => {
    const path = tempDbPath();
    expect(pendingMigrations(path)).toEqual(migrations);
    expect(existsSync(path)).toBe(false);
    expect(pendingMigrations(path)[0]?.sql).toContain('CREATE TABLE spans');
    migrate(path);
    expect(pendingMigrations(path)).toEqual([]);
  });

  it('gives the traces of a schema 1 database their root kind when it is migrated', () => {
    const path = tempDbPath();
    const T0 = 1_767_225_600_000_000_000n;
    const request = makeRequest({ startNs: T0, durationMs: 5, queries: ['SELECT a'] });
    const startUp = makeSpan({
      traceId: nextId(32),
      name: 'CREATE TABLE',
      kind: 'client',
      startTimeNs: T0 + 1_000_000n,
    });
    // A trace whose root never arrived: its earliest span whose parent is missing stands in.
    const orphanTrace = nextId(32);
    const orphanJob = makeSpan({
      traceId: orphanTrace,
      parentSpanId: nextId(16),
      name: 'process mail',
      kind: 'consumer',
      startTimeNs: T0 + 2_000_000n,
    });
    const orphanChild = makeSpan({
      traceId: orphanTrace,
      parentSpanId: orphanJob.spanId,
      startTimeNs: T0 + 2_000_000n,
    });
    const writer = openStore({ path });
    writer.writeSpans([...request, startUp, orphanJob, orphanChild]);
    writer.close();
    // Back to what schema 1 stored: no root kind.
    const raw = new Database(path);
    raw.exec(
      `DROP TABLE inbox; DROP INDEX spans_by_trace_start; DROP INDEX traces_endpoints; DROP INDEX traces_endpoint_savings; ALTER TABLE traces DROP COLUMN overlap_saving_ns;
       DROP INDEX traces_requests_by_start; ALTER TABLE traces DROP COLUMN root_kind`,
    );
    raw.pragma('user_version = 1');
    raw.close();
    expect(pendingMigrations(path).map((m) => m.name)).toEqual([
      'trace-root-kind',
      'trace-overlap-saving',
      'spans-by-trace-start',
      'span-inbox',
    ]);
    expect(storeErrorOf(() => openStore({ path, readonly: true })).code).toBe('needs-migration');

    const store = openStore({ path });
    try {
      const kinds = store.listTraces().items.map((s) => [s.rootName, s.rootKind]);
      expect(kinds).toEqual([
        ['process mail', 'consumer'],
        ['CREATE TABLE', 'client'],
        ['GET /articles/:id', 'server'],
      ]);
      expect(store.listTraces({ work: 'requests' }).items.map((s) => s.rootName)).toEqual([
        'process mail',
        'GET /articles/:id',
      ]);
      expect(store.listTraces({ work: 'background' }).items.map((s) => s.rootName)).toEqual(['CREATE TABLE']);
    } finally {
      store.close();
    }
  });

  it('refuses to open a database written by a newer Lifeline and leaves it untouched', () => {
    const path = tempDbPath();
    migrate(path);
    const raw = new Database(path);
    raw.pragma('user_version = 7');
    raw.exec("INSERT INTO meta (key, value) VALUES ('canary', 'kept')");
    raw.close();
    const error = storeErrorOf(() => openDatabase(path));
    expect(error.code).toBe('schema-too-new');
    expect(error.message).toBe(
      `${path} was written by a newer Lifeline (schema 7, this build knows up to ${latestSchemaVersion}); upgrade Lifeline or use another --db`,
    );
    expect(() => pendingMigrations(path)).toThrow(/newer Lifeline/);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(7);
    expect(check.prepare("SELECT value FROM meta WHERE key = 'canary'").pluck().get()).toBe('kept');
    check.close();
  });

  it('refuses a file that is not SQLite with a clear error', () => {
    const path = tempDbPath('notes.txt');
    writeFileSync(path, 'These are my notes, not a database. '.repeat(100));
    const error = storeErrorOf(() => openDatabase(path));
    expect(error.code).toBe('not-sqlite');
    expect(error.message).toMatch(/is not a Lifeline database: the file is not SQLite/);
    expect(() => pendingMigrations(path)).toThrow(/not SQLite/);
  });

  it('refuses an SQLite database that belongs to another application', () => {
    const path = tempDbPath('app.db');
    const other = new Database(path);
    other.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)');
    other.close();
    expect(storeErrorOf(() => openDatabase(path)).code).toBe('not-lifeline');
  });

  it('asks for a migration instead of migrating when told not to', () => {
    const path = tempDbPath();
    new Database(path).close();
    expect(storeErrorOf(() => openDatabase(path, { migrate: false })).code).toBe('needs-migration');
  });

  it('marks its connections so the better-sqlite3 instrumentation skips them', () => {
    const path = tempDbPath();
    const db = openDatabase(path);
    expect(isLifelineStoreDatabase(db)).toBe(true);
    const foreign = new Database(':memory:');
    expect(isLifelineStoreDatabase(foreign)).toBe(false);
    foreign.close();
    db.close();
  });
});
