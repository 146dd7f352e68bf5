import type { AttributeValue, Span, SpanEvent, SpanKind } from '@lifeline/core';
import {
  asArray,
  asId,
  asNumber,
  asObject,
  asString,
  asTimeNs,
  child,
  type JsonObject,
  optionalArray,
  optionalString,
} from './json-reader.js';
import { splitTags, typedZipkinTag } from './tags.js';

const NS_PER_US = 1000n;
const kinds: Readonly<Record<string, SpanKind>> = {
  CLIENT: 'client',
  SERVER: 'server',
  PRODUCER: 'producer',
  CONSUMER: 'consumer',
};

interface Entry {
  readonly raw: JsonObject;
  readonly place: string;
  readonly traceId: string;
  readonly id: string;
  readonly shared: boolean;
}

/**
 * The span id given to the server half of a Zipkin shared span. Zipkin lets a
 * client and the server it called report the same span id; Lifeline keeps
 * one id per span, so the server half gets a derived id and the client
 * becomes its parent.
 */
function serverHalfId(id: string): string {
  return (BigInt(`0x${id}`) ^ 0x5a17_e11e_5a17_e11en).toString(16).padStart(16, '0');
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

/**
 * Converts Zipkin v2 JSON (an array of spans, or an array of traces as
 * `GET /api/v2/traces` returns) to spans.
 */
export function zipkinToSpans(document: unknown, warnings: string[] = []): Span[] {
  const entries: Entry[] = [];
  asArray(document, '').forEach((item, i) => {
    const place = `[${i}]`;
    const list = Array.isArray(item) ? item.map((s, j) => [s, `${place}[${j}]`] as const) : [[item, place] as const];
    for (const [raw, spanPlace] of list) {
      const s = asObject(raw, spanPlace);
      entries.push({
        raw: s,
        place: spanPlace,
        traceId: asId(s.traceId, child(spanPlace, 'traceId'), 16),
        id: asId(s.id, child(spanPlace, 'id'), 8),
        shared: s.shared === true,
      });
    }
  });
  // Children of a shared span id were recorded by the server that handled
  // the call, so they hang under the server half.
  const clientHalves = new Set(entries.filter((e) => !e.shared).map((e) => `${e.traceId}/${e.id}`));
  const split = new Set(
    entries.filter((e) => e.shared && clientHalves.has(`${e.traceId}/${e.id}`)).map((e) => `${e.traceId}/${e.id}`),
  );
  const seen = new Set<string>();
  const spans: Span[] = [];
  for (const entry of entries) {
    const { raw: s, place, traceId } = entry;
    const isServerHalf = entry.shared && split.has(`${traceId}/${entry.id}`);
    const spanId = isServerHalf ? serverHalfId(entry.id) : entry.id;
    if (seen.has(`${traceId}/${spanId}`)) {
      warnings.push(`${place}: duplicate span id ${spanId} in trace ${traceId}; kept the first`);
      continue;
    }
    seen.add(`${traceId}/${spanId}`);
    let parentSpanId: string | undefined;
    if (isServerHalf) {
      parentSpanId = entry.id;
    } else if (s.parentId !== undefined && s.parentId !== null && s.parentId !== '') {
      const parent = asId(s.parentId, child(place, 'parentId'), 8);
      parentSpanId = split.has(`${traceId}/${parent}`) ? serverHalfId(parent) : parent;
    }
    const kindText = optionalString(s.kind, child(place, 'kind'));
    const tagsPlace = child(place, 'tags');
    const rawTags: Record<string, AttributeValue> = {};
    if (s.tags !== undefined && s.tags !== null) {
      for (const [key, value] of Object.entries(asObject(s.tags, tagsPlace))) {
        rawTags[key] = typedZipkinTag(key, asString(value, child(tagsPlace, key)));
      }
    }
    const tags = splitTags(rawTags);
    const kind = (kindText === undefined ? undefined : kinds[kindText.toUpperCase()]) ?? tags.kind ?? 'internal';
    const local =
      s.localEndpoint === undefined || s.localEndpoint === null
        ? undefined
        : asObject(s.localEndpoint, child(place, 'localEndpoint'));
    const serviceName =
      optionalString(local?.serviceName, child(child(place, 'localEndpoint'), 'serviceName')) || 'unknown_service';
    const resource: Record<string, AttributeValue> = { 'service.name': serviceName };
    const localIp = optionalString(local?.ipv4, child(child(place, 'localEndpoint'), 'ipv4'));
    if (localIp !== undefined) resource['host.ip'] = localIp;
    const timestamp = s.timestamp;
    if (timestamp === undefined || timestamp === null) {
      warnings.push(`${place}: span ${spanId} has no timestamp; skipped`);
      continue;
    }
    const startTimeNs = asTimeNs(timestamp, child(place, 'timestamp'), NS_PER_US);
    const events: SpanEvent[] = optionalArray(s.annotations, child(place, 'annotations')).map((a, j) => {
      const annotationPlace = child(child(place, 'annotations'), j);
      const annotation = asObject(a, annotationPlace);
      return {
        name: asString(annotation.value, child(annotationPlace, 'value')),
        timeNs: asTimeNs(annotation.timestamp, child(annotationPlace, 'timestamp'), NS_PER_US),
        attributes: {},
      };
    });
    const span: { -readonly [K in keyof Span]: Span[K] } = {
      traceId,
      spanId,
      name: optionalString(s.name, child(place, 'name')) ?? '',
      kind,
      serviceName,
      startTimeNs,
      status: tags.status,
      attributes: { ...remoteAttributes(s.remoteEndpoint, child(place, 'remoteEndpoint'), kind), ...tags.attributes },
      events,
      links: [],
      resource,
    };
    if (isServerHalf) span.attributes = { ...span.attributes, 'zipkin.shared_span_id': entry.id };
    if (parentSpanId !== undefined) span.parentSpanId = parentSpanId;
    if (s.duration !== undefined && s.duration !== null) {
      span.endTimeNs = startTimeNs + asTimeNs(s.duration, child(place, 'duration'), NS_PER_US);
    }
    if (tags.scope !== undefined) span.scope = tags.scope;
    spans.push(span);
  }
  return spans;
}

/** Whether a parsed JSON value looks like Zipkin v2 JSON. */
export function isZipkinDocument(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  const first = Array.isArray(value[0]) ? value[0][0] : value[0];
  if (first === undefined) return Array.isArray(value);
  return typeof first === 'object' && first !== null && 'traceId' in first && 'id' in first;
}
