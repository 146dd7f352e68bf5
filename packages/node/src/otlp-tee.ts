/**
 * Record once, send to both: when the standard OpenTelemetry exporter
 * variables name an OTLP endpoint, the spans Lifeline stores are also sent
 * there (a team's Collector, Tempo, Jaeger), through a processor and queue of
 * their own so that neither side waits for the other.
 */
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';

/** The OTLP/HTTP encodings the tee sends (`OTEL_EXPORTER_OTLP_PROTOCOL`). */
export type OtlpTeeProtocol = 'http/protobuf' | 'http/json';

/** Where and how the tee sends, read from the environment. */
export interface OtlpTeeSettings {
  /** The variable that turned the tee on, and its value (for messages). */
  readonly endpoint: string;
  readonly protocol: OtlpTeeProtocol;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * The tee's settings, or undefined when neither `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * nor `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The protocol is
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`,
 * else `http/protobuf` (the default of the OpenTelemetry specification for
 * OTLP exporters). Headers, timeout and compression are read by the
 * OpenTelemetry exporter itself from the same standard variables.
 *
 * @throws Error for `grpc` or an unknown protocol: Lifeline sends OTLP over HTTP only.
 */
export function otlpTeeSettings(env: NodeJS.ProcessEnv): OtlpTeeSettings | undefined {
  const endpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (endpoint === undefined) return undefined;
  const protocol =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new Error(
      `OTLP protocol "${protocol}" is not one Lifeline sends: set OTEL_EXPORTER_OTLP_PROTOCOL to http/protobuf or http/json (the Collector receives both on port 4318)`,
    );
  }
  return { endpoint, protocol };
}

/** Whether `LIFELINE_STORE` turns the local SQLite copy off (`off`, `0`, `false`, `no`). */
export function localStoreOff(env: NodeJS.ProcessEnv): boolean {
  const value = nonEmpty(env.LIFELINE_STORE)?.toLowerCase();
  return value !== undefined && ['off', '0', 'false', 'no'].includes(value);
}

/**
 * Says on stderr when sending fails, once until it works again, and when it
 * works again: an OTLP endpoint that went away should not go unnoticed, nor
 * fill the app's log with one line per batch.
 */
class ReportingExporter implements SpanExporter {
  #failing = false;
  private readonly inner: SpanExporter;
  private readonly endpoint: string;

  constructor(inner: SpanExporter, endpoint: string) {
    this.inner = inner;
    this.endpoint = endpoint;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== 0 && !this.#failing) {
        this.#failing = true;
        process.stderr.write(
          `Lifeline: spans could not be sent over OTLP to ${this.endpoint} (${result.error?.message ?? 'export failed'}); the local copy is unaffected\n`,
        );
      } else if (result.code === 0 && this.#failing) {
        this.#failing = false;
        process.stderr.write(`Lifeline: sending spans over OTLP to ${this.endpoint} works again\n`);
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Options of {@link createOtlpTee}. */
export interface OtlpTeeOptions {
  /** Wraps the OTLP exporter, e.g. with the redaction the local copy gets. */
  readonly wrap?: (exporter: SpanExporter) => SpanExporter;
  /** Longest time a finished span waits before it is sent, in ms. */
  readonly scheduledDelayMillis?: number;
}

/**
 * A batch processor sending spans with the OpenTelemetry OTLP/HTTP exporter
 * of `settings.protocol`. It has its own queue (`OTEL_BSP_MAX_QUEUE_SIZE`):
 * a slow or failing endpoint fills and drops from that queue only, and the
 * exporter's own retries (with backoff, within its timeout) happen off the
 * app's path.
 */
export async function createOtlpTee(settings: OtlpTeeSettings, options: OtlpTeeOptions = {}): Promise<SpanProcessor> {
  const [{ BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    settings.protocol === 'http/json'
      ? import('@opentelemetry/exporter-trace-otlp-http')
      : import('@opentelemetry/exporter-trace-otlp-proto'),
  ]);
  const otlp = new ReportingExporter(new OTLPTraceExporter(), settings.endpoint);
  return new BatchSpanProcessor({
    exporter: options.wrap === undefined ? otlp : options.wrap(otlp),
    ...(options.scheduledDelayMillis === undefined ? {} : { scheduledDelayMillis: options.scheduledDelayMillis }),
  });
}
