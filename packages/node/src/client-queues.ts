/**
 * The pg and mysql2 instrumentations, completed where a call leaves the
 * caller's hands before it reaches the database:
 *
 * - Pools queue a caller until a connection is free and then run its callback
 *   from whichever call released the connection, in that call's async
 *   context: the waiting query would be recorded in the other request's trace.
 *   The queued callbacks are bound to their caller's context here, and the
 *   first query made with the connection gets the time it waited
 *   (`db.client.connection.wait_time`, see call-endings.ts).
 * - ioredis queues the commands given before its connection is ready and sends
 *   the same command objects again once it is, from the connection's `ready`
 *   event, in the context of whichever request opened the connection: each
 *   queued command was recorded a second time there, beside the handshake's
 *   own commands. A command is now traced once, when the app gives it, and
 *   the handshake not at all.
 * - Queries read as streams (pg-cursor, pg-query-stream, any pg Submittable;
 *   mysql2's `query()` without a callback, `.stream()`) end without a callback
 *   or a promise, which the instrumentations wait for: their spans end here,
 *   when the last row came or the query failed, with the rows counted.
 * - A client reads its connection's socket in the async context the socket
 *   was opened in (at start-up, or by whichever request opened it), and calls
 *   back from there: a query made in a mysql2 callback, or in a listener of a
 *   pg Query or a mysql2 command (`end`, `row`, `result`, `error`), would be
 *   recorded in that other trace or as a root of its own. The callbacks and
 *   listeners run in the context the query was issued in here.
 */
import { errorMonitor } from 'node:events';
import { type Span as ApiSpan, type Context, context, SpanStatusCode } from '@opentelemetry/api';
import { type Instrumentation, InstrumentationNodeModuleFile, isWrapped } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation, type IORedisInstrumentationConfig } from '@opentelemetry/instrumentation-ioredis';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { PgInstrumentation, type PgInstrumentationConfig } from '@opentelemetry/instrumentation-pg';
import { RedisInstrumentation, type RedisInstrumentationConfig } from '@opentelemetry/instrumentation-redis';
import type { Span } from '@opentelemetry/sdk-trace';
import { startLater, withConnectionWait, withStartedSpan } from './call-endings.js';
import { noteInputs, noteOutputs, noteRedisCommand, rowValues, withPendingInputs } from './data-dependencies.js';

/** Attribute of the number of rows a query returned, as the semantic conventions name it. */
const RETURNED_ROWS = 'db.response.returned_rows';

// biome-ignore lint/suspicious/noExplicitAny: wraps library methods of any signature
type AnyFunction = (this: any, ...args: any[]) => any;
type PatchFactory = (original: AnyFunction) => AnyFunction;

/**
 * Replaces a patch factory an instrumentation keeps as a (TypeScript-private)
 * method, so that Lifeline's wrapper sits around the instrumentation's own in
 * a single wrap: the instrumentation may unwrap and re-wrap a prototype more
 * than once, and a second wrap of Lifeline's would then nest two of its own.
 */
function decoratePatch(instrumentation: object, method: string, decorate: (patched: AnyFunction) => AnyFunction) {
  const holder = instrumentation as Record<string, unknown>;
  const factory = holder[method];
  if (typeof factory !== 'function') return;
  holder[method] = function (this: unknown, ...factoryArgs: unknown[]): PatchFactory {
    const patch = (factory as (...a: unknown[]) => PatchFactory).apply(this, factoryArgs);
    return (original) => decorate(patch(original));
  };
}

/** Seconds since a `performance.now()` reading. */
function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}

/** Where a pooled connection carries the seconds its borrower waited for it, until its first query. */
const pendingWait = Symbol('lifeline.connection-wait');

type WithPendingWait = { [pendingWait]?: number };

/**
 * Binds a pool's queued connect callback to the caller's context. When the
 * caller `waited`, the connection it is handed (the callback's second
 * argument) carries the wait to its next query: whether the app then queries
 * in the callback or after awaiting a promise the pool resolved from it.
 */
function bindQueued(callback: AnyFunction, waited: boolean): AnyFunction {
  const caller = context.active();
  const start = performance.now();
  return function (this: unknown, ...args: unknown[]) {
    const connection = args[1];
    if (typeof connection === 'object' && connection !== null) {
      // Also cleared: a borrower that waited and released the connection
      // without a query must not hand its wait to the next one.
      if (waited) (connection as WithPendingWait)[pendingWait] = secondsSince(start);
      else delete (connection as WithPendingWait)[pendingWait];
    }
    return context.with(caller, callback, this, ...args);
  };
}

