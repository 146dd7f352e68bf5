import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { latestSchemaVersion, type Migration, migrations } from './migrations.js';

/** The SQLite handle type the store works with. */
export type SqliteDatabase = Database.Database;

/** `PRAGMA application_id` of a Lifeline database ("LFLN"), so other SQLite files are recognised as foreign. */
export const LIFELINE_APPLICATION_ID = 0x4c464c4e;

const internalMarker = Symbol.for('lifeline.store.internal-database');

/**
 * Every better-sqlite3 `Database` the store opened in this thread. An
 * instrumentation of better-sqlite3 must not trace these: tracing the store's
 * own statements would record spans about recording spans, without end.
 * Private to the package, so nothing outside can add or remove a handle;
 * {@link isLifelineStoreDatabase} is the question to ask, and also recognises
 * handles opened by another copy of this package.
 */
const internalDatabases: WeakSet<object> = new WeakSet();

/**
 * Whether `db` is a better-sqlite3 handle opened by the Lifeline store (whose
 * statements must never be traced).
 *
 * @example
 * ```ts
 * if (isLifelineStoreDatabase(db)) return original.apply(this, args);
 * ```
 */
export function isLifelineStoreDatabase(db: unknown): boolean {
  if (typeof db !== 'object' || db === null) return false;
  return internalDatabases.has(db) || (db as Record<symbol, unknown>)[internalMarker] === true;
}

/**
 * Where the store lives unless told otherwise: `LIFELINE_DB`, or
 * `.lifeline/traces.db` under the current working directory.
 *
 * @example
 * ```ts
 * const store = openStore({ path: defaultDbPath() });
 * ```
 */
export function defaultDbPath(): string {
  const fromEnv = process.env.LIFELINE_DB;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return resolve(fromEnv);
  return resolve(process.cwd(), '.lifeline', 'traces.db');
}

/** How to open a database file. */
export interface OpenDatabaseOptions {
  readonly readonly?: boolean;
  /** Run pending migrations (default true). When false, a database that needs one is refused. */
  readonly migrate?: boolean;
}

function isSqliteError(error: unknown, ...codes: string[]): error is Error & { code: string } {
  if (!(error instanceof Error)) return false;
  const code = (error as unknown as { code?: unknown }).code;
  return typeof code === 'string' && codes.some((c) => code.startsWith(c));
}

/** Wraps the SQLite errors that mean "this is not our file" into a StoreError. */
function explainOpenError(path: string, error: unknown): never {
  if (isSqliteError(error, 'SQLITE_NOTADB', 'SQLITE_CORRUPT')) {
    throw new StoreError(
      'not-sqlite',
      `${path} is not a Lifeline database: the file is not SQLite (${error.message})`,
      {
        cause: error,
      },
    );
  }
  if (isSqliteError(error, 'SQLITE_CANTOPEN')) {
    throw new StoreError('missing-file', `Cannot open ${path}: ${error.message}`, { cause: error });
  }
  if (isSqliteError(error, 'SQLITE_READONLY')) {
    throw new StoreError('read-only', `Cannot write to ${path}: the file is read-only (${error.message})`, {
      cause: error,
    });
  }
  throw error;
}

/**
 * The file's identity and schema version, read in ONE statement: one
 * statement is one consistent snapshot, so another process's first
 * migration cannot commit between reading the application id (still 0) and
 * counting tables (already there), which would make a brand-new Lifeline
 * file look foreign.
 */
const READ_IDENTITY = `SELECT
  (SELECT application_id FROM pragma_application_id()) AS applicationId,
  (SELECT user_version FROM pragma_user_version()) AS version,
  (SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%') AS tables`;

function readVersion(db: SqliteDatabase, path: string): number {
  const { applicationId, version, tables } = db.prepare(READ_IDENTITY).get() as {
    applicationId: number;
    version: number;
    tables: number;
  };
  if (applicationId !== LIFELINE_APPLICATION_ID) {
    if (applicationId !== 0 || tables > 0) {
      throw new StoreError(
        'not-lifeline',
        `${path} is an SQLite database but not a Lifeline one; choose another file with --db or LIFELINE_DB`,
      );
    }
  }
  if (version > latestSchemaVersion) {
    throw new StoreError(
      'schema-too-new',
      `${path} was written by a newer Lifeline (schema ${version}, this build knows up to ${latestSchemaVersion}); upgrade Lifeline or use another --db`,
    );
  }
  return version;
}

