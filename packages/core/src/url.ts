/**
 * The URL parsing span classification needs: host, port and path of the
 * `url.full` / `http.url` of a span, with no platform URL class.
 */
/** The parts of an absolute URL the classification reads. */
export interface UrlParts {
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
}

// A regular expression instead of the URL class: the core runs anywhere,
// with no platform globals, and only needs host, port and path.
const URL_PARTS = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?([^?#]*)/i;

/**
 * Host (lower-cased), port (`''` when absent) and path (`/` when empty) of an
 * absolute URL, or undefined when the text is not one (`scheme://…`).
 */
export function parseUrl(url: string): UrlParts | undefined {
  const m = URL_PARTS.exec(url);
  if (!m) return undefined;
  return { hostname: (m[1] ?? '').toLowerCase(), port: m[2] ?? '', pathname: m[3] || '/' };
}
