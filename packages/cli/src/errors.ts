/**
 * A mistake the person at the keyboard can fix: a wrong trace id, an unreadable
 * file, a bad option value. The CLI prints its message as one line on stderr
 * and exits with status 1, never with a stack trace.
 *
 * @example
 * ```ts
 * throw new UserError(`no trace ${id} in ${path}: run \`lifeline list\` to see the recorded ones`);
 * ```
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}

/** Exit status for a user error (bad input); unexpected failures use {@link EXIT_UNEXPECTED}. */
export const EXIT_USER_ERROR = 1;

/** Exit status for a failure that is a bug or an environment problem, not the user's input. */
export const EXIT_UNEXPECTED = 2;

/**
 * Exit status when a command did its work but skipped part of its input
 * (`lifeline import` with spans or lines it could not read). Scripts can tell
 * "all imported" (0) from "imported, with losses" (3) from "nothing done" (1).
 */
export const EXIT_INCOMPLETE = 3;

/**
 * Thrown when a command has finished and written what it could, but part of
 * its input was skipped. The CLI prints its message as one line on stderr and
 * exits with {@link EXIT_INCOMPLETE}.
 *
 * @example
 * ```ts
 * throw new IncompleteError('skipped 2 spans in 1 file; the rest was imported');
 * ```
 */
export class IncompleteError extends Error {
  override readonly name = 'IncompleteError';
}

/** Collapses a message to a single line so one failure is always one line on stderr. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Describes an unknown thrown value. The stack is only for `LIFELINE_DEBUG=1`:
 * by default a failure is one line that says how to get more.
 */
export function describeUnexpected(error: unknown, debug: boolean): string {
  if (debug && error instanceof Error && error.stack) return error.stack;
  const message = error instanceof Error ? error.message : String(error);
  return `unexpected error: ${oneLine(message)} (run again with LIFELINE_DEBUG=1 to see the stack trace)`;
}
