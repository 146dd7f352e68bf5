/**
 * Runs the receiver's CPU-bound steps (decoding a body into spans, handing
 * them to the writer) one at a time, each in a turn of the event loop of its
 * own. Many bodies that finish arriving (or inflating) together would
 * otherwise be decoded back to back in one stretch, and every other request
 * (the API, a health check) would wait for all of them rather than one.
 */
export class TurnLane {
  #last: Promise<unknown> = Promise.resolve();

  /** Runs `work` once the steps queued before it are done, in a later turn of the event loop. */
  run<T>(work: () => T): Promise<Awaited<T>> {
    const next = this.#last.then(
      () =>
        new Promise<Awaited<T>>((resolve, reject) => {
          // Queued from inside the previous step's turn: setImmediate runs it in the
          // next turn, after the poll phase has read whatever else is waiting.
          setImmediate(() => {
            try {
              resolve(work() as Awaited<T>);
            } catch (error) {
              reject(error);
            }
          });
        }),
    );
    this.#last = next.catch(() => undefined);
    return next;
  }
}
