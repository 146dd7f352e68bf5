import { existsSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import {
  defaultDbPath,
  makeFolder,
  openStore,
  pendingMigrations,
  type SpanStore,
  StoreError,
  type UnsettledSpans,
} from '@lifeline/store';
import { UserError } from './errors.js';

/** The database a command works on: `--db PATH` when given, else the store's default. */
export function resolveDbPath(option: string | undefined): string {
  // resolve('') is the working directory, which would then be called "a directory".
  if (option !== undefined && option.trim() === '') {
    throw new UserError(
      `--db is empty: pass the path of a database file, or leave --db out for the default (${displayPath(defaultDbPath())})`,
    );
  }
  return resolve(option ?? defaultDbPath());
}

/** A path as the user would like to read it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

const sqliteUserErrors: Record<string, string> = {
  SQLITE_NOTADB: 'is not a SQLite database',
  SQLITE_CORRUPT: 'is corrupt',
  SQLITE_CANTOPEN: 'cannot be opened',
  SQLITE_READONLY: 'is read-only (or its folder is)',
  SQLITE_IOERR: 'cannot be read or written (I/O error)',
  SQLITE_PERM: 'cannot be accessed (permission denied)',
  SQLITE_BUSY: 'is locked by another process',
};

/** What to do about each kind of store failure the user can act on. */
const storeErrorHints: Partial<Record<StoreError['code'], (path: string) => string>> = {
  'not-sqlite': () => `point --db at a Lifeline database (default ${displayPath(resolve(defaultDbPath()))})`,
  'not-lifeline': () => 'point --db at a Lifeline database, or at a new file to start one',
  'needs-migration': (path) => `run \`lifeline db migrate --db ${displayPath(path)}\` first`,
  'schema-too-new': () => 'it was written by a newer Lifeline: upgrade the lifeline CLI',
  'read-only': (path) => `make ${displayPath(path)} writable, or pass --db another file`,
};

/**
 * Runs `work` and turns SQLite's complaints about the file itself (not a
 * database, corrupt, locked) into a user error naming the file, because a
 * wrong `--db` is the usual cause and the user can fix it.
 */
export function withDatabaseErrors<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof StoreError) {
      const hint = storeErrorHints[error.code]?.(path);
      throw new UserError(hint ? `${error.message}: ${hint}` : error.message);
    }
    const code = (error as { code?: unknown }).code;
    const problem = typeof code === 'string' ? sqliteUserErrors[code] : undefined;
    if (problem) {
      throw new UserError(
        `${displayPath(path)} ${problem}: point --db at a Lifeline database (default ${displayPath(resolve(defaultDbPath()))})`,
      );
    }
    throw error;
  }
}

/**
 * Opens a database that must already hold recorded spans, read-only: listing
 * and exporting never change it.
 */
export function openExistingStore(path: string): SpanStore {
  if (!existsSync(path)) {
    throw new UserError(
      `no traces yet: ${displayPath(path)} does not exist. Record an app with \`node --import @lifeline/node/register app.js\`, import a file with \`lifeline import FILE\`, or pass --db PATH`,
    );
  }
  const stat = statSync(path);
  if (stat.isDirectory()) {
    throw new UserError(`${displayPath(path)} is a directory: pass --db the path of the database file inside it`);
  }
  if (!stat.isFile()) {
    throw new UserError(`${displayPath(path)} is not a regular file: pass --db the path of a database file`);
  }
  if (stat.size === 0) {
    throw new UserError(
      `${displayPath(path)} is empty: it holds no Lifeline data yet. Record an app with \`node --import @lifeline/node/register app.js\`, import a file with \`lifeline import FILE --db ${displayPath(path)}\`, or pass --db another file`,
    );
  }
  return withDatabaseErrors(path, () => {
    const pending = pendingMigrations(path);
    if (pending.length > 0) {
      throw new UserError(
        `${displayPath(path)} uses an older schema (${pending.length} migration${pending.length === 1 ? '' : 's'} pending): run \`lifeline db migrate --db ${displayPath(path)}\` first`,
      );
    }
    return openStore({ path, readonly: true, migrate: false });
  });
}

/**
 * What a reader tells the user about spans an app recorded that it could not
 * store under their keys (see `SpanStore.unsettled`): how many, why, and
 * what makes them appear.
 */
export function unsettledNote(unsettled: UnsettledSpans, path: string): string {
  const count = unsettled.spans.toLocaleString('en-US');
  return (
    `${count} recorded span${unsettled.spans === 1 ? '' : 's'} in ${displayPath(path)} ` +
    `${unsettled.spans === 1 ? 'is' : 'are'} not shown: an app appended them to the file's inbox and this process ` +
    `could not store them (${unsettled.reason}). Read the file as a user who may write it, or free disk space, and they appear.\n`
  );
}

/** Closes a store a command read, first saying on stderr what it could not show (see {@link unsettledNote}). */
export function closeReadStore(store: SpanStore, path: string): void {
  try {
    const unsettled = store.unsettled();
    if (unsettled !== undefined) process.stderr.write(unsettledNote(unsettled, path));
  } finally {
    store.close();
  }
}

/** Opens (creating when needed, and migrating) a database that a command writes to. */
export function openWritableStore(path: string): SpanStore {
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new UserError(`${displayPath(path)} is a directory: pass --db the path of the database file inside it`);
  }
  if (existsSync(path) && !statSync(path).isFile()) {
    throw new UserError(`${displayPath(path)} is not a regular file: pass --db the path of a database file`);
  }
  ensureParentFolder(path);
  return withDatabaseErrors(path, () => openStore({ path, migrate: true }));
}

/** Creates the folder a new database goes in; a path through a file, or a folder that cannot be made, is the user's to fix. */
export function ensureParentFolder(path: string): void {
  try {
    makeFolder(dirname(path));
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    throw new UserError(
      `cannot create ${displayPath(path)}: ${error.message}. Pass --db a path in a folder you can write`,
    );
  }
}
