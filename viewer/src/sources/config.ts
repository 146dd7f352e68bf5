/**
 * Which tracing backends Lifeline reads from: a name, a kind (Grafana Tempo
 * or Jaeger), the base URL of its query API, the headers every request
 * carries (auth, Tempo's tenant) and how long a request may take.
 */

/** The backends Lifeline reads traces from. */
export type SourceKind = 'tempo' | 'jaeger';

/** One configured backend. */
export interface SourceConfig {
  /** What the user calls it (`--source NAME=…`, `?source=NAME`): letters, digits, `-` and `_`. */
  readonly name: string;
  readonly kind: SourceKind;
  /** Base URL of the query API, without a trailing slash (e.g. `http://tempo:3200`). */
  readonly url: string;
  /** Sent with every request, e.g. `Authorization` or Tempo's `X-Scope-OrgID`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Longest wait for one answer, in milliseconds. */
  readonly timeoutMs: number;
}

/** A source option or variable that cannot be read; its message says what to write instead. */
export class SourceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceConfigError';
  }
}

/** Default longest wait for one backend answer, in milliseconds. */
export const DEFAULT_SOURCE_TIMEOUT_MS = 10_000;

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;
const KINDS: readonly SourceKind[] = ['tempo', 'jaeger'];

/**
 * Reads `NAME=URL` (the kind is the name's first word: `tempo`, `tempo-eu`,
 * `jaeger_staging`) or `NAME=KIND+URL` (`prod=tempo+http://tempo:3200`).
 *
 * @throws SourceConfigError for a missing `=`, a bad name, an unknown kind or a URL that is not http(s).
 */
export function parseSourceSpec(spec: string, timeoutMs = DEFAULT_SOURCE_TIMEOUT_MS): SourceConfig {
  const at = spec.indexOf('=');
  if (at <= 0) {
    throw new SourceConfigError(
      `--source ${spec}: expected NAME=URL, e.g. tempo=http://tempo:3200 or jaeger=http://jaeger-query:16686`,
    );
  }
  const name = spec.slice(0, at).trim();
  let rest = spec.slice(at + 1).trim();
  if (!NAME.test(name)) {
    throw new SourceConfigError(`--source ${spec}: the name must be a word of letters, digits, - or _`);
  }
  let kind = KINDS.find((k) => name.toLowerCase() === k || new RegExp(`^${k}[-_]`, 'i').test(name));
  const plus = /^([a-z]+)\+(.*)$/i.exec(rest);
  if (plus !== null && !/^https?$/i.test(plus[1] ?? '')) {
    const named = KINDS.find((k) => k === plus[1]?.toLowerCase());
    if (named === undefined) {
      throw new SourceConfigError(`--source ${spec}: unknown backend "${plus[1]}" (Lifeline reads tempo and jaeger)`);
    }
    kind = named;
    rest = plus[2] ?? '';
  }
  if (kind === undefined) {
    throw new SourceConfigError(
      `--source ${spec}: cannot tell the backend from the name "${name}": write ${name}=tempo+URL or ${name}=jaeger+URL`,
    );
  }
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new SourceConfigError(`--source ${spec}: "${rest}" is not a URL (e.g. http://tempo:3200)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SourceConfigError(`--source ${spec}: only http and https URLs are read`);
  }
  return { name, kind, url: url.href.replace(/\/+$/, ''), headers: {}, timeoutMs };
}

/**
 * Reads `NAME=Header:Value` (`--source-header tempo=X-Scope-OrgID:team-a`).
 *
 * @throws SourceConfigError when the `=` or the `:` is missing.
 */
export function parseSourceHeader(spec: string): { name: string; header: string; value: string } {
  const match = /^([^=]+)=([^:]+):(.*)$/.exec(spec);
  if (match === null) {
    throw new SourceConfigError(
      `--source-header ${spec.replace(/:.*/, ':…')}: expected NAME=Header:Value, e.g. tempo=X-Scope-OrgID:team-a`,
    );
  }
  return { name: (match[1] ?? '').trim(), header: (match[2] ?? '').trim(), value: (match[3] ?? '').trim() };
}

/**
 * Headers in the format of `OTEL_EXPORTER_OTLP_HEADERS` (the OpenTelemetry
 * specification's environment variables): `key=value` pairs separated by
 * commas, values percent-encoded.
 */
export function parseHeaderList(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const key = pair.slice(0, at).trim();
    const raw = pair.slice(at + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // Not percent-encoded after all: taken as written.
    }
    if (key !== '') headers[key] = value;
  }
  return headers;
}

/** Options of {@link resolveSources}. */
export interface ResolveSourcesOptions {
  /** `--source` values: `NAME=URL`, `NAME=KIND+URL`, or a bare `NAME` defined in `LIFELINE_SOURCES`. */
  readonly specs: readonly string[];
  /** `--source-header` values, `NAME=Header:Value`. */
  readonly headers?: readonly string[];
  readonly timeoutMs?: number;
  /** Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The sources a command reads. A bare name is looked up in `LIFELINE_SOURCES`
 * (`tempo=http://tempo:3200,jaeger=http://jaeger-query:16686`); headers come
 * from `--source-header` and from `LIFELINE_SOURCE_<NAME>_HEADERS` (name upper
 * case, `-` as `_`, in `OTEL_EXPORTER_OTLP_HEADERS` format) so tokens need not
 * appear on a command line.
 *
 * @throws SourceConfigError for an unreadable spec, a name defined twice, an
 *   unknown bare name, or a header for a source that is not read.
 */
export function resolveSources(options: ResolveSourcesOptions): SourceConfig[] {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
  const defined = new Map<string, string>();
  for (const item of (env.LIFELINE_SOURCES ?? '').split(',')) {
    const at = item.indexOf('=');
    if (at > 0) defined.set(item.slice(0, at).trim(), item.trim());
  }
  const sources: SourceConfig[] = [];
  for (const spec of options.specs) {
    let full = spec;
    if (!spec.includes('=')) {
      const found = defined.get(spec.trim());
      if (found === undefined) {
        throw new SourceConfigError(
          `--source ${spec}: no URL given and LIFELINE_SOURCES does not define it: write --source ${spec}=http://…`,
        );
      }
      full = found;
    }
    const source = parseSourceSpec(full, timeoutMs);
    if (sources.some((s) => s.name === source.name)) {
      throw new SourceConfigError(`--source ${source.name} is given twice: give each source its own name`);
    }
    const envName = `LIFELINE_SOURCE_${source.name.toUpperCase().replace(/-/g, '_')}_HEADERS`;
    const fromEnv = env[envName] === undefined ? {} : parseHeaderList(env[envName] ?? '');
    sources.push({ ...source, headers: fromEnv });
  }
  for (const spec of options.headers ?? []) {
    const { name, header, value } = parseSourceHeader(spec);
    const index = sources.findIndex((s) => s.name === name);
    const source = sources[index];
    if (source === undefined) {
      throw new SourceConfigError(
        `--source-header ${name}=…: no source named "${name}" (sources: ${sources.map((s) => s.name).join(', ') || 'none'})`,
      );
    }
    sources[index] = { ...source, headers: { ...source.headers, [header]: value } };
  }
  return sources;
}
