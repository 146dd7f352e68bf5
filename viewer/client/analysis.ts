/**
 * The analysis summary beside the diagram: where the wall time went, the
 * critical path, serial runs with what overlapping them could save, N+1
 * groups and errors. Every item selects its spans in the timeline.
 */
import type { TraceAnalysis } from '@lifeline/core';
import { type Child, h } from './dom.js';
import { formatDuration, plural } from './format.js';

const CATEGORIES = ['db', 'http', 'cache', 'queue', 'own'] as const;
/** Steps of the critical path listed before the rest folds away. */
const CRITICAL_SHOWN = 6;

/**
 * What the serial runs come to. Only calls that did not use each other's
 * answers count towards the saving; a call that used an earlier answer (its
 * arrow carries `← n`, the arrow it waited for) had to stay serial.
 */
function serialRunsText(runs: TraceAnalysis['serialRuns'], savingMs: number): string {
  const dependent = runs.reduce((sum, run) => sum + run.dependent.length, 0);
  if (dependent === 0 && savingMs <= 0) {
    return 'Calls that ran one after another, where overlapping them would not have shortened the request (the request was waiting for something longer at the time).';
  }
  if (dependent === 0) {
    return `Calls that ran one after another although they could have overlapped: up to ${formatDuration(savingMs)} in total if they had (a what-if, not a promise).`;
  }
  const waited = `${plural(dependent, 'call')} used an earlier call's answer (marked ← on its arrow) and had to wait for it`;
  if (savingMs <= 0) return `Calls that ran one after another: ${waited}, so none could have overlapped.`;
  return `Calls that ran one after another: ${waited}; overlapping the others could have saved up to ${formatDuration(savingMs)} (a what-if, not a promise).`;
}
const CATEGORY_NAMES: Record<(typeof CATEGORIES)[number], string> = {
  db: 'Database',
  http: 'HTTP',
  cache: 'Cache',
  queue: 'Queue',
  own: 'Own code',
};

function block(title: string, ...children: Child[]): HTMLElement {
  return h('section', { className: 'analysis-block' }, h('h3', null, title), ...children);
}

