import type { AttributeValue, Span, SpanEvent, SpanKind } from '@lifeline/core';
import { SHARED_SPAN_ID_ATTRIBUTE, sharedServerSpanId } from './ids.js';
import { attempt, countUnknownKind, type ImportContext, strictContext } from './import-context.js';
import {
  asArray,
  asNumber,
  asObject,
  asString,
  asTimeNs,
  child,
  endAfter,
  fail,
  type JsonObject,
  optionalArray,
  optionalString,
} from './json-reader.js';
import { splitTags, typedZipkinTag } from './tags.js';
import { zipkinV1ToV2 } from './zipkin-v1.js';

const NS_PER_US = 1000n;
const kinds: Readonly<Record<string, SpanKind>> = {
  CLIENT: 'client',
  SERVER: 'server',
  PRODUCER: 'producer',
  CONSUMER: 'consumer',
};

/** One span as reported, before the reports of one span are merged. */
interface Piece {
  readonly raw: JsonObject;
  readonly place: string;
  readonly traceId: string;
  readonly id: string;
  /** `kind` in upper case, when given. */
  readonly kind: string | undefined;
  /** The server half of a span id shared with its client (`shared: true`, or backfilled). */
  readonly shared: boolean;
}

function remoteAttributes(endpoint: unknown, place: string, kind: SpanKind): Record<string, AttributeValue> {
  if (endpoint === undefined || endpoint === null) return {};
  const e = asObject(endpoint, place);
  const out: Record<string, AttributeValue> = {};
  const service = optionalString(e.serviceName, child(place, 'serviceName'));
  const address =
    optionalString(e.ipv4, child(place, 'ipv4')) ?? optionalString(e.ipv6, child(place, 'ipv6')) ?? undefined;
  if (service !== undefined && service !== '') out['peer.service'] = service;
  if (address !== undefined) out['network.peer.address'] = address;
  if (e.port !== undefined && e.port !== null) out['network.peer.port'] = asNumber(e.port, child(place, 'port'));
  // The callee of a client call is what a diagram draws as the other party.
  if ((kind === 'client' || kind === 'producer') && (service || address)) {
    out['server.address'] = service || (address as string);
  }
  return out;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '' && value !== 0;
}

