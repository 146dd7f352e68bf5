/**
 * GET requests to a tracing backend, with its headers and timeout, and every
 * failure turned into one line that says which backend and what to do.
 */
import type { SourceConfig } from './config.js';

/** Why a backend could not be read. */
export type SourceFailure = 'unreachable' | 'slow' | 'unauthorized' | 'incompatible' | 'failed';

/** A backend that could not be read; `message` is one line naming the source and its URL. */
export class SourceError extends Error {
  readonly failure: SourceFailure;
  readonly source: string;

  constructor(source: SourceConfig, failure: SourceFailure, problem: string) {
    super(`source ${source.name} (${source.kind} at ${source.url}): ${problem}`);
    this.name = 'SourceError';
    this.failure = failure;
    this.source = source.name;
  }
}

/** An answer of the backend: status and body text. */
export interface SourceAnswer {
  readonly status: number;
  readonly text: string;
}

/**
 * GETs `path` (with `params`) from the source. 2xx and 404 are returned;
 * anything else throws.
 *
 * @throws SourceError `unreachable` (connection refused, unknown host),
 *   `slow` (no answer within the timeout), `unauthorized` (401, 403),
 *   `failed` (another status).
 */
export async function sourceGet(
  source: SourceConfig,
  path: string,
  params: Readonly<Record<string, string | undefined>> = {},
): Promise<SourceAnswer> {
  const url = new URL(`${source.url}${path}`);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      headers: { Accept: 'application/json', ...source.headers },
      signal: AbortSignal.timeout(source.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new SourceError(
        source,
        'slow',
        `no answer to ${path} within ${source.timeoutMs} ms: check the backend's load, or allow more with --source-timeout`,
      );
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new SourceError(
      source,
      'unreachable',
      `cannot connect (${cause?.code ?? cause?.message ?? (error as Error).message}): is the URL right and the backend running?`,
    );
  }
  if (response.status === 401 || response.status === 403) {
    throw new SourceError(
      source,
      'unauthorized',
      `${response.status} ${response.statusText || 'unauthorized'} on ${path}: pass credentials with --source-header ${source.name}=Authorization:… (or LIFELINE_SOURCE_${source.name.toUpperCase().replace(/-/g, '_')}_HEADERS)`,
    );
  }
  if (response.status === 404 || (response.status >= 200 && response.status < 300)) {
    return { status: response.status, text };
  }
  const detail = text.trim().split('\n', 1)[0]?.slice(0, 200) ?? '';
  throw new SourceError(source, 'failed', `${response.status} on ${path}${detail === '' ? '' : `: ${detail}`}`);
}

/**
 * The JSON of a 2xx answer.
 *
 * @throws SourceError `incompatible` when the body is not JSON (a proxy's
 *   page, another service on that port).
 */
export function answerJson(source: SourceConfig, path: string, answer: SourceAnswer): unknown {
  try {
    return JSON.parse(answer.text);
  } catch {
    throw incompatible(source, path, 'the answer is not JSON');
  }
}

/** The error for an answer that is not what this kind of backend sends. */
export function incompatible(source: SourceConfig, path: string, problem: string): SourceError {
  return new SourceError(
    source,
    'incompatible',
    `${path}: ${problem}: is this the ${source.kind === 'tempo' ? 'Tempo HTTP API (port 3200)' : 'Jaeger query service (port 16686)'}?`,
  );
}
