import type { EndpointStats, Span, Trace, TraceSummary } from '@lifeline/core';
import { normalizePath, REQUEST_ROOT_KINDS } from '@lifeline/core';
import { defaultDbPath, openDatabase, type SqliteDatabase } from './database.js';
import { type EndpointFilter, type EndpointRef, endpointTraceIds, listEndpoints } from './endpoints.js';
import { StoreError } from './errors.js';
import { rowToSpan, rowToSummary, type TraceRow } from './span-rows.js';
import { SELECT_TRACE_SPANS, SpanWriter, type WriteResult } from './span-writer.js';

/** Which traces {@link SpanStore.listTraces} returns. Every field narrows the list. */
export interface TraceFilter {
  /** The root span's service, or any span's service in the trace. */
  readonly service?: string;
  /**
   * The root request's route as the list shows it: its route template (e.g.
   * `/articles/:id`), or, when the request carried none, its normalised path
   * (`/book`, `/articles/:id` for `/articles/42`) or its name.
   */
  readonly route?: string;
  /** HTTP method of the root request (case-insensitive). */
  readonly method?: string;
  /** HTTP status code of the root request. */
  readonly status?: number;
  /** Wall time at least this many milliseconds. */
  readonly minMs?: number;
  /** Wall time at most this many milliseconds. */
  readonly maxMs?: number;
  /** Only traces with (true) or without (false) an error span. */
  readonly error?: boolean;
  /** Text that some span name of the trace contains (case-insensitive). */
  readonly q?: string;
  /** Started at or after this time, in ns since the epoch. */
  readonly since?: number;
  /** Started at or before this time, in ns since the epoch. */
  readonly until?: number;
  /**
   * Which work to list (default `all`): `requests` are traces whose root is
   * a server or consumer span (an incoming call, a processed message or
   * job); `background` is every other trace (start-up queries, timers, a
   * queue library's housekeeping). The rule is core's `isRequestRoot`.
   */
  readonly work?: TraceWork;
}

/** Which traces a {@link TraceFilter} lists by their root: requests, background work, or both. */
export type TraceWork = 'requests' | 'background' | 'all';

/** The filter values {@link TraceFilter.work} accepts, for parsers of user input. */
export const traceWorkValues: readonly TraceWork[] = ['requests', 'background', 'all'];

// Constants rather than parameters, so that SQLite can use the partial index
// on requests (its WHERE clause must appear in the query as written).
const requestKindsSql = `(${REQUEST_ROOT_KINDS.map((kind) => `'${kind}'`).join(', ')})`;

/** One page request for {@link SpanStore.listTraces}. */
export interface TracePage {
  /** Page size, 1..1000 (default 50); a value outside is clamped into that range, a fraction rounded down. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** Newest first (default) or slowest first. */
  readonly order?: 'newest' | 'slowest';
  /**
   * Most traces one call examines span by span for the filters that look into
   * spans (`q`, `service`), default {@link MAX_SCANNED_TRACES}. Past it the
   * page ends early with `stoppedAfterTraces` and a cursor to go on from.
   */
  readonly maxScannedTraces?: number;
}

/**
 * Traces one list call examines span by span (text or service filters) by
 * default: a filter that matches little would otherwise read every span of
 * the store in one call, for seconds on a store of a million spans.
 */
const MAX_SCANNED_TRACES = 20_000;

/** Traces examined per statement while scanning: each statement is short, whatever the filter. */
const SCAN_WINDOW = 1000;

/** A page of trace summaries; `nextCursor` is absent on the last page. */
export interface TraceList {
  readonly items: TraceSummary[];
  readonly nextCursor?: string;
  /**
   * Set when a filter that looks into spans stopped after examining this many
   * traces (see {@link TracePage.maxScannedTraces}) before the page was full:
   * `nextCursor` goes on from the last trace examined. A narrower filter
   * (a time range, a route, a service) finds more in one call.
   */
  readonly stoppedAfterTraces?: number;
}

/** Summaries written after a sequence number; pass `seq` back to get the next ones. */
export interface TraceChanges {
  readonly seq: number;
  readonly items: TraceSummary[];
}