function endpointOf(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

/**
 * Whether two reports of one span id came from the same place: endpoints
 * that do not contradict each other (service name, IP and port each equal
 * or missing on one side). Zipkin merges such reports; a server that got the
 * same request on two ports stays two spans.
 */
function sameSide(left: Piece, right: Piece): boolean {
  if (left.shared !== right.shared) return false;
  if (left.kind !== undefined && right.kind !== undefined && left.kind !== right.kind) return false;
  const a = endpointOf(left.raw.localEndpoint);
  const b = endpointOf(right.raw.localEndpoint);
  if (a === undefined || b === undefined) return true;
  return ['serviceName', 'ipv4', 'ipv6', 'port'].every((key) => !isSet(a[key]) || !isSet(b[key]) || a[key] === b[key]);
}

function annotationKey(annotation: unknown): string {
  return JSON.stringify(annotation);
}

/**
 * Merges two reports of the same span from the same side, as Zipkin's
 * `Span.Builder.merge` and the Zipkin UI do with spans sent in pieces (v1
 * client/server halves converted to v2, a span flushed twice): the first set
 * parent, name, kind, timestamp and duration win; endpoints, tags and
 * annotations are combined.
 */
function mergePieces(left: Piece, right: Piece): Piece {
  const l = left.raw;
  const r = right.raw;
  const first = (key: string) => (isSet(l[key]) ? l[key] : r[key]);
  const named = (value: unknown) => isSet(value) && value !== 'unknown';
  const combine = (key: string) => {
    const a = endpointOf(l[key]);
    const b = endpointOf(r[key]);
    // Fields one report left empty do not blank what the other said.
    return a === undefined || b === undefined
      ? (a ?? r[key])
      : { ...a, ...Object.fromEntries(Object.entries(b).filter(([, value]) => isSet(value))) };
  };
  let annotations: unknown = l.annotations ?? r.annotations;
  if (Array.isArray(l.annotations) && Array.isArray(r.annotations)) {
    const seen = new Set(l.annotations.map(annotationKey));
    annotations = [...l.annotations, ...r.annotations.filter((a) => !seen.has(annotationKey(a)))];
  }
  const tagsLeft = endpointOf(l.tags);
  const tagsRight = endpointOf(r.tags);
  const raw: Record<string, unknown> = {
    ...r,
    ...l,
    parentId: first('parentId'),
    name: named(l.name) ? l.name : r.name,
    kind: first('kind'),
    timestamp: first('timestamp'),
    duration: first('duration'),
    localEndpoint: combine('localEndpoint'),
    remoteEndpoint: combine('remoteEndpoint'),
    annotations,
    tags: tagsLeft === undefined ? r.tags : tagsRight === undefined ? l.tags : { ...tagsLeft, ...tagsRight },
  };
  return { ...left, raw, kind: left.kind ?? right.kind };
}

function readPiece(raw: unknown, place: string, context: ImportContext): Piece {
  const s = asObject(raw, place);
  const kind = optionalString(s.kind, child(place, 'kind'))?.toUpperCase();
  return {
    raw: s,
    place,
    traceId: context.ids.traceId(s.traceId, child(place, 'traceId')),
    id: context.ids.spanId(s.id, child(place, 'id')),
    kind,
    // `shared` belongs to the server side; Zipkin ignores it on a client span.
    shared: s.shared === true && kind !== 'CLIENT',
  };
}

/**
 * The spans of one span id: reports from the same side merged, and a SERVER
 * report beside a CLIENT one taken as the shared server half even without
 * `shared: true` (older or inconsistent B3 instrumentation), as Zipkin's UI
 * backfills the flag. Returns the client (or only) side first, then the
 * server half, and warns about reports that contradict both.
 */
function resolveSpanId(pieces: readonly Piece[], warnings: string[]): { main?: Piece; server?: Piece } {
  const merged: Piece[] = [];
  const hasClient = pieces.some((p) => p.kind === 'CLIENT');
  for (const original of pieces) {
    const piece =
      !original.shared && hasClient && original.kind === 'SERVER' ? { ...original, shared: true } : original;
    const index = merged.findIndex((m) => sameSide(m, piece));
    if (index === -1) merged.push(piece);
    else merged[index] = mergePieces(merged[index] as Piece, piece);
  }
  const main = merged.find((m) => !m.shared);
  const server = merged.find((m) => m.shared);
  for (const extra of merged) {
    if (extra === main || extra === server) continue;
    warnings.push(
      `${extra.place}: duplicate span id ${extra.id} in trace ${extra.traceId} from another endpoint; kept the first`,
    );
  }
  if (main === undefined) return server === undefined ? {} : { main: server };
  return server === undefined ? { main } : { main, server };
}

/**
 * Converts Zipkin v2 JSON (an array of spans, or an array of traces as
 * `GET /api/v2/traces` returns) to spans; spans in the v1 model
 * (`binaryAnnotations`, endpoints on annotations) are converted to v2 first. Reports of one span id are merged
 * the way Zipkin merges them (see `resolveSpanId`); the server half of a
 * shared id gets its own id, derived from the shared one, with the client
 * half as its parent and `zipkin.shared_span_id` naming the shared id.
 * By default ids must be valid and the first malformed value throws a
 * `TraceFileError`; a lenient context maps ids and skips what is malformed.
 */
export function zipkinToSpans(document: unknown, context: ImportContext = strictContext()): Span[] {
  const firstProblem = context.problems?.length ?? 0;
  const groups = new Map<string, Piece[]>();
  const items = asArray(document, '').flatMap((item, i) => {
    const place = `[${i}]`;
    return Array.isArray(item) ? item.map((s, j) => [s, `${place}[${j}]`] as const) : [[item, place] as const];
  });
  for (const [raw, spanPlace] of zipkinV1ToV2(items)) {
    const piece = attempt(context, 1, () => readPiece(raw, spanPlace, context));
    if (piece === undefined) continue;
    const key = `${piece.traceId}/${piece.id}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [piece]);
    else group.push(piece);
  }
  const resolved = [...groups.values()].map((pieces) => resolveSpanId(pieces, context.warnings));
  // Children of a shared span id were recorded by the server that handled
  // the call, so they hang under the server half.
  const split = new Set(
    resolved.flatMap((r) => (r.server === undefined ? [] : [`${r.server.traceId}/${r.server.id}`])),
  );
  const spans: Span[] = [];
  for (const { main, server } of resolved) {
    for (const piece of [main, server]) {
      if (piece === undefined) continue;
      const isServerHalf = piece === server;
      const span = attempt(context, 1, () => zipkinSpan(piece, isServerHalf, split, context));
      if (span !== undefined) spans.push(span);
    }
  }
  // Ids are read in a first pass and spans converted in a second: report in file order.
  const problems = context.problems?.splice(firstProblem) ?? [];
  problems.sort((a, b) => fileOrder(a.place) - fileOrder(b.place));
  context.problems?.push(...problems);
  return spans;
}

/** `[3].timestamp` → 3, `[1][4].id` → 1.004 (an array of traces), for sorting problems. */
function fileOrder(place: string): number {
  const [, outer, inner] = /^\[(\d+)\](?:\[(\d+)\])?/.exec(place) ?? [];
  return Number(outer ?? 0) + Number(inner ?? 0) / 1e6;
}

function zipkinSpan(piece: Piece, isServerHalf: boolean, split: ReadonlySet<string>, context: ImportContext): Span {
  const { raw: s, place, traceId } = piece;
  const spanId = isServerHalf ? sharedServerSpanId(piece.id) : piece.id;
  let parentSpanId: string | undefined;
  if (isServerHalf) {
    parentSpanId = piece.id;
  } else {
    const parent = context.ids.parentSpanId(s.parentId, child(place, 'parentId'));
    // A span naming itself as parent keeps that link: the diagram places it by
    // its start time and says the link was broken, as for any other format.
    if (parent !== undefined) {
      parentSpanId = parent !== piece.id && split.has(`${traceId}/${parent}`) ? sharedServerSpanId(parent) : parent;
    }
  }
  const tagsPlace = child(place, 'tags');
  const rawTags: Record<string, AttributeValue> = {};
  if (s.tags !== undefined && s.tags !== null) {
    for (const [key, value] of Object.entries(asObject(s.tags, tagsPlace))) {
      // Zipkin's model has string tags, yet some tracers write numbers and
      // booleans (`"http.status_code": 200`): their text is kept, as a string
      // tag would give it. A null says nothing; anything else is refused.
      if (value === null) continue;
      const text = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
      rawTags[key] = typedZipkinTag(key, asString(text, child(tagsPlace, key)));
    }
  }
  const tags = splitTags(rawTags);
  const known = piece.kind === undefined ? undefined : kinds[piece.kind];
  const kind = known ?? tags.kind ?? 'internal';
  const local =
    s.localEndpoint === undefined || s.localEndpoint === null
      ? undefined
      : asObject(s.localEndpoint, child(place, 'localEndpoint'));
  const serviceName =
    optionalString(local?.serviceName, child(child(place, 'localEndpoint'), 'serviceName')) || 'unknown_service';
  const resource: Record<string, AttributeValue> = { 'service.name': serviceName };
  const localIp = optionalString(local?.ipv4, child(child(place, 'localEndpoint'), 'ipv4'));
  if (localIp !== undefined) resource['host.ip'] = localIp;
  if (!isSet(s.timestamp)) fail(child(place, 'timestamp'), `span ${spanId} has no timestamp`);
  const startTimeNs = asTimeNs(s.timestamp, child(place, 'timestamp'), NS_PER_US);
  const events: SpanEvent[] = optionalArray(s.annotations, child(place, 'annotations')).map((a, j) => {
    const annotationPlace = child(child(place, 'annotations'), j);
    const annotation = asObject(a, annotationPlace);
    return {
      name: asString(annotation.value, child(annotationPlace, 'value')),
      timeNs: asTimeNs(annotation.timestamp, child(annotationPlace, 'timestamp'), NS_PER_US),
      attributes: {},
    };
  });
  events.sort((x, y) => (x.timeNs < y.timeNs ? -1 : x.timeNs > y.timeNs ? 1 : 0));
  const span: { -readonly [K in keyof Span]: Span[K] } = {
    traceId,
    spanId,
    name: optionalString(s.name, child(place, 'name')) ?? '',
    kind,
    serviceName,
    startTimeNs,
    status: tags.status,
    attributes: {
      ...remoteAttributes(s.remoteEndpoint, child(place, 'remoteEndpoint'), kind),
      ...tags.attributes,
      ...context.ids.originals(s.traceId, s.id),
    },
    events,
    links: [],
    resource,
  };
  if (isServerHalf) span.attributes = { ...span.attributes, [SHARED_SPAN_ID_ATTRIBUTE]: piece.id };
  if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
  if (isSet(s.duration)) {
    const durationPlace = child(place, 'duration');
    span.endTimeNs = endAfter(startTimeNs, asTimeNs(s.duration, durationPlace, NS_PER_US), durationPlace);
  }
  if (tags.scope !== undefined) span.scope = tags.scope;
  // Counted once the span is read: a span skipped for another problem gets that one message only.
  if (piece.kind !== undefined && known === undefined) countUnknownKind(context, piece.kind);
  else if (piece.kind === undefined && tags.unknownKind !== undefined) countUnknownKind(context, tags.unknownKind);
  return span;
}

/** Whether a parsed JSON value looks like Zipkin JSON (v2, or v1 with the same `traceId` and `id`). */
export function isZipkinDocument(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  const first = Array.isArray(value[0]) ? value[0][0] : value[0];
  if (first === undefined) return Array.isArray(value);
  return typeof first === 'object' && first !== null && 'traceId' in first && 'id' in first;
}