function pendingFor(version: number): Migration[] {
  return migrations.filter((m) => m.version > version);
}

function markInternal(db: SqliteDatabase): void {
  internalDatabases.add(db);
  Object.defineProperty(db, internalMarker, { value: true });
}

function applyMigrations(db: SqliteDatabase, path: string): void {
  // Another process may be migrating the same new file at this moment: the
  // version is read again under the write lock, so each step runs once.
  db.transaction(() => {
    const version = readVersion(db, path);
    const pending = pendingFor(version);
    if (pending.length === 0) return;
    db.pragma(`application_id = ${LIFELINE_APPLICATION_ID}`);
    for (const migration of pending) {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
}

/** Why a folder could not be created, from the `mkdir` error at `level` (whose parent exists). */
function folderProblem(level: string, error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const parent = dirname(level);
  if (code === 'EACCES' || code === 'EPERM') return `permission denied in ${parent}`;
  if (code === 'EROFS') return `${parent} is on a read-only file system`;
  if (code === 'ENOSPC') return 'the disk is full';
  // Under /proc and /sys, mkdir of a new name fails with ENOENT although its parent exists.
  if (code === 'ENOENT') return `${parent} does not accept new folders`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates the folder `dir` and the missing ones above it, one level at a
 * time from the nearest that exists. Node's `mkdirSync(dir, { recursive: true })`
 * loops for ever under /proc, where creating a name fails with ENOENT
 * although its parent exists.
 *
 * @throws {StoreError} `missing-folder`, saying which folder does not exist
 *   and why it cannot be made: a file in the way, permission denied, a
 *   read-only file system, a place that takes no new folders.
 *
 * @example
 * ```ts
 * makeFolder('docs/flows'); // then write the pages into it
 * ```
 */
export function makeFolder(dir: string): void {
  const target = resolve(dir);
  const missing: string[] = [];
  let level = target;
  while (!existsSync(level)) {
    missing.unshift(level);
    const parent = dirname(level);
    if (parent === level) break;
    level = parent;
  }
  if (!statSync(level).isDirectory()) {
    throw new StoreError('missing-folder', `the folder ${target} cannot be created: ${level} is a file, not a folder`);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'EEXIST' && statSync(folder).isDirectory()) continue;
      const what = folder === target ? `the folder ${target}` : `the folder ${target} (and ${folder} above it)`;
      throw new StoreError(
        'missing-folder',
        `${what} does not exist and cannot be created: ${folderProblem(folder, error)}`,
        {
          cause: error,
        },
      );
    }
  }
}

/**
 * Opens (creating if needed) a Lifeline database file, configured for
 * several processes writing at once: WAL, `synchronous = NORMAL`, a 10 s busy
 * timeout. Throws a {@link StoreError} for foreign, corrupt or too-new files.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const readonly = options.readonly ?? false;
  const migrate = options.migrate ?? true;
  if (readonly || !migrate) {
    if (!existsSync(path)) {
      throw new StoreError('missing-file', `No Lifeline database at ${path}`);
    }
  } else {
    try {
      makeFolder(dirname(path));
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      throw new StoreError('missing-folder', `Cannot create the database ${path}: ${error.message}`, { cause: error });
    }
  }
  let db: SqliteDatabase;
  try {
    db = readonly ? openForReading(path) : new Database(path);
  } catch (error) {
    explainOpenError(path, error);
  }
  markInternal(db);
  try {
    db.pragma('busy_timeout = 10000');
    // A brand-new file may be set up by another process at this very moment:
    // a step that meets its lock in a way SQLite's busy handler cannot wait
    // out (two connections upgrading their locks at once) is tried again.
    return whileBusy(() => setUp(db, path, readonly, migrate));
  } catch (error) {
    db.close();
    explainOpenError(path, error);
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `work` again while SQLite answers "database is locked" (SQLITE_BUSY),
 * waiting a little longer each time, for up to `limitMs` (default 10 s, the
 * busy timeout), then lets the error through.
 */
function whileBusy<T>(work: () => T, limitMs = 10_000): T {
  const deadline = Date.now() + limitMs;
  for (let waitMs = 2; ; waitMs = Math.min(waitMs * 2, 100)) {
    try {
      return work();
    } catch (error) {
      if (!isSqliteError(error, 'SQLITE_BUSY') || Date.now() > deadline) throw error;
      Atomics.wait(sleepCell, 0, 0, waitMs);
    }
  }
}

/** Checks the file's schema and, for writing, configures and migrates it. */
function setUp(db: SqliteDatabase, path: string, readonly: boolean, migrate: boolean): SqliteDatabase {
  const version = readVersion(db, path);
  if (!readonly) {
    if (version === 0) {
      // auto_vacuum can only be chosen before the first table exists; it
      // lets retention hand freed pages back to the file system.
      db.pragma('auto_vacuum = INCREMENTAL');
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    if (pendingFor(version).length > 0) {
      if (!migrate) {
        throw new StoreError(
          'needs-migration',
          `${path} uses schema ${version}; this Lifeline needs ${latestSchemaVersion}. Run \`lifeline migrate\` first`,
        );
      }
      applyMigrations(db, path);
    }
  } else if (version === 0) {
    // An empty file, or one no Lifeline ever wrote: SQLite takes it for a new database.
    throw new StoreError('missing-file', `${path} holds no Lifeline data yet (an empty database)`);
  } else if (version < latestSchemaVersion) {
    throw new StoreError(
      'needs-migration',
      `${path} uses schema ${version}; this Lifeline needs ${latestSchemaVersion}. Open it once for writing to migrate`,
    );
  }
  return db;
}

/**
 * Opens an existing file read-only. Reading a WAL-mode database normally
 * needs its `-shm` file, which SQLite creates beside it: in a folder the user
 * may only read, with no `-wal` or `-shm` left there, that fails although
 * nothing is to be written. The file is then opened as immutable (SQLite's
 * `immutable=1` URI parameter, https://sqlite.org/wal.html#readonly): with no
 * `-wal` file there are no frames it could miss. That needs URI file names,
 * which the process enables with `SQLITE_USE_URI=1` before better-sqlite3
 * loads (the CLI does); without them the original error stands.
 */
function openForReading(path: string): SqliteDatabase {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    // The first read is where a missing -shm shows.
    db.prepare(READ_IDENTITY).get();
    return db;
  } catch (error) {
    db.close();
    if (!isSqliteError(error, 'SQLITE_READONLY', 'SQLITE_CANTOPEN') || existsSync(`${path}-wal`)) throw error;
    try {
      const immutable = new Database(`file:${encodeURI(path).replace(/[?#]/g, encodeURIComponent)}?immutable=1`, {
        readonly: true,
        fileMustExist: true,
      });
      immutable.prepare(READ_IDENTITY).get();
      return immutable;
    } catch {
      throw error;
    }
  }
}

/**
 * The migrations that opening `path` would run, without running them (a dry
 * run). A missing file needs all of them.
 *
 * @example
 * ```ts
 * for (const m of pendingMigrations('.lifeline/traces.db')) console.log(`-- ${m.version} ${m.name}\n${m.sql}`);
 * ```
 */
export function pendingMigrations(path: string): Migration[] {
  if (!existsSync(path)) return pendingFor(0);
  let db: SqliteDatabase;
  try {
    db = openForReading(path);
  } catch (error) {
    explainOpenError(path, error);
  }
  markInternal(db);
  try {
    return pendingFor(readVersion(db, path));
  } catch (error) {
    explainOpenError(path, error);
  } finally {
    db.close();
  }
}

/**
 * Brings the database at `path` to this build's schema, creating it if
 * needed. Each run happens in one transaction: a failure leaves the previous
 * schema intact.
 *
 * @example
 * ```ts
 * migrate('.lifeline/traces.db');
 * ```
 */
export function migrate(path: string): void {
  openDatabase(path, { migrate: true }).close();
}
