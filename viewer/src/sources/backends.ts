/**
 * The query APIs of the backends Lifeline reads: what it asks each one for
 * a search and for one trace. The trace bodies themselves are read by the
 * store's importers (Tempo's `batches`, Jaeger's `data`, Jaeger API v3's OTLP
 * under `result`), the same code that imports a saved file.
 */
import type { SourceConfig } from './config.js';
import { answerJson, incompatible, sourceGet } from './http.js';

/** A search of the request list, in the viewer's terms. Times in ns since the epoch. */
export interface SourceQuery {
  readonly service?: string;
  readonly route?: string;
  readonly method?: string;
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly error?: boolean;
  readonly since?: number;
  readonly until?: number;
  /** Most traces to fetch. */
  readonly limit: number;
}

/** What a search found: whole trace bodies (Jaeger sends them) and ids still to fetch (Tempo sends only ids). */
export interface SearchResult {
  readonly bodies: string[];
  readonly traceIds: string[];
}

/** One backend's query API. */
export interface TraceBackend {
  readonly config: SourceConfig;
  /** The services the backend knows. */
  services(): Promise<string[]>;
  search(query: SourceQuery): Promise<SearchResult>;
  /** One trace's body as the backend sends it, or undefined when the backend has no such trace. */
  traceBody(traceId: string): Promise<string | undefined>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function durationParam(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : `${Math.round(ms * 1000)}us`;
}

function stringList(source: SourceConfig, path: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw incompatible(source, path, 'expected a list of names');
  }
  return value as string[];
}

/** A hex trace id padded to 32 digits: Tempo's search drops leading zeros. */
function fullTraceId(id: string): string {
  return id.toLowerCase().padStart(32, '0');
}

