/**
 * The tracing half of an OpenTelemetry Node SDK, and nothing else. The
 * `NodeSDK` of `@opentelemetry/sdk-node` loads every exporter it could be
 * configured with (OTLP over gRPC, HTTP and protobuf, Zipkin, Prometheus) and
 * the metric and log SDKs, about 20 MB of resident memory in the app, none of
 * which Lifeline uses: it records traces into SQLite through its own exporter.
 * This module registers what recording traces takes: a tracer provider, the
 * AsyncLocalStorage context manager, W3C propagation and the instrumentations.
 */
import { context, DiagConsoleLogger, diag, propagation, type TextMapPropagator, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  diagLogLevelFromString,
  getBooleanFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  defaultResource,
  detectResources,
  envDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { type SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { samplerFromEnv, spanLimitsFromEnv } from './sdk-env.js';

/** What {@link registerTracing} sets up. */
export interface TracingOptions {
  /** `service.name` of the resource every span carries. */
  readonly serviceName: string;
  /** In the order they see each span. */
  readonly spanProcessors: readonly SpanProcessor[];
  /** Already constructed (and so enabled) instrumentations, which are given the provider. */
  readonly instrumentations: readonly Instrumentation[];
}

/** Registered tracing, to be shut down when the process stops recording. */
export interface RegisteredTracing {
  /** Flushes and shuts down every span processor. */
  shutdown(): Promise<void>;
}

/**
 * Propagators named in `OTEL_PROPAGATORS`, as the OpenTelemetry SDKs read it;
 * W3C trace context and baggage when it is unset. Only the W3C ones are
 * built in: B3 and Jaeger headers would need packages Lifeline does not load.
 */
function propagatorFromEnv(): TextMapPropagator | undefined {
  const names = getStringListFromEnv('OTEL_PROPAGATORS') ?? ['tracecontext', 'baggage'];
  if (names.includes('none')) return undefined;
  const propagators: TextMapPropagator[] = [];
  for (const name of new Set(names)) {
    if (name === 'tracecontext') propagators.push(new W3CTraceContextPropagator());
    else if (name === 'baggage') propagators.push(new W3CBaggagePropagator());
    else diag.warn(`Lifeline: propagator "${name}" in OTEL_PROPAGATORS is not supported; it is ignored`);
  }
  return new CompositePropagator({ propagators });
}

let diagLoggerSet = false;

/**
 * Sets OpenTelemetry's diagnostic logger to the console at the level of
 * `OTEL_LOG_LEVEL`, once per process, when that variable is set. Called before
 * the instrumentations are constructed, so that the warnings they give then
 * (a library loaded before them) are heard.
 *
 * @example
 * ```ts
 * useDiagLoggerFromEnv();
 * const instrumentations = createInstrumentations({}, { dbPath });
 * ```
 */
export function useDiagLoggerFromEnv(): void {
  if (diagLoggerSet) return;
  diagLoggerSet = true;
  const logLevel = getStringFromEnv('OTEL_LOG_LEVEL');
  if (logLevel !== undefined) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
}

/**
 * Registers a tracer provider, context manager and propagator globally and
 * hands the provider to the instrumentations, honouring the environment the
 * OpenTelemetry SDK honours for traces: `OTEL_SDK_DISABLED`, `OTEL_LOG_LEVEL`,
 * `OTEL_PROPAGATORS`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (and
 * its argument) and the `OTEL_*_LIMIT` span limits.
 *
 * @example
 * ```ts
 * const tracing = registerTracing({
 *   serviceName: 'orders',
 *   spanProcessors: [new BatchSpanProcessor({ exporter: exporter })],
 *   instrumentations: [new HttpInstrumentation()],
 * });
 * process.once('SIGTERM', () => void tracing.shutdown());
 * ```
 */
export function registerTracing(options: TracingOptions): RegisteredTracing {
  useDiagLoggerFromEnv();
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return { shutdown: () => Promise.resolve() };

  // Synchronous detectors only: a pending asynchronous attribute would hold
  // every export back, the last one at exit included.
  const resource = defaultResource()
    .merge(detectResources({ detectors: [processDetector, envDetector] }))
    .merge(resourceFromAttributes({ 'service.name': options.serviceName }));
  // The provider of @opentelemetry/sdk-trace 3 reads no environment: the
  // sampler and span limits an app sets there are read here.
  const provider = new TracerProvider({
    resource,
    sampler: samplerFromEnv(),
    spanLimits: spanLimitsFromEnv(),
    spanProcessors: [...options.spanProcessors],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const propagator = propagatorFromEnv();
  if (propagator !== undefined) propagation.setGlobalPropagator(propagator);
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({ instrumentations: [...options.instrumentations], tracerProvider: provider });
  return { shutdown: () => provider.shutdown() };
}