/** How {@link SpanStore.getTrace} reads a trace. */
export interface GetTraceOptions {
  /** Also read the traces linked to it downstream (see {@link SpanStore.getTrace}). Default false. */
  readonly linked?: boolean;
  /**
   * Read at most this many spans, the earliest started first (linked traces'
   * spans count too): a trace of hundreds of thousands of spans costs seconds
   * and gigabytes to read whole. Default: no limit.
   */
  readonly maxSpans?: number;
}

/** What {@link SpanStore.prune} keeps. Omitted limits do not apply; given several, all of them hold afterwards. */
export interface RetentionPolicy {
  /** Keep at most this many traces, the most recently started (a fraction rounds down, below 0 counts as 0). */
  readonly maxTraces?: number;
  /** Delete traces that started more than this many days (of 24 hours) ago; fractions allowed. */
  readonly maxAgeDays?: number;
  /**
   * Delete the oldest traces until the database, WAL included, is at most this
   * many MiB (1 MiB = 1,048,576 bytes), as {@link StoreStats.sizeBytes} counts it.
   */
  readonly maxSizeMb?: number;
}

/** Size of the store. */
export interface StoreStats {
  readonly traces: number;
  readonly spans: number;
  /** Database size (page count × page size), WAL content included. */
  readonly sizeBytes: number;
  /**
   * Spans that recording processes reported lost before they reached the
   * store (their export queue was full), summed over all of them.
   */
  readonly droppedSpans: number;
}

/** Spans waiting in a file's inbox that a store could not settle (see {@link SpanStore.unsettled}). */
export interface UnsettledSpans {
  /** Spans waiting in the inbox. */
  readonly spans: number;
  /** Why they could not be stored: SQLite's message (e.g. "attempt to write a readonly database"). */
  readonly reason: string;
}

/**
 * The span store: one SQLite file holding spans and a per-trace summary.
 * Obtain one with {@link openStore}.
 */
export interface SpanStore {
  /** The database file. */
  readonly path: string;
  /**
   * Stores spans in one transaction (known ids are ignored) and updates the
   * summaries of their traces. Returns how many were new and how many were
   * already stored (or repeated in `spans`).
   *
   * @throws {StoreError} `read-only` when the store was opened read-only.
   * @throws SQLite's own error (better-sqlite3's `SqliteError`, e.g. `SQLITE_BUSY`
   *   past the busy timeout, `SQLITE_FULL`) when the write fails; nothing of it is kept.
   */
  writeSpans(spans: readonly Span[]): WriteResult;
  /**
   * A page of trace summaries matching `filter`, newest or slowest first, with keyset pagination.
   *
   * @throws {StoreError} `bad-cursor` when `page.cursor` is not a cursor this
   *   store gave for the same `order`.
   */
  listTraces(filter?: TraceFilter, page?: TracePage): TraceList;
  /**
   * All spans of a trace. With `linked`, also the spans of the traces whose
   * spans link into it (consumers of its messages that started traces of
   * their own), and of those linking into them in turn: at most
   * {@link MAX_LINKED_TRACES} (50) traces in all, `traceId` included, taken
   * breadth first and the earliest started first at each step; past that,
   * further linked traces are left out without an error. Links are
   * followed downstream only, so a batch consumer's read never pulls in the
   * hundreds of traces its messages came from. Draw the result with the core,
   * which keeps of it what belongs in the picture of `traceId`.
   */
  getTrace(traceId: string, options?: GetTraceOptions): Trace | undefined;
  /** How many spans a trace holds, from its summary (no span is read); undefined when there is no such trace. */
  traceSpanCount(traceId: string): number | undefined;
  /**
   * A page of a trace's spans in start order: `limit` (1..10,000, default
   * 1,000) spans after the first `offset`. For reading a trace too large to
   * read whole a page at a time.
   */
  getSpans(traceId: string, page?: { readonly offset?: number; readonly limit?: number }): Span[];
  /** The most recently started trace matching `filter` (read as {@link SpanStore.getTrace} reads it). */
  latestTrace(filter?: TraceFilter, options?: GetTraceOptions): Trace | undefined;
  /** Endpoints (requests grouped by service and what was asked for) with their figures, in name order. */
  listEndpoints(filter?: EndpointFilter): EndpointStats[];
  /** Ids of an endpoint's requests, newest first (at most `limit`, default 200). */
  endpointTraceIds(endpoint: EndpointRef, filter?: EndpointFilter & { readonly limit?: number }): string[];
  /**
   * Summaries inserted or updated after `seq`, oldest change first: at most
   * `limit` of them (default 500; clamped to 1..5000, a fraction rounded
   * down). Pass the returned `seq` back for the next ones; it is the position
   * in the store's change log, not a count or a time.
   */
  changesSince(seq: number, options?: { limit?: number }): TraceChanges;
  /**
   * The sequence number of the newest change: where a listener that wants
   * only what happens from now on starts `changesSince`. Read from the
   * position every write records (and the `seq` index), never by walking the
   * changes, so it costs the same whatever the store holds.
   */
  headSeq(): number;
  /**
   * Deletes the oldest traces until the policy holds, in small transactions,
   * and returns how many traces it deleted.
   *
   * @throws {StoreError} `read-only` when the store was opened read-only.
   */
  prune(policy: RetentionPolicy): { deletedTraces: number };
  /** Counts of traces and spans, the size of the file in bytes and the spans recorders lost. */
  stats(): StoreStats;
  /**
   * The spans an app appended to the file that this store's last read could
   * not store under their keys, and why (the file cannot be written by this
   * process, the disk is full, another writer held the lock past the busy
   * timeout). Reads go on with what is stored; a later read tries again.
   * Undefined when nothing was held back.
   */
  unsettled(): UnsettledSpans | undefined;
  /**
   * Adds to the count of spans a recording process lost before they reached
   * the store, so that readers of the file learn of the loss.
   *
   * @throws {StoreError} `read-only` when the store was opened read-only.
   */
  recordDroppedSpans(count: number): void;
  /** Closes the database; every other method throws afterwards (better-sqlite3's "database connection is not open"). */
  close(): void;
}

