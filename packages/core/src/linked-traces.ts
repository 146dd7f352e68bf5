/**
 * Joins traces connected by span links into the picture of one of them.
 *
 * A consumer that starts a trace of its own (always so for a batch: the
 * OpenTelemetry messaging conventions, "Batch receiving") carries each
 * message's producer as a span link, not as a parent. A store reads a trace
 * together with the traces linked to it; this module decides which of those
 * spans belong in the picture of the requested trace (the focus):
 *
 * - the focus trace's own spans;
 * - every consumer span of another trace with a link to a producer span
 *   already in the picture, with everything under it in its own trace: the
 *   processing of a message this request published, once per consumer
 *   (fan-out), and in turn the consumers of what that processing published.
 *   Under such a consumer, a consumer span whose links name only messages
 *   of other traces is left out with everything under it: a batch received
 *   at once and then processed a message at a time (the OpenTelemetry
 *   messaging conventions, "Batch receiving") has a `process` span per
 *   message, linked to that message alone, and only this request's are its.
 *
 * Nothing upstream is joined: a consumer's own trace is drawn from its
 * consumer span, and the other producers of a batch never enter a producer's
 * picture, so one request is never drawn as if it had sent another's.
 * Every pass is iterative and linear in spans plus links, whatever the links
 * do (cycles, links into the same trace, links to traces that are absent).
 */
import { numberAttribute } from './attributes.js';
import { classifySpan } from './classify.js';
import type { Span, SpanLink, Trace } from './trace.js';

/** What {@link linkedTraceView} keeps of a trace read with its linked traces. */
export interface LinkedTraceView {
  /** The focus trace's spans and the joined ones, in input order. */
  readonly trace: Trace;
  /**
   * Joined spans of other traces whose parent is not in the picture (the
   * consumer spans the links joined): roots of their own, drawn where their
   * producer's message went rather than under the focus trace's root.
   */
  readonly joinedRoots: ReadonlySet<unknown>;
  /** What could not be joined, for people reading the diagram. */
  readonly notes: readonly string[];
}

const NOTHING_JOINED: ReadonlySet<unknown> = new Set();

/**
 * The part of a trace read with its linked traces that belongs in the focus
 * trace's picture (see the module comment for the rule). A trace whose spans
 * all share its id, or none of them does, is returned as it is. Never throws.
 *
 * @example
 * ```ts
 * const raw = store.getTrace(id, { linked: true }); // the request, plus every trace linked to it
 * const { trace } = linkedTraceView(raw); // the request and the processing of its own messages only
 * ```
 */
export function linkedTraceView(trace: Trace): LinkedTraceView {
  const spans: readonly unknown[] = Array.isArray(trace?.spans) ? trace.spans : [];
  const focus = trace?.traceId;
  let own = false;
  let other = false;
  for (const raw of spans) {
    const id = traceIdOf(raw);
    if (id === undefined || id === focus) own = true;
    else other = true;
  }
  if (!own || !other) return { trace, joinedRoots: NOTHING_JOINED, notes: [] };

  // Spans of the other traces: by trace and span id, their children, and the
  // consumers among them by the producer each link names.
  const byKey = new Map<string, Span>();
  const children = new Map<string, Span[]>();
  const consumersOf = new Map<string, Span[]>();
  const inView = new Set<unknown>();
  const viewIds = new Set<string>();
  const producers: string[] = [];
  // The same producers, to ask whether a link names a message of the picture.
  const viewProducers = new Set<string>();
  for (const raw of spans) {
    const id = traceIdOf(raw);
    if (id === undefined || id === focus) {
      inView.add(raw);
      const span = raw as Partial<Span>;
      if (typeof span.spanId === 'string') {
        viewIds.add(span.spanId);
        if (span.kind === 'producer') {
          producers.push(spanKey(id ?? '', span.spanId));
          viewProducers.add(spanKey(id ?? '', span.spanId));
        }
      }
      continue;
    }
    const span = raw as Span;
    if (typeof span.spanId !== 'string' || span.spanId === '') continue;
    const key = spanKey(id, span.spanId);
    if (!byKey.has(key)) byKey.set(key, span);
    if (typeof span.parentSpanId === 'string' && span.parentSpanId !== '') {
      push(children, spanKey(id, span.parentSpanId), span);
    }
    if (!Array.isArray(span.links) || span.links.length === 0) continue;
    if (!isConsumer(span)) continue;
    const named = new Set<string>();
    for (const link of span.links) {
      const target = linkKey(link);
      if (target === undefined || named.has(target)) continue;
      named.add(target);
      push(consumersOf, target, span);
    }
  }

  const notes: string[] = [];
  let collisions = 0;
  // Worklist of producers in the picture: each joins the consumers that link
  // to it, whose own producers join theirs in turn.
  for (let i = 0; i < producers.length; i++) {
    for (const consumer of consumersOf.get(producers[i] as string) ?? []) {
      if (inView.has(consumer)) continue;
      const subtree = subtreeOf(consumer, children, inView, viewProducers);
      // The tree knows a span by its id: a joined span that repeats an id of
      // the picture would replace one of its spans.
      if (subtree.some((span) => viewIds.has(span.spanId))) {
        collisions++;
        continue;
      }
      for (const span of subtree) {
        inView.add(span);
        viewIds.add(span.spanId);
        if (span.kind === 'producer') {
          producers.push(spanKey(span.traceId, span.spanId));
          viewProducers.add(spanKey(span.traceId, span.spanId));
        }
      }
    }
  }
  if (collisions > 0) {
    notes.push(
      `${collisions} linked ${collisions === 1 ? 'consumer reuses span ids' : 'consumers reuse span ids'} of this trace: not drawn`,
    );
  }

  const kept: unknown[] = [];
  const joinedRoots = new Set<unknown>();
  for (const raw of spans) {
    if (!inView.has(raw)) continue;
    kept.push(raw);
    const id = traceIdOf(raw);
    if (id === undefined || id === focus) continue;
    const span = raw as Span;
    const parent = typeof span.parentSpanId === 'string' ? byKey.get(spanKey(id, span.parentSpanId)) : undefined;
    if (parent === undefined || !inView.has(parent)) joinedRoots.add(raw);
  }
  return { trace: { traceId: focus as string, spans: kept as Span[] }, joinedRoots, notes };
}