/** TraceQL string literal: double quotes, with `\` and `"` escaped. */
function traceqlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Grafana Tempo's HTTP API: `GET /api/search` (TraceQL in `q`, `minDuration`,
 * `maxDuration`, `start`/`end` in Unix seconds, `limit`) answers
 * `{"traces": [{"traceID", "rootServiceName", "rootTraceName",
 * "startTimeUnixNano", "durationMs"}]}`; `GET /api/traces/<id>` answers the
 * trace as OTLP `ResourceSpans` under `batches`, 404 when unknown; `GET
 * /api/search/tag/service.name/values` answers `{"tagValues": […]}`
 * (Tempo's API documentation).
 */
export function tempoBackend(config: SourceConfig): TraceBackend {
  return {
    config,
    async services() {
      const path = '/api/search/tag/service.name/values';
      const answer = await sourceGet(config, path);
      if (answer.status === 404) throw incompatible(config, path, '404');
      const body = answerJson(config, path, answer);
      if (!isObject(body)) throw incompatible(config, path, 'expected {"tagValues": […]}');
      return stringList(config, path, body.tagValues ?? []);
    },
    async search(query) {
      const conditions: string[] = [];
      if (query.service !== undefined) conditions.push(`resource.service.name = ${traceqlString(query.service)}`);
      if (query.route !== undefined) conditions.push(`span.http.route = ${traceqlString(query.route)}`);
      if (query.method !== undefined) {
        conditions.push(`span.http.request.method = ${traceqlString(query.method.toUpperCase())}`);
      }
      if (query.error === true) conditions.push('status = error');
      const path = '/api/search';
      const answer = await sourceGet(config, path, {
        q: `{ ${conditions.join(' && ')} }`.replace('{  }', '{}'),
        minDuration: durationParam(query.minMs),
        maxDuration: durationParam(query.maxMs),
        start: query.since === undefined ? undefined : String(Math.floor(query.since / 1e9)),
        end: query.until === undefined ? undefined : String(Math.ceil(query.until / 1e9)),
        limit: String(query.limit),
      });
      if (answer.status === 404) throw incompatible(config, path, '404 (no search API)');
      const body = answerJson(config, path, answer);
      // An empty result may leave `traces` out (protobuf JSON omits empty lists).
      if (!isObject(body) || (body.traces !== undefined && !Array.isArray(body.traces))) {
        throw incompatible(config, path, 'expected {"traces": […]}');
      }
      const traces = (body.traces ?? []) as unknown[];
      const traceIds = traces.map((trace, index) => {
        if (!isObject(trace) || typeof trace.traceID !== 'string' || !/^[0-9a-f]{1,32}$/i.test(trace.traceID)) {
          throw incompatible(config, path, `traces[${index}] has no hex "traceID"`);
        }
        return fullTraceId(trace.traceID);
      });
      return { bodies: [], traceIds };
    },
    async traceBody(traceId) {
      const answer = await sourceGet(config, `/api/traces/${fullTraceId(traceId)}`);
      return answer.status === 404 ? undefined : answer.text;
    },
  };
}

/**
 * The Jaeger query service's HTTP API (the one its UI uses): `GET
 * /api/services` answers `{"data": [names]}`; `GET /api/traces` (`service`
 * required, `operation`, `tags` as JSON, `minDuration`, `maxDuration`,
 * `start`/`end` in Unix microseconds, `limit`) answers whole traces as
 * `{"data": [{"traceID", "spans", "processes"}]}`; `GET /api/traces/<id>`
 * one trace, 404 when unknown. Where the API v3 is present (`GET
 * /api/v3/services` answers), a trace is read from `GET
 * /api/v3/traces/<id>`, OTLP under `result`.
 */
export function jaegerBackend(config: SourceConfig): TraceBackend {
  let v3: Promise<boolean> | undefined;
  const hasV3 = () => {
    v3 ??= sourceGet(config, '/api/v3/services').then(
      (answer) => {
        if (answer.status !== 200) return false;
        try {
          const body: unknown = JSON.parse(answer.text);
          return isObject(body) && Array.isArray(body.services);
        } catch {
          return false;
        }
      },
      (error: unknown) => {
        v3 = undefined;
        throw error;
      },
    );
    return v3;
  };
  const services = async () => {
    const path = '/api/services';
    const answer = await sourceGet(config, path);
    if (answer.status === 404) throw incompatible(config, path, '404');
    const body = answerJson(config, path, answer);
    if (!isObject(body)) throw incompatible(config, path, 'expected {"data": […]}');
    return stringList(config, path, body.data ?? []);
  };
  return {
    config,
    services,
    async search(query) {
      // Jaeger searches one service at a time: without a service, each of them.
      const names = query.service === undefined ? await services() : [query.service];
      const tags: Record<string, string> = {};
      if (query.error === true) tags.error = 'true';
      if (query.route !== undefined) tags['http.route'] = query.route;
      const bodies: string[] = [];
      const path = '/api/traces';
      for (const service of names) {
        const answer = await sourceGet(config, path, {
          service,
          tags: Object.keys(tags).length === 0 ? undefined : JSON.stringify(tags),
          minDuration: durationParam(query.minMs),
          maxDuration: durationParam(query.maxMs),
          start: query.since === undefined ? undefined : String(Math.floor(query.since / 1e3)),
          end: query.until === undefined ? undefined : String(Math.ceil(query.until / 1e3)),
          limit: String(query.limit),
        });
        if (answer.status === 404) throw incompatible(config, path, '404 (no search API)');
        const body = answerJson(config, path, answer);
        if (!isObject(body) || (body.data !== null && body.data !== undefined && !Array.isArray(body.data))) {
          throw incompatible(config, path, 'expected {"data": [traces]}');
        }
        if (Array.isArray(body.data) && body.data.length > 0) bodies.push(answer.text);
      }
      return { bodies, traceIds: [] };
    },
    async traceBody(traceId) {
      const id = fullTraceId(traceId);
      const path = (await hasV3()) ? `/api/v3/traces/${id}` : `/api/traces/${id}`;
      const answer = await sourceGet(config, path);
      return answer.status === 404 ? undefined : answer.text;
    },
  };
}

/** The query API of a configured source. */
export function backendFor(config: SourceConfig): TraceBackend {
  return config.kind === 'tempo' ? tempoBackend(config) : jaegerBackend(config);
}
