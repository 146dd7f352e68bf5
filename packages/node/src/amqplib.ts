/**
 * RabbitMQ consumers (amqplib) whose message spans last as long as their
 * handlers.
 *
 * `@opentelemetry/instrumentation-amqplib` opens a `<queue> process` span
 * for each delivered message and runs the handler in its context, but it
 * does not look at what the handler returns: it ends the span right after
 * the handler returned when the consumer acknowledges automatically
 * (`noAck`), and at `ack`/`nack` otherwise. An async handler that awaits its
 * database and HTTP calls has only begun by then. Its calls still name the
 * message's span as their parent, but they start after that span ended: a
 * message's work is drawn detached from its message, and handlers that ran
 * side by side (prefetch above one) look like instants one after the other.
 *
 * Here a handler that returns a promise holds its message's span open until
 * the promise settles: the span ends at the later of the settlement and the
 * end the instrumentation asked for (the acknowledgement), so every call the
 * handler made while handling the message lies inside it, and overlapping
 * handlers overlap. A handler that throws, or whose promise rejects, fails
 * its message's span (a `nack`, which says more, keeps its status). A
 * handler that returns nothing ends with its return at the earliest.
 */
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { AmqplibInstrumentation, type AmqplibInstrumentationConfig } from '@opentelemetry/instrumentation-amqplib';
import { errorType } from './call-endings.js';

// biome-ignore lint/suspicious/noExplicitAny: wraps functions of any signature
type AnyFunction = (this: any, ...args: any[]) => any;

/** The span fields read to tell the message's own span from any other active span. */
interface MessageSpan extends Span {
  readonly kind?: SpanKind;
  readonly ended?: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function errorText(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return String(error);
}

/** How a handler ended: undefined when it returned (or its promise resolved), the reason when it failed. */
type Handled = undefined | { readonly reason: unknown };

/**
 * Holds `span`'s end: an `end()` asked for before the returned function is
 * called is carried out then. A failure given to it fails the span unless
 * something set its status already (the instrumentation's `nack`, which
 * says more).
 */
function holdEnd(span: MessageSpan): (handled: Handled) => void {
  const end = span.end;
  let endAsked = false;
  span.end = function deferredEnd() {
    endAsked = true;
  };
  return (handled) => {
    span.end = end;
    if (handled !== undefined) {
      const { reason } = handled;
      span.recordException(reason instanceof Error ? reason : errorText(reason));
      const status = (span as { status?: { code?: SpanStatusCode } }).status;
      if (status?.code !== SpanStatusCode.ERROR) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(reason) });
        span.setAttribute('error.type', errorType(reason));
      }
    }
    if (endAsked) span.end();
  };
}

/**
 * The message handler given to `channel.consume`, wrapped so that its
 * message's span (the active span when the instrumentation calls it) ends
 * no earlier than the handler: when it returns, or when the promise it
 * returns settles. An acknowledgement the handler gives before its work is
 * done (even before its first await) waits for the work.
 */
function holdingSpanOpen(onMessage: AnyFunction): AnyFunction {
  return function handleMessage(this: unknown, ...args: unknown[]) {
    const span = trace.getActiveSpan() as MessageSpan | undefined;
    if (args[0] === null || span === undefined || span.kind !== SpanKind.CONSUMER || span.ended === true) {
      return Reflect.apply(onMessage, this, args);
    }
    const release = holdEnd(span);
    let result: unknown;
    try {
      result = Reflect.apply(onMessage, this, args);
    } catch (error) {
      release({ reason: error });
      throw error;
    }
    if (isThenable(result)) {
      result.then(
        () => release(undefined),
        (reason: unknown) => release({ reason }),
      );
    } else {
      release(undefined);
    }
    return result;
  };
}

/** See the module description. */
class LifelineAmqplibInstrumentation extends AmqplibInstrumentation {
  constructor(config: AmqplibInstrumentationConfig = {}) {
    super(config);
    // The instrumentation builds its consume patch with this factory when
    // amqplib is loaded, after this constructor; the handler is wrapped
    // before the patch wraps it again, so it runs inside the message's span.
    const holder = this as unknown as Record<string, unknown>;
    const factory = holder.getConsumePatch;
    if (typeof factory !== 'function') return;
    holder.getConsumePatch = function (this: unknown, moduleVersion: unknown, original: AnyFunction) {
      const traced = (factory as AnyFunction).call(this, moduleVersion, original) as AnyFunction;
      return function consume(this: unknown, ...args: unknown[]) {
        if (typeof args[1] === 'function') args[1] = holdingSpanOpen(args[1] as AnyFunction);
        return Reflect.apply(traced, this, args);
      };
    };
  }
}

/**
 * `@opentelemetry/instrumentation-amqplib` whose message spans last as long
 * as their async handlers (see the module description).
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [createAmqplibInstrumentation()] });
 * ```
 */
export function createAmqplibInstrumentation(config: AmqplibInstrumentationConfig = {}): Instrumentation {
  return new LifelineAmqplibInstrumentation(config);
}
