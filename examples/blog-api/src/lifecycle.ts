/** Starting and stopping an example process the same way for every service. */
import type { Server } from 'node:http';

/** Tells the parent (the demo, over IPC) and the terminal where a service listens. */
export function announce(message: {
  readonly service: string;
  readonly url?: string;
  readonly lines?: readonly string[];
}): void {
  for (const line of message.lines ?? []) console.log(`[${message.service}] ${line}`);
  if (message.url) console.log(`[${message.service}] listening on ${message.url}`);
  process.send?.({ ready: true, ...message });
}

/** Resolves with the server's URL once it listens on 127.0.0.1 (port 0 picks a free one). */
export function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : `http://127.0.0.1:${port}`);
    });
  });
}

/**
 * Runs `stop` on SIGTERM/SIGINT (or when the parent asks over IPC) and then
 * lets the event loop empty, so Lifeline's exit handler can write the last
 * spans before the process ends. A stuck stop is cut short after 10 s.
 */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 10_000).unref();
    stop().catch((error: unknown) => {
      console.error(`shutdown failed: ${(error as Error).message}`);
      process.exitCode = 1;
    });
    process.disconnect?.();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  process.on('message', (message) => {
    if ((message as { shutdown?: boolean }).shutdown) handler();
  });
}
