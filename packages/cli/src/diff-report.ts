/**
 * `lifeline diff` output: terminal text, JSON, and the Markdown of a
 * pull-request comment (a summary table, then each changed endpoint's new
 * flow with its changes highlighted).
 */
import {
  bigintToJson,
  diffToMermaid,
  type EndpointDiff,
  endpointName,
  type FlowDiff,
  formatDuration,
  type MetricChange,
  type RunDiff,
  type Trace,
  traceToMermaid,
} from '@lifeline/core';

/** Two requests compared, with the `after` one to draw. */
export interface TraceComparison {
  readonly diff: FlowDiff;
  readonly before: Trace;
  readonly after: Trace;
}

const KIND_NAMES = { database: 'queries', cache: 'cache commands', http: 'HTTP calls', queue: 'publishes' } as const;

function signed(ms: number): string {
  return `${ms > 0 ? '+' : ms < 0 ? '−' : '±'}${formatDuration(Math.abs(ms))}`;
}

/** `12 ms → 7.1 ms (−4.9 ms)`, or `… (noise: runs vary by 2 ms)`. */
export function metricText(metric: MetricChange): string {
  const head = `${formatDuration(metric.before)} → ${formatDuration(metric.after)}`;
  if (metric.noise) return `${head} (noise, within ${formatDuration(metric.noiseBelow)})`;
  return `${head} (${signed(metric.change)})`;
}

function countLines(diff: FlowDiff): string[] {
  const parts: string[] = [];
  for (const [kind, name] of Object.entries(KIND_NAMES) as [keyof typeof KIND_NAMES, string][]) {
    const { before, after } = diff.counts[kind];
    if (before === 0 && after === 0) continue;
    parts.push(before === after ? `${name} ${after}` : `${name} ${before} → ${after}`);
  }
  return parts.length > 0 ? [parts.join(' · ')] : [];
}

/**
 * `shapes: SELECT articles, SELECT comments 40 % → 50 %; SELECT articles 60 % → 50 %`
 * when the requests take several shapes in shares that differ, else undefined.
 */
function shapeSharesLine(diff: FlowDiff): string | undefined {
  const percent = (share: number) => `${Math.round(share * 100)} %`;
  if (diff.shapes.every((s) => percent(s.before) === percent(s.after))) return undefined;
  return `shapes: ${diff.shapes.map((s) => `${s.calls} ${percent(s.before)} → ${percent(s.after)}`).join('; ')}`;
}

function diffLines(diff: FlowDiff, indent: string): string[] {
  const lines: string[] = [];
  if (diff.changes.length === 0) lines.push(`${indent}same flow`);
  for (const change of diff.changes) lines.push(`${indent}${change.text}`);
  for (const line of countLines(diff)) lines.push(`${indent}${line}`);
  const shares = shapeSharesLine(diff);
  if (shares !== undefined) lines.push(`${indent}${shares}`);
  lines.push(`${indent}wall time ${metricText(diff.timing.wallTime)}`);
  lines.push(`${indent}database time ${metricText(diff.timing.databaseTime)}`);
  lines.push(`${indent}critical path (waiting for calls) ${metricText(diff.timing.criticalPath)}`);
  const { joined, left } = diff.criticalPathCalls;
  if (joined.length > 0) lines.push(`${indent}joined the critical path: ${joined.join(', ')}`);
  if (left.length > 0) lines.push(`${indent}left the critical path: ${left.join(', ')}`);
  if (diff.regressions.length > 0) lines.push(`${indent}regressions: ${diff.regressions.join(', ')}`);
  return lines;
}

/** Terminal text for two requests. */
export function traceComparisonText(comparison: TraceComparison): string {
  const { diff } = comparison;
  const lines = [`${diff.beforeTraceId} → ${diff.afterTraceId}`, ...diffLines(diff, '  ')];
  return `${lines.join('\n')}\n`;
}

