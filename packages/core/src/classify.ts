/**
 * Span classification: what a span means for the diagram (an incoming HTTP
 * request, a database query, a cache command, a queue publish...), who it talks
 * to and how to label it. Reads both the current OpenTelemetry semantic
 * conventions and the older names still emitted by many instrumentations.
 */
import { CONNECTION_WAIT_ATTRIBUTE, num, str } from './attributes.js';
import { type BatchMember, batchMember, declaredBatchSize } from './batch.js';
import { mayDepend } from './dependencies.js';
import { normalizeCacheKey, normalizePath } from './normalize.js';
import { spanRecordsFailure } from './span-failure.js';
import { summarizeQuery } from './sql-summary.js';
import type { Span, SpanKind } from './trace.js';
import { parseUrl } from './url.js';

// Moved to files of their own; still importable from here.
export { numberAttribute, stringAttribute } from './attributes.js';
export { normalizeCacheKey, normalizePath } from './normalize.js';
export { summarizeQuery } from './sql-summary.js';

/** What a span is, as far as drawing and analysis care. */
export type SpanCategory =
  | 'http-server'
  | 'http-client'
  | 'db'
  | 'cache'
  | 'queue-producer'
  | 'queue-consumer'
  | 'rpc-server'
  | 'rpc-client'
  | 'internal';

/** The shape a participant takes in the diagram. */
export type ParticipantKind = 'actor' | 'service' | 'database' | 'cache' | 'queue' | 'external';

/**
 * A participant a span talks to, before it gets a diagram id. `key` is unique
 * per participant (two spans naming the same database share it); `name` is
 * what the diagram shows.
 */
export interface ParticipantRef {
  readonly key: string;
  readonly name: string;
  readonly kind: ParticipantKind;
}

/** The meaning of one span, derived from its kind and attributes. */
export interface SpanClass {
  readonly category: SpanCategory;
  /** Short, normalised label: `GET /articles/:id`, `SELECT comments`, `GET article:*`, `publish orders`. */
  readonly label: string;
  /** Whom the span calls (client, producer) or where it comes from (consumer). */
  readonly target?: ParticipantRef;
  readonly method?: string;
  readonly route?: string;
  readonly statusCode?: number;
  readonly dbSystem?: string;
  readonly dbNamespace?: string;
  /** Full query text, kept for details views; the label only has its summary. */
  readonly queryText?: string;
  /**
   * The span attribute `queryText` was read from (`db.query.text`, or the
   * older semantic conventions' `db.statement`), so a client that has the
   * span can show the text without it being sent twice.
   */
  readonly queryTextAttribute?: 'db.query.text' | 'db.statement';
  /** Queue or topic name for messaging spans. */
  readonly destination?: string;
  /**
   * The lifeline of the span's own service ({@link serviceRef}), and the
   * span's kind: the layout reads both of every span, and reads them here so
   * that it need not go back to the span (see {@link classifySpan}).
   */
  readonly service: ParticipantRef;
  readonly kind: SpanKind;
  /** How the span takes part in a Redis MULTI or pipeline (see batch.ts); undefined for most spans. */
  readonly batch?: BatchMember;
  /** `db.client.connection.wait_time` when it is a number (seconds; see `connectionWaitMs`). */
  readonly connectionWait?: number;
  /**
   * Whether the span says it used an earlier call's answer or missed the
   * cache: what finding the dependencies between calls looks for first
   * (see dependencies.ts).
   */
  readonly mayDepend: boolean;
  /** Whether the span failed by its own status, attributes and events (see span-failure.ts). */
  readonly failed: boolean;
  /**
   * The query text as repeats of one statement are told apart (see
   * statement.ts), once asked for: `repeatStatement` keeps it here, beside
   * what the span was classified as, rather than in a table keyed by span.
   */
  statementKey?: string;
}

