/**
 * BullMQ beside its own telemetry (`bullmq-otel`): BullMQ draws its producer
 * and consumer spans itself, and this module covers the two things its
 * telemetry leaves out of a request's diagram.
 *
 * - A sandboxed processor (a processor given as a file, run by BullMQ in a
 *   forked child process or a worker thread) receives the job as a message
 *   with no trace context, so its calls became traces of their own. The
 *   parent now puts the active context (its `process <queue>` span) on the
 *   job it sends, and the child, which BullMQ starts with the parent's
 *   `execArgv` and so with Lifeline preloaded, runs the processor inside it.
 * - A failed attempt is only a `job failed` event on the consumer span, its
 *   status left unset; {@link BullMQFailedAttemptSpanProcessor} marks it.
 */
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} from '@opentelemetry/instrumentation';
import type { Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace';

const packageVersion = '0.1.0';

/** BullMQ majors whose sandbox protocol (`Child#send`, `ChildProcessor#start`) this module knows. */
const supportedVersions = ['>=5.0.0 <7'];

/**
 * Key of the job field that carries the trace context from the parent to the
 * sandboxed child: a W3C trace-context carrier (`traceparent`, `tracestate`,
 * `baggage`) of the parent's active context. The child takes it off the job
 * before the processor sees it.
 */
export const sandboxTraceContextKey = 'lifeline.traceContext';

/** `ChildCommand.Start` of BullMQ's sandbox protocol: the message that hands a child its job. */
const startCommand = 1;
/**
 * `ParentCommand.Completed`, `Error` and `Failed`: the child's answer for a
 * job (`Error` when it could not start it, `Failed` when the processor threw).
 */
const completedCommand = 0;
const errorCommand = 1;
const failedCommand = 2;

/** The name BullMQ gives a failed attempt's event on the consumer span (`Worker#handleFailed`). */
export const bullmqJobFailedEvent = 'job failed';
/** The event attribute holding the failed attempt's error message. */
export const bullmqJobFailedReason = 'bullmq.job.failed.reason';

type Carrier = Record<string, string>;

/**
 * The class name (`error.name`) of the error each failed attempt's consumer
 * span ended with, noted by the patched `Worker#handleFailed` for
 * {@link BullMQFailedAttemptSpanProcessor}: BullMQ's event names only the message.
 */
const failedAttemptErrors = new WeakMap<object, string>();

interface SandboxMessage {
  readonly cmd?: unknown;
  readonly job?: unknown;
}

interface JobJson {
  readonly [sandboxTraceContextKey]?: Carrier;
  readonly name?: unknown;
  readonly id?: unknown;
  readonly queueName?: unknown;
  readonly attemptsMade?: unknown;
  readonly opts?: { readonly telemetry?: { readonly metadata?: unknown } };
}

interface WorkerLike {
  handleFailed(error: unknown, ...rest: unknown[]): Promise<unknown>;
}

interface ChildLike {
  send(message: unknown): Promise<void>;
}

interface ChildProcessorLike {
  send(message: unknown): Promise<unknown>;
  start(jobJson: unknown, token?: string): Promise<unknown>;
}

type Constructor<T> = { prototype: T };

const consumerSpanKey = Symbol('lifeline.bullmq.consumerSpan');
type WithConsumerSpan = ChildProcessorLike & { [consumerSpanKey]?: Span };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * The class name of an error for `error.type`. An error from a sandboxed
 * processor crosses to the parent as its own properties (BullMQ's
 * `errorToJSON`), which leave the prototype's `name` behind and rebuild it as
 * a plain `Error`; its stack still begins with the original class name.
 */
function errorClassName(error: Record<string, unknown>): string | undefined {
  if (Object.hasOwn(error, 'name') && typeof error.name === 'string' && error.name !== '') return error.name;
  const fromStack =
    typeof error.stack === 'string' ? /^([A-Za-z_$][\w$.]*)(?::|\n|$)/.exec(error.stack)?.[1] : undefined;
  if (fromStack !== undefined) return fromStack;
  return typeof error.name === 'string' && error.name !== '' ? error.name : undefined;
}

/**
 * Traces what BullMQ's own telemetry cannot: the calls of a sandboxed
 * processor (a processor file run in a forked child or a worker thread)
 * continue the trace of the job's `process <queue>` span.
 *
 * In the parent, `Child#send` adds the active context to the job of every
 * start message; in the child, `ChildProcessor#start` takes it off and runs
 * the job inside it. When the job arrives without it (the parent records
 * nothing) but with BullMQ's own telemetry metadata (`job.opts.telemetry`),
 * the child opens a consumer span `process <queue>` continuing the
 * producer's trace, ended with the job's outcome.
 *
 * @example
 * ```ts
 * registerInstrumentations({ instrumentations: [new BullMQSandboxInstrumentation()] });
 * ```
 */
export class BullMQSandboxInstrumentation extends InstrumentationBase {
  constructor(config: InstrumentationConfig = {}) {
    super('@lifeline/node/bullmq', packageVersion, config);
  }

  protected override init(): InstrumentationNodeModuleDefinition[] {
    const file = (path: string, patch: (exports: Record<string, unknown>) => void, unpatch: typeof patch) =>
      new InstrumentationNodeModuleFile(
        `bullmq/dist/cjs/classes/${path}`,
        supportedVersions,
        (exports: Record<string, unknown>) => {
          patch(exports);
          return exports;
        },
        (exports?: Record<string, unknown>) => {
          if (exports !== undefined) unpatch(exports);
        },
      );
    return [
      new InstrumentationNodeModuleDefinition('bullmq', supportedVersions, undefined, undefined, [
        file(
          'worker.js',
          (exports) => this.#patchWorker(exports.Worker as Constructor<WorkerLike> | undefined),
          (exports) => this.#unpatch(exports.Worker as Constructor<WorkerLike> | undefined, 'handleFailed'),
        ),
        file(
          'child.js',
          (exports) => this.#patchChild(exports.Child as Constructor<ChildLike> | undefined),
          (exports) => this.#unpatch(exports.Child as Constructor<ChildLike> | undefined, 'send'),
        ),
        file(
          'child-processor.js',
          (exports) => this.#patchChildProcessor(exports.ChildProcessor as Constructor<ChildProcessorLike> | undefined),
          (exports) => this.#unpatch(exports.ChildProcessor as Constructor<ChildProcessorLike> | undefined, 'start'),
        ),
      ]),
    ];
  }

  #unpatch<T extends object>(target: Constructor<T> | undefined, method: keyof T & string): void {
    const proto = target?.prototype as Record<string, unknown> | undefined;
    if (proto !== undefined && isWrapped(proto[method])) this._unwrap(proto as T, method as keyof T);
  }

  /**
   * `handleFailed` runs inside the attempt's `process` span (BullMQ's
   * telemetry makes it the active span): the error's class name is noted for
   * that span's `error.type`.
   */
  #patchWorker(Worker: Constructor<WorkerLike> | undefined): void {
    if (Worker === undefined || typeof Worker.prototype.handleFailed !== 'function') return;
    this.#unpatch(Worker, 'handleFailed');
    this._wrap(Worker.prototype, 'handleFailed', (original) => {
      return function handleFailed(this: WorkerLike, error: unknown, ...rest: unknown[]) {
        const span = trace.getActiveSpan();
        const name = isObject(error) ? errorClassName(error) : undefined;
        if (span !== undefined && name !== undefined) failedAttemptErrors.set(span, name);
        return original.call(this, error, ...rest);
      };
    });
  }

  /** Parent side: the start message carries the active context on its job. */
  #patchChild(Child: Constructor<ChildLike> | undefined): void {
    if (Child === undefined || typeof Child.prototype.send !== 'function') return;
    this.#unpatch(Child, 'send');
    this._wrap(Child.prototype, 'send', (original) => {
      return function send(this: ChildLike, message: unknown) {
        if (!isObject(message) || (message as SandboxMessage).cmd !== startCommand || !isObject(message.job)) {
          return original.call(this, message);
        }
        const carrier: Carrier = {};
        propagation.inject(context.active(), carrier);
        if (Object.keys(carrier).length === 0) return original.call(this, message);
        return original.call(this, { ...message, job: { ...message.job, [sandboxTraceContextKey]: carrier } });
      };
    });
  }

  /** Child side: the processor runs in the context the parent sent, or in a consumer span of its own. */
  #patchChildProcessor(ChildProcessor: Constructor<ChildProcessorLike> | undefined): void {
    if (ChildProcessor === undefined || typeof ChildProcessor.prototype.start !== 'function') return;
    const instrumentation = this;
    this.#unpatch(ChildProcessor, 'start');
    this._wrap(ChildProcessor.prototype, 'start', (original) => {
      return function start(this: WithConsumerSpan, jobJson: unknown, token?: string) {
        if (!isObject(jobJson)) return original.call(this, jobJson, token);
        const { [sandboxTraceContextKey]: carrier, ...job } = jobJson as JobJson & Record<string, unknown>;
        if (isObject(carrier)) {
          // `start` launches the job without awaiting it: whatever the
          // processor does is bound to the context active here.
          return context.with(propagation.extract(ROOT_CONTEXT, carrier), () => original.call(this, job, token));
        }
        const producer = producerContext(job);
        if (producer === undefined) return original.call(this, job, token);
        const span = instrumentation.#startConsumerSpan(job, producer);
        this[consumerSpanKey] = span;
        endWithOutcome(this);
        return context.with(trace.setSpan(producer, span), () => original.call(this, job, token));
      };
    });
  }

  #startConsumerSpan(job: JobJson, producer: Context): Span {
    const queue = typeof job.queueName === 'string' ? job.queueName : '';
    const attributes: Record<string, string | number> = {
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'bullmq.queue.name': queue,
      'bullmq.queue.operation': 'process',
    };
    if (queue !== '') attributes['messaging.destination.name'] = queue;
    if (typeof job.id === 'string' || typeof job.id === 'number') {
      attributes['messaging.message.id'] = String(job.id);
      attributes['bullmq.job.id'] = String(job.id);
    }
    if (typeof job.name === 'string') attributes['bullmq.job.name'] = job.name;
    if (typeof job.attemptsMade === 'number') attributes['bullmq.job.attempts.made'] = job.attemptsMade;
    return this.tracer.startSpan(
      queue === '' ? 'process' : `process ${queue}`,
      { kind: SpanKind.CONSUMER, attributes },
      producer,
    );
  }
}