/** Where a query's event emitter keeps the context its listeners run in. */
const issuedIn = Symbol('lifeline.issued-in');

type WithIssuedIn = { [issuedIn]?: Context; emit: AnyFunction };

/**
 * Makes every listener of a query's event emitter (a pg Submittable, a mysql2
 * command) run in `caller`, the context the query was issued in: also those
 * added before the query was handed to the connection (mysql2's `pool.query()`
 * returns its command before a connection is free), which a
 * `context.bind(caller, emitter)` would leave unbound. The first issuing
 * context wins when the same object is handed over again.
 */
function bindEmitter(emitter: unknown, caller: Context): void {
  if (typeof emitter !== 'object' || emitter === null) return;
  const target = emitter as WithIssuedIn;
  if (typeof target.emit !== 'function' || target[issuedIn] !== undefined) return;
  target[issuedIn] = caller;
  const emit = target.emit;
  target.emit = function (this: unknown, ...args: unknown[]) {
    return context.with(caller, emit, this, ...args);
  };
}

/** Runs a query patch, telling the span it starts how long its connection was waited for, if it was. */
function withPendingWait<T>(connection: unknown, run: () => T): T {
  const holder = connection as WithPendingWait | undefined;
  const seconds = holder?.[pendingWait];
  if (holder === undefined || seconds === undefined) return run();
  delete holder[pendingWait];
  return context.with(withConnectionWait(context.active(), seconds), run);
}

/** Ends a span once; rows and error as far as they are known. */
function spanEnder(span: Span, end: (endTime?: number) => void) {
  let rows = 0;
  let ended = false;
  return {
    row(): void {
      rows++;
    },
    finish(error?: unknown): void {
      if (ended) return;
      ended = true;
      if (error !== undefined && error !== null) {
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      } else {
        span.setAttribute(RETURNED_ROWS, rows);
      }
      end();
    },
  };
}

/** The message handlers pg's Client calls on the query it is running (its "Submittable" interface). */
interface PgSubmittable {
  submit: AnyFunction;
  callback?: unknown;
  handleDataRow?: AnyFunction;
  handleError?: AnyFunction;
  handleReadyForQuery?: AnyFunction;
}

function isPgSubmittable(value: unknown): value is PgSubmittable {
  return typeof value === 'object' && value !== null && typeof (value as PgSubmittable).submit === 'function';
}

/** Wraps one of a submittable's handlers on the object itself (pg-query-stream sets them per instance). */
function onHandler(
  target: PgSubmittable,
  name: 'handleDataRow' | 'handleError' | 'handleReadyForQuery',
  run: AnyFunction,
) {
  const handler = target[name];
  if (typeof handler !== 'function') return;
  target[name] = function (this: unknown, ...args: unknown[]) {
    run(...args);
    return handler.apply(this, args);
  };
}

/**
 * pg's query patch, also ending the span of a Submittable without callback
 * (pg-cursor, pg-query-stream, `new pg.Query(text)` read through events):
 * pg tells every Submittable when a row came, when the query failed and when
 * the server is ready for the next query, whether the rows were all read or
 * the cursor was closed early.
 */
function endSubmittables(patched: AnyFunction): AnyFunction {
  return function query(this: unknown, ...args: unknown[]) {
    const submittable = args[0];
    if (isPgSubmittable(submittable)) bindEmitter(submittable, context.active());
    const { result, span } = withStartedSpan(() => withPendingWait(this, () => patched.apply(this, args)));
    if (span !== undefined) startWhenSent(this, span);
    if (!isPgSubmittable(submittable) || typeof submittable.callback === 'function') return result;
    if (span === undefined) return result;
    nameStreamedQuery(span, submittable);
    const ender = spanEnder(span, () => span.end());
    onHandler(submittable, 'handleDataRow', () => ender.row());
    onHandler(submittable, 'handleError', (error: unknown) => ender.finish(error ?? new Error('query failed')));
    onHandler(submittable, 'handleReadyForQuery', () => ender.finish());
    return result;
  };
}

