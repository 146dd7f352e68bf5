/**
 * Entry of the writer thread started by SqliteSpanExporter. Run from the
 * TypeScript sources, it first teaches Node to resolve them; run from dist,
 * it goes straight to the writer loop.
 */
if (import.meta.url.endsWith('.ts')) {
  const hooks = (await import(new URL('./source-hooks.ts', import.meta.url).href)) as {
    registerSourceHooks: () => void;
  };
  hooks.registerSourceHooks();
}
const { runWriterLoop } = await import('./writer-thread-loop.js');
runWriterLoop();
