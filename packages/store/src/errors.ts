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
  | 'bad-cursor'
  | 'read-only';
