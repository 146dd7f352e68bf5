/**
 * The request list: one row per recorded request, filters kept in the URL,
 * new requests arriving live over Server-Sent Events.
 */
import { isRequestRoot } from '@lifeline/core';
import { ApiError, listTraces } from './api.js';
import { type CompareSelection, compareSelection } from './compare-select.js';
import { h, replaceChildren } from './dom.js';
import { displayName, formatDateTime, formatDuration, formatWhen, nsToMs } from './format.js';
import { connectLive } from './live.js';
import { withSource } from './source.js';
import type { TraceSummary } from './types.js';

/** Filter fields, in URL order. */
const FILTER_KEYS = ['service', 'method', 'route', 'status', 'minMs', 'q', 'error', 'work', 'order'] as const;
/** Filters whose default value stays out of the URL. */
const DEFAULTS: Partial<Record<(typeof FILTER_KEYS)[number], string>> = { order: 'newest', work: 'requests' };
const METHODS = ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

interface ListState {
  items: TraceSummary[];
  nextCursor: string | undefined;
  /** Traces the last text or service search examined before it stopped, when it stopped early. */
  stoppedAfterTraces: number | undefined;
  /** Requests that arrived live but are hidden because filters or sort order are active. */
  pending: number;
}

/** Renders the list page into `main`. */
export async function renderListPage(main: HTMLElement): Promise<void> {
  document.title = 'Requests · Lifeline';
  const params = new URLSearchParams(location.search);
  const state: ListState = { items: [], nextCursor: undefined, stoppedAfterTraces: undefined, pending: 0 };
  const selection = compareSelection();

  const inputs = {
    service: h('input', { attrs: { type: 'search', name: 'service', placeholder: 'any service', list: 'services' } }),
    method: h(
      'select',
      { attrs: { name: 'method' } },
      ...METHODS.map((m) => h('option', { attrs: { value: m } }, m || 'any')),
    ),
    route: h('input', { attrs: { type: 'search', name: 'route', placeholder: '/articles/:id' } }),
    status: h('input', {
      attrs: { type: 'number', name: 'status', min: 100, max: 599, placeholder: 'any', inputmode: 'numeric' },
    }),
    minMs: h('input', { attrs: { type: 'number', name: 'minMs', min: 0, step: 'any', placeholder: '0' } }),
    q: h('input', { attrs: { type: 'search', name: 'q', placeholder: 'span name contains…' } }),
    error: h('input', { attrs: { type: 'checkbox', name: 'error' } }),
    // Requests are traces rooted in a server or consumer span; everything
    // else (start-up queries, timers, a queue library's housekeeping) is
    // background work, shown only when asked for.
    work: h(
      'select',
      { attrs: { name: 'work', 'aria-label': 'Show requests or background work' } },
      h('option', { attrs: { value: 'requests' } }, 'requests'),
      h('option', { attrs: { value: 'background' } }, 'background work'),
      h('option', { attrs: { value: 'all' } }, 'requests and background'),
    ),
    order: h(
      'select',
      { attrs: { name: 'order' } },
      h('option', { attrs: { value: 'newest' } }, 'newest first'),
      h('option', { attrs: { value: 'slowest' } }, 'slowest first'),
    ),
  };
  for (const key of FILTER_KEYS) {
    const value = params.get(key) ?? '';
    const input = inputs[key];
    if (input instanceof HTMLInputElement && input.type === 'checkbox')
      input.checked = value === '1' || value === 'true';
    else input.value = value === '' ? (DEFAULTS[key] ?? '') : value;
  }
  const services = h('datalist', { attrs: { id: 'services' } });

  const field = (label: string, control: HTMLElement, className = 'field'): HTMLElement =>
    h('label', { className }, h('span', { className: 'field-label' }, label), control);

  const form = h(
    'form',
    { className: 'filters', attrs: { role: 'search', 'aria-label': 'Filter requests' } },
    field('Service', inputs.service),
    field('Method', inputs.method),
    field('Route', inputs.route, 'field field-wide'),
    field('Status', inputs.status, 'field field-narrow'),
    field('Min ms', inputs.minMs, 'field field-narrow'),
    field('Text', inputs.q, 'field field-wide'),
    h('label', { className: 'field field-check' }, inputs.error, h('span', null, 'errors only')),
    field('Show', inputs.work),
    field('Sort', inputs.order),
    services,
  );

  const count = h('span', { className: 'muted', attrs: { id: 'list-count' } });
  const banner = h('button', { className: 'banner', attrs: { type: 'button', hidden: true } });
  const body = h('tbody');
  const table = h(
    'table',
    { className: 'requests', attrs: { 'aria-label': 'Recorded requests' } },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { attrs: { scope: 'col' }, className: 'col-pick' }, h('span', { className: 'sr-only' }, 'Compare')),
        h('th', { attrs: { scope: 'col' } }, 'Time'),
        h('th', { attrs: { scope: 'col' } }, 'Service'),
        h('th', { attrs: { scope: 'col' } }, 'Request'),
        h('th', { attrs: { scope: 'col' } }, 'Status'),
        h('th', { attrs: { scope: 'col' }, className: 'col-duration' }, 'Duration'),
        h('th', { attrs: { scope: 'col' } }, 'Calls'),
        h('th', { attrs: { scope: 'col' } }, 'Concurrency'),
        h('th', { attrs: { scope: 'col' } }, 'Flags'),
      ),
    ),
    body,
  );
  const empty = h('div', { className: 'empty', attrs: { hidden: true } });
  const more = h('button', { className: 'button', attrs: { type: 'button', hidden: true } }, 'Load more');
  const errorBox = h('div', { className: 'callout callout-error', attrs: { hidden: true, role: 'alert' } });

  replaceChildren(
    main,
    h('div', { className: 'page-head' }, h('h1', null, 'Requests'), count, selection.button),
    form,
    banner,
    errorBox,
    h('div', { className: 'card table-card' }, table, empty),
    h('div', { className: 'more' }, more),
  );

  const currentParams = (): URLSearchParams => {
    const query = new URLSearchParams();
    for (const key of FILTER_KEYS) {
      const input = inputs[key];
      if (input instanceof HTMLInputElement && input.type === 'checkbox') {
        if (input.checked) query.set(key, '1');
      } else if (input.value.trim() !== '' && input.value !== DEFAULTS[key]) {
        query.set(key, input.value.trim());
      }
    }
    return query;
  };

  const hasFilters = (): boolean => [...currentParams().keys()].length > 0;

  const render = (): void => {
    const maxMs = Math.max(1, ...state.items.map((item) => nsToMs(item.durationNs)));
    replaceChildren(body, ...state.items.map((item) => row(item, maxMs, selection)));
    count.textContent =
      state.stoppedAfterTraces !== undefined
        ? `${state.items.length} shown; the search stopped after ${state.stoppedAfterTraces.toLocaleString('en-US')} requests: load more to go on, or narrow it (service, route, time)`
        : state.items.length === 0
          ? ''
          : `${state.items.length}${state.nextCursor ? '+' : ''} shown`;
    empty.hidden = state.items.length > 0 || state.stoppedAfterTraces !== undefined;
    replaceChildren(
      empty,
      hasFilters()
        ? h('p', null, 'No requests match these filters.')
        : h(
            'div',
            null,
            h('p', { className: 'empty-title' }, 'No requests recorded yet.'),
            h(
              'p',
              null,
              'Start an app with ',
              h('code', null, 'node --import @lifeline/node/register app.js'),
              ', or send OpenTelemetry traces to ',
              h('code', null, 'POST /v1/traces'),
              '. New requests appear here as they are stored; background work (start-up, timers, housekeeping) under Show.',
            ),
          ),
    );
    more.hidden = state.nextCursor === undefined;
    banner.hidden = state.pending === 0;
    banner.textContent = `${state.pending} new ${state.pending === 1 ? 'request' : 'requests'} · show`;
    const known = new Set(state.items.map((item) => item.rootService));
    replaceChildren(services, ...[...known].sort().map((name) => h('option', { attrs: { value: name } })));
  };

  let generation = 0;
  const load = async (append: boolean): Promise<void> => {
    const mine = ++generation;
    const query = currentParams();
    if (append && state.nextCursor !== undefined) query.set('cursor', state.nextCursor);
    try {
      const page = await listTraces(query);
      if (mine !== generation) return;
      errorBox.hidden = true;
      state.items = append ? [...state.items, ...page.items] : page.items;
      state.nextCursor = page.nextCursor;
      state.stoppedAfterTraces = page.stoppedAfterTraces;
      if (!append) state.pending = 0;
      render();
    } catch (error) {
      if (mine !== generation) return;
      errorBox.hidden = false;
      errorBox.textContent =
        error instanceof ApiError
          ? `Could not load requests: ${error.message}`
          : `Could not load requests: ${String(error)}`;
    }
  };

  let debounce: number | undefined;
  const onFilterChange = (): void => {
    window.clearTimeout(debounce);
    debounce = window.setTimeout(() => {
      const query = currentParams().toString();
      history.replaceState(null, '', withSource(query === '' ? '/' : `/?${query}`));
      void load(false);
    }, 250);
  };
  form.addEventListener('input', onFilterChange);
  form.addEventListener('change', onFilterChange);
  form.addEventListener('submit', (event) => event.preventDefault());
  more.addEventListener('click', () => void load(true));
  banner.addEventListener('click', () => void load(false));

  body.addEventListener('keydown', (event) => {
    const current = (event.target as HTMLElement).closest('tr');
    if (current === null) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = event.key === 'ArrowDown' ? current.nextElementSibling : current.previousElementSibling;
      if (next instanceof HTMLElement) next.focus();
    }
  });

  connectLive(
    (summaries) => {
      const live = currentParams();
      // Only the unfiltered, newest-first view can place a new row without asking the server.
      const canInsert = [...live.keys()].length === 0;
      let changed = false;
      for (const summary of summaries) {
        // The default view lists requests only; a trace can turn into one when its root span arrives.
        if (canInsert && !isRequestRoot(summary)) {
          const stale = state.items.findIndex((item) => item.traceId === summary.traceId);
          if (stale >= 0) {
            state.items.splice(stale, 1);
            changed = true;
          }
          continue;
        }
        const index = state.items.findIndex((item) => item.traceId === summary.traceId);
        if (index >= 0) {
          state.items[index] = summary;
          changed = true;
        } else if (canInsert) {
          state.items.unshift(summary);
          changed = true;
        } else {
          state.pending++;
          changed = true;
        }
      }
      if (canInsert) state.items.sort((a, b) => b.startTimeNs - a.startTimeNs);
      if (changed) render();
    },
    () => void load(false),
  );

  await load(false);
}

