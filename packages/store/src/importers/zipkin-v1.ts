import { asObject, child, type JsonObject, optionalArray } from './json-reader.js';

/** A Zipkin v1 span as the v1 API (`/api/v1/trace/<id>`) and v1 reporters write it. */
interface V1Span {
  readonly raw: JsonObject;
  readonly place: string;
  readonly annotations: JsonObject[];
  readonly binaryAnnotations: JsonObject[];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a span is in Zipkin's v1 model: endpoints on each annotation
 * (`cs`, `sr`, …) and `binaryAnnotations` for tags, instead of v2's `kind`,
 * `localEndpoint` and `tags`.
 */
export function isZipkinV1Span(value: unknown): value is JsonObject {
  if (!isObject(value) || 'localEndpoint' in value || 'kind' in value || 'tags' in value) return false;
  if (Array.isArray(value.binaryAnnotations)) return true;
  return Array.isArray(value.annotations) && value.annotations.some((a) => isObject(a) && 'endpoint' in a);
}

/** The key of a v1 span for merging its reports: trace id and id as the reporters wrote them, normalised. */
function v1Key(raw: JsonObject): string {
  const id = (value: unknown) =>
    String(value ?? '')
      .toLowerCase()
      .padStart(32, '0');
  return `${id(raw.traceId)}/${id(raw.id)}`;
}

function readV1(raw: JsonObject, place: string): V1Span {
  const list = (key: string) =>
    optionalArray(raw[key], child(place, key)).map((a, i) => asObject(a, child(child(place, key), i)));
  return { raw, place, annotations: list('annotations'), binaryAnnotations: list('binaryAnnotations') };
}

/**
 * Merges the v1 reports of one span: in v1 the client and the server each
 * report their half of a span (`cs`/`cr` and `sr`/`ss`) under the same id,
 * and Zipkin joins them before reading them; the first set name, parent,
 * timestamp and duration win.
 */
function mergeV1(left: V1Span, right: V1Span): V1Span {
  const first = (key: string) => {
    const value = left.raw[key];
    return value !== undefined && value !== null && value !== '' && value !== 0 && value !== 'unknown'
      ? value
      : right.raw[key];
  };
  return {
    raw: {
      ...right.raw,
      ...left.raw,
      name: first('name'),
      parentId: first('parentId'),
      timestamp: first('timestamp'),
      duration: first('duration'),
    },
    place: left.place,
    annotations: [...left.annotations, ...right.annotations],
    binaryAnnotations: [...left.binaryAnnotations, ...right.binaryAnnotations],
  };
}

function sameEndpoint(a: unknown, b: unknown): boolean {
  if (!isObject(a) || !isObject(b)) return false;
  return a.serviceName === b.serviceName && (a.ipv4 === undefined || b.ipv4 === undefined || a.ipv4 === b.ipv4);
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Binary annotation values are strings, booleans or numbers; v2 tags are strings. */
function tagText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Converts one (merged) v1 span to v2 spans, following the model change
 * Zipkin documents for its v1 → v2 conversion: `cs`/`cr` make a CLIENT span,
 * `sr`/`ss` a SERVER span with the same id (the shared server half), `ms` a
 * PRODUCER and `mr` a CONSUMER span, each with the endpoint of its
 * annotations as local endpoint; `sa`, `ca` and `ma` binary annotations name
 * the remote endpoints; other annotations and binary annotations go to the
 * span of their endpoint as annotations and tags. A span with none of the
 * core annotations is a local span (`lc`).
 */
function toV2(span: V1Span): JsonObject[] {
  const { raw, annotations, binaryAnnotations } = span;
  const find = (value: string) => annotations.find((a) => a.value === value);
  const address = (key: string) => binaryAnnotations.find((b) => b.key === key)?.endpoint;
  const base = { traceId: raw.traceId, id: raw.id, parentId: raw.parentId, name: raw.name, debug: raw.debug };
  const v1Timestamp = numberOf(raw.timestamp);
  const v1Duration = numberOf(raw.duration);
  const sides: Record<string, unknown>[] = [];
  const side = (kind: string, start: JsonObject | undefined, end: JsonObject | undefined, remote: unknown) => {
    // Messaging spans need their start: `ws`/`wr` alone are wire annotations of any span.
    const anchor = kind === 'PRODUCER' || kind === 'CONSUMER' ? start : (start ?? end);
    if (anchor === undefined) return;
    const startUs = numberOf(start?.timestamp);
    const endUs = numberOf(end?.timestamp);
    // The span's own timestamp and duration belong to the side that started it.
    const timestamp = startUs ?? (sides.length === 0 ? v1Timestamp : undefined);
    let duration = startUs !== undefined && endUs !== undefined ? endUs - startUs : undefined;
    if (duration === undefined && timestamp !== undefined && timestamp === v1Timestamp) duration = v1Duration;
    const v2: Record<string, unknown> = { ...base, kind, localEndpoint: anchor.endpoint, annotations: [], tags: {} };
    if (timestamp !== undefined) v2.timestamp = timestamp;
    if (duration !== undefined) v2.duration = duration;
    if (remote !== undefined) v2.remoteEndpoint = remote;
    sides.push(v2);
  };
  const cs = find('cs');
  const sr = find('sr');
  side('CLIENT', cs, find('cr'), address('sa') ?? sr?.endpoint);
  side('SERVER', sr, find('ss'), address('ca') ?? cs?.endpoint);
  side('PRODUCER', find('ms'), find('ws'), address('ma'));
  side('CONSUMER', find('mr'), find('wr'), address('ma'));
  if (sides.length === 0) {
    const local =
      binaryAnnotations.find((b) => b.key === 'lc')?.endpoint ??
      annotations.find((a) => a.endpoint !== undefined)?.endpoint ??
      binaryAnnotations.find((b) => b.endpoint !== undefined)?.endpoint;
    const v2: Record<string, unknown> = { ...base, annotations: [], tags: {} };
    if (local !== undefined) v2.localEndpoint = local;
    if (v1Timestamp !== undefined) v2.timestamp = v1Timestamp;
    if (v1Duration !== undefined) v2.duration = v1Duration;
    sides.push(v2);
  }
  // There is always a side by now: a span without core annotations became a local span.
  const owner = (endpoint: unknown) =>
    (sides.find((s) => sameEndpoint(s.localEndpoint, endpoint)) ?? sides[0]) as {
      annotations: unknown[];
      tags: Record<string, string>;
    };
  const core = new Set(['cs', 'cr', 'sr', 'ss', 'ms', 'mr']);
  for (const annotation of annotations) {
    const value = annotation.value;
    if (typeof value === 'string' && core.has(value)) continue;
    const target = owner(annotation.endpoint);
    target.annotations.push({ timestamp: annotation.timestamp, value });
  }
  for (const binary of binaryAnnotations) {
    const key = binary.key;
    if (typeof key !== 'string' || key === 'sa' || key === 'ca' || key === 'ma') continue;
    const target = owner(binary.endpoint);
    target.tags[key] = tagText(binary.value);
  }
  return sides;
}

/**
 * Converts the Zipkin v1 spans among `items` (each with its JSON path) to
 * v2 spans, merging v1 reports of one span first; v2 spans pass unchanged.
 * A v1 span that cannot be read is handed on as it is, so the v2 reader
 * reports it at its place.
 */
export function zipkinV1ToV2(items: readonly (readonly [unknown, string])[]): [unknown, string][] {
  const v1 = new Map<string, V1Span>();
  const out: ([unknown, string] | string)[] = [];
  for (const [raw, place] of items) {
    if (!isZipkinV1Span(raw)) {
      out.push([raw, place]);
      continue;
    }
    let span: V1Span;
    try {
      span = readV1(raw, place);
    } catch {
      out.push([raw, place]);
      continue;
    }
    const key = v1Key(raw);
    const known = v1.get(key);
    if (known === undefined) {
      v1.set(key, span);
      out.push(key);
    } else {
      v1.set(key, mergeV1(known, span));
    }
  }
  return out.flatMap((entry) => {
    if (typeof entry !== 'string') return [entry];
    const span = v1.get(entry) as V1Span;
    return toV2(span).map((v2) => [v2, span.place] as [unknown, string]);
  });
}
