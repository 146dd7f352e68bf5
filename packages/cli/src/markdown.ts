import { analyzeTrace, formatDuration, summarizeTrace, type Trace, traceToMermaid } from '@lifeline/core';

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
 * A Markdown snippet for a pull request or a doc page: one summary line, then
 * the diagram in a fenced `mermaid` block that GitHub and most wikis render.
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
  const lines = [summaryLine(trace, timings), ''];
  if (folded) {
    lines.push(
      "> Some calls are folded (notes in the diagram say where) to keep it under Mermaid's 50,000-character limit.",
      '',
    );
  }
  lines.push('```mermaid', text.trimEnd(), '```', '');
  return lines.join('\n');
}

/** Text safe inside a Markdown code span: backticks would end it early. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\s+/g, ' ')}\``;
}

/**
 * `**`GET /articles/:id`** on blog-api → 200 in 12 ms · 6 spans · 2 serial calls …`:
 * what the request was, how it ended, and what the diagram will show.
 */
export function summaryLine(trace: Trace, timings: boolean): string {
  const summary = summarizeTrace(trace);
  const analysis = analyzeTrace(trace);
  const request = summary.method && summary.route ? `${summary.method} ${summary.route}` : summary.rootName;
  const parts: string[] = [];
  let head = `**${code(request)}** on ${code(summary.rootService)}`;
  if (summary.statusCode !== undefined) head += ` → ${summary.statusCode}`;
  if (timings) head += ` in ${formatDuration(summary.durationNs / 1e6)}`;
  parts.push(head);
  parts.push(`${summary.spanCount} span${summary.spanCount === 1 ? '' : 's'}`);
  if (summary.parGroups > 0) parts.push(`${summary.parGroups} concurrent group${summary.parGroups === 1 ? '' : 's'}`);
  const runs = analysis.serialRuns.filter((run) => run.spanIds.length > 1);
  if (runs.length > 0) {
    const calls = runs.reduce((sum, run) => sum + run.spanIds.length, 0);
    const saving = runs.reduce((sum, run) => sum + run.savingMs, 0);
    parts.push(
      timings
        ? `${calls} calls in series (overlapping them could save up to ${formatDuration(saving)})`
        : `${calls} calls in series`,
    );
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
  parts.push(`trace ${code(trace.traceId)}`);
  return parts.join(' · ');
}
