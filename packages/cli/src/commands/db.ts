import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, pendingMigrations } from '@lifeline/store';
import type { Command } from 'commander';
import { displayPath, ensureParentFolder, resolveDbPath, withDatabaseErrors } from '../store-access.js';

interface MigrateOptions {
  readonly db?: string;
  readonly dryRun?: boolean;
}

/** Registers `lifeline db` and its `migrate` subcommand. */
export function registerDbCommand(program: Command): void {
  const db = program.command('db').description('Manage the SQLite database (schema migrations)');
  db.command('migrate')
    .description('Bring the database schema up to date, printing the SQL of each migration before it runs')
    .option('--db <path>', 'SQLite database to migrate (default: $LIFELINE_DB or .lifeline/traces.db)')
    .option('--dry-run', 'only print the SQL that would run')
    .addHelpText(
      'after',
      `
Examples:
  $ lifeline db migrate --dry-run
  $ lifeline db migrate --db /var/lib/lifeline/traces.db`,
    )
    .action((options: MigrateOptions) => {
      const path = resolveDbPath(options.db);
      const exists = existsSync(path);
      const pending = exists ? withDatabaseErrors(path, () => pendingMigrations(path)) : pendingForNewDatabase(path);
      if (pending.length === 0) {
        process.stdout.write(`${displayPath(path)} is up to date: no pending migrations.\n`);
        return;
      }
      for (const migration of pending) {
        process.stdout.write(`-- migration ${migration.version}: ${migration.name}\n${migration.sql.trim()}\n\n`);
      }
      const what = `${pending.length} migration${pending.length === 1 ? '' : 's'}`;
      if (options.dryRun) {
        process.stdout.write(`-- dry run: ${what} pending for ${displayPath(path)}, nothing applied.\n`);
        return;
      }
      ensureParentFolder(path);
      withDatabaseErrors(path, () => migrate(path));
      const last = pending[pending.length - 1];
      process.stdout.write(
        `-- applied ${what} to ${displayPath(path)}${exists ? '' : ' (new database)'}; schema version is now ${last?.version}.\n`,
      );
    });
}

/**
 * The migrations a database that does not exist yet would get. Asking the
 * store about a missing file must not create it: a dry run leaves no trace.
 */
function pendingForNewDatabase(path: string): ReturnType<typeof pendingMigrations> {
  const scratch = mkdtempSync(join(tmpdir(), 'lifeline-migrate-'));
  try {
    return withDatabaseErrors(path, () => pendingMigrations(join(scratch, 'new.db')));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
