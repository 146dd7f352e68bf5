#!/usr/bin/env node
// First, so it runs before anything loads better-sqlite3.
import './sqlite-uri.js';
import { runCli } from './program.js';

// A reader that stopped early (`lifeline list | head`) closes the pipe: the
// output it wanted has been written, so stop quietly, as Unix tools do,
// instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

// Setting exitCode (not calling exit) lets stdout drain when it is a pipe.
process.exitCode = await runCli(process.argv);
