/**
 * One call that makes a Node.js app record into Lifeline: an OpenTelemetry
 * tracer provider with Lifeline's instrumentations, a batch processor around
 * the SQLite exporter, redaction on the way out, and a flush at exit.
 */

// Only light modules are imported statically: the SDK and the instrumentations
// import node:http and friends, which must wait until the loader hook is in
// place (see start()).
import { diag } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { type ResolvedConfig, resolveConfig } from './config.js';
import { builtInInstrumentedModules, installEsmHook, instrumentedModules } from './esm-hook.js';
import { installExitHandlers } from './exit-handlers.js';
import type { InstrumentationName } from './instrumentations.js';
import { namedForLateStart, warnIfStartedLate } from './late-start.js';
// Light: the OTLP exporter itself is imported only when an endpoint is set.
import { createOtlpTee, localStoreOff, otlpTeeSettings } from './otlp-tee.js';
import type { RedactFunction } from './redaction.js';

/** Options of {@link startLifeline}; every one can be left out. */
export interface LifelineOptions {
  /** `service.name` of this process; else `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, package.json `name`. */
  readonly serviceName?: string;
  /** Database file; else `LIFELINE_DB`, else `.lifeline/traces.db` under the working directory. */
  readonly db?: string;
  /** Where `lifeline serve` runs, for links in response headers; else `LIFELINE_VIEWER_URL`, else `http://127.0.0.1:4242`. */
  readonly viewerUrl?: string;
  /**
   * Built-in instrumentations to turn off (`{ amqplib: false }`), and further
   * OpenTelemetry instrumentations to register (`extra`).
   */
  readonly instrumentations?: Partial<Record<InstrumentationName, boolean>> & {
    readonly extra?: readonly Instrumentation[];
  };
  /** Keep SQL literals and query-string values (default false: they are replaced with `?`). */
  readonly recordQueryParameters?: boolean;
  /** Called for every attribute before it is stored; return `undefined` to drop it. */
  readonly redact?: RedactFunction;
  /** Longest time a finished span waits before it is written (default 1000 ms). */
  readonly exportIntervalMs?: number;
  /**
   * Mark calls that used an earlier call's answer (`lifeline.depends_on`), so
   * that no saving is offered for overlapping them (default true; else
   * `LIFELINE_DATA_DEPENDENCIES=off` turns it off).
   */
  readonly dataDependencies?: boolean;
  /** Flush on SIGTERM, SIGINT and when the event loop empties (default true). */
  readonly handleExit?: boolean;
}

/** A running Lifeline recorder. */
export interface LifelineHandle {
  /** False when `LIFELINE_DISABLED` turned recording off: the handle then does nothing. */
  readonly enabled: boolean;
  readonly serviceName: string;
  /** Absolute path of the database file spans are written to. */
  readonly dbPath: string;
  /** Base URL of the viewer, without a trailing slash. */
  readonly viewerUrl: string;
  /** The viewer's page for one trace. */
  traceUrl(traceId: string): string;
  /** Writes every span finished so far; resolves once they are committed. */
  forceFlush(): Promise<void>;
  /** Flushes, stops recording and removes the instrumentations' exit handlers. */
  shutdown(): Promise<void>;
}

const activeKey = Symbol.for('lifeline.node.active');
type GlobalWithLifeline = typeof globalThis & { [activeKey]?: Promise<LifelineHandle> };

let activeConfig: ResolvedConfig | undefined;

/** The configuration of the recorder started in this process, if any. */
export function currentConfig(): ResolvedConfig | undefined {
  return activeConfig;
}

/**
 * Starts recording this process into Lifeline's SQLite store. Call it before
 * the app loads the libraries it uses (or preload `@lifeline/node/register`),
 * and await it: in an ES module app the loader hook must acknowledge the
 * instrumented modules before they are imported. A second call returns the
 * recorder already running.
 *
 * @example
 * ```ts
 * // instrument.ts, loaded with `node --import ./instrument.ts app.ts`
 * import { startLifeline } from '@lifeline/node';
 * await startLifeline({ serviceName: 'orders' });
 * ```
 *
 * @example
 * ```ts
 * // or in the app itself, then import the rest dynamically
 * const lifeline = await startLifeline({ serviceName: 'orders', recordQueryParameters: false });
 * const { createServer } = await import('./server.js');
 * ```
 */