/** Builds the analysis card; `onSelect` receives the span ids behind a clicked item. */
export function renderAnalysis(analysis: TraceAnalysis, onSelect: (spanIds: string[]) => void): HTMLElement {
  const pick = (spanIds: string[], label: Child, detail: Child, className = ''): HTMLElement =>
    h(
      'li',
      null,
      h(
        'button',
        {
          className: `analysis-item ${className}`.trim(),
          attrs: { type: 'button' },
          on: { click: () => onSelect(spanIds) },
        },
        h('span', { className: 'analysis-item-label' }, label),
        h('span', { className: 'analysis-item-detail' }, detail),
      ),
    );

  const wall = Math.max(analysis.wallTimeMs, 0);
  const categoryTotal = CATEGORIES.reduce((sum, key) => sum + Math.max(analysis.byCategory[key] ?? 0, 0), 0);
  const share = (ms: number): number => (categoryTotal > 0 ? (ms / categoryTotal) * 100 : 0);
  const breakdown = h(
    'div',
    { className: 'breakdown' },
    h(
      'div',
      { className: 'breakdown-bar', attrs: { role: 'img', 'aria-label': 'Time by category' } },
      ...CATEGORIES.filter((key) => (analysis.byCategory[key] ?? 0) > 0).map((key) =>
        h('span', {
          className: `breakdown-part cat-${key}`,
          style: { width: `${share(analysis.byCategory[key]).toFixed(2)}%` },
          attrs: { title: `${CATEGORY_NAMES[key]} ${formatDuration(analysis.byCategory[key])}` },
        }),
      ),
    ),
    h(
      'ul',
      { className: 'breakdown-legend' },
      ...CATEGORIES.map((key) =>
        h(
          'li',
          { className: (analysis.byCategory[key] ?? 0) > 0 ? '' : 'is-zero' },
          h('span', { className: `swatch cat-${key}`, attrs: { 'aria-hidden': 'true' } }),
          h('span', null, CATEGORY_NAMES[key]),
          h('span', { className: 'legend-value' }, formatDuration(analysis.byCategory[key] ?? 0)),
        ),
      ),
    ),
  );

  // Not the sum of the runs' savings: a run nested in a call another run would overlap saves less.
  const serialSaving = analysis.overlapSavingMs;

  return h(
    'div',
    { className: 'analysis' },
    h(
      'div',
      { className: 'stat-row' },
      h(
        'div',
        { className: 'stat' },
        h('span', { className: 'stat-value' }, formatDuration(wall)),
        h('span', { className: 'stat-label' }, 'wall time'),
      ),
      h(
        'div',
        { className: 'stat' },
        h('span', { className: 'stat-value' }, String(analysis.serialRuns.length)),
        h('span', { className: 'stat-label' }, analysis.serialRuns.length === 1 ? 'serial run' : 'serial runs'),
      ),
      h(
        'div',
        { className: `stat${analysis.nPlusOne.length > 0 ? ' stat-warn' : ''}` },
        h('span', { className: 'stat-value' }, String(analysis.nPlusOne.length)),
        h('span', { className: 'stat-label' }, 'N+1 groups'),
      ),
      h(
        'div',
        { className: `stat${analysis.errors.length > 0 ? ' stat-error' : ''}` },
        h('span', { className: 'stat-value' }, String(analysis.errors.length)),
        h('span', { className: 'stat-label' }, analysis.errors.length === 1 ? 'error' : 'errors'),
      ),
    ),
    block('Time by category', breakdown),
    analysis.criticalPath.length === 0
      ? null
      : block(
          'Critical path',
          h(
            'ol',
            { className: 'analysis-list' },
            ...analysis.criticalPath
              .slice(0, CRITICAL_SHOWN)
              .map((step) => pick([step.spanId], step.name, formatDuration(step.durationMs))),
          ),
          analysis.criticalPath.length > CRITICAL_SHOWN
            ? h(
                'details',
                { className: 'more-steps' },
                h('summary', null, `${analysis.criticalPath.length - CRITICAL_SHOWN} more steps`),
                h(
                  'ol',
                  { className: 'analysis-list', attrs: { start: CRITICAL_SHOWN + 1 } },
                  ...analysis.criticalPath
                    .slice(CRITICAL_SHOWN)
                    .map((step) => pick([step.spanId], step.name, formatDuration(step.durationMs))),
                ),
              )
            : null,
        ),
    analysis.serialRuns.length === 0
      ? null
      : block(
          'Serial runs',
          h('p', { className: 'muted small' }, serialRunsText(analysis.serialRuns, serialSaving)),
          h(
            'ul',
            { className: 'analysis-list' },
            ...analysis.serialRuns.map((run) =>
              pick(
                [...run.spanIds],
                `${plural(run.spanIds.length, 'call')} in a row · ${formatDuration(run.sumMs)}${
                  run.dependent.length > 0 ? ` · ${run.dependent.length} used an earlier answer` : ''
                }`,
                run.savingMs > 0 || run.dependent.length === 0
                  ? `save ${formatDuration(run.savingMs)}`
                  : 'must stay serial',
              ),
            ),
          ),
        ),
    analysis.nPlusOne.length === 0
      ? null
      : block(
          'N+1 groups',
          h(
            'ul',
            { className: 'analysis-list' },
            ...analysis.nPlusOne.map((group) =>
              pick(
                [...group.spanIds],
                `${group.count}× ${group.label}`,
                `${formatDuration(group.totalMs)} · p50 ${formatDuration(group.p50Ms)}`,
                'is-warn',
              ),
            ),
          ),
        ),
    analysis.afterResponse === undefined
      ? null
      : block(
          'After the response',
          h(
            'p',
            { className: 'muted small' },
            'Calls that ran on after a response was sent: the client did not wait for them, so they are left out of the wall time, the critical path, the time by category and the serial runs.',
          ),
          h(
            'ul',
            { className: 'analysis-list' },
            pick(
              [...analysis.afterResponse.spanIds],
              `${plural(analysis.afterResponse.calls, 'call')} after the response`,
              `until ${formatDuration(analysis.afterResponse.durationMs)} later`,
            ),
          ),
        ),
    analysis.errors.length === 0
      ? null
      : block(
          'Errors',
          h(
            'ul',
            { className: 'analysis-list' },
            ...analysis.errors.map((error) => pick([error.spanId], error.name, error.message, 'is-error')),
          ),
        ),
    analysis.notes.length === 0
      ? null
      : block('Notes', h('ul', { className: 'notes' }, ...analysis.notes.map((note) => h('li', null, note)))),
  );
}
