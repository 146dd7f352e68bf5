/**
 * OpenTelemetry instrumentation of better-sqlite3: a client span for each
 * statement run (`Statement#run/get/all/iterate`) and each `Database#exec`.
 * better-sqlite3 is synchronous, so a span is exactly the time the statement
 * held the thread.
 */
import { basename } from 'node:path';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
  isWrapped,
} from '@opentelemetry/instrumentation';
import { sqlCollection, sqlOperation } from './sql.js';

/** Configuration of {@link BetterSqlite3Instrumentation}. */
export interface BetterSqlite3InstrumentationConfig extends InstrumentationConfig {
  /**
   * Database files never traced (absolute paths), besides every handle the
   * Lifeline store marks as its own. Lifeline passes its own database path.
   */
  readonly ignorePaths?: readonly string[];
}

interface SqliteDatabaseLike {
  readonly name?: string;
  readonly memory?: boolean;
  prepare(source: string): SqliteStatementLike;
  exec(source: string): unknown;
}

interface SqliteStatementLike {
  readonly source: string;
  readonly database: SqliteDatabaseLike;
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown;
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

type DatabaseConstructor = { prototype: SqliteDatabaseLike };
type StatementMethod = 'run' | 'get' | 'all' | 'iterate';

const statementMethods: readonly StatementMethod[] = ['run', 'get', 'all', 'iterate'];

// The store tags the handles it opens with this registered symbol (its
// `isLifelineStoreDatabase` reads the same), so even a second copy of the
// store package in node_modules is recognised.
const storeDatabaseMarker = Symbol.for('lifeline.store.internal-database');

const packageVersion = '0.1.0';

/** The better-sqlite3 majors whose Database and Statement this instrumentation knows. */
const supportedMajors = { first: 7, last: 13 } as const;
const supportedVersions = `>=${supportedMajors.first}.0.0 <${supportedMajors.last + 1}`;

let unsupportedWarned = false;

/**
 * Says once per process, on stderr, that a better-sqlite3 release newer than
 * the supported majors was loaded and its queries are not traced.
 */
function warnUnsupportedOnce(version: string | undefined): void {
  if (unsupportedWarned) return;
  unsupportedWarned = true;
  process.stderr.write(
    `Lifeline: better-sqlite3 ${version ?? '(unknown version)'} is not traced: its instrumentation supports majors ${supportedMajors.first} to ${supportedMajors.last}\n`,
  );
}

/**
 * Traces better-sqlite3 statements as client spans with
 * `db.system.name=sqlite`, `db.namespace` (the database file's base name),
 * `db.query.text`, `db.operation.name` and, for simple statements,
 * `db.collection.name`. Statements of the Lifeline store's own database are
 * never traced.
 *
 * @example
 * ```ts
 * import { registerInstrumentations } from '@opentelemetry/instrumentation';
 * registerInstrumentations({ instrumentations: [new BetterSqlite3Instrumentation()] });
 * ```
 */
export class BetterSqlite3Instrumentation extends InstrumentationBase<BetterSqlite3InstrumentationConfig> {
  // Statement is a native class better-sqlite3 does not export: its prototype
  // is reached through the first statement prepare() returns.
  #statementPrototype: Record<StatementMethod, (...args: unknown[]) => unknown> | undefined;

  constructor(config: BetterSqlite3InstrumentationConfig = {}) {
    super('@lifeline/node/better-sqlite3', packageVersion, config);
  }

