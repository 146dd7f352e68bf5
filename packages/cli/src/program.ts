import { Command, CommanderError } from 'commander';
import { registerDbCommand } from './commands/db.js';
import { registerDiffCommand } from './commands/diff.js';
import { registerDocsCommand } from './commands/docs.js';
import { registerEndpointsCommand } from './commands/endpoints.js';
import { registerExportCommand } from './commands/export.js';
import { registerImportCommand } from './commands/import.js';
import { registerListCommand } from './commands/list.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerServeCommand } from './commands/serve.js';
import {
  describeUnexpected,
  EXIT_INCOMPLETE,
  EXIT_UNEXPECTED,
  EXIT_USER_ERROR,
  IncompleteError,
  oneLine,
  UserError,
} from './errors.js';
import { cliVersion } from './version.js';

/**
 * Builds the `lifeline` command tree. Parse errors surface as
 * `CommanderError`s (never `process.exit`) so {@link runCli} decides the
 * exit status and the one-line message.
 *
 * @example
 * ```ts
 * await createProgram().parseAsync(['node', 'lifeline', 'list', '--json']);
 * ```
 */
export function createProgram(): Command {
  const program = new Command('lifeline')
    .description('See what a Node.js app does while it serves a request, as sequence diagrams.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .configureOutput({
      // Commander's own messages (unknown option, bad value) become one line
      // in the same `lifeline: …` shape as every other user error.
      outputError: (message, write) => write(`lifeline: ${oneLine(message.replace(/^error:\s*/, ''))}\n`),
    })
    .addHelpText(
      'after',
      `
Every command reads and writes one SQLite file: --db PATH, else $LIFELINE_DB,
else .lifeline/traces.db in the working directory.
Exit status: 0 success, 1 a problem with the input (the message says how to fix
it), 2 an unexpected failure (LIFELINE_DEBUG=1 prints its stack trace), 3 done
but part of the input skipped (\`lifeline import\` lists what and where).

Examples:
  $ node --import @lifeline/node/register app.js   # record an app
  $ lifeline serve                                  # browse at http://127.0.0.1:4242
  $ lifeline list --slowest
  $ lifeline export last --format md > trace.md
  $ lifeline diff --db base.db --against head.db --format md`,
    );
  registerServeCommand(program);
  registerListCommand(program);
  registerEndpointsCommand(program);
  registerExportCommand(program);
  registerDiffCommand(program);
  registerDocsCommand(program);
  registerImportCommand(program);
  registerDbCommand(program);
  registerPruneCommand(program);
  program.exitOverride();
  for (const command of program.commands) applyExitOverride(command);
  return program;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  command.configureOutput({
    outputError: (message, write) => write(`lifeline: ${oneLine(message.replace(/^error:\s*/, ''))}\n`),
  });
  for (const sub of command.commands) applyExitOverride(sub);
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and returns the exit status
 * instead of exiting, so pending output is flushed before the process ends.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(process.argv);
 * ```
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version are "errors" only to Commander's control flow.
      if (error.exitCode === 0) return 0;
      return EXIT_USER_ERROR;
    }
    if (error instanceof UserError) {
      process.stderr.write(`lifeline: ${oneLine(error.message)}\n`);
      return EXIT_USER_ERROR;
    }
    if (error instanceof IncompleteError) {
      process.stderr.write(`lifeline: ${oneLine(error.message)}\n`);
      return EXIT_INCOMPLETE;
    }
    process.stderr.write(`lifeline: ${describeUnexpected(error, process.env.LIFELINE_DEBUG === '1')}\n`);
    return EXIT_UNEXPECTED;
  }
}
