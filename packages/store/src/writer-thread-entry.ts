/**
 * Entry of the writer thread started by SqliteSpanExporter, and of the
 * checkpoint thread a receiver's writer starts (`workerData.role`). Built
 * (dist), it goes straight to the thread's loop. Run from the TypeScript sources, as
 * Lifeline's own test suites do, Node first needs resolve hooks for them
 * (workspace `source` exports, `./x.js` specifiers naming `./x.ts`); the
 * module that registers them is named by the LIFELINE_SOURCE_HOOKS
 * environment variable (a file URL), which the suites set, so the published
 * package carries no test infrastructure.
 */
if (import.meta.url.endsWith('.ts')) {
  const hooks = process.env.LIFELINE_SOURCE_HOOKS;
  if (hooks === undefined || hooks === '') {
    throw new Error(
      'The Lifeline writer thread is running from TypeScript sources without LIFELINE_SOURCE_HOOKS; build @lifeline/store (its dist) or set that variable to the URL of a module registering source hooks.',
    );
  }
  await import(hooks);
}
const { workerData } = await import('node:worker_threads');
if ((workerData as { role?: string } | null)?.role === 'checkpoint') {
  const { runCheckpointLoop } = await import('./checkpoint-thread.js');
  runCheckpointLoop();
} else {
  const { runWriterLoop } = await import('./writer-thread-loop.js');
  runWriterLoop();
}