/** How to open a store. */
export interface OpenStoreOptions {
  /** Database file (default {@link defaultDbPath}). */
  readonly path?: string;
  /** Open for reading only: no migration, writes throw. */
  readonly readonly?: boolean;
  /** Run pending migrations when opening for writing (default true). */
  readonly migrate?: boolean;
}

/**
 * Opens (and creates, unless `readonly`) the Lifeline database.
 *
 * @example
 * ```ts
 * const store = openStore({ path: '.lifeline/traces.db' });
 * const { items } = store.listTraces({ minMs: 200 }, { order: 'slowest', limit: 20 });
 * const trace = store.getTrace(items[0].traceId, { linked: true });
 * store.close();
 * ```
 */
export function openStore(options: OpenStoreOptions = {}): SpanStore {
  const path = options.path ?? defaultDbPath();
  const db = openDatabase(path, {
    readonly: options.readonly ?? false,
    migrate: options.migrate ?? true,
  });
  return new SqliteSpanStore(path, db, options.readonly ?? false);
}

const DELETE_CHUNK = 500;
/** How long a store waits after a failed settle before a read tries again (ms): a full disk or a lock does not clear in a read's time. */
const SETTLE_RETRY_MS = 2000;
/** Most traces {@link SpanStore.getTrace} reads for one trace with `linked`, the trace itself included. */
export const MAX_LINKED_TRACES = 50;
const NS_PER_MS = 1e6;

interface Cursor {
  readonly order: 'newest' | 'slowest';
  /**
   * The ordering key of the last row as SQLite writes it as text: integer
   * digits (exact beyond 2^53), a real's text such as `1.0e+30` (a database
   * written before times were range-checked), or null.
   */
  readonly key: string | null;
  readonly traceId: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.order, cursor.key, cursor.traceId])).toString('base64url');
}

/** Integer digits, or the text SQLite gives a real (`1.0e+30`, `-5.5`). */
const CURSOR_KEY = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/;

/**
 * A cursor key as the value to compare with: an integer key as a bigint
 * (exact), a real one as the number it was written from, so the next page
 * starts right after the last row whatever type SQLite holds in the column.
 */
