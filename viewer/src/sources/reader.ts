/**
 * A tracing backend read through a local cache: what a search or a trace
 * page fetches is imported into a store of that source's own (never the
 * recording database, and never written back), so the list, the diagrams,
 * the analysis and the exports run on the same code as for recorded traces.
 */
import type { Span } from '@lifeline/core';
import { openStore, parseTraceFile, type SpanStore, TraceFileError, type TraceFilter } from '@lifeline/store';
import { backendFor, type SourceQuery, type TraceBackend } from './backends.js';
import type { SourceConfig } from './config.js';
import { incompatible } from './http.js';

/** Traces fetched at once from a backend that answers a search with ids only. */
const PARALLEL_FETCHES = 4;

/** Options of {@link SourceReader}. */
export interface SourceReaderOptions {
  /** The cache (default: a private in-memory store). */
  readonly cache?: SpanStore;
  /** The query API (default: the one of `config.kind`); tests may pass their own. */
  readonly backend?: TraceBackend;
}

/** One backend with its cache. */
export class SourceReader {
  readonly config: SourceConfig;
  /** The traces fetched so far from this source, and only those. */
  readonly cache: SpanStore;
  private readonly backend: TraceBackend;

  constructor(config: SourceConfig, options: SourceReaderOptions = {}) {
    this.config = config;
    this.cache = options.cache ?? openStore({ path: ':memory:' });
    this.backend = options.backend ?? backendFor(config);
  }

  /** The services the backend knows. @throws SourceError when it cannot be read. */
  services(): Promise<string[]> {
    return this.backend.services();
  }

  /**
   * Searches the backend with the filters it supports and caches every trace
   * found; the caller then lists the cache with the full filter (which also
   * applies what the backend cannot filter on). Returns the ids found.
   *
   * @throws SourceError when the backend cannot be read or answers what it should not.
   */
  async search(filter: TraceFilter, limit: number): Promise<string[]> {
    const query: SourceQuery = {
      ...(filter.service === undefined ? {} : { service: filter.service }),
      ...(filter.route === undefined ? {} : { route: filter.route }),
      ...(filter.method === undefined ? {} : { method: filter.method }),
      ...(filter.minMs === undefined ? {} : { minMs: filter.minMs }),
      ...(filter.maxMs === undefined ? {} : { maxMs: filter.maxMs }),
      ...(filter.error === true ? { error: true } : {}),
      ...(filter.since === undefined ? {} : { since: filter.since }),
      ...(filter.until === undefined ? {} : { until: filter.until }),
      limit,
    };
    const found = await this.backend.search(query);
    const ids = new Set<string>();
    for (const body of found.bodies) {
      for (const id of this.store(body, '/api/traces', true)) ids.add(id);
    }
    const missing = found.traceIds.filter((id) => {
      ids.add(id);
      return this.cache.getTrace(id) === undefined;
    });
    for (let start = 0; start < missing.length; start += PARALLEL_FETCHES) {
      await Promise.all(missing.slice(start, start + PARALLEL_FETCHES).map((id) => this.fetch(id)));
    }
    return [...ids];
  }

  /**
   * Makes sure the trace is in the cache, fetching it when it is not.
   * Returns false when the backend has no such trace.
   *
   * @throws SourceError when the backend cannot be read or its body is no trace.
   */
  async ensureTrace(traceId: string): Promise<boolean> {
    const id = traceId.toLowerCase().padStart(32, '0');
    if (this.cache.getTrace(id) !== undefined) return true;
    return this.fetch(id);
  }

  private async fetch(traceId: string): Promise<boolean> {
    const body = await this.backend.traceBody(traceId);
    if (body === undefined) return false;
    return this.store(body, `/api/traces/${traceId}`, false).length > 0;
  }

  /** Imports a body into the cache, trace by trace, skipping traces already there; returns the trace ids it held. */
  private store(body: string, path: string, skipCached: boolean): string[] {
    let spans: Span[];
    try {
      spans = parseTraceFile(body).spans;
    } catch (error) {
      if (error instanceof TraceFileError) throw incompatible(this.config, path, `not a trace (${error.problem})`);
      throw error;
    }
    const byTrace = new Map<string, Span[]>();
    for (const span of spans) {
      const list = byTrace.get(span.traceId) ?? [];
      list.push(span);
      byTrace.set(span.traceId, list);
    }
    for (const [id, list] of byTrace) {
      if (skipCached && this.cache.getTrace(id) !== undefined) continue;
      this.cache.writeSpans(list);
    }
    return [...byTrace.keys()];
  }

  close(): void {
    this.cache.close();
  }
}
