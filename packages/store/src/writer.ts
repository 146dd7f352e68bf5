import type { Attributes, Span, TraceSummary } from '@lifeline/core';
import { summarizeTrace } from '@lifeline/core';
import type { SqliteDatabase } from './database.js';
import { rowToSpan, type SpanRow } from './span-rows.js';

/** What one {@link SpanWriter.write} did. */
export interface WriteResult {
  /** Spans stored by this call. */
  readonly inserted: number;
  /** Spans skipped because a span with the same trace and span id was already stored. */
  readonly duplicates: number;
  /** Distinct traces whose summary was written or updated. */
  readonly traces: number;
}

/**
 * A trace this large that keeps receiving spans without its root is updated
 * with cheap counters only; re-summarising it on every batch would make
 * ingesting one huge trace quadratic. The root span (which a BatchSpanProcessor
 * delivers last, since it ends last) triggers the full summary.
 */
const INCREMENTAL_ABOVE_SPANS = 2000;

const SPAN_COLUMNS = `s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service, s.start_ns, s.end_ns,
  s.status_code, s.status_message, s.attributes, s.events, s.links, s.resource_id, r.attributes AS resource,
  s.scope_name, s.scope_version`;

/** SQL that reads all spans of one trace with their resource, in start order. */
export const SELECT_TRACE_SPANS = `SELECT ${SPAN_COLUMNS} FROM spans s LEFT JOIN resources r ON r.id = s.resource_id
  WHERE s.trace_id = ? ORDER BY s.start_ns, s.span_id`;

/**
 * Writes batches of spans, each in one transaction, and keeps the per-trace
 * summaries of the list view current. Prepared statements live as long as
 * the writer.
 */
