/**
 * The examples' database access: PostgreSQL through `pg` when it is there
 * (traced by Lifeline's pg instrumentation), else embedded SQLite on a small
 * pool of threads (traced here, the way a database driver's instrumentation
 * would: one client span per query).
 */
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import Database from 'better-sqlite3';
import pg from 'pg';

/** SQL written for PostgreSQL (`$1` placeholders, `SERIAL`) or SQLite. */
export type Dialect = 'postgres' | 'sqlite';

/** A database the examples query. */
export interface DataStore {
  readonly dialect: Dialect;
  /** Where the data lives, for the startup banner. */
  readonly description: string;
  /** Runs one statement (with `$1`, `$2`… placeholders) as a traced client call. */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs setup statements (schema, seed data) without tracing them: they are not part of any request. */
  setup(statements: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link openDataStore}. */
export interface OpenDataStoreOptions {
  /** Use PostgreSQL at this URL; SQLite when absent. */
  readonly postgresUrl?: string | undefined;
  /** The SQLite file when there is no PostgreSQL. */
  readonly sqlitePath: string;
  /** PostgreSQL schema that holds this example's tables (kept apart from anything else in the database). */
  readonly schema: string;
  /** Connections (PostgreSQL) or threads (SQLite). Default 4. */
  readonly poolSize?: number;
  /** Round-trip time each SQLite query is given, standing for a database on the network. Default 3 ms. */
  readonly sqliteLatencyMs?: number;
}

/**
 * Opens the example database.
 *
 * @example
 * ```ts
 * const db = await openDataStore({ sqlitePath: '.lifeline/blog.db', schema: 'blog_example' });
 * const rows = await db.query('SELECT title FROM articles WHERE id = $1', [1]);
 * ```
 */
export async function openDataStore(options: OpenDataStoreOptions): Promise<DataStore> {
  const store = options.postgresUrl ? openPostgres(options.postgresUrl, options) : openSqlite(options);
  await store.warmUp();
  return store;
}

function untraced<T>(work: () => Promise<T>): Promise<T> {
  return context.with(suppressTracing(context.active()), work);
}

/** A data store that can open all its connections before the first request. */
interface PooledDataStore extends DataStore {
  /**
   * Opens every connection (or thread) up front, untraced. A cold pool makes
   * the second of two overlapping queries wait for a new connection, which
   * would draw as two queries in series: true, but not what the example is about.
   */
  warmUp(): Promise<void>;
}

function openPostgres(url: string, options: OpenDataStoreOptions): PooledDataStore {
  if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`invalid schema name ${options.schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    // Connections stay open while the example runs, so a query never waits for a new one.
    idleTimeoutMillis: 0,
    options: `-c search_path=${options.schema}`,
  });
  const size = options.poolSize ?? 4;
  return {
    dialect: 'postgres',
    description: `PostgreSQL schema ${options.schema}`,
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      const result = await pool.query(sql, [...params]);
      return result.rows as Row[];
    },
    setup(statements) {
      return untraced(async () => {
        const client = await pool.connect();
        try {
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
          for (const statement of statements) await client.query(statement);
        } finally {
          client.release();
        }
      });
    },
    warmUp: () =>
      untraced(async () => {
        const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()));
        for (const client of clients) client.release();
      }),
    close: () => pool.end(),
  };
}

interface WorkerReply {
  readonly id: number;
  readonly rows?: unknown[];
  readonly error?: string;
  readonly code?: string;
}

/**
 * The current time in epoch milliseconds with sub-millisecond precision. The
 * SDK's default start time is `Date.now()`, whole milliseconds: two calls a
 * fraction of a millisecond apart could then seem to overlap or not at random.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** `$1`, `$2`… become SQLite's anonymous `?`; the examples use each parameter once, in order. */
function toSqlitePlaceholders(sql: string): string {
  return sql.replace(/\$\d+/g, '?');
}

/** `SELECT comments`, `INSERT notifications`: what a query does to what, as database spans are named. */
export function describeQuery(sql: string): { operation: string; collection?: string } {
  const text = sql.trim().replace(/\s+/g, ' ');
  const operation = (text.split(' ')[0] ?? 'QUERY').toUpperCase();
  const match = /\b(?:from|into|update|join)\s+([a-z_][a-z0-9_.]*)/i.exec(text);
  return match?.[1] ? { operation, collection: match[1] } : { operation };
}

function openSqlite(options: OpenDataStoreOptions): PooledDataStore {
  const tracer = trace.getTracer('@lifeline-example/data-store');
  const namespace = basename(options.sqlitePath).replace(/\.(db|sqlite3?)$/, '');
  const size = options.poolSize ?? 4;
  const latencyMs = options.sqliteLatencyMs ?? 3;
  const workers: Worker[] = [];
  const waiting = new Map<number, { resolve: (rows: unknown[]) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let nextWorker = 0;
  let started = false;

  const start = () => {
    if (started) return;
    started = true;
    for (let index = 0; index < size; index++) {
      // execArgv: [] keeps the preloaded recorder out of the pool threads:
      // the spans belong to the request on the main thread, not to a thread.
      const worker = new Worker(new URL('./sqlite-worker.ts', import.meta.url), {
        execArgv: [],
        workerData: { path: options.sqlitePath, latencyMs },
      });
      worker.on('message', (reply: WorkerReply) => {
        const pending = waiting.get(reply.id);
        if (!pending) return;
        waiting.delete(reply.id);
        if (reply.error !== undefined) {
          pending.reject(Object.assign(new Error(reply.error), { code: reply.code }));
        } else {
          pending.resolve(reply.rows ?? []);
        }
      });
      workers.push(worker);
    }
  };

  const sendTo = (worker: Worker | undefined, sql: string, params: readonly unknown[]): Promise<unknown[]> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker?.postMessage({ id, sql: toSqlitePlaceholders(sql), params: [...params] });
    });
  };
  const send = (sql: string, params: readonly unknown[]): Promise<unknown[]> => {
    start();
    return sendTo(workers[nextWorker++ % workers.length], sql, params);
  };

  return {
    dialect: 'sqlite',
    description: `SQLite ${options.sqlitePath}`,
    query<Row>(sql: string, params: readonly unknown[] = []) {
      const { operation, collection } = describeQuery(sql);
      return tracer.startActiveSpan(
        collection ? `${operation} ${collection}` : operation,
        {
          kind: SpanKind.CLIENT,
          startTime: preciseNow(),
          attributes: {
            'db.system.name': 'sqlite',
            'db.namespace': namespace,
            'db.operation.name': operation,
            'db.query.text': sql.trim().replace(/\s+/g, ' '),
            ...(collection ? { 'db.collection.name': collection } : {}),
          },
        },
        async (span: Span) => {
          try {
            return (await send(sql, params)) as Row[];
          } catch (error) {
            span.recordException(error as Error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            span.setAttribute('error.type', (error as { code?: string }).code ?? 'Error');
            throw error;
          } finally {
            span.end(preciseNow());
          }
        },
      );
    },
    setup(statements) {
      return untraced(async () => {
        const db = new Database(options.sqlitePath);
        try {
          db.pragma('journal_mode = WAL');
          for (const statement of statements) db.exec(statement);
        } finally {
          db.close();
        }
      });
    },
    async warmUp() {
      start();
      await Promise.all(workers.map((worker) => sendTo(worker, 'SELECT 1', [])));
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
