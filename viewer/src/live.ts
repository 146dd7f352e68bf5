/**
 * Live updates over Server-Sent Events. The store is the only source of truth:
 * polling its change sequence (rather than hooking our own writes) is what lets
 * traces written by other processes into the same SQLite file appear too.
 */
import { bigintToJson } from '@lifeline/core';
import type { SpanStore } from '@lifeline/store';
import type { Request, RequestHandler, Response } from 'express';

/** Options of the live-update hub. */
export interface LiveHubOptions {
  readonly store: SpanStore;
  /** How often the store is polled while at least one client listens. */
  readonly pollIntervalMs?: number;
  /** How often an idle stream gets a comment line, so proxies keep it open. */
  readonly heartbeatMs?: number;
  /**
   * Bytes a client may leave unread in its socket buffer before it counts as
   * fallen behind (default 1 MiB). Past this, nothing more is written to it
   * until it drains; then it gets one `resync` event instead of the backlog.
   */
  readonly maxBufferedBytes?: number;
  /**
   * How long a client may stay behind without draining before its stream is
   * ended, in milliseconds (default 60 s). A frozen tab that wakes up later
   * reconnects by itself and starts from the present.
   */
  readonly stalledTimeoutMs?: number;
}

/** The Server-Sent Events endpoint and its polling loop. */
export interface LiveHub {
  /** Express handler for `GET /api/events`. */
  readonly handler: RequestHandler;
  /** Polls at once instead of waiting for the next tick (after this process stored spans). */
  nudge(): void;
  /** Number of connected clients. */
  readonly clientCount: number;
  /** Number of connected clients that fell behind and get nothing until they drain. */
  readonly stalledCount: number;
  /** Bytes written to clients and not yet taken by their sockets, summed over all clients. */
  readonly bufferedBytes: number;
  /** Ends every stream and stops polling. */
  close(): void;
}

/**
 * Creates the hub. Polling runs only while clients are connected; each batch of
 * new or updated trace summaries is sent as one `traces` event whose id is the
 * store sequence, so a reconnecting EventSource resumes where it left off.
 *
 * Memory stays bounded whatever clients do: a client that stops reading (a
 * frozen background tab, a paused debugger) is written to only while its
 * unread bytes stay under `maxBufferedBytes`; it then waits, costing nothing,
 * until it drains and is told to `resync` (reload the list), or until
 * `stalledTimeoutMs` passes and its stream is ended.
 */
export function createLiveHub(options: LiveHubOptions): LiveHub {
  const { store } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const stalledTimeoutMs = options.stalledTimeoutMs ?? 60_000;
  const clients = new Set<Response>();
  // Clients that fell behind, with the timer that ends their stream if they never drain.
  const stalled = new Map<Response, NodeJS.Timeout>();
  // Change sequence already delivered; 0 until the first listener connects.
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let nudged: NodeJS.Immediate | undefined;

  const fallBehind = (client: Response): void => {
    if (stalled.has(client)) return;
    const timer = setTimeout(() => {
      stalled.delete(client);
      clients.delete(client);
      client.destroy();
    }, stalledTimeoutMs);
    timer.unref();
    stalled.set(client, timer);
    client.once('drain', () => {
      const pending = stalled.get(client);
      if (pending === undefined) return;
      clearTimeout(pending);
      stalled.delete(client);
      // What it missed may be any amount: it reloads instead of replaying.
      write(client, `event: resync\nid: ${seq}\ndata: ${JSON.stringify({ seq })}\n\n`);
    });
  };

  /** Writes unless the client is behind; a client holding too much unread falls behind. */
  const write = (client: Response, text: string): void => {
    if (stalled.has(client) || client.destroyed) return;
    // Measured before writing: a client that reads drains between polls, one
    // that stopped reading still holds what it was sent last time.
    if (client.writableLength > maxBufferedBytes) {
      fallBehind(client);
      return;
    }
    client.write(text);
  };

  const send = (client: Response, event: string, data: unknown, id?: number): void => {
    const idLine = id === undefined ? '' : `id: ${id}\n`;
    write(client, `event: ${event}\n${idLine}data: ${JSON.stringify(data, bigintToJson)}\n\n`);
  };

  const poll = (): void => {
    if (clients.size === 0) return;
    // A burst larger than one batch is sent as several events, oldest first.
    for (let batch = 0; batch < 20; batch++) {
      let changes: ReturnType<SpanStore['changesSince']>;
      try {
        changes = store.changesSince(seq, { limit: BATCH });
      } catch {
        // A busy or briefly locked database is retried on the next tick.
        return;
      }
      if (changes.items.length === 0) return;
      seq = Math.max(seq, changes.seq);
      if (stalled.size < clients.size) {
        // Serialized once for every client that is keeping up.
        const text = `event: traces\nid: ${seq}\ndata: ${JSON.stringify(changes.items, bigintToJson)}\n\n`;
        for (const client of clients) write(client, text);
      }
      if (changes.items.length < BATCH) return;
    }
  };

  const start = (): void => {
    timer ??= setInterval(poll, pollIntervalMs);
    heartbeat ??= setInterval(() => {
      for (const client of clients) write(client, ': ping\n\n');
    }, heartbeatMs);
  };

  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    if (heartbeat !== undefined) clearInterval(heartbeat);
    timer = undefined;
    heartbeat = undefined;
  };

  const handler: RequestHandler = (request: Request, response: Response) => {
    const resumeFrom = parseLastEventId(request);
    // While nobody listened the cursor stood still; a new listener starts at the present.
    if (clients.size === 0) seq = Math.max(seq, store.headSeq());
    response.status(200);
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();
    response.write(`retry: 2000\n\n`);
    send(response, 'ready', { seq });
    // A client that reconnects after missing events first gets what it missed,
    // or, when that is more than one batch, is told to reload.
    if (resumeFrom !== undefined && resumeFrom < seq) {
      const missed = store.changesSince(resumeFrom, { limit: BATCH });
      if (missed.items.length === BATCH && missed.seq < seq) send(response, 'resync', { seq }, seq);
      else if (missed.items.length > 0) send(response, 'traces', missed.items, missed.seq);
    }
    clients.add(response);
    start();
    request.on('close', () => {
      const timer = stalled.get(response);
      if (timer !== undefined) clearTimeout(timer);
      stalled.delete(response);
      clients.delete(response);
      if (clients.size === 0) stop();
    });
  };

  return {
    handler,
    nudge() {
      if (clients.size === 0 || nudged !== undefined) return;
      nudged = setImmediate(() => {
        nudged = undefined;
        poll();
      });
    },
    get clientCount() {
      return clients.size;
    },
    get stalledCount() {
      return stalled.size;
    },
    get bufferedBytes() {
      let total = 0;
      for (const client of clients) total += client.writableLength;
      return total;
    },
    close() {
      stop();
      if (nudged !== undefined) clearImmediate(nudged);
      for (const timer of stalled.values()) clearTimeout(timer);
      stalled.clear();
      for (const client of clients) client.end();
      clients.clear();
    },
  };
}

const BATCH = 500;

function parseLastEventId(request: Request): number | undefined {
  const header = request.headers['last-event-id'];
  const raw = typeof header === 'string' ? header : typeof request.query.since === 'string' ? request.query.since : '';
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}
