/**
 * The Endpoints page: every endpoint with its latency percentiles, error and
 * N+1 shares and calls per request, slowest p95 first, live as requests
 * arrive; selecting one draws its typical flow (the shapes of its requests
 * merged, variants as alt/opt blocks) with the exports of a single request.
 * The window, the order and the selected endpoint live in the URL.
 */
import type { EndpointFlow, EndpointOrder, EndpointStats } from '@lifeline/core';
import { ApiError } from './api.js';
import { renderDiagram } from './diagram.js';
import { h, replaceChildren } from './dom.js';
import { copyText, download, svgText, svgToPng } from './export.js';
import { displayName, formatDuration } from './format.js';
import { connectLive } from './live.js';

/** Time windows offered, in ns; `all` has none. */
const WINDOWS: readonly { value: string; label: string; ns?: number }[] = [
  { value: 'all', label: 'all recorded' },
  { value: '15m', label: 'last 15 minutes', ns: 15 * 60e9 },
  { value: '1h', label: 'last hour', ns: 3600e9 },
  { value: '24h', label: 'last 24 hours', ns: 86_400e9 },
  { value: '7d', label: 'last 7 days', ns: 7 * 86_400e9 },
];

interface Column {
  readonly header: string;
  readonly sort?: EndpointOrder;
  readonly numeric?: boolean;
}

const COLUMNS: readonly Column[] = [
  { header: 'Endpoint', sort: 'name' },
  { header: 'Requests', sort: 'requests', numeric: true },
  { header: 'p50', sort: 'p50', numeric: true },
  { header: 'p95', sort: 'p95', numeric: true },
  { header: 'p99', sort: 'p99', numeric: true },
  { header: 'Max', sort: 'max', numeric: true },
  { header: 'Errors', sort: 'errors', numeric: true },
  { header: 'N+1', sort: 'nplusone', numeric: true },
  { header: 'Calls / request' },
  { header: 'Saving', sort: 'saving', numeric: true },
  { header: 'Requests to open' },
];

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { error?: string };
      if (typeof body.error === 'string') message = body.error;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(response.status, message);
  }
  return (await response.json()) as T;
}

function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/** Longest endpoint or service name shown as text; titles hold the whole name. */
const MAX_NAME = 200;