/** The parts of pg's Client that say whether a query given now is sent now or queued. */
interface PgClientQueue {
  /** Queries given and not sent yet (pg 8; `queryQueue` before). */
  _queryQueue?: unknown[];
  queryQueue?: unknown[];
  /** Set when queries are sent without waiting for the previous one's result. */
  pipeline?: boolean;
}

/**
 * pg's Client sends one query at a time and queues the others until the
 * server is ready for the next (pipeline mode aside): `Promise.all` of
 * queries on one client sends them one after the other. A query that was
 * queued starts its span when pg sends it, and records the time it waited
 * for the client as `db.client.connection.wait_time`, as a query that waited for
 * a pooled connection does: the diagram then shows it issued with the others
 * and waiting, not running side by side with them.
 */
function startWhenSent(client: unknown, span: Span): void {
  const holder = client as PgClientQueue | undefined;
  if (holder === undefined || holder.pipeline === true) return;
  const queue = holder._queryQueue ?? holder.queryQueue;
  if (!Array.isArray(queue) || queue.length === 0) return;
  // Still queued: pg sent the query at once when the client was free.
  const queued = queue[queue.length - 1] as { submit?: unknown } | undefined;
  if (queued === undefined || typeof queued.submit !== 'function') return;
  const submit = queued.submit as AnyFunction;
  queued.submit = function (this: unknown, ...args: unknown[]) {
    (queued as { submit?: unknown }).submit = submit;
    startLater(span);
    return submit.apply(this, args);
  };
}

/**
 * pg-query-stream keeps its SQL on its cursor, where the instrumentation does
 * not look: the span would be named `pg.query` without any SQL. Named here
 * the way the instrumentation names a query (`pg.query:<OPERATION> <db>`).
 */
function nameStreamedQuery(span: Span, submittable: PgSubmittable): void {
  if (span.attributes['db.query.text'] !== undefined || span.attributes['db.statement'] !== undefined) return;
  const text = (submittable as { cursor?: { text?: unknown } }).cursor?.text;
  if (typeof text !== 'string') return;
  span.setAttribute('db.query.text', text);
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase();
  if (operation === undefined) return;
  span.setAttribute('db.operation.name', operation);
  const namespace = span.attributes['db.namespace'];
  span.updateName(`pg.query:${operation}${typeof namespace === 'string' ? ` ${namespace}` : ''}`);
}

/** pg-pool's `connect`: a callback left waiting in its queue runs in its caller's context. */
function bindPoolQueue(patched: AnyFunction): AnyFunction {
  return function connect(
    this: { _idle?: unknown[]; _pendingQueue?: unknown[]; Promise?: PromiseConstructor },
    callback?: unknown,
  ) {
    // pg-pool hands idle clients to its queue on the next tick: an idle
    // client is this caller's only if no caller queued earlier claims it.
    const idle = Array.isArray(this._idle) ? this._idle.length : 0;
    const queued = Array.isArray(this._pendingQueue) ? this._pendingQueue.length : 0;
    const waited = Array.isArray(this._idle) && idle <= queued;
    if (typeof callback === 'function') return patched.call(this, bindQueued(callback as AnyFunction, waited));
    // The promise form, built on the callback form as pg-pool builds it, so
    // that the client it resolves to carries the wait too.
    const PromiseClass = this.Promise ?? Promise;
    return new PromiseClass((resolve, reject) => {
      patched.call(
        this,
        bindQueued((error: unknown, client: unknown) => (error ? reject(error) : resolve(client)), waited),
      );
    });
  };
}

/**
 * `@opentelemetry/instrumentation-pg` without the connection set-up spans
 * (`ignoreConnectSpans`), but with the pool's waiting callbacks kept in their
 * caller's context and streamed queries ended (see the module comment).
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createPgInstrumentation()] });
 * ```
 */
class LifelinePgInstrumentation extends PgInstrumentation {
  constructor(config: PgInstrumentationConfig = {}) {
    const { requestHook, responseHook } = config;
    super({
      ignoreConnectSpans: true,
      ...config,
      // The parameters a query sent and the first rows it returned: see data-dependencies.ts.
      requestHook: (span, info) => {
        const values = info.query.values;
        if (Array.isArray(values)) noteInputs(span, values);
        requestHook?.(span, info);
      },
      responseHook: (span, info) => {
        noteOutputs(span, rowValues(info.data?.rows));
        responseHook?.(span, info);
      },
    });
    // The patches are applied when pg is loaded, after this constructor.
    decoratePatch(this, '_getClientQueryPatch', endSubmittables);
    decoratePatch(this, '_getPoolConnectPatch', bindPoolQueue);
  }
}

