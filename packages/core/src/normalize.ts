/**
 * Normalisation of the parts of a call that vary per request (ids in request
 * paths and cache keys), so labels name the route or key pattern and calls
 * that differ only by id compare alike.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMERIC = /^-?\d+(?:\.\d+)?$/;
const HEX_ID = /^(?=.*\d)[0-9a-f]{8,}$/i;
// Long tokens mixing letters and digits (ObjectIds, base64 ids, slugs with hashes) vary per request.
const OPAQUE_ID = /^(?=.*\d)(?=.*[a-z])[A-Za-z0-9_-]{16,}$/i;

function isVariableSegment(segment: string): boolean {
  return NUMERIC.test(segment) || UUID.test(segment) || HEX_ID.test(segment) || OPAQUE_ID.test(segment);
}

/**
 * Turns a raw request path into a route-like template: the query string goes,
 * and numeric, UUID, hex and other id-looking segments become `:id`.
 *
 * @example
 * ```ts
 * normalizePath('/articles/42/comments?page=2'); // '/articles/:id/comments'
 * ```
 */
export function normalizePath(path: string): string {
  const cut = path.search(/[?#]/);
  const bare = cut >= 0 ? path.slice(0, cut) : path;
  return bare
    .split('/')
    .map((segment) => (segment !== '' && isVariableSegment(segment) ? ':id' : segment))
    .join('/');
}

/**
 * Normalises a cache key so calls that differ only by id fold together:
 * `article:42` becomes `article:*`.
 */
export function normalizeCacheKey(key: string): string {
  return key
    .split(/([:./|#-])/)
    .map((part) => (part.length > 1 || /\w/.test(part) ? (isVariableSegment(part) ? '*' : part) : part))
    .join('');
}
