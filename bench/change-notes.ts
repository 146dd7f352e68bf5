/**
 * Why a goal figure moved since the previous report, by result key (see
 * bench/results.json): the code change behind it and the profile that
 * pointed there. The report prints a note beside each figure that moved by
 * 10 % or more (see `figureChanges` in lib/report.ts); a figure that moved
 * without a note here moved with no change to the code it measures.
 *
 * Rewrite these notes for each report: they describe the change from the
 * previous full run to this one.
 */

const receiverWriter =
  "The viewer's writer thread keeps a 64 MiB SQLite page cache instead of an app writer's 4 MiB, and copies the WAL " +
  'back into the database file on a checkpoint thread beside it (SQLite PASSIVE checkpoints once the WAL passes ' +
  "4 MB; the writer's own checkpoint stays as a backstop at 40,000 pages) instead of inside its commits. The " +
  "receiver's CPU profile (`node bench/profile.ts receiver`) put about a fifth of the writer thread's time in " +
  '`sqliteTransaction` (the commit that ran a 10,000-page checkpoint every 40 MB of WAL, with every export in ' +
  'flight waiting behind it) and much of `#insertRows` in reading index pages of the span table back from the ' +
  'file cache. With checkpoints turned off altogether the same load went from 46,000 to 50,000–58,000 spans/s, ' +
  'with the larger cache alone to 52,000–55,000, and with both changes as made to 62,000–63,000 spans/s, the p99 ' +
  "of an export from 165 to 80 ms; over 15 s of load the WAL stayed between 64 and 115 MB. An app's writer is " +
  'unchanged.';

const decadeMethod =
  'Measured differently, not changed in the code: the last decade is now timed in alternating rounds of both ' +
  'sizes, in a fresh process pinned to each CPU in turn (see the method). Timed the old way, one size after the ' +
  'other in the process that had drawn all sizes, the same build gave 1.01 and 1.11 in two runs, and the ' +
  '100,000-span drawings came out 10–15 % slower there than in a fresh process while the 10,000-span ones did not.';

export const changeNotes: Readonly<Record<string, string>> = {
  'receiver.viewer.spansPerS': receiverWriter,
  'receiver.viewer.p99': receiverWriter,
  'diagram.lastDecadeExponent': decadeMethod,
};