/** mysql2's commands as the streamed query API exposes them. */
interface MysqlCommand {
  onResult?: unknown;
  once(event: string | symbol, listener: AnyFunction): unknown;
  prependOnceListener(event: string | symbol, listener: AnyFunction): unknown;
  on(event: string | symbol, listener: AnyFunction): unknown;
}

function isEmitter(value: unknown): value is MysqlCommand {
  return typeof value === 'object' && value !== null && typeof (value as MysqlCommand).on === 'function';
}

/** A row of a result set, rather than the ResultSetHeader an INSERT or UPDATE reports. */
function isRow(result: unknown): boolean {
  return typeof result === 'object' && result !== null && result.constructor?.name !== 'ResultSetHeader';
}

/**
 * mysql2's query and execute patch, also covering a query read as a stream
 * (`connection.query(sql, values)` without callback, `.stream()`, a pool's
 * `query(sql)`): the instrumentation ends those at the first row, or never
 * when values are given; here the span ends with the `end` event.
 */
function endStreamedQueries(patched: AnyFunction): AnyFunction {
  return function query(this: unknown, ...given: unknown[]) {
    // The callback and the command's listeners run in the issuing context,
    // not in the one of the socket the results are read from.
    const caller = context.active();
    const args = given.map((arg) => (typeof arg === 'function' ? context.bind(caller, arg) : arg));
    const first = args[0] as { onResult?: unknown } | undefined;
    const withOnResult = typeof first === 'object' && first !== null && typeof first.onResult === 'function';
    if (withOnResult) {
      // A command built beforehand (a pool's `query`) carries its callback.
      const onResult = first.onResult as AnyFunction;
      first.onResult = context.bind(caller, onResult);
    }
    if (isEmitter(first)) bindEmitter(first, caller);
    const withCallback = withOnResult || args.some((arg) => typeof arg === 'function');
    const busy = isBusyMysqlConnection(this);
    const { result, span } = withStartedSpan(() => withPendingWait(this, () => patched.apply(this, args)));
    if (busy && span !== undefined) startWhenRun(result, span);
    bindEmitter(result, caller);
    if (withCallback) return result;
    if (span === undefined || !isEmitter(result)) return result;
    // The instrumentation would end the span on the first row: Lifeline ends it.
    const realEnd = span.end.bind(span);
    span.end = () => {};
    const ender = spanEnder(span, () => {
      span.end = realEnd;
      span.end();
    });
    result.on('result', (row: unknown) => {
      if (isRow(row)) ender.row();
    });
    result.on(errorMonitor, (error: unknown) => ender.finish(error));
    // Ahead of the app's own `end` listeners (a pool's command gets them
    // before it is run): a query the app issues from one follows this one.
    result.prependOnceListener('end', () => ender.finish());
    return result;
  };
}

/** Whether a mysql2 connection is running a command: one given now waits in its queue. */
function isBusyMysqlConnection(connection: unknown): boolean {
  const command = (connection as { _command?: unknown } | undefined)?._command;
  return command !== undefined && command !== null;
}

/**
 * mysql2 runs one command at a time on a connection and queues the others
 * (`Promise.all` of queries on one connection): a command given while the
 * connection was busy starts its span when mysql2 starts it, with the time
 * it waited as `db.client.connection.wait_time`, as pg's queued queries do.
 */
function startWhenRun(command: unknown, span: Span): void {
  if (typeof command !== 'object' || command === null) return;
  const holder = command as { start?: unknown };
  if (typeof holder.start !== 'function') return;
  const start = holder.start as AnyFunction;
  holder.start = function (this: unknown, ...args: unknown[]) {
    holder.start = start;
    startLater(span);
    return start.apply(this, args);
  };
}

/** mysql2's pool `getConnection`: a callback left waiting for a free connection runs in its caller's context. */
function bindMysqlPoolQueue(original: AnyFunction): AnyFunction {
  return function getConnection(this: { _freeConnections?: { length: number } }, callback?: unknown) {
    if (typeof callback !== 'function') return original.call(this, callback);
    const waited = (this._freeConnections?.length ?? 0) === 0;
    return original.call(this, bindQueued(callback as AnyFunction, waited));
  };
}