/** What the conventions tell of a span (see {@link classifySpan}), before the fields every class has. */
type ConventionClass = Omit<
  SpanClass,
  'service' | 'kind' | 'batch' | 'connectionWait' | 'mayDepend' | 'failed' | 'statementKey'
>;

/** The lifeline of a service. */
export function serviceRef(name: string): ParticipantRef {
  let ref = services.get(name);
  if (ref === undefined) {
    const display = name === '' ? 'unknown service' : name;
    ref = { key: `svc:${display}`, name: display, kind: 'service' };
    // Traces name a handful of services: remembering them spares an object and a key per span.
    if (services.size < 10_000) services.set(name, ref);
  }
  return ref;
}

const services = new Map<string, ParticipantRef>();

/** Database systems that are caches: drawn as one "redis"-style participant and counted as cache time. */
const CACHE_SYSTEMS = new Set(['redis', 'memcached', 'valkey', 'hazelcast', 'ignite', 'coherence', 'geode']);

/** Entries kept by each memo of this module before it starts over. */
const MEMO_LIMIT = 2000;

const PRODUCER_OPERATIONS = new Set(['publish', 'send', 'create']);
const CONSUMER_OPERATIONS = new Set(['process', 'receive', 'deliver', 'settle']);
/** Verbs that messaging libraries put beside the destination in span names ("add emails", "orders publish"). */
const NAME_VERBS = new Set([...PRODUCER_OPERATIONS, ...CONSUMER_OPERATIONS, 'add', 'addbulk', 'consume', 'handle']);

/**
 * Classifies a span: its category, label, target participant and the
 * attributes the diagram and analysis need.
 *
 * @example
 * ```ts
 * const cls = classifySpan(span);
 * // { category: 'db', label: 'SELECT comments', target: { key: 'db:postgresql:blog', name: 'postgresql blog', kind: 'database' }, ... }
 * ```
 */
export function classifySpan(span: Span): SpanClass {
  // Layout, analysis and summary all classify the same spans: spans are
  // immutable, so the result is computed once per span object.
  const known = remembered(span);
  if (known !== undefined) return known;
  const cls = classifyUncached(span);
  remember(span, cls);
  return cls;
}

/**
 * Where a span's class is remembered: a non-enumerable, read-only property
 * under a private symbol on the span itself, so that reading it back is a
 * load from the span being looked at. (A WeakMap keyed by span, as before,
 * cost a probe of a table of every span drawn: 135 ns a span at 100,000
 * spans, most of the classification's share of the drawing there.) Being
 * non-enumerable, it is not copied by spreading a span, not compared by
 * deep equality, not cloned and not serialized. A span that cannot take a
 * property (frozen, sealed, a proxy that refuses) is remembered in the
 * WeakMap instead.
 */
const CLASS = Symbol('lifeline.spanClass');
const frozenSpans = new WeakMap<Span, SpanClass>();

function remembered(span: Span): SpanClass | undefined {
  return (span as { [CLASS]?: SpanClass })[CLASS] ?? frozenSpans.get(span);
}

function remember(span: Span, cls: SpanClass): void {
  if (Object.isExtensible(span)) {
    try {
      Object.defineProperty(span, CLASS, { value: cls });
      return;
    } catch {
      // A proxy's defineProperty trap may refuse: the WeakMap holds it.
    }
  }
  frozenSpans.set(span, cls);
}

/**
 * Classifies a span, using a remembered result when there is one but not
 * remembering a new one: for callers that look at each span once (the
 * summary the store computes while ingesting), where entering every fresh
 * span in the cache costs more than it saves, while a trace the viewer has
 * already drawn is not classified again.
 */
export function classifyWithoutMemo(span: Span): SpanClass {
  return remembered(span) ?? classifyUncached(span);
}

/**
 * Classifies a span afresh. Every class has the same fields, in the same
 * order (absent ones undefined), so that the layout's reads of a field find
 * one shape of object wherever the class came from. Besides what the
 * conventions say, it holds what the layout would otherwise read from the
 * span after the tree has read it: past 100,000 spans those spans are no
 * longer in the CPU cache by then, and each read of one is a trip to memory.
 */