export class SpanWriter {
  readonly #db: SqliteDatabase;
  readonly #insertSpan;
  readonly #insertLink;
  readonly #insertResource;
  readonly #selectResource;
  readonly #selectTraceSize;
  readonly #selectSpans;
  readonly #upsertSummary;
  readonly #incrementSummary;
  readonly #readSeq;
  readonly #writeSeq;
  readonly #resourceIds = new Map<string, number>();
  readonly #transaction: (spans: readonly Span[]) => WriteResult;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#insertSpan = db.prepare(
      `INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns,
        status_code, status_message, attributes, events, links, resource_id, scope_name, scope_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertLink = db.prepare(
      'INSERT OR IGNORE INTO links (trace_id, span_id, linked_trace_id, linked_span_id) VALUES (?, ?, ?, ?)',
    );
    this.#insertResource = db.prepare('INSERT OR IGNORE INTO resources (attributes) VALUES (?)');
    this.#selectResource = db.prepare('SELECT id FROM resources WHERE attributes = ?').pluck();
    this.#selectTraceSize = db.prepare('SELECT span_count FROM traces WHERE trace_id = ?').pluck();
    this.#selectSpans = db.prepare(SELECT_TRACE_SPANS);
    this.#upsertSummary = db.prepare(
      `INSERT INTO traces (trace_id, root_service, root_name, method, route, status_code, start_ns, duration_ns,
        span_count, db_count, http_count, cache_count, queue_count, internal_count, error, serial_calls, par_groups,
        n_plus_one, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (trace_id) DO UPDATE SET root_service = excluded.root_service, root_name = excluded.root_name,
        method = excluded.method, route = excluded.route, status_code = excluded.status_code,
        start_ns = excluded.start_ns, duration_ns = excluded.duration_ns, span_count = excluded.span_count,
        db_count = excluded.db_count, http_count = excluded.http_count, cache_count = excluded.cache_count,
        queue_count = excluded.queue_count, internal_count = excluded.internal_count, error = excluded.error,
        serial_calls = excluded.serial_calls, par_groups = excluded.par_groups, n_plus_one = excluded.n_plus_one,
        seq = excluded.seq`,
    );
    // Right-hand sides see the old row, so the new extent is computed from the old start and end.
    this.#incrementSummary = db.prepare(
      `UPDATE traces SET span_count = span_count + ?, start_ns = min(start_ns, ?),
        duration_ns = max(start_ns + duration_ns, ?) - min(start_ns, ?), error = max(error, ?), seq = ?
       WHERE trace_id = ?`,
    );
    this.#readSeq = db.prepare("SELECT value FROM meta WHERE key = 'seq'").pluck();
    this.#writeSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'seq'");
    const run = db.transaction((spans: readonly Span[]) => this.#write(spans));
    this.#transaction = (spans) => run.immediate(spans);
  }

  /**
   * Stores `spans` in one transaction (spans already stored are ignored) and
   * rewrites the summaries of the traces they belong to.
   */
  write(spans: readonly Span[]): WriteResult {
    try {
      return this.#transaction(spans);
    } catch (error) {
      // Resource ids cached during a rolled-back transaction may not exist.
      this.#resourceIds.clear();
      throw error;
    }
  }

  #resourceId(resource: Attributes, batchCache: Map<Attributes, number>): number {
    const known = batchCache.get(resource);
    if (known !== undefined) return known;
    const json = JSON.stringify(resource);
    let id = this.#resourceIds.get(json);
    if (id === undefined) {
      this.#insertResource.run(json);
      id = this.#selectResource.get(json) as number;
      if (this.#resourceIds.size > 1000) this.#resourceIds.clear();
      this.#resourceIds.set(json, id);
    }
    batchCache.set(resource, id);
    return id;
  }

  #write(spans: readonly Span[]): WriteResult {
    const fresh = new Map<string, Span[]>();
    const batchResources = new Map<Attributes, number>();
    let inserted = 0;
    for (const span of spans) {
      const { traceId, spanId } = span;
      const info = this.#insertSpan.run(
        traceId,
        spanId,
        span.parentSpanId || null,
        span.name,
        span.kind,
        span.serviceName,
        Math.round(span.startTimeNs),
        span.endTimeNs === undefined ? null : Math.round(span.endTimeNs),
        span.status.code,
        span.status.message ?? null,
        JSON.stringify(span.attributes),
        span.events.length === 0 ? null : JSON.stringify(span.events),
        span.links.length === 0 ? null : JSON.stringify(span.links),
        this.#resourceId(span.resource, batchResources),
        span.scope?.name ?? null,
        span.scope?.version ?? null,
      );
      if (info.changes === 0) continue;
      inserted++;
      const group = fresh.get(traceId);
      if (group === undefined) fresh.set(traceId, [span]);
      else group.push(span);
      for (const link of span.links) {
        if (link.traceId !== traceId) this.#insertLink.run(traceId, spanId, link.traceId, link.spanId);
      }
    }
    if (fresh.size === 0) return { inserted, duplicates: spans.length - inserted, traces: 0 };
    let seq = Number(this.#readSeq.get() ?? 0);
    for (const [traceId, added] of fresh) {
      seq++;
      const stored = this.#selectTraceSize.get(traceId) as number | undefined;
      if (stored === undefined) {
        // A trace first seen in this batch: all its spans are in memory.
        this.#saveSummary(summarizeTrace({ traceId, spans: added }), seq);
      } else if (stored >= INCREMENTAL_ABOVE_SPANS && !added.some((s) => !s.parentSpanId)) {
        this.#increment(traceId, added, seq);
      } else {
        this.#saveSummary(summarizeTrace({ traceId, spans: this.readTraceSpans(traceId) }), seq);
      }
    }
    this.#writeSeq.run(seq);
    return { inserted, duplicates: spans.length - inserted, traces: fresh.size };
  }

  /** All stored spans of one trace, in start order. */
  readTraceSpans(traceId: string): Span[] {
    const resources = new Map<number, Attributes>();
    return (this.#selectSpans.all(traceId) as SpanRow[]).map((row) => rowToSpan(row, resources));
  }

  #increment(traceId: string, added: readonly Span[], seq: number): void {
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    let error = 0;
    for (const span of added) {
      start = Math.min(start, span.startTimeNs);
      end = Math.max(end, span.endTimeNs ?? span.startTimeNs);
      if (span.status.code === 'error') error = 1;
    }
    this.#incrementSummary.run(
      added.length,
      Math.round(start),
      Math.round(end),
      Math.round(start),
      error,
      seq,
      traceId,
    );
  }

  #saveSummary(summary: TraceSummary, seq: number): void {
    this.#upsertSummary.run(
      summary.traceId,
      summary.rootService,
      summary.rootName,
      summary.method ?? null,
      summary.route ?? null,
      summary.statusCode ?? null,
      Math.round(summary.startTimeNs),
      Math.max(0, Math.round(summary.durationNs)),
      summary.spanCount,
      summary.counts.db,
      summary.counts.http,
      summary.counts.cache,
      summary.counts.queue,
      summary.counts.internal,
      summary.error ? 1 : 0,
      summary.serialCalls,
      summary.parGroups,
      summary.nPlusOne,
      seq,
    );
  }

  /** The database this writer writes to. */
  get database(): SqliteDatabase {
    return this.#db;
  }
}
