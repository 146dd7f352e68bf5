/**
 * Strict parsing of query parameters. Every API parameter is checked before it
 * reaches the store: a typo such as `minMs=abc` or `error=maybe` answers 400
 * naming the parameter instead of silently matching everything. Every
 * function here throws an {@link HttpError} (400, naming the parameter) for a
 * value that does not pass.
 */
import { type TraceFilter, traceWorkValues } from '@lifeline/store';
import { HttpError } from './http-error.js';

/** A request parameter that failed validation: a 400 naming it, as the client spelt it. */
export function badParameter(parameter: string, message: string): HttpError {
  return new HttpError(400, message, { parameter });
}

/** The raw query object as express parses it (strings, arrays or nested objects). */
export type RawQuery = Record<string, unknown>;

const TRACE_ID = /^[0-9a-f]{32}$/i;
const HTTP_METHOD = /^[A-Za-z]{1,16}$/;
const MAX_TEXT = 500;

/**
 * Parameters every endpoint tolerates: the access token may travel in the
 * query, and `source` names the tracing backend read instead of the database.
 */
const ALWAYS_ALLOWED = new Set(['token', 'source']);

/**
 * Rejects parameters an endpoint does not know, so misspelt filters are noticed.
 *
 * @throws {HttpError} 400 naming the first unknown parameter.
 */
export function rejectUnknown(query: RawQuery, known: readonly string[]): void {
  for (const key of Object.keys(query)) {
    if (!known.includes(key) && !ALWAYS_ALLOWED.has(key)) {
      throw badParameter(key, `unknown parameter "${key}" (allowed: ${known.join(', ')})`);
    }
  }
}

function single(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  // Repeated or bracketed parameters (?a=1&a=2, ?a[b]=1) are ambiguous for a filter.
  if (typeof value !== 'string') throw badParameter(name, `${name} must be given once, as a plain value`);
  return value;
}

/** A free-text parameter, trimmed; empty means absent. */
export function textParam(query: RawQuery, name: string): string | undefined {
  const value = single(query, name)?.trim();
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_TEXT) throw badParameter(name, `${name} must be at most ${MAX_TEXT} characters`);
  return value;
}

/** A finite, non-negative decimal number. */
export function numberParam(query: RawQuery, name: string): number | undefined {
  const value = single(query, name);
  if (value === undefined || value === '') return undefined;
  // Number('') is 0 and Number('0x10') is 16: insist on a plain decimal.
  if (!/^\d+(\.\d+)?$/.test(value)) throw badParameter(name, `${name} must be a non-negative number`);
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw badParameter(name, `${name} must be a finite number`);
  return parsed;
}

/** An integer within bounds. */
export function integerParam(query: RawQuery, name: string, bounds: { min: number; max: number }): number | undefined {
  const value = single(query, name);
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw badParameter(name, `${name} must be an integer`);
  const parsed = Number(value);
  if (parsed < bounds.min || parsed > bounds.max) {
    throw badParameter(name, `${name} must be between ${bounds.min} and ${bounds.max}`);
  }
  return parsed;
}

/** A boolean written as 1/0 or true/false. */
export function booleanParam(query: RawQuery, name: string): boolean | undefined {
  const value = single(query, name);
  if (value === undefined || value === '') return undefined;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw badParameter(name, `${name} must be 1, 0, true or false`);
}

/** One value out of a fixed set. */
export function enumParam<T extends string>(query: RawQuery, name: string, allowed: readonly T[]): T | undefined {
  const value = single(query, name);
  if (value === undefined || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw badParameter(name, `${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * Validates a trace id from the path: 32 hex characters, returned lowercase as the store keeps them.
 *
 * @throws {HttpError} 400 naming `id` when it is not 32 hex characters.
 */
export function parseTraceId(value: string): string {
  if (!TRACE_ID.test(value)) throw badParameter('id', 'trace id must be 32 hexadecimal characters');
  return value.toLowerCase();
}

/** The list endpoint's parameters, validated. */
export interface ListQuery {
  readonly filter: TraceFilter;
  readonly page: { limit: number; cursor?: string; order: 'newest' | 'slowest' };
}

const LIST_PARAMS = [
  'service',
  'route',
  'method',
  'status',
  'minMs',
  'maxMs',
  'error',
  'q',
  'since',
  'until',
  'work',
  'cursor',
  'limit',
  'order',
] as const;

/**
 * Parses `GET /api/traces` parameters into a store filter and page.
 *
 * @throws {HttpError} 400 naming the first parameter that is unknown or out of range.
 */
export function parseListQuery(query: RawQuery): ListQuery {
  rejectUnknown(query, LIST_PARAMS);
  const method = textParam(query, 'method');
  if (method !== undefined && !HTTP_METHOD.test(method)) {
    throw badParameter('method', 'method must be an HTTP method name such as GET');
  }
  const minMs = numberParam(query, 'minMs');
  const maxMs = numberParam(query, 'maxMs');
  if (minMs !== undefined && maxMs !== undefined && minMs > maxMs) {
    throw badParameter('maxMs', 'maxMs must not be smaller than minMs');
  }
  const cursor = textParam(query, 'cursor');
  const filter: TraceFilter = dropUndefined({
    service: textParam(query, 'service'),
    route: textParam(query, 'route'),
    method: method?.toUpperCase(),
    status: integerParam(query, 'status', { min: 100, max: 599 }),
    minMs,
    maxMs,
    error: booleanParam(query, 'error'),
    q: textParam(query, 'q'),
    since: numberParam(query, 'since'),
    until: numberParam(query, 'until'),
    // Requests unless asked: background work (start-up, timers, a queue
    // library's housekeeping) would bury them, as in `lifeline list`.
    work: enumParam(query, 'work', traceWorkValues) ?? 'requests',
  });
  return {
    filter,
    page: {
      limit: integerParam(query, 'limit', { min: 1, max: 500 }) ?? 50,
      order: enumParam(query, 'order', ['newest', 'slowest'] as const) ?? 'newest',
      ...(cursor === undefined ? {} : { cursor }),
    },
  };
}

/** Diagram options shared by the trace and Mermaid endpoints. */
export interface DiagramQuery {
  readonly timings: boolean;
  readonly internal: boolean;
  readonly foldLoops: boolean;
  /** Mermaid participant shapes (Mermaid 11.13+) instead of kind words (Mermaid 10.9+). */
  readonly participantShapes: boolean;
}

/**
 * Parses `timings`, `internal`, `loops` and `shapes` (each 0 or 1).
 *
 * @throws {HttpError} 400 naming the first parameter that is not 0, 1, true or false.
 */
export function parseDiagramQuery(query: RawQuery): DiagramQuery {
  rejectUnknown(query, ['timings', 'internal', 'loops', 'shapes']);
  return {
    timings: booleanParam(query, 'timings') ?? true,
    internal: booleanParam(query, 'internal') ?? false,
    foldLoops: booleanParam(query, 'loops') ?? true,
    participantShapes: booleanParam(query, 'shapes') ?? false,
  };
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