function classifyUncached(span: Span): SpanClass {
  const c = classifyByConventions(span);
  const wait = span.attributes[CONNECTION_WAIT_ATTRIBUTE];
  return {
    category: c.category,
    label: c.label,
    target: c.target,
    method: c.method,
    route: c.route,
    statusCode: c.statusCode,
    dbSystem: c.dbSystem,
    dbNamespace: c.dbNamespace,
    queryText: c.queryText,
    queryTextAttribute: c.queryTextAttribute,
    destination: c.destination,
    service: serviceRef(span.serviceName),
    kind: span.kind,
    batch: batchMember(span),
    connectionWait: typeof wait === 'number' ? wait : undefined,
    mayDepend: mayDepend(span),
    failed: spanRecordsFailure(span),
    statementKey: undefined,
  };
}

function classifyByConventions(span: Span): ConventionClass {
  const a = span.attributes;
  const dbSystem = str(a['db.system.name']) ?? str(a['db.system']);
  const messagingSystem = str(a['messaging.system']);
  const rpcSystem = str(a['rpc.system']);
  const method = httpMethod(span);
  const statusCode = num(a['http.response.status_code']) ?? num(a['http.status_code']);

  if (dbSystem !== undefined && span.kind !== 'server') return classifyDb(span, dbSystem);
  const bullmq = a['bullmq.queue.name'] !== undefined;
  if (messagingSystem !== undefined || bullmq || span.kind === 'producer' || span.kind === 'consumer') {
    const messaging = classifyMessaging(span, messagingSystem);
    if (messaging) return messaging;
  }
  if (rpcSystem !== undefined && (span.kind === 'server' || span.kind === 'client')) {
    const service = str(a['rpc.service']);
    const rpcMethod = str(a['rpc.method']);
    const label = service && rpcMethod ? `${service}/${rpcMethod}` : (rpcMethod ?? service ?? span.name);
    if (span.kind === 'server') return { category: 'rpc-server', label, method: rpcMethod, statusCode };
    return { category: 'rpc-client', label, target: externalTarget(span, service), method: rpcMethod, statusCode };
  }
  if (span.kind === 'server') {
    const route = str(a['http.route']);
    const path = route ?? requestPath(span);
    const label =
      method !== undefined && path !== undefined
        ? `${method} ${route ?? normalizePath(path)}`
        : span.name || method || '';
    return { category: 'http-server', label, method, route, statusCode };
  }
  if (span.kind === 'client') {
    if (method !== undefined) {
      const path = requestPath(span);
      const label = path !== undefined ? `${method} ${normalizePath(path)}` : span.name || method;
      return { category: 'http-client', label, target: externalTarget(span), method, statusCode };
    }
    // A client span with no recognised protocol is still a remote call: draw it to its peer.
    return { category: 'rpc-client', label: span.name, target: externalTarget(span), statusCode };
  }
  return { category: 'internal', label: span.name, statusCode };
}