/** Terminal text for two runs. */
export function runDiffText(runs: RunDiff): string {
  const lines: string[] = [];
  for (const endpoint of runs.endpoints) {
    const { before, after } = endpoint.requests;
    const head = `${endpointName(endpoint.endpoint)} (${before} → ${after} requests)`;
    if (endpoint.diff.same) {
      const shares = shapeSharesLine(endpoint.diff);
      lines.push(`${head}: no difference beyond noise`, ...(shares !== undefined ? [`  ${shares}`] : []));
      continue;
    }
    lines.push(head, ...diffLines(endpoint.diff, '  '));
  }
  for (const endpoint of runs.onlyBefore) lines.push(`only in the base run: ${endpointName(endpoint)}`);
  for (const added of runs.newEndpoints) {
    lines.push(`only in the new run: ${endpointName(added.endpoint)}`);
    for (const finding of added.findings) lines.push(`  ${finding}`);
  }
  if (runs.requests.before === 0) lines.push(EMPTY_BASE);
  if (lines.length === 0) lines.push('no requests in either run');
  lines.push(runs.regressions.length > 0 ? `regressions: ${runs.regressions.join(', ')}` : 'no regressions');
  return `${lines.join('\n')}\n`;
}

const EMPTY_BASE =
  'the base run has no request: nothing was compared, and every endpoint of the new run counts as new (record the base run before diffing against it)';

/** JSON for two requests: the diff, with the highlighted diagram of the new request. */
export function traceComparisonJson(comparison: TraceComparison): string {
  const mermaid = diffToMermaid(comparison.after, comparison.diff).text;
  return `${JSON.stringify({ ...comparison.diff, mermaid }, bigintToJson, 2)}\n`;
}

/** JSON for two runs: every endpoint's diff (the representative trace left out, its id is in the diff). */
export function runDiffJson(runs: RunDiff): string {
  const document = {
    regressions: runs.regressions,
    endpoints: runs.endpoints.map(({ endpoint, requests, diff, after }) => ({
      endpoint,
      requests,
      ...diff,
      mermaid: diff.same ? undefined : diffToMermaid(after, diff).text,
    })),
    onlyBefore: runs.onlyBefore,
    onlyAfter: runs.onlyAfter,
    newEndpoints: runs.newEndpoints.map(({ endpoint, requests, regressions, findings, after }) => ({
      endpoint,
      requests,
      regressions,
      findings,
      mermaid: findings.length > 0 ? traceToMermaid(after).text : undefined,
    })),
    requests: runs.requests,
  };
  return `${JSON.stringify(document, bigintToJson, 2)}\n`;
}

/** One line of a table cell or bullet: pipes escaped, HTML shown as text. */
function cell(text: string): string {
  return escapeHtml(oneLine(text));
}

function oneLine(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/`/g, "'").replace(/\s+/g, ' ');
}

/** Inline code: GitHub shows its text as is, so entities there would be shown literally. */
function code(text: string): string {
  return `\`${oneLine(text)}\``;
}

function changeSummary(diff: FlowDiff): string {
  if (diff.changes.length === 0) return diff.same ? 'none' : 'timing only';
  const shown = diff.changes.slice(0, 3).map((change) => cell(change.text));
  if (diff.changes.length > 3) shown.push(`${diff.changes.length - 3} more`);
  return shown.join('<br>');
}

function countCell(diff: FlowDiff): string {
  const { before, after } = diff.counts.database;
  return before === after ? `${after}` : `${before} → **${after}**`;
}

function metricCell(metric: MetricChange): string {
  return metric.noise
    ? `${formatDuration(metric.after)} (noise)`
    : `**${signed(metric.change)}** → ${formatDuration(metric.after)}`;
}

const LEGEND =
  'In the diagrams, calls on a green background were added by the change, calls on a yellow one changed (a note beside each says how); a note at the end lists the calls that are gone.';