const outcomeWrapped = Symbol('lifeline.bullmq.outcomeWrapped');

/**
 * The job's outcome reaches the parent through the child processor's `send`
 * (an instance property, given to its constructor): the consumer span opened
 * for the job (one job at a time per child) ends with it.
 */
function endWithOutcome(processor: WithConsumerSpan & { [outcomeWrapped]?: true }): void {
  if (processor[outcomeWrapped] || typeof processor.send !== 'function') return;
  processor[outcomeWrapped] = true;
  const original = processor.send;
  processor.send = function send(this: WithConsumerSpan, message: unknown) {
    const span = processor[consumerSpanKey];
    const answer = isObject(message) ? message.cmd : undefined;
    if (span !== undefined && (answer === completedCommand || answer === errorCommand || answer === failedCommand)) {
      processor[consumerSpanKey] = undefined;
      if (answer !== completedCommand) {
        // Failed carries the error as `value`, Error as `err`.
        const { value, err } = message as { value?: unknown; err?: unknown };
        const error = isObject(value) ? value : isObject(err) ? err : {};
        const reason = typeof error.message === 'string' ? error.message : '';
        span.addEvent(bullmqJobFailedEvent, { [bullmqJobFailedReason]: reason });
        span.setAttribute('error.type', errorClassName(error) ?? '_OTHER');
        span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
      }
      span.end();
    }
    return original.call(this, message);
  };
}