function cursorValue(key: string): bigint | number {
  return /^-?\d+$/.test(key) ? BigInt(key) : Number(key);
}

function decodeCursor(text: string, order: 'newest' | 'slowest'): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    (parsed[0] !== 'newest' && parsed[0] !== 'slowest') ||
    !(parsed[1] === null || (typeof parsed[1] === 'string' && CURSOR_KEY.test(parsed[1]))) ||
    typeof parsed[2] !== 'string'
  ) {
    throw new StoreError('bad-cursor', `Invalid page cursor: ${JSON.stringify(text)}`);
  }
  if (parsed[0] !== order) {
    throw new StoreError('bad-cursor', `The page cursor belongs to order "${parsed[0]}", not "${order}"`);
  }
  return { order, key: parsed[1], traceId: parsed[2] };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** SQL conditions (over `traces t`) and their parameters for a filter. */
function filterClauses(filter: TraceFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.service !== undefined) {
    where.push(
      '(t.root_service = ? OR EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND s.service = ?))',
    );
    params.push(filter.service, filter.service);
  }
  if (filter.route !== undefined) {
    // A request recorded without a route template (a Zipkin import, a server
    // without a router) is listed under the normalised path of its label,
    // "POST /book"; the filter finds what the list shows. A raw path given
    // as the filter is normalised the same way.
    const normalized = normalizePath(filter.route);
    where.push(
      `(t.route = ? OR (t.route IS NULL AND CASE WHEN t.method IS NULL THEN t.root_name = ?
        ELSE t.root_name IN (t.method || ' ' || ?, t.method || ' ' || ?) END))`,
    );
    params.push(filter.route, filter.route, filter.route, normalized);
  }
  if (filter.method !== undefined) {
    where.push('t.method = ?');
    params.push(filter.method.toUpperCase());
  }
  if (filter.status !== undefined) {
    where.push('t.status_code = ?');
    params.push(filter.status);
  }
  if (filter.minMs !== undefined) {
    where.push('t.duration_ns >= ?');
    params.push(Math.ceil(filter.minMs * NS_PER_MS));
  }
  if (filter.maxMs !== undefined) {
    where.push('t.duration_ns <= ?');
    params.push(Math.floor(filter.maxMs * NS_PER_MS));
  }
  if (filter.error !== undefined) {
    where.push('t.error = ?');
    params.push(filter.error ? 1 : 0);
  }
  if (filter.q !== undefined && filter.q !== '') {
    where.push("EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id AND s.name LIKE ? ESCAPE '\\')");
    params.push(`%${escapeLike(filter.q)}%`);
  }
  if (filter.work === 'requests') {
    where.push(`t.root_kind IN ${requestKindsSql}`);
  } else if (filter.work === 'background') {
    where.push(`(t.root_kind IS NULL OR t.root_kind NOT IN ${requestKindsSql})`);
  }
  if (filter.since !== undefined) {
    where.push('t.start_ns >= ?');
    params.push(Math.ceil(filter.since));
  }
  if (filter.until !== undefined) {
    where.push('t.start_ns <= ?');
    params.push(Math.floor(filter.until));
  }
  return { where, params };
}

class SqliteSpanStore implements SpanStore {
  readonly path: string;
  readonly #db: SqliteDatabase;
  readonly #readonly: boolean;
  #writer: SpanWriter | undefined;
  readonly #selectSpans;
  readonly #selectSpanPage;

  /** Whether the file has an inbox (schema 5 and later; a read-only store may be older). */
  readonly #hasInbox: boolean;
  /** The writer that settles the inbox: this store's own, or, read-only, one on a connection of its own. */
  #settler: SpanWriter | undefined;
  /** Why the last attempt to settle failed (SQLite's message); undefined after one that succeeded. */
  #settleFailure: string | undefined;
  /** When (Date.now()) settling may be tried again after a failure. */
  #settleRetryAt = 0;

  constructor(path: string, db: SqliteDatabase, readonly: boolean) {
    this.path = path;
    this.#db = db;
    this.#readonly = readonly;
    this.#hasInbox =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'inbox'").pluck().get() !== undefined;
    this.#selectSpans = db.prepare(SELECT_TRACE_SPANS).safeIntegers(true);
    this.#selectSpanPage = db.prepare(`${SELECT_TRACE_SPANS} LIMIT ? OFFSET ?`).safeIntegers(true);
  }

