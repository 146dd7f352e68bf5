import type { TraceWork } from '@lifeline/store';
import { type Command, Option } from 'commander';

/** The flags `--background` and `--all` as commander parses them. */
export interface WorkFlags {
  readonly background?: boolean;
  readonly all?: boolean;
}

/**
 * Adds `--background` and `--all` to a command that picks among recorded
 * traces. Without either, only requests count: traces whose root is a server
 * or consumer span (an incoming call, a processed message or job).
 * `--background` picks the other traces (start-up queries, timers, a queue
 * library's housekeeping) and `--all` both.
 */
export function addWorkOptions(command: Command, what: string): Command {
  return command
    .addOption(
      new Option(
        '--background',
        `${what} background work instead of requests: traces not rooted in a server or consumer span (start-up, timers, housekeeping)`,
      ).conflicts('all'),
    )
    .addOption(new Option('--all', `${what} requests and background work alike`));
}

/** The store filter's `work` for the flags given: requests unless told otherwise. */
export function workFromFlags(flags: WorkFlags): TraceWork {
  if (flags.all) return 'all';
  if (flags.background) return 'background';
  return 'requests';
}
