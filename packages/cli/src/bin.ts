#!/usr/bin/env node
// First, so it runs before anything loads better-sqlite3.
import './sqlite-uri.js';
import { runCli } from './program.js';

// Setting exitCode (not calling exit) lets stdout drain when it is a pipe.
process.exitCode = await runCli(process.argv);