  /**
   * Settles the inbox before a read, so that what the app appended is read
   * as if it had been stored under its keys (see the `span-inbox`
   * migration). A read-only store settles through a connection of its own
   * opened for writing. When the write fails, the read goes on with what is
   * stored (see {@link SpanStore.unsettled}) and settling is tried again
   * {@link SETTLE_RETRY_MS} later.
   */
  #settleInbox(): void {
    if (!this.#hasInbox || Date.now() < this.#settleRetryAt) return;
    try {
      let settler = this.#settler;
      if (settler === undefined) {
        if (!this.#readonly) {
          this.#writer ??= new SpanWriter(this.#db);
          settler = this.#writer;
        } else {
          // Most reads of a read-only store find nothing to settle: look before opening a second connection.
          if (this.#db.prepare('SELECT 1 FROM inbox LIMIT 1').pluck().get() === undefined) return;
          settler = new SpanWriter(openDatabase(this.path, { migrate: false }));
        }
        this.#settler = settler;
      }
      if (!settler.inboxPending()) {
        this.#settleFailure = undefined;
        return;
      }
      while (settler.settleInbox() !== undefined) {
        // One transaction per SETTLE_SPANS rows, so an app appending meanwhile waits milliseconds.
      }
      this.#settleFailure = undefined;
    } catch (error) {
      // Whatever stops the write (a file this process may not write, a full
      // disk, a lock held past the busy timeout, a connection that cannot be
      // opened) leaves the rows in the inbox for a later read or another
      // reader; this read answers with what is stored and says so through
      // unsettled(). Each failed transaction rolled back whole.
      this.#settleFailure = error instanceof Error ? error.message : String(error);
      this.#settleRetryAt = Date.now() + SETTLE_RETRY_MS;
    }
  }

  unsettled(): UnsettledSpans | undefined {
    if (this.#settleFailure === undefined) return undefined;
    const spans = this.#db.prepare('SELECT count(*) FROM inbox').pluck().get() as number;
    return spans === 0 ? undefined : { spans, reason: this.#settleFailure };
  }

  writeSpans(spans: readonly Span[]): WriteResult {
    if (this.#readonly) throw new StoreError('read-only', `${this.path} was opened read-only`);
    if (spans.length === 0) return { inserted: 0, duplicates: 0, conflicts: 0, conflictExamples: [], traces: 0 };
    this.#writer ??= new SpanWriter(this.#db);
    return this.#writer.write(spans);
  }

  listTraces(filter: TraceFilter = {}, page: TracePage = {}): TraceList {
    this.#settleInbox();
    if ((filter.q !== undefined && filter.q !== '') || filter.service !== undefined) {
      return this.#scanTraces(filter, page);
    }
    return this.#listPage(filter, page);
  }

  /**
   * A page for filters that look into spans, read a window of
   * {@link SCAN_WINDOW} candidate traces (by the other filters, in list
   * order) at a time, so that no statement examines more than a window's
   * spans and the call stops after `maxScannedTraces`.
   */
  #scanTraces(filter: TraceFilter, page: TracePage): TraceList {
    const limit = Math.min(1000, Math.max(1, Math.floor(page.limit ?? 50)));
    const maxScanned = Math.max(SCAN_WINDOW, Math.floor(page.maxScannedTraces ?? MAX_SCANNED_TRACES));
    const { q: _q, service: _service, ...outer } = filter;
    const spanFilter: TraceFilter = {
      ...(filter.q === undefined ? {} : { q: filter.q }),
      ...(filter.service === undefined ? {} : { service: filter.service }),
    };
    const order = page.order ?? 'newest';
    const items: TraceSummary[] = [];
    let cursor = page.cursor;
    let scanned = 0;
    for (;;) {
      const window = this.#listPage(outer, { order, limit: SCAN_WINDOW, ...(cursor === undefined ? {} : { cursor }) });
      scanned += window.items.length;
      if (window.items.length > 0) {
        const ids = window.items.map((item) => item.traceId);
        const matched = new Set(this.#matchingIds(ids, spanFilter));
        for (const item of window.items) {
          if (!matched.has(item.traceId)) continue;
          items.push(item);
          if (items.length > limit) {
            const last = items[limit - 1] as TraceSummary;
            return { items: items.slice(0, limit), nextCursor: this.#cursorAt(last.traceId, order) };
          }
        }
      }
      if (window.nextCursor === undefined) return { items };
      cursor = window.nextCursor;
      if (scanned >= maxScanned) return { items, nextCursor: cursor, stoppedAfterTraces: scanned };
    }
  }

  /** Which of the given traces match the span-level filters. */
  #matchingIds(ids: readonly string[], filter: TraceFilter): string[] {
    const { where, params } = filterClauses(filter);
    const rows = this.#db
      .prepare(
        `SELECT t.trace_id AS id FROM traces t WHERE t.trace_id IN (SELECT value FROM json_each(?)) AND ${where.join(' AND ')}`,
      )
      .all(JSON.stringify(ids), ...params) as { id: string }[];
    return rows.map((row) => row.id);
  }

  /** The cursor that continues a list right after the given trace. */
  #cursorAt(traceId: string, order: 'newest' | 'slowest'): string {
    const keyColumn = order === 'newest' ? 'start_ns' : 'duration_ns';
    const row = this.#db
      .prepare(`SELECT CAST(${keyColumn} AS TEXT) AS key FROM traces WHERE trace_id = ?`)
      .get(traceId) as { key: string | null } | undefined;
    return encodeCursor({ order, key: row?.key ?? null, traceId });
  }

  #listPage(filter: TraceFilter, page: TracePage): TraceList {
    const order = page.order ?? 'newest';
    const limit = Math.min(1000, Math.max(1, Math.floor(page.limit ?? 50)));
    const keyColumn = order === 'newest' ? 't.start_ns' : 't.duration_ns';
    const { where, params } = filterClauses(filter);
    if (page.cursor !== undefined) {
      const cursor = decodeCursor(page.cursor, order);
      if (cursor.key === null) {
        // NULL sorts below every value: past a NULL key only other NULL keys remain.
        where.push(`(${keyColumn} IS NULL AND t.trace_id < ?)`);
        params.push(cursor.traceId);
      } else {
        const key = cursorValue(cursor.key);
        where.push(`(${keyColumn} < ? OR (${keyColumn} = ? AND t.trace_id < ?) OR ${keyColumn} IS NULL)`);
        params.push(key, key, cursor.traceId);
      }
    }
    const sql = `SELECT t.*, CAST(${keyColumn} AS TEXT) AS page_key FROM traces t
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${keyColumn} DESC, t.trace_id DESC LIMIT ?`;
    const rows = this.#db
      .prepare(sql)
      .safeIntegers(true)
      .all(...params, limit + 1) as (TraceRow & { page_key: string | null })[];
    const more = rows.length > limit;
    const pageRows = more ? rows.slice(0, limit) : rows;
    const items = pageRows.map(rowToSummary);
    const last = pageRows.at(-1);
    if (!more || last === undefined) return { items };
    return { items, nextCursor: encodeCursor({ order, key: last.page_key, traceId: last.trace_id }) };
  }

  #spansOf(traceId: string, limit?: number, offset = 0): Span[] {
    const resources = new Map();
    const rows =
      limit === undefined ? this.#selectSpans.all(traceId) : this.#selectSpanPage.all(traceId, limit, offset);
    return (rows as Parameters<typeof rowToSpan>[0][]).map((row) => rowToSpan(row, resources));
  }

  traceSpanCount(traceId: string): number | undefined {
    this.#settleInbox();
    const row = this.#db.prepare('SELECT span_count FROM traces WHERE trace_id = ?').get(traceId.toLowerCase()) as
      | { span_count: number }
      | undefined;
    return row?.span_count;
  }

  getSpans(traceId: string, page: { readonly offset?: number; readonly limit?: number } = {}): Span[] {
    this.#settleInbox();
    const limit = Math.min(10_000, Math.max(1, Math.floor(page.limit ?? 1000)));
    return this.#spansOf(traceId.toLowerCase(), limit, Math.max(0, Math.floor(page.offset ?? 0)));
  }

  getTrace(traceId: string, options: GetTraceOptions = {}): Trace | undefined {
    this.#settleInbox();
    const id = traceId.toLowerCase();
    const maxSpans = options.maxSpans === undefined ? undefined : Math.max(1, Math.floor(options.maxSpans));
    const spans = this.#spansOf(id, maxSpans);
    if (spans.length === 0) return undefined;
    if (options.linked !== true || (maxSpans !== undefined && spans.length >= maxSpans)) return { traceId: id, spans };
    // Traces with a span linking into this one (a consumer that started its own
    // trace), earliest first, so the bound keeps the same ones on every read.
    const downstream = this.#db.prepare(
      `SELECT l.trace_id AS id FROM links l LEFT JOIN traces t ON t.trace_id = l.trace_id
       WHERE l.linked_trace_id = ? AND l.trace_id <> l.linked_trace_id
       GROUP BY l.trace_id ORDER BY MIN(t.start_ns), l.trace_id LIMIT ?`,
    );
    // Breadth-first: the consumers of this trace's messages, then theirs.
    // Only downstream: following links upstream from a batch consumer would
    // read every trace of the batch, none of which the picture draws.
    const seen = new Set([id]);
    const queue = [id];
    const all = [...spans];
    while (queue.length > 0 && seen.size < MAX_LINKED_TRACES) {
      const current = queue.shift() as string;
      const rows = downstream.all(current, MAX_LINKED_TRACES) as { id: string }[];
      for (const row of rows) {
        if (seen.has(row.id) || seen.size >= MAX_LINKED_TRACES) continue;
        seen.add(row.id);
        const left = maxSpans === undefined ? undefined : maxSpans - all.length;
        if (left !== undefined && left <= 0) break;
        const linked = this.#spansOf(row.id, left);
        if (linked.length === 0) continue;
        all.push(...linked);
        queue.push(row.id);
      }
    }
    all.sort((a, b) => (a.startTimeNs < b.startTimeNs ? -1 : a.startTimeNs > b.startTimeNs ? 1 : 0));
    return { traceId: id, spans: all };
  }

