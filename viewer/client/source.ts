/**
 * Which traces the page reads: the recording database, or a tracing backend
 * the viewer was started with (`lifeline serve --source NAME=URL`), named by
 * `?source=NAME` in the page's URL and carried into every API call and link.
 */
import { getJson } from './api.js';
import { h } from './dom.js';

/** A backend the viewer reads, as `GET /api/sources` names it. */
interface SourceInfo {
  readonly name: string;
  readonly kind: string;
  readonly url: string;
}

/** The source the page reads, or undefined for the recording database. */
export function currentSource(): string | undefined {
  // Outside a page (the export code run by Node) there is no URL: the database.
  if (typeof location === 'undefined') return undefined;
  const name = new URLSearchParams(location.search).get('source');
  return name === null || name === '' ? undefined : name;
}

/** `url` with the page's `source` added to its query, when the page reads a source. */
export function withSource(url: string): string {
  const source = currentSource();
  if (source === undefined) return url;
  const [path, query = ''] = url.split('?', 2) as [string, string?];
  const params = new URLSearchParams(query);
  params.set('source', source);
  return `${path}?${params.toString()}`;
}

/**
 * The bar that says what the page reads and switches between the database
 * and the sources; empty when the viewer reads no source.
 */
export function sourceBar(): HTMLElement {
  const bar = h('nav', { className: 'source-bar', attrs: { 'aria-label': 'Trace source', id: 'source-bar' } });
  void getJson<{ sources: SourceInfo[] }>('/api/sources').then(
    ({ sources }) => {
      if (sources.length === 0) return;
      const current = currentSource();
      const choice = (label: string, href: string, active: boolean, title: string) =>
        h(
          'a',
          {
            className: active ? 'source-choice active' : 'source-choice',
            attrs: { href, title, ...(active ? { 'aria-current': 'page' } : {}) },
          },
          label,
        );
      const reading = sources.find((s) => s.name === current);
      bar.append(
        h(
          'span',
          { className: 'source-reading', attrs: { id: 'source-reading' } },
          reading === undefined
            ? 'Reading the local database'
            : `Reading ${reading.name} (${reading.kind} at ${reading.url}, read only)`,
        ),
        choice('local', '/', current === undefined, 'The recording database'),
        ...sources.map((s) =>
          choice(s.name, `/?source=${encodeURIComponent(s.name)}`, s.name === current, `${s.kind} at ${s.url}`),
        ),
      );
    },
    () => {
      // An older server without sources: nothing to offer.
    },
  );
  return bar;
}
