/**
 * Flushing on the way out. Spans wait in the batch processor for up to the
 * export interval, so a process that stops without flushing loses the last
 * requests, which are usually the ones being looked at.
 */

/** What the handlers call to write out every finished span. */
export interface ExitHooks {
  /** Flush and stop recording; called once. */
  readonly shutdown: () => Promise<void>;
  /** Longest wait for the flush before the signal's default action goes ahead (default 5 s). */
  readonly timeoutMs?: number;
}

const signals = ['SIGTERM', 'SIGINT'] as const;

/**
 * Installs the exit handlers and returns a function that removes them.
 *
 * - On SIGTERM or SIGINT: flush, then, if the app has no handler of its own
 *   for that signal, raise it again so the process ends as the signal would
 *   have ended it (exit code 128 + signal number, as a shell reports). If
 *   the app does handle it, its handler decides when to exit; Lifeline only
 *   flushes.
 * - When the event loop empties (`beforeExit`): flush, which keeps the
 *   process alive until the spans are written.
 *
 * `process.exit()` called by the app leaves no time for asynchronous work;
 * such an app should `await handle.shutdown()` first.
 *
 * @example
 * ```ts
 * const remove = installExitHandlers({ shutdown: () => sdk.shutdown() });
 * ```
 */
export function installExitHandlers(hooks: ExitHooks): () => void {
  const timeoutMs = hooks.timeoutMs ?? 5000;
  let flushing: Promise<void> | undefined;
  const flushOnce = (): Promise<void> => {
    flushing ??= withTimeout(hooks.shutdown(), timeoutMs).catch(() => {
      // Exiting anyway: a failed flush has been reported by the exporter.
    });
    return flushing;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    void flushOnce().then(() => {
      remove();
      // Only our listener was there: without one, Node would have ended the
      // process on this signal, so do exactly that now that the data is safe.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  const onBeforeExit = (): void => {
    void flushOnce();
  };

  for (const signal of signals) process.on(signal, onSignal);
  process.on('beforeExit', onBeforeExit);

  function remove(): void {
    for (const signal of signals) process.off(signal, onSignal);
    process.off('beforeExit', onBeforeExit);
  }
  return remove;
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`flush did not finish within ${ms} ms`)), ms);
    timer.unref();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