  latestTrace(filter: TraceFilter = {}, options: GetTraceOptions = {}): Trace | undefined {
    const first = this.listTraces(filter, { limit: 1 }).items[0];
    return first === undefined ? undefined : this.getTrace(first.traceId, options);
  }

  listEndpoints(filter: EndpointFilter = {}): EndpointStats[] {
    this.#settleInbox();
    return listEndpoints(this.#db, filter);
  }

  endpointTraceIds(endpoint: EndpointRef, filter: EndpointFilter & { readonly limit?: number } = {}): string[] {
    this.#settleInbox();
    return endpointTraceIds(this.#db, endpoint, filter);
  }

  headSeq(): number {
    this.#settleInbox();
    const row = this.#db
      .prepare(
        `SELECT max(coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq'), 0),
                    coalesce((SELECT max(seq) FROM traces), 0))`,
      )
      .pluck()
      .get() as number | null;
    return Number(row ?? 0);
  }

  changesSince(seq: number, options: { limit?: number } = {}): TraceChanges {
    this.#settleInbox();
    const limit = Math.min(5000, Math.max(1, Math.floor(options.limit ?? 500)));
    const rows = this.#db
      .prepare('SELECT * FROM traces WHERE seq > ? ORDER BY seq LIMIT ?')
      .safeIntegers(true)
      .all(Math.floor(seq), limit) as TraceRow[];
    const last = rows.at(-1);
    return { seq: last === undefined ? seq : Number(last.seq), items: rows.map(rowToSummary) };
  }

  #deleteOldest(count: number, extraWhere = '', params: unknown[] = []): number {
    const ids = this.#db
      .prepare(`SELECT trace_id FROM traces ${extraWhere} ORDER BY start_ns, trace_id LIMIT ?`)
      .pluck()
      .all(...params, count) as string[];
    if (ids.length === 0) return 0;
    const deleteSpans = this.#db.prepare('DELETE FROM spans WHERE trace_id = ?');
    const deleteLinks = this.#db.prepare('DELETE FROM links WHERE trace_id = ?');
    const deleteTrace = this.#db.prepare('DELETE FROM traces WHERE trace_id = ?');
    this.#db
      .transaction(() => {
        for (const id of ids) {
          deleteSpans.run(id);
          deleteLinks.run(id);
          deleteTrace.run(id);
        }
      })
      .immediate();
    return ids.length;
  }

  #sizeBytes(): number {
    const pageCount = this.#db.pragma('page_count', { simple: true }) as number;
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
    return pageCount * pageSize;
  }

