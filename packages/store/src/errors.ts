/**
 * A failure of the Lifeline store that a user can act on: a file that is not
 * a Lifeline database, a schema written by a newer Lifeline, a bad cursor.
 * The message always names the file or value at fault.
 *
 * @example
 * ```ts
 * try {
 *   openStore({ path: 'traces.db' });
 * } catch (error) {
 *   if (error instanceof StoreError) console.error(error.message);
 * }
 * ```
 */
export class StoreError extends Error {
  override name = 'StoreError';
  /** Machine-readable reason, e.g. `'not-sqlite'`, `'schema-too-new'`, `'bad-cursor'`. */
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Reasons a {@link StoreError} is thrown. */
export type StoreErrorCode =
  | 'not-sqlite'
  | 'not-lifeline'
  | 'schema-too-new'
  | 'needs-migration'
  | 'missing-file'
  | 'missing-folder'
  | 'bad-cursor'
  | 'read-only';

/** The SQLite result code of a better-sqlite3 error (`SQLITE_BUSY`, ...), if it has one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Turns a write failure into a sentence that says what to do about it. */
export function describeWriteError(path: string, error: unknown): string {
  const code = sqliteCode(error) ?? '';
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof StoreError) return error.message;
  if (code.startsWith('SQLITE_FULL')) return `Lifeline could not write spans to ${path}: the disk is full (${detail})`;
  if (code.startsWith('SQLITE_READONLY')) {
    return `Lifeline could not write spans to ${path}: the file is read-only (${detail})`;
  }
  if (code.startsWith('SQLITE_BUSY')) {
    return `Lifeline could not write spans to ${path}: another process kept the database locked for too long (${detail})`;
  }
  if (code.startsWith('SQLITE_CANTOPEN')) return `Lifeline could not open ${path} for writing (${detail})`;
  return `Lifeline could not write spans to ${path}: ${detail}`;
}
