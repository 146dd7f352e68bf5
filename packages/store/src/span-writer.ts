import type { Attributes, Span, TraceSummary } from '@lifeline/core';
import { messageAttemptKey, requestFailed, summarizeTrace } from '@lifeline/core';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';
import {
  decodeSpan,
  type EncodedSpans,
  encodeSpans,
  F_END_NS,
  F_EVENTS,
  F_LINKS,
  F_PARENT_SPAN_ID,
  F_RESOURCE,
  F_SPAN_ID,
  F_START_NS,
  F_STATUS_MESSAGE,
  F_TRACE_ID,
  SPAN_FIELDS,
} from './span-encoding.js';
import { rowToSpan, type SpanRow } from './span-rows.js';

/** What one {@link SpanWriter.write} did. */
export interface WriteResult {
  /** Spans stored by this call. */
  readonly inserted: number;
  /**
   * Spans skipped as copies: a span with the same trace and span id and the
   * same content was already stored (or came earlier in the batch).
   */
  readonly duplicates: number;
  /**
   * Spans skipped because a different span with the same trace and span id
   * was already stored (or came earlier in the batch): the first is kept.
   * Real data has them (a retried export after a clock correction, two
   * exporters, ids reused by broken instrumentation); they are counted
   * apart from copies so that none is lost without a word.
   */
  readonly conflicts: number;
  /** Up to {@link CONFLICT_EXAMPLES} of the {@link conflicts}, as `span <id> of trace <id>`. */
  readonly conflictExamples: readonly string[];
  /** Distinct traces whose summary was written or updated. */
  readonly traces: number;
}

/** How many conflicting span ids a {@link WriteResult} names. */
export const CONFLICT_EXAMPLES = 3;

/**
 * A trace this large that keeps receiving spans without its root is updated
 * with cheap counters only (span count, extent, error, counts by kind of
 * work); re-summarising it on every batch would make ingesting one huge trace
 * quadratic. The root span (which a BatchSpanProcessor delivers last, since it
 * ends last) triggers the full summary. Serial runs, par blocks and N+1 groups
 * of spans that arrive after the root (another process's spans, a late job)
 * wait for the next batch that carries a root span.
 *
 * Only a parentless span that starts no later than the trace's stored start
 * counts as that root: one that starts later cannot become the trace's
 * primary root, so a trace of thousands of parentless spans (a consumer
 * recording one per message, a batch job) stays incremental rather than
 * being read back whole on every batch.
 */
const INCREMENTAL_ABOVE_SPANS = 2000;

const SPAN_COLUMNS = `s.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.service, s.start_ns, s.end_ns,
  s.status_code, s.status_message, s.attributes, s.events, s.links, s.resource_id, r.attributes AS resource,
  s.scope_name, s.scope_version`;

/** SQL that reads all spans of one trace with their resource, in start order. */
export const SELECT_TRACE_SPANS = `SELECT ${SPAN_COLUMNS} FROM spans s LEFT JOIN resources r ON r.id = s.resource_id
  WHERE s.trace_id = ? ORDER BY s.start_ns, s.span_id`;

/**
 * Spans of traces new to the store are inserted this many rows per
 * statement: one statement step instead of sixteen saves about a fifth of
 * the insert's cost.
 */
const ROWS_PER_INSERT = 16;

const SPAN_TABLE_COLUMNS = `trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns,
  status_code, status_message, attributes, events, links, resource_id, scope_name, scope_version`;
const INSERT_SPANS = `INSERT OR IGNORE INTO spans (${SPAN_TABLE_COLUMNS}) VALUES `;
const INSERT_INBOX = `INSERT INTO inbox (${SPAN_TABLE_COLUMNS}) VALUES `;

/**
 * Inbox rows {@link SpanWriter.settleInbox} moves per transaction by default:
 * enough that a commit's pages are shared by many traces, few enough that an
 * app's writer waiting for the lock waits milliseconds, not seconds.
 */
const SETTLE_SPANS = 8192;
const SPAN_PLACEHOLDERS = `(${new Array(SPAN_FIELDS).fill('?').join(', ')})`;