/** Longest service or request name a row holds as text; the cell's title has the whole name. */
const MAX_NAME = 200;

function row(item: TraceSummary, maxMs: number, selection: CompareSelection): HTMLTableRowElement {
  const href = withSource(`/traces/${encodeURIComponent(item.traceId)}`);
  const ms = nsToMs(item.durationNs);
  const request = item.route ?? item.rootName;
  const status = item.statusCode;
  const statusClass =
    status === undefined ? 'status-none' : status >= 500 ? 'status-5xx' : status >= 400 ? 'status-4xx' : 'status-ok';
  // The summary counts incoming HTTP too; the row's own request is not one of its calls.
  const counts = { ...item.counts, http: Math.max(0, item.counts.http - (item.method !== undefined ? 1 : 0)) };
  const calls = (['db', 'http', 'cache', 'queue'] as const)
    .filter((key) => counts[key] > 0)
    .map((key) => h('span', { className: `chip chip-${key}` }, `${key} ${counts[key]}`));
  const concurrency: string[] = [];
  // The saving counts only calls that did not use each other's answers (a
  // cache-aside chain offers none), so a run that had to be serial says nothing more.
  if (item.serialCalls > 0) {
    const saving = item.overlapSavingMs ?? 0;
    concurrency.push(`${item.serialCalls} serial${saving >= 1 ? `, save ≤ ${formatDuration(saving)}` : ''}`);
  }
  if (item.parGroups > 0) concurrency.push(`${item.parGroups} par`);

  const tr = h(
    'tr',
    {
      className: item.error ? 'row row-error' : 'row',
      attrs: {
        tabindex: 0,
        'aria-label':
          `${item.method ?? ''} ${displayName(request, MAX_NAME)} ${status ?? ''} ${formatDuration(ms)}`.trim(),
      },
      dataset: { traceId: item.traceId },
      on: {
        click: (event) => {
          if ((event.target as HTMLElement).closest('a') !== null) return;
          location.assign(href);
        },
        keydown: (event) => {
          if (event.key === 'Enter') location.assign(href);
        },
      },
    },
    selection.cell(item),
    h(
      'td',
      { className: 'col-time', attrs: { title: formatDateTime(item.startTimeNs) } },
      formatWhen(item.startTimeNs),
    ),
    // Names can be any length and hold line breaks: the cell shows a clean, cut line (CSS ends it
    // with an ellipsis where the column is narrower), its title the whole name.
    h(
      'td',
      { className: 'col-service', attrs: { title: item.rootService } },
      h('span', { className: 'name-cut' }, displayName(item.rootService, MAX_NAME)),
    ),
    h(
      'td',
      { className: 'col-request' },
      item.method === undefined ? null : h('span', { className: 'method' }, item.method),
      h('a', { className: 'name-cut', attrs: { href, tabindex: -1, title: request } }, displayName(request, MAX_NAME)),
      // Summaries stored before the root kind was recorded carry none: left unmarked.
      item.rootKind !== undefined && !isRequestRoot(item)
        ? h(
            'span',
            {
              className: 'badge badge-background',
              attrs: { title: `background work: rooted in a ${item.rootKind} span` },
            },
            'background',
          )
        : null,
    ),
    h('td', null, h('span', { className: `status ${statusClass}` }, status === undefined ? '—' : String(status))),
    h(
      'td',
      { className: 'col-duration' },
      h(
        'div',
        { className: 'duration' },
        h('span', { className: 'duration-text' }, formatDuration(ms)),
        h(
          'span',
          { className: 'duration-track', attrs: { 'aria-hidden': 'true' } },
          h('span', { className: 'duration-bar', style: { width: `${Math.max(1, (ms / maxMs) * 100).toFixed(1)}%` } }),
        ),
      ),
    ),
    h('td', { className: 'col-calls' }, ...(calls.length > 0 ? calls : [h('span', { className: 'muted' }, 'none')])),
    h(
      'td',
      { className: 'col-concurrency' },
      concurrency.length > 0
        ? h('span', { className: item.parGroups > 0 ? 'badge badge-par' : 'badge' }, concurrency.join(' · '))
        : h('span', { className: 'muted' }, '—'),
    ),
    h(
      'td',
      { className: 'col-flags' },
      item.nPlusOne > 0
        ? h('span', { className: 'flag flag-n1', attrs: { title: `${item.nPlusOne} repeated-call group(s)` } }, 'N+1')
        : null,
      item.error ? h('span', { className: 'flag flag-error' }, 'error') : null,
    ),
  );
  return tr;
}