/** The producer's context BullMQ's telemetry stored on the job (`opts.telemetry.metadata`, a JSON carrier). */
function producerContext(job: JobJson): Context | undefined {
  const metadata = job.opts?.telemetry?.metadata;
  if (typeof metadata !== 'string' || metadata === '') return undefined;
  let carrier: unknown;
  try {
    carrier = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  if (!isObject(carrier)) return undefined;
  const extracted = propagation.extract(ROOT_CONTEXT, carrier);
  return trace.getSpanContext(extracted) === undefined ? undefined : extracted;
}

/**
 * Marks a failed BullMQ attempt as a failure. BullMQ records an attempt whose
 * processor threw (and which it may retry) as a consumer span with a
 * `job failed` event (`bullmq.job.failed.reason`) and leaves the status
 * unset, so by the OpenTelemetry status rules it would read as a success.
 * This processor sets status ERROR with the reason as its message, and
 * `error.type` (the error's class name when {@link BullMQSandboxInstrumentation}
 * saw it, else `_OTHER`), before the span ends; a span whose status was
 * already set is left alone.
 *
 * Place it before the exporting processor: it only edits spans in `onEnding`.
 *
 * @example
 * ```ts
 * new TracerProvider({ spanProcessors: [new BullMQFailedAttemptSpanProcessor(), batchProcessor] });
 * ```
 */
export class BullMQFailedAttemptSpanProcessor implements SpanProcessor {
  onStart(): void {}

  onEnding(span: SdkSpan): void {
    if (span.kind !== SpanKind.CONSUMER || span.status.code !== SpanStatusCode.UNSET) return;
    const failed = span.events.find((event) => event.name === bullmqJobFailedEvent);
    if (failed === undefined) return;
    const reason = failed.attributes?.[bullmqJobFailedReason];
    if (span.attributes['error.type'] === undefined) {
      span.setAttribute('error.type', failedAttemptErrors.get(span) ?? '_OTHER');
    }
    span.setStatus({ code: SpanStatusCode.ERROR, ...(typeof reason === 'string' ? { message: reason } : {}) });
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