function classifyDb(span: Span, rawSystem: string): ConventionClass {
  const a = span.attributes;
  const system = rawSystem.toLowerCase();
  const namespace = str(a['db.namespace']) ?? str(a['db.name']);
  const queryTextAttribute =
    str(a['db.query.text']) !== undefined
      ? 'db.query.text'
      : str(a['db.statement']) !== undefined
        ? 'db.statement'
        : undefined;
  const queryText = queryTextAttribute === undefined ? undefined : str(a[queryTextAttribute]);
  const operation = str(a['db.operation.name']) ?? str(a['db.operation']);
  const collection = str(a['db.collection.name']) ?? str(a['db.sql.table']) ?? str(a['db.mongodb.collection']);

  if (CACHE_SYSTEMS.has(system)) {
    const label = batchSizeLabel(cacheLabel(operation, queryText, span.name), declaredBatchSize(span));
    return {
      category: 'cache',
      label,
      target: { key: `cache:${system}`, name: system, kind: 'cache' },
      dbSystem: system,
      dbNamespace: namespace,
      queryText,
      queryTextAttribute,
    };
  }
  const summary = str(a['db.query.summary']);
  let label: string | undefined = summary;
  if (label === undefined && operation !== undefined && collection !== undefined) {
    label = `${sqlLike(system) ? operation.toUpperCase() : operation} ${collection}`;
  }
  if (label === undefined && queryText !== undefined) label = summarizeQuery(queryText);
  if (label === undefined && operation !== undefined) label = sqlLike(system) ? operation.toUpperCase() : operation;
  if (label === undefined) label = span.name;
  return {
    category: 'db',
    label: batchSizeLabel(label, declaredBatchSize(span)),
    target: databaseRef(system, namespace),
    dbSystem: system,
    dbNamespace: namespace,
    queryText,
    queryTextAttribute,
  };
}

/** Participants of databases seen so far, by system then namespace: a trace names a handful. */
const databases = new Map<string, Map<string, ParticipantRef>>();

function databaseRef(system: string, namespace: string | undefined): ParticipantRef {
  let bySpace = databases.get(system);
  if (bySpace === undefined) {
    if (databases.size >= MEMO_LIMIT) databases.clear();
    bySpace = new Map();
    databases.set(system, bySpace);
  }
  const space = namespace ?? '';
  let ref = bySpace.get(space);
  if (ref === undefined) {
    const name = namespace ? `${system} ${namespace}` : system;
    ref = { key: `db:${system}:${space}`, name, kind: 'database' };
    if (bySpace.size >= MEMO_LIMIT) bySpace.clear();
    bySpace.set(space, ref);
  }
  return ref;
}

function classifyMessaging(span: Span, system: string | undefined): ConventionClass | undefined {
  const a = span.attributes;
  const operation = (str(a['messaging.operation.type']) ?? str(a['messaging.operation']))?.toLowerCase();
  let category: SpanCategory | undefined;
  if (span.kind === 'producer') category = 'queue-producer';
  else if (span.kind === 'consumer') category = 'queue-consumer';
  else if (operation !== undefined && PRODUCER_OPERATIONS.has(operation)) category = 'queue-producer';
  else if (operation !== undefined && CONSUMER_OPERATIONS.has(operation)) category = 'queue-consumer';
  if (category === undefined) return undefined;

  const destination = messagingDestination(span);
  const verb =
    category === 'queue-producer'
      ? 'publish'
      : operation === 'receive' || operation === 'deliver'
        ? operation
        : 'process';
  const label = destination !== undefined ? `${verb} ${destination}` : span.name || verb;
  const target: ParticipantRef = {
    key: `queue:${destination ?? system ?? 'queue'}`,
    name: destination ?? system ?? 'queue',
    kind: 'queue',
  };
  return { category, label, target, destination };
}

function messagingDestination(span: Span): string | undefined {
  const a = span.attributes;
  const named = str(a['messaging.destination.name']) ?? str(a['messaging.destination']);
  // RabbitMQ's default exchange has an empty name: the routing key is then the queue.
  if (named !== undefined && named !== '') return named;
  const routingKey =
    str(a['messaging.rabbitmq.destination.routing_key']) ?? str(a['messaging.rabbitmq.routing_key']) ?? undefined;
  if (routingKey) return routingKey;
  // BullMQ's own telemetry names the queue outside the messaging conventions.
  const bullQueue = str(a['bullmq.queue.name']);
  if (bullQueue) return bullQueue;
  // Span names follow "<destination> <operation>" (or the reverse in older conventions).
  const words = span.name.split(/\s+/).filter((w) => w !== '');
  const rest = words.filter((w) => !NAME_VERBS.has(w.toLowerCase()));
  if (rest.length === 1 && words.length === 2) return rest[0];
  return undefined;
}

