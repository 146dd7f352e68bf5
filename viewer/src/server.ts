/**
 * Starting the viewer on a port, with the rule that keeps traces private: a
 * server reachable from other machines must be asked for and must require a
 * token, because traces hold SQL text, URLs and headers.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openStore, SpanWriterThread } from '@lifeline/store';
import { createViewerApp } from './app.js';
import { type BodyBudget, DEFAULT_BODY_TIMEOUT_MS } from './otlp-receiver.js';
import { generateToken, isLoopbackHost, weakTokenReason } from './security.js';
import type { SourceConfig } from './sources/config.js';
import { SourceReader } from './sources/reader.js';

/** Options of {@link startViewer}. */
export interface StartViewerOptions {
  /** Port to listen on (default 4242; 0 picks a free one). */
  readonly port?: number;
  /** Interface to bind (default 127.0.0.1). Anything but loopback needs `allowRemote` and `token`. */
  readonly host?: string;
  /** SQLite file (default: the store's default path, `LIFELINE_DB` or `.lifeline/traces.db`). */
  readonly db?: string;
  /**
   * Access token required on every request when set: at least 16 characters,
   * not only white space (`generateToken()` makes one).
   */
  readonly token?: string;
  /** Permits binding a non-loopback interface (requires `token`). */
  readonly allowRemote?: boolean;
  /** Largest OTLP request body (default `"16mb"`). */
  readonly bodyLimit?: string;
  /** Bytes OTLP bodies may hold at once across requests (see `ViewerAppOptions.bodyBudget`). */
  readonly bodyBudget?: BodyBudget;
  /**
   * Milliseconds an OTLP request body may take to arrive (default 30 s): past
   * it the receiver answers 408 naming the limit. Any other request must
   * arrive whole within this plus 10 s, its headers within 10 s, or Node
   * answers 408 and closes the connection.
   */
  readonly bodyTimeoutMs?: number;
  /** Tracing backends to read from as well (Tempo, Jaeger); nothing is written to them. */
  readonly sources?: readonly SourceConfig[];
}

/** A running viewer. */
export interface RunningViewer {
  /** Base URL, e.g. `http://127.0.0.1:4242`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, ends live streams and closes the store. */
  close(): Promise<void>;
}

/** Milliseconds a request's headers may take to arrive before Node answers 408. */
const HEADERS_TIMEOUT_MS = 10_000;
/**
 * Page cache of the receiver's writer connection, in KiB (64 MiB). At 4 MiB,
 * an app writer's size, 512-span exports of new traces were stored about
 * 15 % slower: the primary-key and start-time indexes of the span table take
 * a page from the operating system's file cache at nearly every insert.
 */
const RECEIVER_WRITER_CACHE_KIB = 64 * 1024;

/** Thrown when the options would expose the server unsafely. */
export class UnsafeBindError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeBindError';
  }
}

/**
 * Opens the store and serves the viewer, the JSON API and the OTLP/HTTP receiver.
 *
 * @throws {UnsafeBindError} for a non-loopback host without `allowRemote` and a
 *   token, or for a weak token (empty, white space, under 16 characters).
 *
 * @example
 * ```ts
 * import { startViewer } from '@lifeline/viewer';
 *
 * const viewer = await startViewer({ port: 0, db: 'traces.db' });
 * console.log(`Lifeline viewer at ${viewer.url}`);
 * // ... later
 * await viewer.close();
 * ```
 */
export async function startViewer(options: StartViewerOptions = {}): Promise<RunningViewer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 4242;
  const token = options.token;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  if (token !== undefined) {
    const weak = weakTokenReason(token);
    if (weak !== undefined) {
      throw new UnsafeBindError(`refusing a weak access token: ${weak} (for example ${generateToken()})`);
    }
  }
  if (!isLoopbackHost(host)) {
    if (options.allowRemote !== true) {
      throw new UnsafeBindError(
        `refusing to listen on ${host}: traces contain queries and URLs, so Lifeline only binds to loopback unless remote access is explicitly allowed (allowRemote) and protected by a token`,
      );
    }
    if (token === undefined) {
      throw new UnsafeBindError(`refusing to listen on ${host} without a token: remote access requires one`);
    }
  }

  const store = openStore({ ...(options.db === undefined ? {} : { path: options.db }) });
  // The receiver commits on a writer thread of its own; the store's
  // connection on this thread serves the pages and the API. The viewer is a
  // process of its own, so its writer keeps a larger page cache than an
  // app's (the indexes' pages its inserts touch stay cached), and its
  // checkpoints run beside it, not inside the commits senders wait for.
  const writer = new SpanWriterThread({
    path: store.path,
    cacheKiB: RECEIVER_WRITER_CACHE_KIB,
    checkpointThread: true,
  });
  const sources = (options.sources ?? []).map((config) => new SourceReader(config));
  const app = createViewerApp({
    store,
    sources,
    writer,
    ...(token === undefined ? {} : { token }),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    ...(options.bodyBudget === undefined ? {} : { bodyBudget: options.bodyBudget }),
    ...(options.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: options.bodyTimeoutMs }),
  });

  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  // Node's own deadlines back up the receiver's (which answers first, with a
  // message): headers that trickle in, or a request that never ends, would
  // otherwise hold a connection for Node's default of 300 s. The check runs
  // every second rather than every 30 s, so that the deadlines hold.
  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: bodyTimeoutMs + HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
    app,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    app.closeLive();
    await writer.close();
    store.close();
    for (const source of sources) source.close();
    throw error;
  }

  const address = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    async close() {
      app.closeLive();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets (and event streams) would hold close() open.
        server.closeAllConnections();
      });
      await writer.close();
      store.close();
      for (const source of sources) source.close();
    },
  };
}
