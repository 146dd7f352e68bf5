/**
 * The compare page (`/compare?before=ID&after=ID`, or `after=latest` for the
 * newest other request of the same endpoint): what changed between two
 * requests, and the second one's diagram with added calls on green, changed
 * calls on yellow and removed ones in a closing note.
 */
import type { FlowDiff, MetricChange } from '@lifeline/core';
import { ApiError, getJson } from './api.js';
import { onColorSchemeChange, renderDiagram } from './diagram.js';
import { h, replaceChildren } from './dom.js';
import { formatDateTime, formatDuration, nsToMs } from './format.js';
import { withSource } from './source.js';
import { type TraceSummary, toClientSummary } from './types.js';

/** `GET /api/compare`. */
interface CompareResponse {
  readonly before: TraceSummary;
  readonly after: TraceSummary;
  readonly diff: FlowDiff;
  readonly mermaid: string;
}

const KINDS = [
  ['database', 'queries'],
  ['cache', 'cache commands'],
  ['http', 'HTTP calls'],
  ['queue', 'publishes'],
] as const;

function requestCard(label: string, summary: TraceSummary): HTMLElement {
  const href = withSource(`/traces/${encodeURIComponent(summary.traceId)}`);
  return h(
    'div',
    { className: 'compare-side' },
    h('span', { className: 'field-label' }, label),
    h(
      'a',
      { attrs: { href } },
      summary.method === undefined ? null : h('span', { className: 'method' }, summary.method),
      summary.route ?? summary.rootName,
    ),
    h(
      'span',
      { className: 'muted' },
      `${summary.statusCode ?? 'no status'} · ${formatDuration(nsToMs(summary.durationNs))} · ${formatDateTime(summary.startTimeNs)}`,
    ),
    h('code', { className: 'trace-id' }, summary.traceId),
  );
}

function metric(name: string, change: MetricChange): HTMLElement {
  const text = change.noise
    ? `${formatDuration(change.before)} → ${formatDuration(change.after)} (noise)`
    : `${formatDuration(change.before)} → ${formatDuration(change.after)} (${change.change > 0 ? '+' : '−'}${formatDuration(Math.abs(change.change))})`;
  return h('tr', null, h('th', { attrs: { scope: 'row' } }, name), h('td', null, text));
}

/** Renders the compare page into `main`. */
export async function renderComparePage(main: HTMLElement): Promise<void> {
  document.title = 'Compare · Lifeline';
  const params = new URLSearchParams(location.search);
  const query = new URLSearchParams({ before: params.get('before') ?? '', after: params.get('after') ?? 'latest' });
  let data: CompareResponse;
  try {
    const wire = await getJson<CompareResponse>(withSource(`/api/compare?${query.toString()}`));
    data = { ...wire, before: toClientSummary(wire.before), after: toClientSummary(wire.after) };
  } catch (error) {
    const message = error instanceof ApiError ? error.message : String(error);
    replaceChildren(
      main,
      h('p', null, h('a', { className: 'back', attrs: { href: withSource('/') } }, '← Requests')),
      h('div', { className: 'callout callout-error', attrs: { role: 'alert' } }, `Could not compare: ${message}`),
    );
    return;
  }
  const { diff } = data;
  const changes = h(
    'ul',
    { className: 'compare-changes', attrs: { id: 'compare-changes' } },
    ...(diff.changes.length === 0
      ? [h('li', { className: 'muted' }, 'Same flow: no call added, removed or changed.')]
      : diff.changes.map((change) => h('li', { dataset: { kind: change.kind } }, change.text))),
  );
  const counts = KINDS.filter(([kind]) => diff.counts[kind].before > 0 || diff.counts[kind].after > 0).map(
    ([kind, name]) =>
      h(
        'tr',
        null,
        h('th', { attrs: { scope: 'row' } }, name),
        h('td', null, `${diff.counts[kind].before} → ${diff.counts[kind].after}`),
      ),
  );
  const diagramBox = h('div', { className: 'diagram', attrs: { id: 'diagram', 'aria-busy': 'true' } });
  const legend = h(
    'p',
    { className: 'compare-legend muted' },
    h('span', { className: 'swatch swatch-added', attrs: { 'aria-hidden': 'true' } }),
    'added',
    h('span', { className: 'swatch swatch-changed', attrs: { 'aria-hidden': 'true' } }),
    'changed (a note beside each call says how); removed calls are listed in the last note.',
  );
  replaceChildren(
    main,
    h('p', { className: 'crumbs' }, h('a', { className: 'back', attrs: { href: withSource('/') } }, '← Requests')),
    h('div', { className: 'page-head' }, h('h1', null, 'Compare requests')),
    h('div', { className: 'compare-head' }, requestCard('Before', data.before), requestCard('After', data.after)),
    h(
      'div',
      { className: 'trace-grid' },
      h(
        'div',
        { className: 'trace-main' },
        h('section', { className: 'card' }, h('h2', { className: 'card-title' }, 'The new flow'), legend, diagramBox),
      ),
      h(
        'aside',
        { className: 'trace-side' },
        h(
          'section',
          { className: 'card' },
          h('h2', { className: 'card-title' }, 'Changes'),
          h('div', { className: 'card-body' }, changes),
        ),
        h(
          'section',
          { className: 'card' },
          h('h2', { className: 'card-title' }, 'Calls and timing'),
          h(
            'div',
            { className: 'card-body' },
            h(
              'table',
              { className: 'compare-numbers' },
              h(
                'tbody',
                null,
                ...counts,
                metric('wall time', diff.timing.wallTime),
                metric('database time', diff.timing.databaseTime),
                metric('critical path (calls)', diff.timing.criticalPath),
              ),
            ),
            diff.regressions.length > 0
              ? h(
                  'p',
                  { className: 'callout callout-error', attrs: { id: 'compare-regressions' } },
                  `Regressions: ${diff.regressions.join(', ')}`,
                )
              : null,
          ),
        ),
      ),
    ),
  );
  const draw = async (): Promise<void> => {
    diagramBox.setAttribute('aria-busy', 'true');
    try {
      await renderDiagram(diagramBox, data.mermaid, () => {});
    } catch (error) {
      replaceChildren(
        diagramBox,
        h(
          'div',
          { className: 'callout callout-error', attrs: { role: 'alert' } },
          `The diagram could not be drawn: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    } finally {
      diagramBox.removeAttribute('aria-busy');
    }
  };
  await draw();
  onColorSchemeChange(() => void draw());
}