/** The prototype in `Pool`'s chain that defines `getConnection` (mysql2 3.x moved it to a base class). */
function getConnectionOwner(Pool: unknown): object | undefined {
  let proto = (Pool as { prototype?: object } | undefined)?.prototype;
  while (proto !== undefined && proto !== null && proto !== Object.prototype) {
    if (Object.hasOwn(proto, 'getConnection')) return proto;
    proto = Object.getPrototypeOf(proto) as object | undefined;
  }
  return undefined;
}

/**
 * `@opentelemetry/instrumentation-mysql2` with the pool's waiting callbacks
 * kept in their caller's context (`pool.query`, `pool.execute`,
 * `pool.getConnection`, and the promise pool built on them) and streamed
 * queries ended when their last row came.
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createMySQL2Instrumentation()] });
 * ```
 */
class LifelineMySQL2Instrumentation extends MySQL2Instrumentation {
  constructor() {
    super({
      // The first rows a query returned, or the id an insert made: see data-dependencies.ts.
      responseHook: (span, { queryResults }) => {
        const insertId = (queryResults as { insertId?: unknown } | undefined)?.insertId;
        noteOutputs(span, Array.isArray(queryResults) ? rowValues(queryResults) : [insertId]);
      },
    });
    decoratePatch(this, '_patchQuery', endStreamedQueries);
    // The instrumentation has no request hook: the parameters are handed to
    // the query's span as it starts, inside the patched call.
    decoratePatch(
      this,
      '_patchQuery',
      (patched) =>
        function (this: unknown, ...args: unknown[]) {
          const query = args[0] as { values?: unknown } | undefined;
          const values = Array.isArray(args[1])
            ? args[1]
            : query !== null && typeof query === 'object' && Array.isArray(query.values)
              ? query.values
              : undefined;
          return withPendingInputs(values, () => patched.apply(this, args));
        },
    );
  }

  protected override init() {
    const definitions = super.init();
    const versions = ['>=1.4.2 <4'];
    const poolFile = new InstrumentationNodeModuleFile(
      'mysql2/lib/pool.js',
      versions,
      (Pool: unknown) => {
        const owner = getConnectionOwner(Pool) as Record<string, AnyFunction> | undefined;
        if (owner !== undefined) {
          if (isWrapped(owner.getConnection)) this._unwrap(owner, 'getConnection');
          this._wrap(owner, 'getConnection', bindMysqlPoolQueue);
        }
        return Pool;
      },
      (Pool: unknown) => {
        const owner = getConnectionOwner(Pool) as Record<string, AnyFunction> | undefined;
        if (owner !== undefined && isWrapped(owner.getConnection)) this._unwrap(owner, 'getConnection');
      },
    );
    for (const definition of definitions) if (definition.name === 'mysql2') definition.files.push(poolFile);
    return definitions;
  }
}

/** The part of an ioredis client the send patch reads. */
interface IORedisClient {
  /** `connect` while ioredis runs its handshake and ready check, `ready` after. */
  status?: string;
  /** The auto-pipelines being filled (`enableAutoPipelining`), by slot. */
  _autoPipelines?: Map<string, { _queue?: unknown[] }>;
}

/**
 * The commands ioredis sends itself while connecting: its handshake
 * commands, and INFO for the ready check. An app's command given meanwhile
 * waits in the offline queue.
 */
const connectionCommands = new Set(['hello', 'auth', 'select', 'client', 'readonly', 'info']);

/**
 * Span attribute naming the batch a command was sent in; the diagram groups
 * the commands of one batch, and only those, into one call. Read by
 * `@lifeline/core` (its `BATCH_ID_ATTRIBUTE`).
 */
export const BATCH_ID = 'lifeline.db.batch.id';

let batchCount = 0;

/** A new batch id, unique in the process. */
function nextBatchId(): string {
  batchCount++;
  return String(batchCount);
}

/** On a command ioredis auto-pipelined: the context the app gave it in. */
const autoPipelinedIn = Symbol('lifeline.auto-pipelined');

type IORedisCommand = { name?: unknown; [autoPipelinedIn]?: Context };

