import {
  type EndpointFlow,
  type EndpointStats,
  endpointFlow,
  formatDuration,
  joinLinkedTraces,
  sortEndpoints,
  type Trace,
} from '@lifeline/core';
import type { EndpointFilter, SpanStore } from '@lifeline/store';

/** Requests read per endpoint to find its shapes: the newest ones. */
export const FLOW_REQUESTS = 200;

/** The newest requests of an endpoint (at most {@link FLOW_REQUESTS}), read with their linked traces. */
export function endpointTraces(store: SpanStore, endpoint: EndpointStats, filter: EndpointFilter = {}): Trace[] {
  const traces: Trace[] = [];
  for (const id of store.endpointTraceIds(endpoint, { ...filter, limit: FLOW_REQUESTS })) {
    const read = store.getTrace(id, { linked: true });
    // Of the linked traces, the spans this request's picture draws, as `export` reads them.
    const trace = read === undefined ? undefined : joinLinkedTraces(read);
    if (trace !== undefined && trace.spans.length > 0) traces.push(trace);
  }
  return traces;
}

/** The endpoint's merged flow, or undefined when none of its requests could be read. */
export function loadFlow(
  store: SpanStore,
  endpoint: EndpointStats,
  options: { timings?: boolean; filter?: EndpointFilter } = {},
): EndpointFlow | undefined {
  const traces = endpointTraces(store, endpoint, options.filter);
  return traces.length === 0 ? undefined : endpointFlow(traces, { timings: options.timings ?? false });
}

/**
 * The endpoint a user named: by its name (`GET /articles/:id`, `process
 * mail`), optionally narrowed to a service.
 */
export function findEndpoints(endpoints: readonly EndpointStats[], name: string, service?: string): EndpointStats[] {
  const wanted = name.trim().replace(/\s+/g, ' ');
  return endpoints.filter(
    (e) =>
      (e.name === wanted || e.name.toUpperCase() === wanted.toUpperCase()) &&
      (service === undefined || e.service === service),
  );
}

/** A share as the diagrams print it: whole percent. */
export function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/**
 * A file name for an endpoint's page: service and name, lower case, runs of
 * anything but letters and digits as one dash (`recommendations-get-recommendations-articleid.md`).
 */
export function endpointSlug(endpoint: Pick<EndpointStats, 'service' | 'name'>): string {
  const slug = `${endpoint.service} ${endpoint.name}`
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100);
  return slug === '' ? 'endpoint' : slug;
}

/** Slugs of all endpoints, made unique in the endpoints' (sorted) order by a numeric suffix. */
export function uniqueSlugs(endpoints: readonly EndpointStats[]): Map<EndpointStats, string> {
  const used = new Set<string>();
  const out = new Map<EndpointStats, string>();
  for (const endpoint of sortEndpoints(endpoints, 'name')) {
    const base = endpointSlug(endpoint);
    let slug = base;
    for (let n = 2; used.has(slug); n++) slug = `${base}-${n}`;
    used.add(slug);
    out.set(endpoint, slug);
  }
  return out;
}

/** Text safe inside a Markdown code span. */
function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\s+/g, ' ')}\``;
}

/** Text safe in a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}

/** One line on what the endpoint does and how often each way: the page's summary. */
export function flowSummary(endpoint: EndpointStats, flow: EndpointFlow): string {
  const shapes = flow.shapes.length;
  const ways =
    shapes === 1
      ? 'one flow'
      : `${shapes} variants: ${flow.shapes.map((s) => `${s.label} ${percent(s.share)}`).join(', ')}`;
  return `${code(endpoint.name)} on ${code(endpoint.service)} · ${flow.requests} recorded request${flow.requests === 1 ? '' : 's'} · ${ways}`;
}

/**
 * An endpoint's page: its summary line, the typical flow (timing-free unless
 * asked) and its variants with their shares. Same flows, same bytes.
 */
export function flowMarkdown(endpoint: EndpointStats, flow: EndpointFlow, options: { timings?: boolean } = {}): string {
  const lines = [`# ${endpoint.name}`, '', flowSummary(endpoint, flow), ''];
  if (options.timings === true) {
    lines.push(
      `p50 ${formatDuration(endpoint.p50Ms)} · p95 ${formatDuration(endpoint.p95Ms)} · p99 ${formatDuration(endpoint.p99Ms)} · errors ${percent(endpoint.errorShare)}`,
      '',
    );
  }
  lines.push('```mermaid', flow.text.trimEnd(), '```', '');
  if (flow.shapes.length > 1) {
    lines.push('| variant | share | requests |', '| --- | --- | --- |');
    for (const shape of flow.shapes)
      lines.push(`| ${cell(shape.label)} | ${percent(shape.share)} | ${shape.requests} |`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The index page: every endpoint, its page and its variants. */
export function indexMarkdown(
  entries: readonly { endpoint: EndpointStats; flow: EndpointFlow; file: string }[],
): string {
  const lines = [
    '# Endpoint flows',
    '',
    'What each endpoint does, drawn from its recorded requests by Lifeline (`lifeline docs`).',
    '',
    '| endpoint | service | variants | page |',
    '| --- | --- | --- | --- |',
  ];
  for (const { endpoint, flow, file } of entries) {
    lines.push(
      `| ${cell(code(endpoint.name))} | ${cell(endpoint.service)} | ${flow.shapes.length} | [${cell(file)}](${encodeURI(file)}) |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/**
 * A page with its request counts and shares masked: what `docs --check`
 * compares, so that recording more of the same traffic, or the same flows
 * in another mix, is not drift; a call added or removed is.
 */
export function withoutCounts(markdown: string): string {
  return markdown
    .replace(/\b\d+ %/g, '# %')
    .replace(/\b\d+ #37;/g, '# #37;')
    .replace(/\b\d+ recorded requests?\b/g, '# recorded requests')
    .replace(/^\| (.*) \| # % \| \d+ \|$/gm, '| $1 | # % | # |');
}