  prune(policy: RetentionPolicy): { deletedTraces: number } {
    this.#settleInbox();
    if (this.#readonly) throw new StoreError('read-only', `${this.path} was opened read-only`);
    let deleted = 0;
    // Small transactions: a writer in another process waits for one chunk at most.
    if (policy.maxAgeDays !== undefined) {
      const cutoff = Math.floor(Date.now() * NS_PER_MS - policy.maxAgeDays * 86_400e9);
      for (;;) {
        const n = this.#deleteOldest(DELETE_CHUNK, 'WHERE start_ns < ?', [cutoff]);
        deleted += n;
        if (n < DELETE_CHUNK) break;
      }
    }
    if (policy.maxTraces !== undefined) {
      const keep = Math.max(0, Math.floor(policy.maxTraces));
      for (;;) {
        const count = this.#db.prepare('SELECT count(*) FROM traces').pluck().get() as number;
        const excess = count - keep;
        if (excess <= 0) break;
        deleted += this.#deleteOldest(Math.min(DELETE_CHUNK, excess));
      }
    }
    if (policy.maxSizeMb !== undefined) {
      const limit = policy.maxSizeMb * 1024 * 1024;
      this.#reclaim();
      for (let size = this.#sizeBytes(); size > limit; size = this.#sizeBytes()) {
        // Delete about as many traces as the excess is worth, so the store
        // ends just under the limit rather than a whole chunk below it.
        const traces = this.#db.prepare('SELECT count(*) FROM traces').pluck().get() as number;
        if (traces === 0) break;
        const perTrace = size / traces;
        const wanted = Math.min(DELETE_CHUNK, Math.max(1, Math.ceil((size - limit) / perTrace)));
        const n = this.#deleteOldest(wanted);
        if (n === 0) break;
        deleted += n;
        this.#reclaim();
      }
    }
    if (deleted > 0) this.#reclaim();
    return { deletedTraces: deleted };
  }

  /** Hands freed pages back to the file system and folds the WAL into the file. */
  #reclaim(): void {
    this.#db.pragma('incremental_vacuum');
    // A truncating checkpoint holds the write lock while it waits for
    // readers, so with the usual busy timeout a viewer in the middle of a
    // read would hold every writing app back. Without one it gives up at
    // once when a reader is there; a later checkpoint completes it.
    const timeout = this.#db.pragma('busy_timeout', { simple: true }) as number;
    this.#db.pragma('busy_timeout = 0');
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.#db.pragma(`busy_timeout = ${Number(timeout)}`);
    }
  }

  stats(): StoreStats {
    this.#settleInbox();
    const traces = this.#db.prepare('SELECT count(*) FROM traces').pluck().get() as number;
    const spans = this.#db.prepare('SELECT count(*) FROM spans').pluck().get() as number;
    const dropped = this.#db.prepare("SELECT value FROM meta WHERE key = 'dropped_spans'").pluck().get();
    return { traces, spans, sizeBytes: this.#sizeBytes(), droppedSpans: Number(dropped ?? 0) };
  }

  recordDroppedSpans(count: number): void {
    if (this.#readonly) throw new StoreError('read-only', `${this.path} was opened read-only`);
    if (!Number.isInteger(count) || count <= 0) return;
    this.#db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('dropped_spans', ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
      )
      .run(count);
  }

  close(): void {
    const own = this.#settler?.database;
    if (own !== undefined && own !== this.#db && own.open) own.close();
    if (this.#db.open) this.#db.close();
  }
}