/**
 * Fields most spans leave empty: no status message, no events, no links.
 * Binding a null costs better-sqlite3 as much as binding a short string (a
 * type check after another), so rows of spans without them go in by a
 * statement with NULL written into its text: three values fewer to bind per
 * row, about a seventh of the insert's cost.
 */
const OFTEN_NULL: ReadonlySet<number> = new Set([F_STATUS_MESSAGE, F_EVENTS, F_LINKS]);
/** Fields bound for a span without {@link OFTEN_NULL} values, in column order. */
const LEAN_FIELDS: readonly number[] = Array.from({ length: SPAN_FIELDS }, (_, f) => f).filter(
  (f) => !OFTEN_NULL.has(f),
);
const LEAN_PLACEHOLDERS = `(${Array.from({ length: SPAN_FIELDS }, (_, f) => (OFTEN_NULL.has(f) ? 'NULL' : '?')).join(', ')})`;

/** Whether span `index` of `values` has none of the {@link OFTEN_NULL} fields. */
function isLean(values: readonly unknown[], index: number): boolean {
  const at = index * SPAN_FIELDS;
  return values[at + F_STATUS_MESSAGE] === null && values[at + F_EVENTS] === null && values[at + F_LINKS] === null;
}

type Statement = BetterSqlite3.Statement<unknown[]>;

/** The statements of the inbox (see the `span-inbox` migration). */
interface InboxStatements {
  readonly insertOne: Statement;
  readonly insertMany: Statement;
  readonly insertManyLean: Statement;
  readonly select: Statement;
  readonly selectResource: Statement;
  readonly deleteUpTo: Statement;
  readonly any: Statement;
  readonly settle: (maxSpans: number) => WriteResult | undefined;
}

/** The spans of one trace within a batch. */
interface TraceGroup {
  readonly traceId: string;
  /** Span indexes in the batch, in batch order. */
  readonly spans: number[];
  /** The summary row before this batch; undefined for a trace new to the store. */
  stored?: StoredSummary | undefined;
}

interface StoredSummary {
  readonly span_count: number;
  readonly seq: number;
  readonly error: number;
  readonly queue_count: number;
}

/** A stored consumer span, as far as telling attempts at one message apart needs it. */
interface StoredConsumer {
  readonly parent_span_id: string | null;
  readonly name: string;
  readonly attributes: string;
  readonly links: string | null;
}

/** Spans of a trace this writer summarised lately, and the sequence number that summary got. */
interface RecentTrace {
  readonly spans: Span[];
  readonly seq: number;
}

/**
 * Spans kept in memory from the traces summarised lately. Under load a
 * request's spans reach the writer in two or more batches (children end, and
 * are exported, before their parent); re-summarising such a trace then needs
 * its earlier spans, and reading and parsing them back from SQLite costs more
 * than summarising. About 10 MB at most.
 */
const RECENT_SPANS = 8192;

function byStartThenId(a: Span, b: Span): number {
  if (a.startTimeNs !== b.startTimeNs) return a.startTimeNs < b.startTimeNs ? -1 : 1;
  return a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;
}

/** Conflicting span ids met in one write: how many, and the first few. */
interface Conflicts {
  count: number;
  readonly examples: string[];
}

function noteConflict(conflicts: Conflicts, values: readonly unknown[], i: number): void {
  conflicts.count++;
  if (conflicts.examples.length < CONFLICT_EXAMPLES) {
    conflicts.examples.push(
      `span ${values[i * SPAN_FIELDS + F_SPAN_ID]} of trace ${values[i * SPAN_FIELDS + F_TRACE_ID]}`,
    );
  }
}

/** One stored or bound value against another: numbers and bigints by value, null and undefined alike. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  return String(a) === String(b);
}

/** Whether spans `i` and `j` of a batch have the same content (their resources compared by text). */
function sameEncoded(batch: EncodedSpans, i: number, j: number): boolean {
  const { values, resources } = batch;
  for (let f = 0; f < SPAN_FIELDS; f++) {
    const a = values[i * SPAN_FIELDS + f];
    const b = values[j * SPAN_FIELDS + f];
    if (f === F_RESOURCE ? resources[a as number] !== resources[b as number] : !sameValue(a, b)) return false;
  }
  return true;
}