/** The command being handed to the instrumentation's send patch, and the batch it belongs to. */
let sending: { command: IORedisCommand; batch: string | undefined } | undefined;

/** Batch ids by the write stream ioredis gives every command of one pipeline or transaction as it sends it. */
const batchOfStream = new WeakMap<object, string>();

/**
 * ioredis' `sendCommand` patch, tracing each command object once: the first
 * time the app hands it over (in the app's context), not again when the
 * offline queue re-sends it, and never the commands ioredis sends itself
 * while connecting (HELLO, AUTH, SELECT, CLIENT SETNAME/SETINFO during the
 * handshake, then the INFO of its ready check).
 *
 * The commands of one pipeline or transaction are sent together with one
 * write stream: they get one batch id, so two batches sent at once stay two
 * calls. A command ioredis auto-pipelined (`enableAutoPipelining`) is the
 * app's single command, not part of a batch the app made: it is traced in
 * the context the app gave it in, named as the plain command.
 */
function traceCommandsOnce(original: AnyFunction, traced: AnyFunction): AnyFunction {
  const seen = new WeakSet<object>();
  return function sendCommand(this: IORedisClient, ...args: unknown[]) {
    const command = args[0] as IORedisCommand | undefined;
    if (typeof command !== 'object' || command === null) return traced.apply(this, args);
    if (seen.has(command)) return original.apply(this, args);
    seen.add(command);
    const connecting =
      this.status === 'connect' && typeof command.name === 'string' && connectionCommands.has(command.name);
    if (connecting) return original.apply(this, args);
    const caller = command[autoPipelinedIn];
    const stream = args[1];
    let batch: string | undefined;
    if (caller === undefined && typeof stream === 'object' && stream !== null) {
      batch = batchOfStream.get(stream);
      if (batch === undefined) {
        batch = nextBatchId();
        batchOfStream.set(stream, batch);
      }
    }
    const previous = sending;
    sending = { command, batch };
    try {
      return caller === undefined ? traced.apply(this, args) : context.with(caller, () => traced.apply(this, args));
    } finally {
      sending = previous;
    }
  };
}

/**
 * Completes the span the instrumentation just started for the command being
 * sent (called from its request hook, synchronously): the batch id, or the
 * plain command name of an auto-pipelined command (the instrumentation names
 * it `PIPELINE get`, a batch the app never made).
 */
function labelSentCommand(span: ApiSpan): void {
  const current = sending;
  if (current === undefined) return;
  if (current.command[autoPipelinedIn] !== undefined && typeof current.command.name === 'string') {
    span.setAttribute('db.operation.name', current.command.name);
  } else if (current.batch !== undefined) {
    span.setAttribute(BATCH_ID, current.batch);
  }
}

/**
 * ioredis' `executeWithAutoPipelining`: the command it adds to the client's
 * auto-pipeline remembers the app's context, in which it is traced when the
 * pipeline is sent (a later tick, in the context of whichever command
 * scheduled it).
 */
function markAutoPipelined(original: AnyFunction): AnyFunction {
  return function executeWithAutoPipelining(this: unknown, client: IORedisClient, ...rest: unknown[]) {
    const result = original.call(this, client, ...rest);
    const pipelines = client?._autoPipelines;
    if (pipelines instanceof Map) {
      const caller = context.active();
      for (const pipeline of pipelines.values()) {
        for (const queued of pipeline._queue ?? []) {
          if (typeof queued !== 'object' || queued === null) continue;
          const command = queued as IORedisCommand;
          command[autoPipelinedIn] ??= caller;
        }
      }
    }
    return result;
  };
}

/**
 * `@opentelemetry/instrumentation-ioredis` that records each command once, in
 * the trace of the request that gave it, also when it waited in the client's
 * offline queue for the connection (see the module comment), with the batch
 * each pipelined command was sent in, and auto-pipelined commands as the
 * single commands the app gave.
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createIORedisInstrumentation({ requireParentSpan: true })] });
 * ```
 */
