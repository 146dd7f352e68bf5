/**
 * Numbered schema migrations. Each one is plain SQL so that `lifeline migrate
 * --dry-run` can print exactly what would run. The schema version lives in
 * `PRAGMA user_version`; a migration never edits an earlier one.
 */

/** One schema step: applied when the database's version is below `version`. */
export interface Migration {
  readonly version: number;
  /** Short kebab-case description, shown by a dry run. */
  readonly name: string;
  readonly sql: string;
}

/** Every migration this build knows, in order. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial-schema',
    sql: `
-- Resource attribute sets are repeated on every span of a process; storing
-- each distinct set once keeps the span rows small.
CREATE TABLE resources (
  id INTEGER PRIMARY KEY,
  attributes TEXT NOT NULL UNIQUE
);

CREATE TABLE spans (
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  service TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER,
  status_code TEXT NOT NULL,
  status_message TEXT,
  attributes TEXT NOT NULL,
  events TEXT,
  links TEXT,
  -- No REFERENCES clause: resources are never deleted, and a foreign key
  -- check on every span insert costs ingest speed for nothing.
  resource_id INTEGER,
  scope_name TEXT,
  scope_version TEXT,
  PRIMARY KEY (trace_id, span_id)
);

-- One row per trace for the request list; rewritten whenever spans of the
-- trace arrive. seq is a store-wide counter bumped on every write so that a
-- live view can ask for "everything after what I have".
CREATE TABLE traces (
  trace_id TEXT PRIMARY KEY,
  root_service TEXT NOT NULL,
  root_name TEXT NOT NULL,
  method TEXT,
  route TEXT,
  status_code INTEGER,
  start_ns INTEGER NOT NULL,
  duration_ns INTEGER NOT NULL,
  span_count INTEGER NOT NULL,
  db_count INTEGER NOT NULL,
  http_count INTEGER NOT NULL,
  cache_count INTEGER NOT NULL,
  queue_count INTEGER NOT NULL,
  internal_count INTEGER NOT NULL,
  error INTEGER NOT NULL,
  serial_calls INTEGER NOT NULL,
  par_groups INTEGER NOT NULL,
  n_plus_one INTEGER NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX traces_by_start ON traces (start_ns DESC, trace_id DESC);
CREATE INDEX traces_by_duration ON traces (duration_ns DESC, trace_id DESC);
-- Filters (service, route, status, ...) walk one of the two ordering
-- indexes and stop at the page size; an index per filter column would slow
-- every ingest for queries that are fast without it.
CREATE INDEX traces_by_seq ON traces (seq);

-- A span link that points into another trace (a queue consumer that started
-- its own trace) joins the two traces when a trace is read with its links.
CREATE TABLE links (
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  linked_trace_id TEXT NOT NULL,
  linked_span_id TEXT NOT NULL,
  PRIMARY KEY (trace_id, span_id, linked_trace_id, linked_span_id)
);
CREATE INDEX links_by_linked_trace ON links (linked_trace_id);

CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value
);
INSERT INTO meta (key, value) VALUES ('seq', 0);
`,
  },
  {
    version: 2,
    name: 'trace-root-kind',
    sql: `
-- The kind of each trace's primary root span tells a request (a server or
-- consumer root) from background work (start-up queries, timers, a queue
-- library's housekeeping), which the list leaves out unless asked.
ALTER TABLE traces ADD COLUMN root_kind TEXT;

-- Traces stored before this column: the earliest span without a parent in
-- the trace (or, failing that, whose parent is not in it), the span the
-- summary takes as the primary root.
UPDATE traces SET root_kind = (
  SELECT s.kind FROM spans s
  WHERE s.trace_id = traces.trace_id
    AND (s.parent_span_id IS NULL OR s.parent_span_id = '' OR s.parent_span_id = s.span_id
      OR s.parent_span_id = '0000000000000000')
  ORDER BY s.start_ns, s.span_id LIMIT 1
);
UPDATE traces SET root_kind = (
  SELECT s.kind FROM spans s
  WHERE s.trace_id = traces.trace_id
    AND NOT EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = s.trace_id AND p.span_id = s.parent_span_id)
  ORDER BY s.start_ns, s.span_id LIMIT 1
) WHERE root_kind IS NULL;

-- The list's default page: the newest requests, found without stepping over
-- the background traces between them.
CREATE INDEX traces_requests_by_start ON traces (start_ns DESC, trace_id DESC)
  WHERE root_kind IN ('server', 'consumer');
`,
  },
  {
    version: 3,
    name: 'trace-overlap-saving',
    sql: `
-- What overlapping each trace's serial calls could have saved, for the
-- endpoint view's median. NULL for traces stored before this column: the
-- saving needs the trace's structure, which plain SQL cannot rebuild, and a
-- guess would be read as a measurement.
ALTER TABLE traces ADD COLUMN overlap_saving_ns INTEGER;

-- The endpoint list groups requests by service, root kind and label and
-- ranks their durations. Both indexes hold every column those queries read,
-- in the order they read them: the grouping walks one index without a sort
-- or a table lookup, and each percentile is an offset into its endpoint's
-- stretch of it, so the list costs one pass over the requests' index
-- entries on a store of millions of spans.
CREATE INDEX traces_endpoints ON traces (root_service, root_kind, root_name, duration_ns, trace_id, start_ns,
  error, n_plus_one, db_count, cache_count, http_count, queue_count, overlap_saving_ns)
  WHERE root_kind IN ('server', 'consumer');
CREATE INDEX traces_endpoint_savings ON traces (root_service, root_kind, root_name, overlap_saving_ns, start_ns)
  WHERE root_kind IN ('server', 'consumer') AND overlap_saving_ns IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'spans-by-trace-start',
    sql: `
-- A trace's spans are read in start order, and a large trace's earliest
-- 10,000 only (the trace page, lifeline export, /api/traces/:id/spans).
-- Through the primary key that read sorted the whole trace first: 1.6 s for
-- the first page of a 250,000-span trace, during which no other request was
-- answered. This index hands the rows over in start order, so a page costs
-- its own rows.
CREATE INDEX spans_by_trace_start ON spans (trace_id, start_ns, span_id);
`,
  },
  {
    version: 5,
    name: 'span-inbox',
    sql: `
-- Spans an app records go in here first, in arrival order, with the span
-- table's columns and no index but the row id: an append costs the app a
-- few microseconds a span, where storing it in the span table, under its
-- keys, and rewriting its trace's summary row under the list's indexes
-- cost several times that (each of those indexes is ordered by something
-- random, so every insert dirties a page of its own that the commit writes
-- out). Whoever reads the store next moves the rows into the span table
-- and summarises their traces, in the reader's process (SpanWriter's
-- settleInbox); the app's writer never does.
CREATE TABLE inbox (
  id INTEGER PRIMARY KEY,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  service TEXT NOT NULL,
  start_ns INTEGER NOT NULL,
  end_ns INTEGER,
  status_code TEXT NOT NULL,
  status_message TEXT,
  attributes TEXT NOT NULL,
  events TEXT,
  links TEXT,
  resource_id INTEGER,
  scope_name TEXT,
  scope_version TEXT
);
`,
  },
];

/** Highest schema version this build can read and write. */
export const latestSchemaVersion: number = migrations.reduce((max, m) => Math.max(max, m.version), 0);