function flowSection(title: string, diff: FlowDiff, after: Trace): string[] {
  const lines = [`### ${title}`, ''];
  for (const change of diff.changes) lines.push(`- ${cell(change.text)}`);
  for (const line of countLines(diff)) lines.push(`- ${line}`);
  lines.push(`- wall time ${metricText(diff.timing.wallTime)}`, '');
  lines.push('```mermaid', diffToMermaid(after, diff).text.trimEnd(), '```', '');
  return lines;
}

/** Markdown for a pull-request comment about two requests. */
export function traceComparisonMarkdown(comparison: TraceComparison): string {
  const { diff, after } = comparison;
  const lines = ['## Lifeline: how the request changed', ''];
  lines.push('| | before | after |', '| --- | --- | --- |');
  lines.push(`| trace | ${code(diff.beforeTraceId)} | ${code(diff.afterTraceId)} |`);
  for (const [kind, name] of Object.entries(KIND_NAMES) as [keyof typeof KIND_NAMES, string][]) {
    const { before, after: now } = diff.counts[kind];
    if (before !== 0 || now !== 0) lines.push(`| ${name} | ${before} | ${now} |`);
  }
  lines.push(
    `| wall time | ${formatDuration(diff.timing.wallTime.before)} | ${formatDuration(diff.timing.wallTime.after)} |`,
  );
  lines.push(
    `| database time | ${formatDuration(diff.timing.databaseTime.before)} | ${formatDuration(diff.timing.databaseTime.after)} |`,
  );
  lines.push('', regressionsLine(diff.regressions), '');
  if (diff.changes.length === 0) lines.push('The flow is the same.', '');
  else lines.push(LEGEND, '', ...flowSection('The new flow', diff, after));
  return `${lines.join('\n').trimEnd()}\n`;
}

function regressionsLine(regressions: readonly string[]): string {
  return regressions.length > 0
    ? `**Regressions:** ${regressions.map((r) => code(r)).join(', ')}`
    : '**Regressions:** none';
}

/** Markdown for a pull-request comment about two runs. */
export function runDiffMarkdown(runs: RunDiff): string {
  const lines = ['## Lifeline: what this change does to requests', ''];
  if (runs.endpoints.length > 0) {
    lines.push('| endpoint | requests | changes | queries | wall time | database time |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    for (const endpoint of runs.endpoints) lines.push(tableRow(endpoint));
    lines.push('');
  }
  if (runs.onlyBefore.length > 0) {
    lines.push(`Only in the base run: ${runs.onlyBefore.map((e) => code(endpointName(e))).join(', ')}`, '');
  }
  if (runs.onlyAfter.length > 0) {
    lines.push(`Only in the new run: ${runs.onlyAfter.map((e) => code(endpointName(e))).join(', ')}`, '');
  }
  if (runs.requests.before === 0) lines.push(`**${EMPTY_BASE[0]?.toUpperCase()}${EMPTY_BASE.slice(1)}.**`, '');
  lines.push(regressionsLine(runs.regressions), '');
  for (const added of runs.newEndpoints) {
    if (added.findings.length === 0) continue;
    lines.push(`### ${code(endpointName(added.endpoint))} (new)`, '');
    for (const finding of added.findings) lines.push(`- ${cell(finding)}`);
    lines.push('', '```mermaid', traceToMermaid(added.after).text.trimEnd(), '```', '');
  }
  const changed = runs.endpoints.filter((e) => e.diff.changes.length > 0);
  if (changed.length > 0) {
    lines.push(LEGEND, '');
    for (const endpoint of changed) {
      lines.push(...flowSection(code(endpointName(endpoint.endpoint)), endpoint.diff, endpoint.after));
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

function tableRow(endpoint: EndpointDiff): string {
  const { diff, requests } = endpoint;
  return `| ${code(endpointName(endpoint.endpoint))} | ${requests.before} → ${requests.after} | ${changeSummary(diff)} | ${countCell(diff)} | ${metricCell(diff.timing.wallTime)} | ${metricCell(diff.timing.databaseTime)} |`;
}

/**
 * `<`, `>` and `&` as entities: GitHub renders HTML in a comment, so an
 * error message quoting markup would otherwise be drawn, or hidden.
 */
function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