function externalTarget(span: Span, fallback?: string): ParticipantRef {
  const a = span.attributes;
  const peerService = str(a['peer.service']);
  let host = str(a['server.address']) ?? str(a['net.peer.name']) ?? str(a['net.peer.ip']);
  let port = num(a['server.port']) ?? num(a['net.peer.port']);
  const url = str(a['url.full']) ?? str(a['http.url']);
  if (host === undefined && url !== undefined) {
    const parsed = parseUrl(url);
    if (parsed) {
      host = parsed.hostname;
      port ??= parsed.port ? Number(parsed.port) : undefined;
    }
  }
  const name =
    peerService ?? (host !== undefined ? (port && port !== 80 && port !== 443 ? `${host}:${port}` : host) : undefined);
  const finalName = name ?? fallback ?? (span.name || 'remote');
  return { key: `ext:${finalName}`, name: finalName, kind: 'external' };
}

function httpMethod(span: Span): string | undefined {
  const a = span.attributes;
  const method = str(a['http.request.method']) ?? str(a['http.method']);
  if (method === undefined) return undefined;
  // The conventions use _OTHER for methods outside the known set: the original is kept beside it.
  if (method === '_OTHER') return str(a['http.request.method_original']) ?? 'HTTP';
  return method.toUpperCase();
}

function requestPath(span: Span): string | undefined {
  const a = span.attributes;
  const path = str(a['url.path']) ?? str(a['http.target']);
  if (path !== undefined) return path;
  const url = str(a['url.full']) ?? str(a['http.url']);
  if (url === undefined) return undefined;
  const parsed = parseUrl(url);
  return parsed ? parsed.pathname : undefined;
}

/** The count of arguments left out that redis-common writes at the end of a query text: `[1 other arguments]`. */
const OTHER_ARGUMENTS = /\s*\[\d+ other arguments?\]\s*$/;

/**
 * The label of a cache command: the command and its key pattern. Inside a
 * batch the operation name is the batch's (`MULTI`, `PIPELINE`, or prefixed:
 * `MULTI set`), so the command is the prefixed word or, for a bare batch
 * name, the query text's first word (see batch.ts).
 */
function cacheLabel(operation: string | undefined, queryText: string | undefined, spanName: string): string {
  // Redis instrumentations (redis-common) write the arguments they do not keep as a count,
  // `[2 other arguments]`: a note, never a key, even when no argument before it was kept (`watch [1 other arguments]`).
  const text = queryText?.replace(OTHER_ARGUMENTS, '').trim() ?? '';
  const words = text === '' ? [] : text.split(/\s+/);
  const inBatch = operation !== undefined ? /^(?:MULTI|PIPELINE)(?:\s+(\S+))?$/i.exec(operation.trim()) : null;
  const named = inBatch !== null ? (inBatch[1] ?? (words[0] !== '' ? words[0] : undefined)) : operation;
  const command = (named ?? words[0] ?? spanName).toUpperCase();
  const firstWord = words[0]?.toUpperCase();
  const key = firstWord === command || (firstWord !== undefined && named === undefined) ? words[1] : undefined;
  // Redis instrumentations replace argument values with "?": such a key carries no information.
  if (key === undefined || key === '?' || key === '') return command;
  return `${command} ${normalizeCacheKey(key)}`;
}

/**
 * A span that stands for a whole batch (semantic conventions: one span with
 * `db.operation.batch.size` of 2 or more, its operation named `BATCH …`) says
 * how many operations it carried: `BATCH ×3 INSERT users`.
 */
function batchSizeLabel(label: string, size: number | undefined): string {
  if (size === undefined) return label;
  const rest = label.replace(/^BATCH\b\s*/i, '');
  return rest === '' ? `BATCH ×${size}` : `BATCH ×${size} ${rest}`;
}

function sqlLike(system: string): boolean {
  return !/mongo|cassandra|dynamo|elasticsearch|opensearch|couch|neo4j|firestore|cosmos/.test(system);
}