/** A name inside a Markdown code span on one line: no backtick to end it early. */
function code(name: string): string {
  return displayName(name.replace(/`/g, "'"), 120);
}

function endpointKey(e: Pick<EndpointStats, 'service' | 'kind' | 'name'>): string {
  return JSON.stringify([e.service, e.kind, e.name]);
}

function fileStem(e: EndpointStats): string {
  return (
    `${e.service}-${e.name}`
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80) || 'endpoint'
  );
}

/** Renders the Endpoints page into `main`. */
export async function renderEndpointsPage(main: HTMLElement): Promise<void> {
  document.title = 'Endpoints · Lifeline';
  const params = new URLSearchParams(location.search);
  const state = {
    window: WINDOWS.some((w) => w.value === params.get('window')) ? (params.get('window') as string) : 'all',
    sort: (params.get('sort') ?? 'p95') as EndpointOrder,
    selected: params.get('endpoint') ?? undefined,
    timings: params.get('timings') === '1',
    items: [] as EndpointStats[],
  };

  const windowSelect = h(
    'select',
    { attrs: { name: 'window', 'aria-label': 'Time window' } },
    ...WINDOWS.map((w) => h('option', { attrs: { value: w.value } }, w.label)),
  );
  windowSelect.value = state.window;
  const count = h('span', { className: 'muted', attrs: { id: 'endpoint-count' } });
  const head = h('tr', null);
  const body = h('tbody', null);
  const table = h(
    'table',
    { className: 'requests endpoints', attrs: { 'aria-label': 'Endpoints' } },
    h('thead', null, head),
    body,
  );
  const empty = h('div', { className: 'empty', attrs: { hidden: true } });
  const errorBox = h('div', { className: 'callout callout-error', attrs: { hidden: true, role: 'alert' } });
  const flowCard = h('section', { className: 'card endpoint-flow', attrs: { hidden: true, id: 'endpoint-flow' } });

  replaceChildren(
    main,
    h(
      'nav',
      { className: 'crumbs' },
      h('a', { attrs: { href: '/' } }, 'Requests'),
      ' · ',
      h('span', { attrs: { 'aria-current': 'page' } }, 'Endpoints'),
    ),
    h('div', { className: 'page-head' }, h('h1', null, 'Endpoints'), count),
    h(
      'form',
      { className: 'filters', attrs: { role: 'search', 'aria-label': 'Filter endpoints' } },
      h('label', { className: 'field' }, h('span', { className: 'field-label' }, 'Window'), windowSelect),
    ),
    errorBox,
    h('div', { className: 'card table-card' }, table, empty),
    flowCard,
  );

  const writeUrl = (): void => {
    const next = new URLSearchParams();
    if (state.window !== 'all') next.set('window', state.window);
    if (state.sort !== 'p95') next.set('sort', state.sort);
    if (state.selected !== undefined) next.set('endpoint', state.selected);
    if (state.timings) next.set('timings', '1');
    const query = next.toString();
    history.replaceState(null, '', `/endpoints${query ? `?${query}` : ''}`);
  };

  const windowQuery = (): URLSearchParams => {
    const query = new URLSearchParams();
    const ns = WINDOWS.find((w) => w.value === state.window)?.ns;
    if (ns !== undefined) query.set('since', String(BigInt(Date.now()) * 1_000_000n - BigInt(ns)));
    return query;
  };

  const drawHead = (): void => {
    replaceChildren(
      head,
      ...COLUMNS.map((column) => {
        if (column.sort === undefined) return h('th', { attrs: { scope: 'col' } }, column.header);
        const active = state.sort === column.sort;
        const button = h(
          'button',
          { className: 'sort-button', attrs: { type: 'button', 'data-sort': column.sort } },
          column.header,
          active ? (column.sort === 'name' ? ' ▲' : ' ▼') : '',
        );
        button.addEventListener('click', () => {
          state.sort = column.sort as EndpointOrder;
          writeUrl();
          void refresh();
        });
        return h(
          'th',
          {
            className: column.numeric ? 'num' : undefined,
            attrs: {
              scope: 'col',
              'aria-sort': active ? (column.sort === 'name' ? 'ascending' : 'descending') : 'none',
            },
          },
          button,
        );
      }),
    );
  };

  const calls = (e: EndpointStats): string => {
    const c = e.callsPerRequest;
    const parts = [
      c.db > 0 ? `${c.db} db` : '',
      c.cache > 0 ? `${c.cache} cache` : '',
      c.http > 0 ? `${c.http} http` : '',
      c.queue > 0 ? `${c.queue} queue` : '',
    ].filter(Boolean);
    return parts.length > 0 ? parts.join(' · ') : 'none';
  };

  const drawRows = (): void => {
    replaceChildren(
      body,
      ...state.items.map((e) => {
        const key = endpointKey(e);
        const row = h(
          'tr',
          {
            className: `row${e.errorShare > 0 ? ' row-error' : ''}${key === state.selected ? ' row-selected' : ''}`,
            attrs: { tabindex: '0', 'data-endpoint': key },
          },
          // Names can be any length and hold line breaks: the cell shows a clean, cut line
          // (CSS ends it with an ellipsis where the column is narrower), its title the whole.
          h(
            'td',
            { className: 'col-request', attrs: { title: `${e.name} on ${e.service}` } },
            h('span', { className: 'endpoint-name name-cut' }, displayName(e.name, MAX_NAME)),
            ' ',
            h('span', { className: 'muted small name-cut' }, displayName(e.service, MAX_NAME)),
          ),
          h('td', { className: 'num' }, String(e.requests)),
          h('td', { className: 'num' }, formatDuration(e.p50Ms)),
          h('td', { className: 'num' }, formatDuration(e.p95Ms)),
          h('td', { className: 'num' }, formatDuration(e.p99Ms)),
          h('td', { className: 'num' }, formatDuration(e.maxMs)),
          h('td', { className: `num${e.errorShare > 0 ? ' text-error' : ''}` }, percent(e.errorShare)),
          h('td', { className: 'num' }, percent(e.nPlusOneShare)),
          h('td', null, calls(e)),
          h(
            'td',
            { className: 'num' },
            e.medianOverlapSavingMs === undefined ? '—' : formatDuration(e.medianOverlapSavingMs),
          ),
          h(
            'td',
            null,
            h('a', { attrs: { href: `/traces/${e.slowestTraceId}` } }, 'slowest'),
            ' · ',
            h('a', { attrs: { href: `/traces/${e.typicalTraceId}` } }, 'typical'),
          ),
        );
        const select = (event: Event): void => {
          if ((event.target as HTMLElement).closest('a') !== null) return;
          state.selected = key;
          writeUrl();
          drawRows();
          void drawFlow();
        };
        row.addEventListener('click', select);
        row.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            select(event);
          }
        });
        return row;
      }),
    );
  };

  let flowRequest = 0;
  const drawFlow = async (): Promise<void> => {
    const endpoint = state.items.find((e) => endpointKey(e) === state.selected);
    if (endpoint === undefined) {
      flowCard.hidden = true;
      return;
    }
    const mine = ++flowRequest;
    const query = windowQuery();
    query.set('service', endpoint.service);
    query.set('kind', endpoint.kind);
    query.set('name', endpoint.name);
    query.set('timings', state.timings ? '1' : '0');
    let data: { endpoint: EndpointStats; flow: EndpointFlow };
    try {
      data = await getJson(`/api/endpoints/flow?${query.toString()}`);
    } catch (error) {
      if (mine !== flowRequest) return;
      flowCard.hidden = false;
      replaceChildren(flowCard, h('div', { className: 'callout callout-error' }, (error as Error).message));
      return;
    }
    if (mine !== flowRequest) return;
    const { flow } = data;
    const diagramBox = h('div', { className: 'diagram', attrs: { id: 'endpoint-diagram' } });
    const timings = h('input', { attrs: { type: 'checkbox', name: 'timings' } });
    timings.checked = state.timings;
    timings.addEventListener('change', () => {
      state.timings = timings.checked;
      writeUrl();
      void drawFlow();
    });
    const markdown = (): string =>
      [
        `**\`${code(endpoint.name)}\`** on \`${code(endpoint.service)}\` · ${flow.requests} requests · ${flow.shapes.map((s) => `${s.label} ${percent(s.share)}`).join(', ')} — recorded by Lifeline`,
        '',
        '```mermaid',
        flow.text.trimEnd(),
        '```',
        '',
      ].join('\n');
    let svg: SVGSVGElement | undefined;
    const button = (label: string, action: () => Promise<void> | void): HTMLButtonElement => {
      const b = h('button', { className: 'button', attrs: { type: 'button' } }, label);
      b.addEventListener('click', () => void action());
      return b;
    };
    replaceChildren(
      flowCard,
      h(
        'div',
        { className: 'card-title' },
        h('h2', { attrs: { title: endpoint.name } }, `Typical flow of ${displayName(endpoint.name, MAX_NAME)}`),
        h(
          'span',
          { className: 'muted' },
          `${flow.requests} requests · ${flow.shapes.length === 1 ? 'one shape' : `${flow.shapes.length} shapes`}`,
        ),
      ),
      h(
        'div',
        { className: 'toolbar' },
        h('label', { className: 'toggle' }, timings, h('span', null, 'median timings')),
        button('Copy Mermaid', () => copyText(flow.text)),
        button('Copy Markdown', () => copyText(markdown())),
        button('Download .mmd', () =>
          download(new Blob([flow.text], { type: 'text/plain' }), `${fileStem(endpoint)}.mmd`),
        ),
        button('Download .md', () =>
          download(new Blob([markdown()], { type: 'text/markdown' }), `${fileStem(endpoint)}.md`),
        ),
        button('Download .svg', () => {
          if (svg) download(new Blob([svgText(svg)], { type: 'image/svg+xml' }), `${fileStem(endpoint)}.svg`);
        }),
        button('Download .png', async () => {
          if (svg) download(await svgToPng(svg, { scale: 2, background: '#ffffff' }), `${fileStem(endpoint)}.png`);
        }),
      ),
      h(
        'ul',
        { className: 'shapes', attrs: { 'aria-label': 'Shapes' } },
        ...flow.shapes.map((shape) =>
          h(
            'li',
            { className: 'shape' },
            h('strong', null, shape.label),
            ` · ${percent(shape.share)} (${shape.requests}) · e.g. `,
            ...shape.exampleTraceIds.flatMap((id, i) => [
              i > 0 ? ', ' : '',
              h('a', { attrs: { href: `/traces/${id}` } }, id.slice(0, 8)),
            ]),
          ),
        ),
      ),
      diagramBox,
    );
    flowCard.hidden = false;
    try {
      svg = (await renderDiagram(diagramBox, flow.text, () => {})).svg;
    } catch (error) {
      replaceChildren(diagramBox, h('pre', { className: 'callout callout-error' }, (error as Error).message));
    }
  };

  let loading = false;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const query = windowQuery();
      query.set('sort', state.sort);
      const { items } = await getJson<{ items: EndpointStats[] }>(`/api/endpoints?${query.toString()}`);
      const before = JSON.stringify(state.items);
      state.items = items;
      errorBox.hidden = true;
      drawHead();
      drawRows();
      count.textContent = `${items.length} endpoint${items.length === 1 ? '' : 's'}`;
      empty.hidden = items.length > 0;
      if (items.length === 0)
        replaceChildren(empty, h('p', { className: 'empty-title' }, 'No requests in this window.'));
      if (state.selected !== undefined && before !== JSON.stringify(items)) void drawFlow();
    } catch (error) {
      errorBox.hidden = false;
      errorBox.textContent = (error as Error).message;
    } finally {
      loading = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  };

  windowSelect.addEventListener('change', () => {
    state.window = windowSelect.value;
    writeUrl();
    void refresh();
  });

  // Live like the request list: new requests change the figures, so the list is asked again, at most once a second.
  let timer: ReturnType<typeof setTimeout> | undefined;
  connectLive(() => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void refresh();
    }, 1000);
  });
  await refresh();
}