/**
 * The focus trace's picture of a trace read with its linked traces: its own
 * spans and the processing of the messages it published (see
 * {@link linkedTraceView}).
 */
export function joinLinkedTraces(trace: Trace): Trace {
  return linkedTraceView(trace).trace;
}

/**
 * The producer span a consumer's links name, when it is in the picture: the
 * first link, in the order the span lists them, whose span is a producer of
 * the linked trace. The queue wait and the consumer's place are both measured
 * from it, so the two always agree.
 */
export function linkedProducer<N extends { readonly span: Span }>(
  span: Span,
  byId: ReadonlyMap<string, N>,
): N | undefined {
  for (const link of span.links) {
    if (typeof link !== 'object' || link === null || typeof link.spanId !== 'string') continue;
    const linked = byId.get(link.spanId);
    if (linked === undefined || linked.span === span || linked.span.kind !== 'producer') continue;
    // Ids are unique within a trace only: a link into another trace names a different span.
    const own = linked.span.traceId;
    if (typeof link.traceId === 'string' && typeof own === 'string' && link.traceId !== '' && link.traceId !== own) {
      continue;
    }
    return linked;
  }
  return undefined;
}

/**
 * Says that a consumer span handled a batch: its size (`messaging.batch.message_count`,
 * else the number of links, one per message by the OpenTelemetry messaging
 * conventions) and how many traces the messages came from, e.g.
 * `batch of 2 messages from 2 traces`. Undefined for a single message.
 */
export function batchNote(span: Span): string | undefined {
  const links = Array.isArray(span.links) ? span.links : [];
  const traces = new Set<string>();
  let messages = 0;
  for (const link of links) {
    if (typeof link !== 'object' || link === null || typeof link.traceId !== 'string') continue;
    messages++;
    traces.add(link.traceId);
  }
  const count = numberAttribute(span, BATCH_COUNT_KEYS);
  const size = count !== undefined && Number.isInteger(count) && count > 0 ? count : messages;
  if (size <= 1 && traces.size <= 1) return undefined;
  const from = traces.size > 0 ? ` from ${traces.size} ${traces.size === 1 ? 'trace' : 'traces'}` : '';
  return `batch of ${size} ${size === 1 ? 'message' : 'messages'}${from}`;
}

const BATCH_COUNT_KEYS = ['messaging.batch.message_count'];

/**
 * A span and everything under it in its own trace, parents first. Spans
 * already in the picture stop the walk, and so does a consumer of another
 * request's message (see {@link processesOtherMessages}).
 */
function subtreeOf(
  root: Span,
  children: ReadonlyMap<string, Span[]>,
  inView: ReadonlySet<unknown>,
  viewProducers: ReadonlySet<string>,
): Span[] {
  const out: Span[] = [root];
  const seen = new Set<Span>(out);
  for (let i = 0; i < out.length; i++) {
    const span = out[i] as Span;
    for (const child of children.get(spanKey(span.traceId, span.spanId)) ?? []) {
      if (seen.has(child) || inView.has(child)) continue;
      seen.add(child);
      if (processesOtherMessages(child, viewProducers)) continue;
      out.push(child);
    }
  }
  return out;
}

/** A consumer span by its kind, or by its messaging attributes when its kind says nothing. */
function isConsumer(span: Span): boolean {
  return span.kind === 'consumer' || classifySpan(span).category === 'queue-consumer';
}

/**
 * Whether a consumer span handles messages of other requests only: its links
 * name spans of other traces, and none of them a producer in the picture. A
 * consumer without links (a single message, or a link-less library) is the
 * processing of whatever its parent took, and stays.
 */
function processesOtherMessages(span: Span, viewProducers: ReadonlySet<string>): boolean {
  if (!Array.isArray(span.links) || span.links.length === 0 || !isConsumer(span)) return false;
  let foreign = false;
  for (const link of span.links) {
    const target = linkKey(link);
    if (target === undefined) continue;
    if (viewProducers.has(target)) return false;
    if (link.traceId !== span.traceId) foreign = true;
  }
  return foreign;
}

function traceIdOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as Partial<Span>).traceId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function linkKey(link: SpanLink | null | undefined): string | undefined {
  if (typeof link !== 'object' || link === null) return undefined;
  if (typeof link.traceId !== 'string' || typeof link.spanId !== 'string') return undefined;
  return spanKey(link.traceId, link.spanId);
}

function spanKey(traceId: string, spanId: string): string {
  return `${traceId}\u0000${spanId}`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
