import { IdReader } from './ids.js';
import { TraceFileError } from './trace-file-error.js';

/**
 * A part of a trace file that was not imported, like one entry of OTLP's
 * partial success (`rejected_spans` plus an error message).
 */
export interface ImportProblem {
  /** Where: a JSON path (`data[0].spans[3].startTime`), prefixed by `line N` in JSON lines. */
  readonly place: string;
  /** What is wrong, without the place. */
  readonly problem: string;
  /** Spans lost with it (0 when unknown, e.g. a line that is not JSON). */
  readonly rejectedSpans: number;
  /** True when the part was lost whole and its spans could not be counted (a line that is not JSON). */
  readonly unknownSpans?: boolean;
}

/**
 * What the importers of one file share: the id reader, the warnings (oddities
 * that lost nothing) and, when the caller accepts a partial import, the
 * problems (parts that were skipped).
 */
export interface ImportContext {
  readonly ids: IdReader;
  readonly warnings: string[];
  /** When absent, the first problem throws (all or nothing, as the OTLP receiver converts). */
  readonly problems?: ImportProblem[];
  /**
   * Span kinds the input names that OTLP does not define, with how many spans
   * named each, for one warning. Such a span is read as SPAN_KIND_UNSPECIFIED
   * (drawn as internal) with the value in `UNKNOWN_KIND_ATTRIBUTE`, with or
   * without this map (OTLP asks receivers to accept unknown enum values).
   */
  readonly unknownKinds?: Map<string, number>;
}

/** Counts a span of an unknown kind (see {@link ImportContext.unknownKinds}). */
export function countUnknownKind(context: ImportContext, kind: string): void {
  context.unknownKinds?.set(kind, (context.unknownKinds.get(kind) ?? 0) + 1);
}

/** The strict context: ids must be valid, the first problem throws. */
export function strictContext(warnings: string[] = []): ImportContext {
  return { ids: new IdReader({ lenient: false }), warnings };
}

/**
 * Runs the conversion of one part of a file (a span, a trace, a resource).
 * In a partial import a {@link TraceFileError} is recorded as a problem
 * losing `rejectedSpans` spans and `undefined` is returned; otherwise it throws.
 */
export function attempt<T>(context: ImportContext, rejectedSpans: number, convert: () => T): T | undefined {
  if (context.problems === undefined) return convert();
  try {
    return convert();
  } catch (error) {
    if (!(error instanceof TraceFileError)) throw error;
    context.problems.push({ place: error.place ?? '', problem: error.problem, rejectedSpans });
    return undefined;
  }
}

/** How many spans a raw part holds, counting arrays under `spans` keys (for the problem report). */
export function countRawSpans(value: unknown): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null) continue;
    for (const [key, child] of Object.entries(item)) {
      if (key === 'spans' && Array.isArray(child)) count += child.length;
      else if (typeof child === 'object' && child !== null && key !== 'attributes') stack.push(child);
    }
  }
  return count;
}