  protected override init(): InstrumentationNodeModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        'better-sqlite3',
        [supportedVersions],
        (moduleExports: unknown) => {
          this.#patch(databaseConstructorOf(moduleExports));
          return moduleExports;
        },
        (moduleExports: unknown) => {
          if (moduleExports !== undefined) this.#unpatch(databaseConstructorOf(moduleExports));
        },
      ),
      // A newer major loads untouched, as OpenTelemetry does with every
      // version outside the range; unlike there, the app is told, once.
      new InstrumentationNodeModuleDefinition(
        'better-sqlite3',
        [`>=${supportedMajors.last + 1}`],
        (moduleExports, version) => {
          warnUnsupportedOnce(version);
          return moduleExports;
        },
      ),
    ];
  }

  #patch(Database: DatabaseConstructor | undefined): void {
    if (Database === undefined) return;
    const proto = Database.prototype;
    if (isWrapped(proto.prepare)) this._unwrap(proto, 'prepare');
    if (isWrapped(proto.exec)) this._unwrap(proto, 'exec');
    this._wrap(proto, 'prepare', (original) => {
      const instrumentation = this;
      return function prepare(this: SqliteDatabaseLike, source: string) {
        const statement = original.call(this, source);
        instrumentation.#patchStatementPrototype(statement);
        return statement;
      };
    });
    this._wrap(proto, 'exec', (original) => {
      const instrumentation = this;
      return function exec(this: SqliteDatabaseLike, source: string) {
        const span = instrumentation.#startSpan(this, source, 'exec');
        if (span === undefined) return original.call(this, source);
        return instrumentation.#runInSpan(span, () => original.call(this, source));
      };
    });
  }

  #unpatch(Database: DatabaseConstructor | undefined): void {
    if (Database === undefined) return;
    if (isWrapped(Database.prototype.prepare)) this._unwrap(Database.prototype, 'prepare');
    if (isWrapped(Database.prototype.exec)) this._unwrap(Database.prototype, 'exec');
    const statementProto = this.#statementPrototype;
    if (statementProto !== undefined) {
      for (const method of statementMethods) {
        if (isWrapped(statementProto[method])) this._unwrap(statementProto, method);
      }
    }
  }

  #patchStatementPrototype(statement: unknown): void {
    if (typeof statement !== 'object' || statement === null) return;
    const proto = Object.getPrototypeOf(statement) as Record<StatementMethod, (...args: unknown[]) => unknown>;
    if (proto === this.#statementPrototype && isWrapped(proto.run)) return;
    this.#statementPrototype = proto;
    const instrumentation = this;
    for (const method of statementMethods) {
      if (typeof proto[method] !== 'function' || isWrapped(proto[method])) continue;
      this._wrap(proto, method, (original) => {
        if (method === 'iterate') {
          return function iterate(this: SqliteStatementLike, ...args: unknown[]) {
            const span = instrumentation.#startSpan(this.database, this.source, method);
            if (span === undefined) return original.apply(this, args);
            const iterator = instrumentation.#runInSpan(span, () => original.apply(this, args), { keepOpen: true });
            return traceIterator(iterator as IterableIterator<unknown>, span);
          };
        }
        return function statementCall(this: SqliteStatementLike, ...args: unknown[]) {
          const span = instrumentation.#startSpan(this.database, this.source, method);
          if (span === undefined) return original.apply(this, args);
          const result = instrumentation.#runInSpan(span, () => original.apply(this, args));
          return result;
        };
      });
    }
  }

  #isIgnored(database: SqliteDatabaseLike): boolean {
    if ((database as unknown as Record<symbol, unknown>)[storeDatabaseMarker] === true) return true;
    const ignored = this.getConfig().ignorePaths;
    return ignored !== undefined && database.name !== undefined && ignored.includes(database.name);
  }

  #startSpan(database: SqliteDatabaseLike, source: string, method: string): Span | undefined {
    if (database === undefined || database === null || this.#isIgnored(database)) return undefined;
    const operation = sqlOperation(source);
    const collection = sqlCollection(source);
    const namespace = namespaceOf(database);
    const name =
      operation === undefined ? 'sqlite' : collection === undefined ? operation : `${operation} ${collection}`;
    return this.tracer.startSpan(name, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'sqlite',
        'db.namespace': namespace,
        'db.query.text': source,
        ...(operation === undefined ? {} : { 'db.operation.name': operation }),
        ...(collection === undefined ? {} : { 'db.collection.name': collection }),
        'code.function.name': `better-sqlite3.${method}`,
      },
    });
  }

  #runInSpan<T>(span: Span, call: () => T, options: { keepOpen?: boolean } = {}): T {
    let result: T;
    try {
      result = context.with(trace.setSpan(context.active(), span), call);
    } catch (error) {
      endWithError(span, error);
      throw error;
    }
    if (Array.isArray(result)) span.setAttribute('db.response.returned_rows', result.length);
    else if (isRunResult(result)) span.setAttribute('db.response.returned_rows', result.changes);
    if (!options.keepOpen) span.end();
    return result;
  }
}

function databaseConstructorOf(moduleExports: unknown): DatabaseConstructor | undefined {
  // Under `import`, the module arrives as a namespace whose default export is the class.
  const candidate =
    typeof moduleExports === 'function' ? moduleExports : (moduleExports as { default?: unknown } | null)?.default;
  if (typeof candidate !== 'function') return undefined;
  const proto = (candidate as { prototype?: unknown }).prototype;
  if (typeof proto !== 'object' || proto === null || typeof (proto as SqliteDatabaseLike).prepare !== 'function') {
    return undefined;
  }
  return candidate as unknown as DatabaseConstructor;
}

function namespaceOf(database: SqliteDatabaseLike): string {
  const name = database.name ?? '';
  if (database.memory || name === '' || name === ':memory:') return ':memory:';
  return basename(name);
}

function isRunResult(value: unknown): value is { changes: number } {
  return typeof value === 'object' && value !== null && typeof (value as { changes?: unknown }).changes === 'number';
}

function endWithError(span: Span, error: unknown): void {
  if (error instanceof Error) {
    span.recordException(error);
    const code = (error as { code?: unknown }).code;
    span.setAttribute('error.type', typeof code === 'string' ? code : error.name);
  }
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  span.end();
}

/** Ends the span when the caller has drained the rows, stops early, or the iteration fails. */
function traceIterator(iterator: IterableIterator<unknown>, span: Span): IterableIterator<unknown> {
  let rows = 0;
  let open = true;
  const finish = (error?: unknown): void => {
    if (!open) return;
    open = false;
    if (error !== undefined) {
      endWithError(span, error);
      return;
    }
    span.setAttribute('db.response.returned_rows', rows);
    span.end();
  };
  const wrapped: IterableIterator<unknown> = {
    next(...args: [] | [unknown]) {
      let step: IteratorResult<unknown>;
      try {
        step = iterator.next(...args);
      } catch (error) {
        finish(error);
        throw error;
      }
      if (step.done) finish();
      else rows += 1;
      return step;
    },
    return(value?: unknown) {
      finish();
      return iterator.return?.(value) ?? { done: true, value };
    },
    throw(error?: unknown) {
      finish(error);
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
    [Symbol.iterator]() {
      return this;
    },
  };
  return wrapped;
}