class LifelineIORedisInstrumentation extends IORedisInstrumentation {
  constructor(config: IORedisInstrumentationConfig = {}) {
    const { requestHook, responseHook } = config;
    super({
      ...config,
      requestHook: (span, info) => {
        labelSentCommand(span);
        requestHook?.(span, info);
      },
      // The keys and arguments sent, and what a read returned: see data-dependencies.ts.
      responseHook: (span, command, args, response) => {
        noteRedisCommand(span, command, args, response);
        responseHook?.(span, command, args, response);
      },
    });
    const holder = this as unknown as Record<string, unknown>;
    const factory = holder._traceSendCommand;
    if (typeof factory !== 'function') return;
    // Called when ioredis is loaded, after this constructor.
    holder._traceSendCommand = function (this: unknown, original: AnyFunction, moduleVersion: unknown) {
      const traced = (factory as (original: AnyFunction, moduleVersion: unknown) => AnyFunction).call(
        this,
        original,
        moduleVersion,
      );
      return traceCommandsOnce(original, traced);
    };
  }

  override init() {
    const definitions = super.init();
    const autoPipelining = new InstrumentationNodeModuleFile(
      'ioredis/built/autoPipelining.js',
      ['>=4.16 <7'],
      (exports: Record<string, AnyFunction>) => {
        if (typeof exports?.executeWithAutoPipelining !== 'function') return exports;
        if (isWrapped(exports.executeWithAutoPipelining)) this._unwrap(exports, 'executeWithAutoPipelining');
        this._wrap(exports, 'executeWithAutoPipelining', markAutoPipelined);
        return exports;
      },
      (exports: Record<string, AnyFunction>) => {
        if (isWrapped(exports?.executeWithAutoPipelining)) this._unwrap(exports, 'executeWithAutoPipelining');
      },
    );
    const list = Array.isArray(definitions) ? definitions : [definitions];
    for (const definition of list) if (definition.name === 'ioredis') definition.files.push(autoPipelining);
    return list;
  }
}

/** An open span of a node-redis batch, as the redis instrumentation keeps it until the batch's replies came. */
interface NodeRedisOpenSpan {
  span?: ApiSpan;
}

/**
 * `@opentelemetry/instrumentation-redis` whose node-redis MULTI and pipeline
 * commands carry the batch they were sent in: the instrumentation ends the
 * commands of one `exec()`/`execAsPipeline()` together, and there they get
 * one batch id, so two batches sent at once on one connection stay two calls.
 */
function createLifelineRedisInstrumentation(config: RedisInstrumentationConfig): RedisInstrumentation {
  const responseHook = config.responseHook;
  const instrumentation = new RedisInstrumentation({
    ...config,
    // The keys and arguments sent, and what a read returned: see data-dependencies.ts.
    responseHook: (span, command, args, response) => {
      noteRedisCommand(span, command, args, response);
      responseHook?.(span, command, args, response);
    },
  });
  // The node-redis 4/5 half; its exec patch calls this method on itself.
  const inner = (instrumentation as unknown as Record<string, unknown>).instrumentationV4_V5 as
    | Record<string, unknown>
    | undefined;
  const endSpans = inner?._endSpansWithRedisReplies;
  if (inner !== undefined && typeof endSpans === 'function') {
    inner._endSpansWithRedisReplies = function (this: unknown, openSpans: unknown, ...rest: unknown[]) {
      if (Array.isArray(openSpans) && openSpans.length > 0) {
        const batch = nextBatchId();
        for (const open of openSpans as NodeRedisOpenSpan[]) open.span?.setAttribute(BATCH_ID, batch);
      }
      return (endSpans as AnyFunction).call(this, openSpans, ...rest);
    };
  }
  return instrumentation;
}

// Factories rather than exported classes: the instrumentations' packages
// depend on other versions of @opentelemetry/instrumentation, whose types a
// declaration of these classes could not name.

/** See {@link LifelinePgInstrumentation}. */
export function createPgInstrumentation(config: PgInstrumentationConfig = {}): Instrumentation {
  return new LifelinePgInstrumentation(config);
}

/** See {@link LifelineMySQL2Instrumentation}. */
export function createMySQL2Instrumentation(): Instrumentation {
  return new LifelineMySQL2Instrumentation();
}

/** See {@link createLifelineRedisInstrumentation}. */
export function createRedisInstrumentation(config: RedisInstrumentationConfig = {}): Instrumentation {
  return createLifelineRedisInstrumentation(config);
}

/** See {@link LifelineIORedisInstrumentation}. */
export function createIORedisInstrumentation(config: IORedisInstrumentationConfig = {}): Instrumentation {
  return new LifelineIORedisInstrumentation(config);
}
