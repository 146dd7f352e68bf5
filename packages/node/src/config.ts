/**
 * Lifeline's settings for an instrumented process: options given in code win
 * over environment variables, which win over defaults.
 */
import { readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

/** Where the viewer runs unless told otherwise (`lifeline serve`'s default). */
export const defaultViewerUrl = 'http://127.0.0.1:4242';

/** Settings after options, environment and defaults are combined. */
export interface ResolvedConfig {
  readonly disabled: boolean;
  /** From the option, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the app's package.json, or its script name. */
  readonly serviceName: string;
  readonly dbPath: string;
  readonly viewerUrl: string;
  /** Milliseconds between exports: the option, `OTEL_BSP_SCHEDULE_DELAY`, or 1,000. */
  readonly exportIntervalMs: number;
  /** Whether calls are checked for using earlier calls' answers (see data-dependencies.ts). */
  readonly dataDependencies: boolean;
}

/** The subset of options that {@link resolveConfig} reads. */
export interface ConfigOptions {
  readonly serviceName?: string;
  readonly db?: string;
  readonly viewerUrl?: string;
  readonly exportIntervalMs?: number;
  readonly dataDependencies?: boolean;
}

/** A flag variable's value: `0`, `false`, `no` and `off` turn it off; anything else set turns it on. */
function flag(value: string | undefined): boolean | undefined {
  const text = nonEmpty(value)?.toLowerCase();
  return text === undefined ? undefined : !['0', 'false', 'no', 'off'].includes(text);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** `service.name` out of `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`, values percent-encoded). */
function serviceNameFromResourceAttributes(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  for (const pair of raw.split(',')) {
    const equals = pair.indexOf('=');
    if (equals < 0 || pair.slice(0, equals).trim() !== 'service.name') continue;
    try {
      return nonEmpty(decodeURIComponent(pair.slice(equals + 1)));
    } catch {
      return nonEmpty(pair.slice(equals + 1));
    }
  }
  return undefined;
}

/** The app's own name when nobody gave one: its package.json, else its entry script. */
function guessServiceName(): string {
  try {
    const manifest = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof manifest.name === 'string' && manifest.name !== '') return manifest.name;
  } catch {
    // No readable package.json: fall through to the script name.
  }
  const script = process.argv[1];
  if (script !== undefined && script !== '') return basename(script, extname(script));
  return 'unknown_service:node';
}

/**
 * Combines options, environment (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `LIFELINE_DB`, `LIFELINE_VIEWER_URL`, `LIFELINE_DISABLED`,
 * `LIFELINE_DATA_DEPENDENCIES`) and defaults.
 *
 * @example
 * ```ts
 * resolveConfig({ serviceName: 'api' }, process.env).dbPath; // ".../.lifeline/traces.db"
 * ```
 */
export function resolveConfig(options: ConfigOptions, env: NodeJS.ProcessEnv): ResolvedConfig {
  const disabled = flag(env.LIFELINE_DISABLED) === true;
  const serviceName =
    nonEmpty(options.serviceName) ??
    nonEmpty(env.OTEL_SERVICE_NAME) ??
    serviceNameFromResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES) ??
    guessServiceName();
  const dbPath = resolve(
    nonEmpty(options.db) ?? nonEmpty(env.LIFELINE_DB) ?? join(process.cwd(), '.lifeline', 'traces.db'),
  );
  const viewerUrl = (nonEmpty(options.viewerUrl) ?? nonEmpty(env.LIFELINE_VIEWER_URL) ?? defaultViewerUrl).replace(
    /\/+$/,
    '',
  );
  // The batch processor's delay, as every OpenTelemetry SDK reads it (the
  // specification's OTEL_BSP_SCHEDULE_DELAY, milliseconds, default 5,000;
  // Lifeline's is 1,000): what an app killed outright can lose.
  const scheduleDelay = Number(nonEmpty(env.OTEL_BSP_SCHEDULE_DELAY) ?? Number.NaN);
  const exportIntervalMs =
    options.exportIntervalMs !== undefined && Number.isFinite(options.exportIntervalMs) && options.exportIntervalMs >= 0
      ? options.exportIntervalMs
      : Number.isInteger(scheduleDelay) && scheduleDelay >= 0
        ? scheduleDelay
        : 1000;
  const dataDependencies = options.dataDependencies ?? flag(env.LIFELINE_DATA_DEPENDENCIES) ?? true;
  return { disabled, serviceName, dbPath, viewerUrl, exportIntervalMs, dataDependencies };
}
