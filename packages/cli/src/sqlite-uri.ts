/**
 * Turns on SQLite's URI file names for this process before better-sqlite3
 * loads (it reads SQLITE_USE_URI once, when its addon starts), so that the
 * store can open a database in a folder the user may only read as immutable.
 * Imported first by the CLI's entry point; the store itself, which also runs
 * inside instrumented apps, never changes how an app's own file names read.
 */
process.env.SQLITE_USE_URI ??= '1';
