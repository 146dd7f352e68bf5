/**
 * A span processor that hands every span to the flow recordings under way
 * (see flow.ts) and does nothing while there are none. The recorder started
 * by `startLifeline` carries one, so `recordFlow` works in a process that is
 * already recording into SQLite, without a second tracer provider.
 */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';

/** What a flow recording is told of each span. */
export interface FlowListener {
  onStart(span: Span): void;
  onEnd(span: ReadableSpan): void;
}

const listenersKey = Symbol.for('lifeline.node.flow-listeners');
type GlobalWithListeners = typeof globalThis & { [listenersKey]?: Set<FlowListener> };

/** The listeners of this process, shared by every copy of this module. */
export function flowListeners(): Set<FlowListener> {
  const holder = globalThis as GlobalWithListeners;
  holder[listenersKey] ??= new Set();
  return holder[listenersKey];
}

/** Forwards spans to the flow listeners; a set lookup per span when nobody listens. */
export class FlowTapSpanProcessor implements SpanProcessor {
  private readonly listeners = flowListeners();

  onStart(span: Span, _parentContext: Context): void {
    for (const listener of this.listeners) listener.onStart(span);
  }

  onEnd(span: ReadableSpan): void {
    for (const listener of this.listeners) listener.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