export function startLifeline(options: LifelineOptions = {}): Promise<LifelineHandle> {
  const holder = globalThis as GlobalWithLifeline;
  const running = holder[activeKey];
  if (running !== undefined) return running;
  const started = start(options);
  holder[activeKey] = started;
  return started;
}

/**
 * The OTLP tee when the standard exporter variables ask for one; a setting it
 * cannot follow is said on stderr and leaves the local recording running.
 */
async function startOtlpTee(
  wrap: (otlp: SpanExporter) => SpanExporter,
  scheduledDelayMillis: number,
): Promise<SpanProcessor | undefined> {
  let settings: ReturnType<typeof otlpTeeSettings>;
  try {
    settings = otlpTeeSettings(process.env);
  } catch (error) {
    process.stderr.write(`Lifeline: not sending over OTLP: ${(error as Error).message}\n`);
    return undefined;
  }
  if (settings === undefined) {
    if (localStoreOff(process.env)) {
      process.stderr.write(
        'Lifeline: LIFELINE_STORE=off needs an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) to send to: recording locally instead\n',
      );
    }
    return undefined;
  }
  return createOtlpTee(settings, { wrap, scheduledDelayMillis });
}

async function start(options: LifelineOptions): Promise<LifelineHandle> {
  const config = resolveConfig(options, process.env);
  activeConfig = config;
  const traceUrl = (traceId: string) => `${config.viewerUrl}/traces/${encodeURIComponent(traceId)}`;
  if (config.disabled) {
    return {
      enabled: false,
      serviceName: config.serviceName,
      dbPath: config.dbPath,
      viewerUrl: config.viewerUrl,
      traceUrl,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }

  const { extra, ...enabled } = options.instrumentations ?? {};
  const extraModules = instrumentedModules(extra ?? []);
  // Libraries loaded already stay unpatched: say so, naming them.
  warnIfStartedLate([...namedForLateStart(enabled), ...extraModules]);
  // First the hook, then everything that imports a library it must wrap.
  installEsmHook([...builtInInstrumentedModules, ...extraModules]);
  const [
    { CallEndingSpanProcessor, endUnfinishedSpans },
    { createInstrumentations },
    { PreciseStartSpanProcessor },
    { RedactingSpanExporter },
    { registerTracing, useDiagLoggerFromEnv },
    { BatchSpanProcessor },
  ] = await Promise.all([
    import('./call-endings.js'),
    import('./instrumentations.js'),
    import('./precise-start.js'),
    import('./redaction.js'),
    import('./tracing.js'),
    import('@opentelemetry/sdk-trace'),
  ]);
  // Before the instrumentations: they warn while being constructed (a
  // module loaded before them, for one).
  useDiagLoggerFromEnv();
  // Instrumentations enable themselves when constructed, so their require
  // hooks are in place before the store below loads better-sqlite3.
  const instrumentations = createInstrumentations(
    { enabled, ...(extra === undefined ? {} : { extra }) },
    { dbPath: config.dbPath },
  );
  const { SqliteSpanExporter, openStore } = await import('@lifeline/store');
  const { ExportQueueCounter, maxExportBatchSizeFromEnv, maxQueueSizeFromEnv } = await import('./export-queue.js');
  const redaction = {
    ...(options.recordQueryParameters === undefined ? {} : { recordQueryParameters: options.recordQueryParameters }),
    ...(options.redact === undefined ? {} : { redact: options.redact }),
  };
  // The same spans, redacted the same way, to the OTLP endpoint the standard variables name.
  const tee = await startOtlpTee((otlp) => new RedactingSpanExporter(otlp, redaction), config.exportIntervalMs);
  const storeOff = tee !== undefined && localStoreOff(process.env);
  // LIFELINE_STORE=off: no database file, no writer thread.
  const store = storeOff
    ? undefined
    : new SqliteSpanExporter({
        path: config.dbPath,
        // Spans that cannot be stored are lost, so the app's developer must hear
        // of it even without an OpenTelemetry logger: once per distinct failure.
        onError: (message) => process.stderr.write(`Lifeline: spans were not stored: ${message}\n`),
      });
  const exporter = store === undefined ? undefined : new RedactingSpanExporter(store, redaction);
  // A queue with room for a burst while another process holds the write
  // lock, and a count of what it drops anyway: said once on stderr at the
  // first drop, and the total stored (and said again) at shutdown or exit.
  const queue = new ExportQueueCounter(maxQueueSizeFromEnv(), (counter) =>
    process.stderr.write(
      `Lifeline: spans are being dropped: the export queue (${counter.maxQueueSize} spans) is full because the database cannot keep up; the total is stored and printed when the app stops (raise OTEL_BSP_MAX_QUEUE_SIZE to keep more)\n`,
    ),
  );
  const processor =
    exporter === undefined
      ? undefined
      : queue.wrapProcessor(
          new BatchSpanProcessor({
            exporter: queue.wrapExporter(exporter),
            scheduledDelayMillis: config.exportIntervalMs,
            maxQueueSize: queue.maxQueueSize,
            maxExportBatchSize: maxExportBatchSizeFromEnv(queue.maxQueueSize),
          }),
        );
  let droppedReported = 0;
  const reportDropped = (): void => {
    const dropped = queue.dropped - droppedReported;
    if (dropped <= 0) return;
    droppedReported = queue.dropped;
    process.stderr.write(`Lifeline: ${dropped} spans were dropped because the export queue was full\n`);
    try {
      const counted = openStore({ path: config.dbPath });
      try {
        counted.recordDroppedSpans(dropped);
      } finally {
        counted.close();
      }
    } catch (error) {
      process.stderr.write(
        `Lifeline: could not store the count of dropped spans: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }
  };
  const tracing = registerTracing({
    serviceName: config.serviceName,
    // The precise start comes first so that every processor after it sees
    // the corrected start time: the SDK's own is whole milliseconds, which
    // makes back-to-back calls look as if they overlapped. The call endings
    // come before the export too: they complete spans while still open, and
    // so does the BullMQ processor, which marks a failed attempt as an error.
    spanProcessors: [
      new PreciseStartSpanProcessor(),
      new CallEndingSpanProcessor(),
      new (await import('./bullmq.js')).BullMQFailedAttemptSpanProcessor(),
      // Flow assertions (recordFlow) in a process that records into SQLite as well.
      new (await import('./flow-tap.js')).FlowTapSpanProcessor(),
      // Without it no trace is followed, and the instrumentations' hooks return at once.
      ...(config.dataDependencies ? [new (await import('./data-dependencies.js')).DataDependencySpanProcessor()] : []),
      ...(processor === undefined ? [] : [processor]),
      ...(tee === undefined ? [] : [tee]),
    ],
    instrumentations,
  });

  // The processor's flush hands over what it holds but does not wait for an
  // export already under way, nor for the writer thread to commit; the
  // exporter's flush waits for both.
  const flush = async (): Promise<void> => {
    // The OTLP side flushes alongside: a slow endpoint delays only its own part.
    const sent = tee?.forceFlush().catch(() => {});
    await processor?.forceFlush();
    await exporter?.forceFlush();
    await sent;
  };
  let stopped: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        await tracing.shutdown();
      } catch (error) {
        diag.error(`Lifeline: shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        // The processor skips the exporter's shutdown when its last flush
        // failed; the writer thread and its connection must close anyway.
        await exporter?.shutdown().catch(() => {});
        reportDropped();
      }
      // Only now: should the app call process.exit() while this shutdown is
      // still writing, the exit handler writes what is not committed yet.
      removeExitHandlers?.();
      delete (globalThis as GlobalWithLifeline)[activeKey];
    })();
    return stopped;
  };
  const removeExitHandlers =
    options.handleExit === false
      ? undefined
      : installExitHandlers({
          flush,
          shutdown,
          exitSync: () => {
            // The calls still open end first, into the processor's buffer.
            endUnfinishedSpans();
            // First the exports under way, then the processor's buffer, which
            // its flush hands to the exporter at once; both written here.
            store?.writeUnfinishedSync();
            processor?.forceFlush().catch(() => {});
            reportDropped();
          },
        });

  return {
    enabled: true,
    serviceName: config.serviceName,
    dbPath: config.dbPath,
    viewerUrl: config.viewerUrl,
    traceUrl,
    forceFlush: flush,
    shutdown,
  };
}
