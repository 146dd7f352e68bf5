/**
 * Flushing on the way out. Spans wait in the batch processor for up to the
 * export interval, so a process that stops without flushing loses the last
 * requests, which are usually the ones being looked at.
 */

/** What the handlers call to write out every finished span. */
export interface ExitHooks {
  /** Write every finished span, keep recording. */
  readonly flush: () => Promise<void>;
  /** Flush and stop recording; called once. */
  readonly shutdown: () => Promise<void>;
  /**
   * Writes what is still unwritten synchronously; called on the process's
   * `exit` event, when an app's `process.exit()` leaves no time for anything else.
   */
  readonly exitSync?: () => void;
  /** Longest wait for the flush before the signal's default action goes ahead (default 5 s). */
  readonly timeoutMs?: number;
}

const signals = ['SIGTERM', 'SIGINT'] as const;

/**
 * Installs the exit handlers and returns a function that removes them.
 *
 * - On SIGTERM or SIGINT when the app has no handler of its own for that
 *   signal: shut down (flushing), then raise the signal again so the process
 *   ends as the signal would have ended it (a shell reports 128 + signal
 *   number). When the app does handle it, its handler decides when to exit
 *   and may still do traced work, so Lifeline only flushes and keeps
 *   recording until the event loop empties.
 * - When the event loop empties (`beforeExit`): flush, which keeps the
 *   process alive until the spans are written.
 *
 * - When the app calls `process.exit()` (often from its own signal handler,
 *   while the flush started above is still under way): the `exit` event gets
 *   no asynchronous work done, so what is unwritten is written synchronously
 *   there (`exitSync`).
 *
 * @example
 * ```ts
 * const remove = installExitHandlers({ flush: () => processor.forceFlush(), shutdown: () => sdk.shutdown() });
 * ```
 */
export function installExitHandlers(hooks: ExitHooks): () => void {
  const timeoutMs = hooks.timeoutMs ?? 5000;
  let stopping: Promise<void> | undefined;
  const shutdownOnce = (): Promise<void> => {
    stopping ??= withTimeout(hooks.shutdown(), timeoutMs).catch(() => {
      // Exiting anyway: a failed write has been reported by the exporter.
    });
    return stopping;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    // Our own listener does not count: the question is whether the app has one.
    const appHandles = process.listenerCount(signal) > 1;
    if (appHandles) {
      void withTimeout(hooks.flush(), timeoutMs).catch(() => {});
      return;
    }
    void shutdownOnce().then(() => {
      remove();
      // Without a listener Node would have ended the process on this signal:
      // do exactly that now that the spans are written.
      process.kill(process.pid, signal);
    });
  };
  const onBeforeExit = (): void => {
    void shutdownOnce();
  };
  const onExit = (): void => {
    try {
      hooks.exitSync?.();
    } catch {
      // The process is ending; a failed write has been reported by the exporter.
    }
  };

  for (const signal of signals) process.on(signal, onSignal);
  process.on('beforeExit', onBeforeExit);
  process.on('exit', onExit);

  function remove(): void {
    for (const signal of signals) process.off(signal, onSignal);
    process.off('beforeExit', onBeforeExit);
    process.off('exit', onExit);
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
