/**
 * A trace file that cannot be imported. The message names the place: a JSON
 * path such as `data[0].spans[3].startTime`, or `line 12` of a JSON-lines file.
 *
 * @example
 * ```ts
 * try {
 *   parseTraceFile(text, { fileName: 'trace.json' });
 * } catch (error) {
 *   if (error instanceof TraceFileError) console.error(error.message); // trace.json: at data[0].spans[3].startTime: expected a number
 * }
 * ```
 */
export class TraceFileError extends Error {
  override name = 'TraceFileError';
  /** Where in the file the problem is (JSON path or `line N`), when known. */
  readonly place: string | undefined;
  /** The problem without file name and place. */
  readonly problem: string;

  constructor(problem: string, options: { place?: string; fileName?: string; cause?: unknown } = {}) {
    const prefix = `${options.fileName === undefined ? '' : `${options.fileName}: `}${options.place === undefined || options.place === '' ? '' : `at ${options.place}: `}`;
    super(`${prefix}${problem}`, { cause: options.cause });
    this.place = options.place;
    this.problem = problem;
  }
}
