/**
 * Entry of the browser client: picks the page from the path. Both pages are
 * permalinks (`/` with its filters in the query, `/traces/:id` with its diagram
 * options), so reloading or sharing a URL shows the same view.
 */
import { tracePageId } from './api.js';
import { h, replaceChildren } from './dom.js';
import { sourceBar } from './source.js';
import { renderTracePage } from './trace-page.js';

function header(): HTMLElement {
  return h(
    'header',
    { className: 'topbar' },
    h(
      'a',
      { className: 'brand', attrs: { href: '/' } },
      h('span', { className: 'brand-mark', attrs: { 'aria-hidden': 'true' } }),
      'Lifeline',
    ),
    h('span', { className: 'brand-tagline' }, 'what your app did while it served each request'),
    h(
      'nav',
      { className: 'topnav', attrs: { 'aria-label': 'Pages' } },
      h('a', { attrs: { href: '/' } }, 'Requests'),
      h('a', { attrs: { href: '/endpoints' } }, 'Endpoints'),
    ),
    sourceBar(),
    h('span', { className: 'live-status', attrs: { id: 'live-status', role: 'status' } }),
  );
}

function start(): void {
  const root = document.getElementById('app');
  if (root === null) return;
  const main = h('main', { className: 'page', attrs: { id: 'main' } });
  replaceChildren(root, header(), main);
  const traceId = tracePageId(location.pathname);
  // The trace page is in the entry bundle; the other pages load their code
  // when they are opened, so a trace's page parses and runs only its own.
  if (traceId !== undefined) void renderTracePage(main, traceId);
  else if (/^\/compare\/?$/.test(location.pathname))
    void import('./compare-page.js').then((page) => page.renderComparePage(main));
  else if (/^\/endpoints\/?$/.test(location.pathname))
    void import('./endpoints-page.js').then((page) => page.renderEndpointsPage(main));
  else void import('./list-page.js').then((page) => page.renderListPage(main));
}

start();
