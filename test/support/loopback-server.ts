/**
 * A real HTTP server on an ephemeral loopback port for the recorder's unit
 * tests, and the wait for the span an exporter finishes from its requests.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts `server` on an ephemeral port of 127.0.0.1 and resolves with its base URL (`http://127.0.0.1:PORT`). */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes `server` and every connection it still holds, kept-alive ones included. */
export async function closeLoopback(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/**
 * The first span `exporter` has finished, once there is one (polled every
 * 10 ms).
 *
 * @throws {Error} when none has finished after `timeoutMs` (default 3 s).
 */
export async function firstFinishedSpan<T>(
  exporter: { getFinishedSpans(): readonly T[] },
  timeoutMs = 3_000,
): Promise<T> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    const [span] = exporter.getFinishedSpans();
    if (span !== undefined) return span;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the span never ended');
}
