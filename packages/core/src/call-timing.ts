/**
 * Timing facts of a drawn call beyond its start and end: the wait for a
 * pooled connection, a message's time in its queue, and how far the layout
 * moved a consumer for clock skew.
 */
import type { DrawnCall, TraceLayout } from './layout.js';
import { linkedProducer } from './linked-traces.js';
import { layoutShift, type SpanNode } from './tree.js';

/**
 * How long a database call waited for a pooled connection before it was sent
 * (ms), from `db.client.connection.wait_time` in seconds (the name of
 * OpenTelemetry's database client metric for the same wait), or undefined
 * when it did not wait a tenth of a millisecond.
 */
export function connectionWaitMs(call: DrawnCall): number | undefined {
  // Read from the class (see SpanClass.connectionWait): the span itself is out of the cache by now.
  const seconds = call.cls.connectionWait;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0.0001) return undefined;
  return seconds * 1000;
}

/**
 * When the app asked for a call (ns, layout time): the span's start, less the
 * time it waited for a pooled connection first, which is not the caller's
 * own work.
 */
export function sentAt(call: DrawnCall): number {
  const waitMs = connectionWaitMs(call);
  return waitMs === undefined ? call.node.start : call.node.start - waitMs * 1e6;
}

export { CONNECTION_WAIT_ATTRIBUTE } from './attributes.js';

/** Time a consumed message spent in the queue: consumer start minus the end of its producer span. */
export function queueWaitMs(call: DrawnCall, layout: TraceLayout): number | undefined {
  const node = call.node;
  const producer = producerOf(call, layout);
  if (!producer) return undefined;
  const wait = node.start - producer.end;
  return (wait >= 0 ? wait : Math.max(0, node.start - producer.start)) / 1e6;
}

/** The producer span whose message a consumer call processed: its parent, else the one its links name. */
function producerOf(call: DrawnCall, layout: TraceLayout): SpanNode | undefined {
  const node = call.node;
  return node.parent && node.parent.span.kind === 'producer'
    ? node.parent
    : linkedProducer(node.span, layout.tree.byId);
}

/**
 * How far (ns) the layout moved a consumer call later than its producer,
 * because its clock put it before the publish (see `skewShift` in tree.ts),
 * or undefined when it was drawn where the clocks put it.
 */
export function clockAdjustment(call: DrawnCall, layout: TraceLayout): number | undefined {
  const producer = producerOf(call, layout);
  if (producer === undefined) return undefined;
  const shift = layoutShift(call.node, layout.tree) - layoutShift(producer, layout.tree);
  return shift > 0 ? shift : undefined;
}
