/**
 * `--source` for `serve`, `list` and `export`: reading a team's tracing
 * backend (Grafana Tempo, Jaeger) instead of the local database. Read only:
 * fetched traces go into a cache in memory, nothing is written anywhere.
 */
import type { Trace, TraceSummary } from '@lifeline/core';
import type { TraceFilter } from '@lifeline/store';
// Types only: the viewer package (express and all) loads when a source is read, not for every list.
import type { SourceConfig } from '@lifeline/viewer';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { wholeNumber } from '../option-parsers.js';

/** The flags {@link addSourceOptions} adds. */
export interface SourceFlags {
  readonly source?: string[];
  readonly sourceHeader?: string[];
  readonly sourceTimeout?: number;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds `--source`, `--source-header` and `--source-timeout` to a command. */
export function addSourceOptions(command: Command, what: string): Command {
  return command
    .option(
      '--source <name=url>',
      `${what} a tracing backend instead of the database: tempo=http://tempo:3200, jaeger=http://jaeger-query:16686, NAME=tempo+URL, or a NAME defined in $LIFELINE_SOURCES`,
      collect,
    )
    .option(
      '--source-header <name=header:value>',
      'send this header to that source, e.g. tempo=X-Scope-OrgID:team-a (also $LIFELINE_SOURCE_<NAME>_HEADERS)',
      collect,
    )
    .option('--source-timeout <ms>', 'longest wait for one backend answer (default 10000)', wholeNumber(1));
}

/** The sources the flags name; their mistakes as user errors. */
export async function sourcesFromFlags(flags: SourceFlags): Promise<SourceConfig[]> {
  if ((flags.source ?? []).length === 0 && (flags.sourceHeader ?? []).length === 0) return [];
  const { resolveSources, SourceConfigError } = await import('@lifeline/viewer');
  try {
    const sources = resolveSources({
      specs: flags.source ?? [],
      headers: flags.sourceHeader ?? [],
      ...(flags.sourceTimeout === undefined ? {} : { timeoutMs: flags.sourceTimeout }),
    });
    if (sources.length === 0 && (flags.sourceHeader ?? []).length > 0) {
      throw new UserError('--source-header needs a --source to send it to');
    }
    return sources;
  } catch (error) {
    if (error instanceof SourceConfigError) throw new UserError(error.message);
    throw error;
  }
}

/** The one source a command that reads one trace list or trace needs. */
export async function oneSource(flags: SourceFlags, command: string): Promise<SourceConfig | undefined> {
  const sources = await sourcesFromFlags(flags);
  if (sources.length > 1) throw new UserError(`lifeline ${command} reads one source at a time: pass --source once`);
  return sources[0];
}

async function withSourceErrors<T>(work: () => Promise<T>): Promise<T> {
  const { SourceError } = await import('@lifeline/viewer');
  try {
    return await work();
  } catch (error) {
    if (error instanceof SourceError) throw new UserError(error.message);
    throw error;
  }
}

/** The requests of a source matching `filter`, as `lifeline list` shows them. */
export async function listFromSource(
  config: SourceConfig,
  filter: TraceFilter,
  page: { limit: number; order: 'newest' | 'slowest' },
): Promise<TraceSummary[]> {
  const { SourceReader } = await import('@lifeline/viewer');
  const reader = new SourceReader(config);
  try {
    return await withSourceErrors(async () => {
      await reader.search(filter, page.limit);
      return reader.cache.listTraces(filter, page).items;
    });
  } finally {
    reader.close();
  }
}

/** One trace of a source, read as the viewer reads it (with the traces linked to it that the backend sent). */
export async function traceFromSource(config: SourceConfig, traceId: string): Promise<Trace> {
  const { SourceReader } = await import('@lifeline/viewer');
  const reader = new SourceReader(config);
  try {
    return await withSourceErrors(async () => {
      const id = traceId.trim().toLowerCase();
      if (!/^[0-9a-f]{1,32}$/.test(id)) {
        throw new UserError(`"${traceId}" is not a trace id: pass the hex id shown by \`lifeline list --source\``);
      }
      const found = await reader.ensureTrace(id);
      const trace = found ? reader.cache.getTrace(id.padStart(32, '0'), { linked: true }) : undefined;
      if (trace === undefined) {
        throw new UserError(`source ${config.name} (${config.kind} at ${config.url}) has no trace ${id}`);
      }
      return trace;
    });
  } finally {
    reader.close();
  }
}
