/**
 * The Markdown export of a trace, for a pull request or a doc page: one
 * summary line, a note when the diagram is folded, then the diagram in a
 * fenced `mermaid` block that GitHub, GitLab and most wikis render. The CLI
 * (`lifeline export --format md`) and the viewer's "Copy Markdown" both write
 * it with {@link markdownExport}, so the same trace drawn with the same
 * options gives the same bytes in both.
 */
import { analyzeTrace, type TraceAnalysis } from './analysis.js';
import { displayName, formatDuration, nsToMs, plural } from './format.js';
import { traceToMermaid } from './mermaid.js';
import { summarizeTrace, type TraceSummary } from './summary.js';
import type { Trace } from './trace.js';

/** Options for {@link traceToMarkdown}. */
export interface MarkdownOptions {
  /** Durations in the summary and on the arrows; off gives byte-stable output for docs. Default true. */
  readonly timings?: boolean;
  /** Draw internal spans as self-calls. Default false. */
  readonly internal?: boolean;
  /**
   * Draw databases, caches and queues with Mermaid participant shapes, which
   * need Mermaid 11.13 or later. Default false: the diagram parses on Mermaid
   * 10.9 and later (GitHub, GitLab, wikis).
   */
  readonly participantShapes?: boolean;
}

/**
 * What a Markdown export is written from. Every part is also in the viewer's
 * trace response (`GET /api/traces/:id`), so the browser writes the export
 * without the spans being analysed twice.
 */
export interface MarkdownExportInput {
  readonly traceId: string;
  readonly summary: Pick<
    TraceSummary,
    'method' | 'route' | 'rootName' | 'rootService' | 'statusCode' | 'durationNs' | 'spanCount' | 'parGroups' | 'error'
  >;
  readonly analysis: Pick<TraceAnalysis, 'serialRuns' | 'overlapSavingMs' | 'nPlusOne' | 'errors'>;
  /** The Mermaid text, as `traceToMermaid` wrote it. */
  readonly mermaid: string;
  /** Whether the size guard folded calls to keep the text under Mermaid's limit. */
  readonly folded: boolean;
  /** Whether the summary line gives durations; match the option the text was drawn with. */
  readonly timings: boolean;
}

/**
 * The Markdown export of one drawn trace.
 *
 * @example
 * ```ts
 * const { text, folded } = traceToMermaid(trace, { timings: false });
 * const md = markdownExport({
 *   traceId: trace.traceId,
 *   summary: summarizeTrace(trace),
 *   analysis: analyzeTrace(trace),
 *   mermaid: text,
 *   folded,
 *   timings: false,
 * });
 * ```
 */
export function markdownExport(input: MarkdownExportInput): string {
  const lines = [markdownSummaryLine(input), ''];
  if (input.folded) {
    lines.push(
      "> Some calls are folded (notes in the diagram say where) to keep it under Mermaid's 50,000-character limit.",
      '',
    );
  }
  // A fence longer than any backtick run in the text keeps the block closed.
  const longest = Math.max(2, ...[...input.mermaid.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(longest + 1);
  lines.push(`${fence}mermaid`, input.mermaid.trimEnd(), fence, '');
  return lines.join('\n');
}

/**
 * Draws `trace` and writes its Markdown export ({@link markdownExport}).
 *
 * @example
 * ```ts
 * const md = traceToMarkdown(store.getTrace(id)!, { timings: false });
 * ```
 */
export function traceToMarkdown(trace: Trace, options: MarkdownOptions = {}): string {
  const timings = options.timings ?? true;
  const { text, folded } = traceToMermaid(trace, {
    timings,
    internal: options.internal ?? false,
    participantShapes: options.participantShapes ?? false,
  });
  return markdownExport({
    traceId: trace.traceId,
    summary: summarizeTrace(trace),
    analysis: analyzeTrace(trace),
    mermaid: text,
    folded,
    timings,
  });
}

/** Longest name (a route, a span or service name, an error message) the summary line shows. */
const MAX_SUMMARY_NAME = 120;

/**
 * Text safe inside a Markdown code span on the summary line: backticks would
 * end it early, a line break would end the line, and a name of 100,000
 * characters would bury the diagram; the Mermaid block and the JSON export
 * keep what they keep of it.
 */
function code(text: string): string {
  return `\`${displayName(text.replace(/`/g, "'"), MAX_SUMMARY_NAME)}\``;
}

/**
 * What the serial runs come to: the saving counts only the calls that did
 * not use each other's answers; the rest are said to stay serial.
 */
function serialRunsText(calls: number, dependent: number, savingMs: number, timings: boolean): string {
  // Runs inside work the request did not wait for the end of (a consumer
  // beside its publish, a call overlapped by a longer one) save it nothing.
  if (dependent === 0 && savingMs <= 0 && timings) {
    return `${calls} calls in series (overlapping them would not shorten the request)`;
  }
  if (dependent === 0) {
    return timings
      ? `${calls} calls in series (overlapping them could save up to ${formatDuration(savingMs)})`
      : `${calls} calls in series`;
  }
  if (savingMs <= 0) return `${calls} calls in series that used each other's answers (they must stay serial)`;
  const waited = `${dependent} used an earlier call's answer and must stay serial`;
  return timings
    ? `${calls} calls in series (overlapping the independent ones could save up to ${formatDuration(savingMs)}; ${waited})`
    : `${calls} calls in series (${waited})`;
}

/**
 * `**`GET /articles/:id`** on `blog-api` → 200 in 12 ms · 6 spans · 3 calls in series …`:
 * what the request was, how it ended, and what the diagram will show.
 */
function markdownSummaryLine({ traceId, summary, analysis, timings }: MarkdownExportInput): string {
  const request = summary.method && summary.route ? `${summary.method} ${summary.route}` : summary.rootName;
  const parts: string[] = [];
  let head = `**${code(request)}** on ${code(summary.rootService)}`;
  if (summary.statusCode !== undefined) head += ` → ${summary.statusCode}`;
  if (timings) head += ` in ${formatDuration(nsToMs(summary.durationNs))}`;
  parts.push(head);
  parts.push(plural(summary.spanCount, 'span'));
  if (summary.parGroups > 0) parts.push(plural(summary.parGroups, 'concurrent group'));
  const runs = analysis.serialRuns.filter((run) => run.spanIds.length > 1);
  if (runs.length > 0) {
    const calls = runs.reduce((sum, run) => sum + run.spanIds.length, 0);
    // Not the sum of the runs' savings: a run nested in a call another run would overlap saves less.
    const saving = analysis.overlapSavingMs;
    const dependent = runs.reduce((sum, run) => sum + run.dependent.length, 0);
    parts.push(serialRunsText(calls, dependent, saving, timings));
  }
  for (const group of analysis.nPlusOne) {
    parts.push(`N+1: ${code(group.label)} ×${group.count}`);
  }
  if (summary.error) {
    // The cause reads better than the status it became: prefer an error
    // whose message is more than an HTTP status code.
    const cause = analysis.errors.find((error) => error.message && !/^\d{3}$/.test(error.message.trim()));
    const shown = cause ?? analysis.errors[0];
    parts.push(shown ? `error: ${code(shown.message || shown.name)}` : 'error');
  }
  parts.push(`trace ${code(traceId)}`);
  return parts.join(' · ');
}