function wholeNs(time: number): bigint {
  return BigInt(Number.isFinite(time) ? Math.round(time) : 0);
}

/**
 * Writes batches of spans, each in one transaction, and keeps the per-trace
 * summaries of the list view current. Prepared statements live as long as
 * the writer.
 */
export class SpanWriter {
  readonly #db: SqliteDatabase;
  readonly #insertSpan;
  readonly #insertSpans;
  readonly #insertLeanSpans;
  readonly #insertLink;
  readonly #insertResource;
  readonly #selectResource;
  readonly #selectTraceSize;
  readonly #selectTraceStart;
  readonly #selectSpans;
  readonly #selectAttempts;
  readonly #selectStoredSpan;
  #rereadSpans = 0;
  readonly #upsertSummary;
  readonly #incrementSummary;
  readonly #readSeq;
  readonly #writeSeq;
  readonly #resourceIds = new Map<string, number>();
  readonly #recent = new Map<string, RecentTrace>();
  #recentSpans = 0;
  /**
   * Bind values of one multi-row insert, reused. They are passed to `run` as
   * separate arguments, not as one array: better-sqlite3 reads an array's
   * elements back one property lookup at a time, about an eighth of the
   * instructions it spends binding (binding costs it twice what SQLite
   * spends executing the insert).
   */
  readonly #rowArgs: unknown[] = new Array(SPAN_FIELDS * ROWS_PER_INSERT);
  /** Bind values of one multi-row insert of spans without {@link OFTEN_NULL} values, reused. */
  readonly #leanArgs: unknown[] = new Array(LEAN_FIELDS.length * ROWS_PER_INSERT);
  /** Bind values of one single-row insert, reused. */
  readonly #oneArgs: unknown[] = new Array(SPAN_FIELDS);
  readonly #transaction: (batch: EncodedSpans, spans: readonly Span[] | undefined) => WriteResult;
  readonly #appendTransaction: (batch: EncodedSpans) => number;
  #inbox: InboxStatements | undefined;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#insertSpan = db.prepare(INSERT_SPANS + SPAN_PLACEHOLDERS);
    this.#insertSpans = db.prepare(INSERT_SPANS + new Array(ROWS_PER_INSERT).fill(SPAN_PLACEHOLDERS).join(', '));
    this.#insertLeanSpans = db.prepare(INSERT_SPANS + new Array(ROWS_PER_INSERT).fill(LEAN_PLACEHOLDERS).join(', '));
    this.#insertLink = db.prepare(
      'INSERT OR IGNORE INTO links (trace_id, span_id, linked_trace_id, linked_span_id) VALUES (?, ?, ?, ?)',
    );
    this.#insertResource = db.prepare('INSERT OR IGNORE INTO resources (attributes) VALUES (?)');
    this.#selectResource = db.prepare('SELECT id FROM resources WHERE attributes = ?').pluck();
    this.#selectTraceSize = db.prepare('SELECT span_count, seq, error, queue_count FROM traces WHERE trace_id = ?');
    // Other consumer spans of the trace that may be attempts at the same
    // message as a given one: the same producer, as parent or first link.
    this.#selectAttempts = db.prepare(
      `SELECT parent_span_id, name, attributes, links FROM spans
       WHERE trace_id = ? AND kind = 'consumer' AND span_id <> ?
        AND (parent_span_id = ? OR (parent_span_id IS NULL AND json_extract(links, '$[0].spanId') = ?))`,
    );
    this.#selectTraceStart = db.prepare('SELECT start_ns FROM traces WHERE trace_id = ?').pluck().safeIntegers(true);
    this.#selectSpans = db.prepare(SELECT_TRACE_SPANS).safeIntegers(true);
    this.#selectStoredSpan = db
      .prepare(
        `SELECT trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns, status_code, status_message,
          attributes, events, links, resource_id, scope_name, scope_version FROM spans WHERE trace_id = ? AND span_id = ?`,
      )
      .raw(true)
      .safeIntegers(true);
    this.#upsertSummary = db.prepare(
      `INSERT INTO traces (trace_id, root_service, root_name, method, route, status_code, start_ns, duration_ns,
        span_count, db_count, http_count, cache_count, queue_count, internal_count, error, serial_calls, par_groups,
        n_plus_one, seq, root_kind, overlap_saving_ns)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (trace_id) DO UPDATE SET root_service = excluded.root_service, root_name = excluded.root_name,
        root_kind = excluded.root_kind,
        method = excluded.method, route = excluded.route, status_code = excluded.status_code,
        start_ns = excluded.start_ns, duration_ns = excluded.duration_ns, span_count = excluded.span_count,
        db_count = excluded.db_count, http_count = excluded.http_count, cache_count = excluded.cache_count,
        queue_count = excluded.queue_count, internal_count = excluded.internal_count, error = excluded.error,
        serial_calls = excluded.serial_calls, par_groups = excluded.par_groups, n_plus_one = excluded.n_plus_one,
        seq = excluded.seq, overlap_saving_ns = excluded.overlap_saving_ns`,
    );
    // Right-hand sides see the old row, so the new extent is computed from the old start and end.
    this.#incrementSummary = db.prepare(
      `UPDATE traces SET span_count = span_count + ?, start_ns = min(start_ns, ?),
        duration_ns = max(start_ns + duration_ns, ?) - min(start_ns, ?), error = max(error, ?), seq = ?,
        db_count = db_count + ?, http_count = http_count + ?, cache_count = cache_count + ?,
        queue_count = queue_count + ?, internal_count = internal_count + ?
       WHERE trace_id = ?`,
    );
    this.#readSeq = db.prepare("SELECT value FROM meta WHERE key = 'seq'").pluck();
    this.#writeSeq = db.prepare("UPDATE meta SET value = ? WHERE key = 'seq'");
    const run = db.transaction((batch: EncodedSpans, spans: readonly Span[] | undefined) => this.#write(batch, spans));
    this.#transaction = (batch, spans) => run.immediate(batch, spans);
    const append = db.transaction((batch: EncodedSpans) => this.#append(batch));
    this.#appendTransaction = (batch) => append.immediate(batch);
  }

  /** The inbox's statements, prepared on first use (a writer that never appends or settles needs none). */
  #inboxStatements(): InboxStatements {
    if (this.#inbox !== undefined) return this.#inbox;
    const db = this.#db;
    const settle = db.transaction((maxSpans: number) => this.#settle(maxSpans));
    this.#inbox = {
      insertOne: db.prepare(INSERT_INBOX + SPAN_PLACEHOLDERS),
      insertMany: db.prepare(INSERT_INBOX + new Array(ROWS_PER_INSERT).fill(SPAN_PLACEHOLDERS).join(', ')),
      insertManyLean: db.prepare(INSERT_INBOX + new Array(ROWS_PER_INSERT).fill(LEAN_PLACEHOLDERS).join(', ')),
      select: db
        .prepare(`SELECT id, ${SPAN_TABLE_COLUMNS} FROM inbox ORDER BY id LIMIT ?`)
        .raw(true)
        .safeIntegers(true),
      selectResource: db.prepare('SELECT attributes FROM resources WHERE id = ?').pluck(),
      deleteUpTo: db.prepare('DELETE FROM inbox WHERE id <= ?'),
      any: db.prepare('SELECT 1 FROM inbox LIMIT 1').pluck(),
      settle: (maxSpans) => settle.immediate(maxSpans),
    };
    return this.#inbox;
  }

  /**
   * Appends a batch to the store's inbox in one transaction: in arrival
   * order, no key checked, no summary written; the next
   * {@link settleInbox} stores the spans and summarises their traces as
   * {@link writeEncoded} would have. This is the app's writer's path: what
   * it costs the app is a sequential append (see the `span-inbox` migration).
   *
   * @returns the number of spans appended.
   * @throws the SQLite error of a failed write (nothing of the batch is kept).
   */
  appendEncoded(batch: EncodedSpans): number {
    try {
      return this.#appendTransaction(batch);
    } catch (error) {
      this.#resourceIds.clear();
      throw error;
    }
  }

  #append(batch: EncodedSpans): number {
    const { values } = batch;
    const count = values.length / SPAN_FIELDS;
    const resourceIds = batch.resources.map((json) => this.#resourceId(json));
    const inbox = this.#inboxStatements();
    const rows = new Array<number>(count);
    for (let i = 0; i < count; i++) rows[i] = i;
    this.#insertRows(values, rows, resourceIds, inbox.insertOne, inbox.insertMany, inbox.insertManyLean);
    return count;
  }

  /** Whether the inbox holds spans not yet settled. */
  inboxPending(): boolean {
    return this.#inboxStatements().any.get() !== undefined;
  }

  /**
   * Moves up to `maxSpans` of the oldest inbox rows into the span table, in
   * one transaction, exactly as {@link writeEncoded} stores a batch: copies
   * and conflicting ids are skipped, and the summaries of their traces are
   * written. Returns undefined when the inbox was empty.
   *
   * @throws the SQLite error of a failed write (the rows stay in the inbox).
   */
  settleInbox(maxSpans: number = SETTLE_SPANS): WriteResult | undefined {
    try {
      return this.#inboxStatements().settle(Math.max(1, Math.floor(maxSpans)));
    } catch (error) {
      this.#resourceIds.clear();
      this.#recent.clear();
      this.#recentSpans = 0;
      throw error;
    }
  }

  #settle(maxSpans: number): WriteResult | undefined {
    const inbox = this.#inboxStatements();
    const rows = inbox.select.all(maxSpans) as unknown[][];
    if (rows.length === 0) return undefined;
    // Rows carry the span table's columns after their id: the encoded
    // layout, with a resource row id where a batch has an index into its
    // own resource list.
    const values = new Array<unknown>(rows.length * SPAN_FIELDS);
    const resources: string[] = [];
    const resourceIndex = new Map<bigint | number | null, number>();
    let lastId: unknown = 0;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as unknown[];
      lastId = row[0];
      const at = r * SPAN_FIELDS;
      for (let f = 0; f < SPAN_FIELDS; f++) values[at + f] = row[f + 1];
      const id = row[F_RESOURCE + 1] as bigint | null;
      let index = resourceIndex.get(id);
      if (index === undefined) {
        index = resources.length;
        resources.push((id === null ? undefined : (inbox.selectResource.get(id) as string | undefined)) ?? '{}');
        resourceIndex.set(id, index);
      }
      values[at + F_RESOURCE] = index;
    }
    const result = this.#write({ values, resources }, undefined);
    inbox.deleteUpTo.run(lastId);
    return result;
  }

  /**
   * Inserts rows `rows` of `values` by `one` (one row), `many` ({@link ROWS_PER_INSERT}
   * rows) or `manyLean` (as many rows without {@link OFTEN_NULL} values), in order.
   * Returns the changes SQLite reports.
   */
  #insertRows(
    values: readonly unknown[],
    rows: readonly number[],
    resourceIds: number[],
    one: Statement,
    many: Statement,
    manyLean: Statement,
  ): number {
    const args = this.#rowArgs;
    const lean = this.#leanArgs;
    let changes = 0;
    let next = 0;
    for (; next + ROWS_PER_INSERT <= rows.length; next += ROWS_PER_INSERT) {
      let allLean = true;
      for (let r = 0; r < ROWS_PER_INSERT && allLean; r++) allLean = isLean(values, rows[next + r] as number);
      if (allLean) {
        for (let r = 0; r < ROWS_PER_INSERT; r++) {
          this.#bind(values, rows[next + r] as number, args, 0, resourceIds);
          const offset = r * LEAN_FIELDS.length;
          for (let f = 0; f < LEAN_FIELDS.length; f++) lean[offset + f] = args[LEAN_FIELDS[f] as number];
        }
        changes += manyLean.run(...lean).changes;
        continue;
      }
      for (let r = 0; r < ROWS_PER_INSERT; r++) {
        this.#bind(values, rows[next + r] as number, args, r * SPAN_FIELDS, resourceIds);
      }
      changes += many.run(...args).changes;
    }
    for (; next < rows.length; next++) {
      this.#bind(values, rows[next] as number, this.#oneArgs, 0, resourceIds);
      changes += one.run(...this.#oneArgs).changes;
    }
    return changes;
  }

  /**
   * Stores `spans` in one transaction (spans already stored are ignored) and
   * rewrites the summaries of the traces they belong to.
   */
  write(spans: readonly Span[]): WriteResult {
    return this.writeEncoded(encodeSpans(spans), spans);
  }

  /**
   * Stores a batch in compact form, like {@link write}. `spans`, when the
   * caller has them, are the same spans decoded (they save decoding them
   * again for the summaries).
   */
  writeEncoded(batch: EncodedSpans, spans?: readonly Span[]): WriteResult {
    try {
      return this.#transaction(batch, spans);
    } catch (error) {
      // Resource ids cached during a rolled-back transaction may not exist,
      // and the sequence numbers of remembered traces may be handed out again.
      this.#resourceIds.clear();
      this.#recent.clear();
      this.#recentSpans = 0;
      throw error;
    }
  }

  #resourceId(json: string): number {
    let id = this.#resourceIds.get(json);
    if (id === undefined) {
      this.#insertResource.run(json);
      id = this.#selectResource.get(json) as number;
      if (this.#resourceIds.size > 1000) this.#resourceIds.clear();
      this.#resourceIds.set(json, id);
    }
    return id;
  }

  /** Copies span `index`'s values into `args` at `offset`, the resource index swapped for its row id. */
  #bind(values: readonly unknown[], index: number, args: unknown[], offset: number, resourceIds: number[]): void {
    const at = index * SPAN_FIELDS;
    for (let f = 0; f < SPAN_FIELDS; f++) args[offset + f] = values[at + f];
    args[offset + F_RESOURCE] = resourceIds[values[at + F_RESOURCE] as number];
    // Times are bigints; a number (a span built by hand in plain JavaScript) is stored as whole nanoseconds.
    const start = values[at + F_START_NS];
    if (typeof start === 'number') args[offset + F_START_NS] = wholeNs(start);
    const end = values[at + F_END_NS];
    if (typeof end === 'number') args[offset + F_END_NS] = wholeNs(end);
  }

  #write(batch: EncodedSpans, given: readonly Span[] | undefined): WriteResult {
    const { values } = batch;
    const count = values.length / SPAN_FIELDS;
    const resourceIds = batch.resources.map((json) => this.#resourceId(json));
    const groups = new Map<string, TraceGroup>();
    for (let i = 0; i < count; i++) {
      const traceId = values[i * SPAN_FIELDS + F_TRACE_ID] as string;
      const group = groups.get(traceId);
      if (group === undefined) groups.set(traceId, { traceId, spans: [i] });
      else group.spans.push(i);
    }

    // A trace without a summary row has no stored span (both are written in
    // one transaction, under the write lock), so all of its spans in this
    // batch are new: they go in by the multi-row statement, and whatever it
    // ignores can only be a repeat within the batch, which the summary drops
    // too. Spans of a known trace go in one by one, to learn which are new.
    const fresh = new Map<TraceGroup, number[]>();
    const bulk: number[] = [];
    let inserted = 0;
    const conflicts: Conflicts = { count: 0, examples: [] };
    for (const group of groups.values()) {
      group.stored = this.#selectTraceSize.get(group.traceId) as StoredSummary | undefined;
      // Repeats within the batch: the first of each id is the one stored.
      const firstOf = new Map<string, number>();
      const earlier = (i: number): number | undefined => {
        const id = values[i * SPAN_FIELDS + F_SPAN_ID] as string;
        const first = firstOf.get(id);
        if (first === undefined) firstOf.set(id, i);
        return first;
      };
      if (group.stored === undefined) {
        for (const i of group.spans) {
          bulk.push(i);
          const first = earlier(i);
          if (first !== undefined && !sameEncoded(batch, first, i)) noteConflict(conflicts, values, i);
        }
        fresh.set(group, group.spans);
        continue;
      }
      const added: number[] = [];
      for (const i of group.spans) {
        const first = earlier(i);
        this.#bind(values, i, this.#oneArgs, 0, resourceIds);
        if (this.#insertSpan.run(...this.#oneArgs).changes > 0) added.push(i);
        else if (first !== undefined ? !sameEncoded(batch, first, i) : !this.#sameAsStored(this.#oneArgs)) {
          noteConflict(conflicts, values, i);
        }
      }
      inserted += added.length;
      if (added.length > 0) fresh.set(group, added);
    }
    // Rows go in in batch order (of repeats, the first is the one kept).
    inserted += this.#insertRows(values, bulk, resourceIds, this.#insertSpan, this.#insertSpans, this.#insertLeanSpans);
    const skipped = {
      duplicates: count - inserted - conflicts.count,
      conflicts: conflicts.count,
      conflictExamples: conflicts.examples,
    };
    if (fresh.size === 0) return { inserted, ...skipped, traces: 0 };

    let parsedResources: Attributes[] | undefined;
    // Summaries only read attributes, so spans of the batch with the same
    // attribute text can share one parsed object.
    const parsedAttributes = new Map<string, Attributes>();
    const spanAt = (i: number): Span => {
      if (given !== undefined) return given[i] as Span;
      parsedResources ??= batch.resources.map((json) => JSON.parse(json) as Attributes);
      return decodeSpan(values, i, parsedResources, parsedAttributes);
    };
    let seq = Number(this.#readSeq.get() ?? 0);
    for (const [group, added] of fresh) {
      seq++;
      const { traceId } = group;
      for (const i of added) {
        const links = values[i * SPAN_FIELDS + F_LINKS];
        if (links !== null) this.#saveLinks(spanAt(i));
      }
      const { stored } = group;
      if (stored === undefined) {
        // A trace first seen in this batch: all its spans are in memory.
        const spans = added.map(spanAt);
        this.#saveSummary(summarizeTrace({ traceId, spans }), seq);
        this.#remember(traceId, spans, seq);
      } else {
        const addedSpans = added.map(spanAt);
        const incremental = stored.span_count >= INCREMENTAL_ABOVE_SPANS && !this.#mayMoveRoot(traceId, values, added);
        const failed = incremental && requestFailed(addedSpans);
        if (incremental && !this.#mayChangeOutcome(traceId, stored, addedSpans, failed)) {
          this.#forget(traceId);
          this.#increment(traceId, addedSpans, seq, failed);
        } else {
          const spans = this.#storedSpans(traceId, stored, addedSpans);
          this.#saveSummary(summarizeTrace({ traceId, spans }), seq);
          this.#remember(traceId, spans, seq);
        }
      }
    }
    this.#writeSeq.run(seq);
    return { inserted, ...skipped, traces: fresh.size };
  }

  /** Whether the stored span with the ids in `args` (bound as for an insert) has the same content. */
  #sameAsStored(args: readonly unknown[]): boolean {
    const row = this.#selectStoredSpan.get(args[F_TRACE_ID], args[F_SPAN_ID]) as unknown[] | undefined;
    if (row === undefined) return true;
    for (let f = 0; f < SPAN_FIELDS; f++) if (!sameValue(row[f], args[f])) return false;
    return true;
  }

  /**
   * Whether spans about to be added to a stored trace may change its primary
   * root: one of them has no parent and starts no later than the trace.
   */
  #mayMoveRoot(traceId: string, values: readonly unknown[], added: readonly number[]): boolean {
    let start: bigint | number | undefined;
    for (const i of added) {
      if (values[i * SPAN_FIELDS + F_PARENT_SPAN_ID] !== null) continue;
      start ??= (this.#selectTraceStart.get(traceId) as bigint | number | undefined) ?? -1;
      if ((values[i * SPAN_FIELDS + F_START_NS] as bigint) <= start) return true;
    }
    return false;
  }

  /**
   * Whether spans about to be added to a stored trace may change its outcome
   * in a way only the whole trace can tell (the outcome rule of
   * `requestFailed`): a failure that may lie inside a message attempt
   * retried by a stored one, or an attempt at a message whose stored
   * earlier attempt failed the trace. `failed` says whether the added spans
   * fail by themselves.
   */
  #mayChangeOutcome(traceId: string, stored: StoredSummary, added: readonly Span[], failed: boolean): boolean {
    if (stored.error === 0) return failed && (stored.queue_count > 0 || added.some((span) => span.kind === 'consumer'));
    for (const span of added) {
      if (span.kind !== 'consumer') continue;
      const key = messageAttemptKey(span);
      const producer = span.parentSpanId ?? span.links[0]?.spanId;
      if (key === undefined || producer === undefined) continue;
      const others = this.#selectAttempts.all(traceId, span.spanId, producer, producer) as StoredConsumer[];
      for (const other of others) {
        const otherKey = messageAttemptKey({
          parentSpanId: other.parent_span_id ?? undefined,
          name: other.name,
          attributes: JSON.parse(other.attributes) as Attributes,
          links: other.links === null ? [] : (JSON.parse(other.links) as Span['links']),
        });
        if (otherKey === key) return true;
      }
    }
    return false;
  }

  /**
   * Spans read back from the database to re-summarise a trace, since this
   * writer was made: what the incremental path saves, counted so that it can
   * be checked (the rows a batch costs must not grow with its trace).
   */
  get rereadSpans(): number {
    return this.#rereadSpans;
  }

  #saveLinks(span: Span): void {
    for (const link of span.links) {
      if (link.traceId !== span.traceId) this.#insertLink.run(span.traceId, span.spanId, link.traceId, link.spanId);
    }
  }

  /**
   * All spans of a known trace once `added` are stored. The remembered spans
   * serve when the summary row still carries the sequence number this
   * writer gave it: then no other writer (another process, retention) has
   * touched the trace since, and they are exactly what SQLite holds.
   */
  #storedSpans(traceId: string, stored: StoredSummary, added: Span[]): Span[] {
    const recent = this.#recent.get(traceId);
    if (recent === undefined || recent.seq !== stored.seq) return this.readTraceSpans(traceId);
    // In SQLite's order, so the summary cannot tell which way the spans came.
    return [...recent.spans, ...added].sort(byStartThenId);
  }

  #remember(traceId: string, spans: Span[], seq: number): void {
    this.#forget(traceId);
    // A trace whose root has come is most likely complete (the root ends
    // last); keeping it would only make the garbage collector copy it around.
    if (spans.length >= INCREMENTAL_ABOVE_SPANS || spans.some((span) => !span.parentSpanId)) return;
    this.#recent.set(traceId, { spans, seq });
    this.#recentSpans += spans.length;
    for (const [oldest, trace] of this.#recent) {
      if (this.#recentSpans <= RECENT_SPANS) break;
      this.#recent.delete(oldest);
      this.#recentSpans -= trace.spans.length;
    }
  }

  #forget(traceId: string): void {
    const recent = this.#recent.get(traceId);
    if (recent === undefined) return;
    this.#recent.delete(traceId);
    this.#recentSpans -= recent.spans.length;
  }

  /** All stored spans of one trace, in start order. */
  readTraceSpans(traceId: string): Span[] {
    const resources = new Map<bigint, Attributes>();
    const rows = this.#selectSpans.all(traceId) as SpanRow[];
    this.#rereadSpans += rows.length;
    return rows.map((row) => rowToSpan(row, resources));
  }

  /**
   * Adds `added` to a stored summary with counters only; `failed` says
   * whether they fail the request by themselves (see {@link #mayChangeOutcome}
   * for when that cannot be told from them alone).
   */
  #increment(traceId: string, added: readonly Span[], seq: number, failed: boolean): void {
    let start: bigint | undefined;
    let end: bigint | undefined;
    for (const span of added) {
      const spanEnd = span.endTimeNs ?? span.startTimeNs;
      if (start === undefined || span.startTimeNs < start) start = span.startTimeNs;
      if (end === undefined || spanEnd > end) end = spanEnd;
    }
    // Counts by kind of work add up span by span, so they stay exact; the
    // structure (serial runs, par blocks, N+1) waits for the next full summary.
    const { counts } = summarizeTrace({ traceId, spans: added });
    this.#incrementSummary.run(
      added.length,
      start ?? null,
      end ?? null,
      start ?? null,
      failed ? 1 : 0,
      seq,
      counts.db,
      counts.http,
      counts.cache,
      counts.queue,
      counts.internal,
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
      summary.startTimeNs,
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
      summary.rootKind ?? null,
      summary.overlapSavingMs === undefined ? null : Math.max(0, Math.round(summary.overlapSavingMs * 1e6)),
    );
  }

  /** The database this writer writes to. */
  get database(): SqliteDatabase {
    return this.#db;
  }
}
