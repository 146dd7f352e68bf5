import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { nonNegativeNumber, wholeNumber } from '../option-parsers.js';
import { displayPath, openWritableStore, resolveDbPath } from '../store-access.js';

interface PruneOptions {
  readonly db?: string;
  readonly maxTraces?: number;
  readonly maxAgeDays?: number;
  readonly maxSizeMb?: number;
}

/** Registers `lifeline prune`: retention by count, age and size. */
export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('Delete the oldest traces beyond a count, age or size limit')
    .option('--db <path>', 'SQLite database to prune (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--max-traces <n>', 'keep at most this many traces (the newest)', wholeNumber(0))
    .option('--max-age-days <days>', 'delete traces older than this many days', nonNegativeNumber)
    .option('--max-size-mb <mb>', 'delete the oldest traces until the database is at most this size', nonNegativeNumber)
    .addHelpText(
      'after',
      `
Examples:
  $ lifeline prune --max-traces 1000
  $ lifeline prune --max-age-days 7 --max-size-mb 200`,
    )
    .action((options: PruneOptions) => {
      const policy = {
        ...(options.maxTraces !== undefined ? { maxTraces: options.maxTraces } : {}),
        ...(options.maxAgeDays !== undefined ? { maxAgeDays: options.maxAgeDays } : {}),
        ...(options.maxSizeMb !== undefined ? { maxSizeMb: options.maxSizeMb } : {}),
      };
      if (Object.keys(policy).length === 0) {
        throw new UserError('say what to keep: pass --max-traces N, --max-age-days D and/or --max-size-mb S');
      }
      const path = resolveDbPath(options.db);
      if (!existsSync(path)) {
        throw new UserError(
          `nothing to prune: ${displayPath(path)} does not exist (pass --db PATH to choose another database)`,
        );
      }
      const store = openWritableStore(path);
      try {
        const { deletedTraces } = store.prune(policy);
        const stats = store.stats();
        process.stdout.write(
          `Deleted ${deletedTraces} trace${deletedTraces === 1 ? '' : 's'}; ${stats.traces} trace${stats.traces === 1 ? '' : 's'} (${stats.spans} spans, ${(stats.sizeBytes / 1024 / 1024).toFixed(1)} MB) remain in ${displayPath(path)}.\n`,
        );
      } finally {
        store.close();
      }
    });
}
